/** The charts of the HTML report for a run result (src/report/curves.ts). Browser-safe. */

import { builtinProfile, defaultProfileName } from "../model/profiles.js";
import type { RunResult } from "../reloc/result.js";
import { type ReportCurves, spreadOverLayouts, tableCostCurves, timeCurves } from "../report/curves.js";

/** Bytes the run relocated (the largest any strategy copied). */
function relocatedBytes(result: RunResult): number {
  return result.strategies.reduce((a, s) => Math.max(a, s.counters.bytesCopied), 0);
}

/**
 * The profile of the report's time chart: the result's first modeled profile when it is a builtin
 * name (an inline profile is not), else the default for the result's arch (defaultProfileName).
 */
export function reportProfileName(result: RunResult): string {
  const fromResult = result.strategies.find((s) => s.model !== undefined && s.model.length > 0)?.model?.[0]
    ?.profile;
  if (fromResult !== undefined && !fromResult.startsWith("{")) return fromResult;
  return defaultProfileName(result.machine.arch === "x86_64" ? "x86_64" : "arm64");
}

/**
 * The cost-vs-size charts: page-table cost per granule (tableCostCurves, analytic) and modeled time
 * vs size per strategy on `profileName` (builtin; default reportProfileName), reporting (done, total)
 * to `onProgress`. Errors: builtinProfile's E_FIELD_VALUE for an unknown profile.
 */
export function reportCurves(
  result: RunResult,
  profileName: string = reportProfileName(result),
  onProgress?: (done: number, total: number) => void,
): ReportCurves {
  const profile = builtinProfile(profileName);
  const arch = result.machine.arch === "x86_64" ? "x86_64" : "arm64";
  return {
    tableCost: tableCostCurves(),
    time: {
      profile: profileName,
      curves: timeCurves(arch, result.machine.pageSize, profile, undefined, onProgress),
    },
    spread: {
      profile: profileName,
      bytes: relocatedBytes(result),
      rows: spreadOverLayouts(arch, result.machine.pageSize, profile, relocatedBytes(result)),
    },
  };
}
