/** Text rendering of `kexec-lab calibrate`'s result (src/model/calibrate.ts). Browser-safe. */

import type { CalibrationResult } from "../model/calibrate.js";
import { getParam, type Profile } from "../model/profiles.js";
import { formatBytes, formatSeconds, renderTable } from "./format.js";

/**
 * "calibrated NAME from NAME", the fitted parameters before and after (6 significant digits), and each
 * point's measured and modeled seconds with the relative error in percent. Ends with a newline.
 * Errors: E_FIELD_VALUE when a `fitted` path is not a numeric field of the profiles (getParam).
 */
export function renderCalibrationText(
  before: Profile,
  result: CalibrationResult,
  fitted: readonly string[],
): string {
  const params = renderTable(
    ["parameter", "before", "after"],
    fitted.map((path) => [
      path,
      String(getParam(before, path)),
      getParam(result.profile, path).toPrecision(6),
    ]),
  );
  const residuals = renderTable(
    ["strategy", "size", "measured", "modeled", "error"],
    result.residuals.map((r) => [
      r.strategy,
      formatBytes(r.bytes),
      formatSeconds(r.measuredSeconds),
      formatSeconds(r.modeledSeconds),
      `${(r.relativeError * 100).toFixed(2).replace(/^-(0\.0+)$/, "$1")}%`, // rounded first: never "-0.00%"
    ]),
    ["left"],
  );
  return `calibrated ${result.profile.name} from ${before.name}\n\n${params}\n\n${residuals}\n`;
}
