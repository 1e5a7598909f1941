/**
 * Ranges, not points: every modeled time comes with the interval its inputs allow.
 *
 * A profile may carry `ranges`: for a numeric field (dotted path, as calibrate names them), the lowest
 * and highest value its sources allow and why (several sources: min and max over them; one source or
 * an estimate: a stated uncertainty with its reason). A field without a range is taken as exact.
 *
 * Method (interval arithmetic by the vertex rule): every modeled time is monotone in each profile
 * input (a longer latency, a smaller bandwidth, fewer requests in flight never make anything faster;
 * test/model-ranges.test.ts checks it by property), so the fastest outcome is the model run once with
 * every ranged input at its fast end (`profileBound(p, "low")`) and the slowest with every input at its
 * slow end (`"high"`). For a monotone function these two runs are the exact bounds over the whole box of
 * inputs, not an approximation. Sums of phases add their lows and their highs. The most likely value is
 * the model with the profile's own values (`seconds` everywhere in the output).
 *
 * A range whose high is more than UNKNOWN_RATIO times its low is not a prediction: outputs show it as
 * "unknown: <why>" (rangeVerdict).
 */

import { getParam, type Profile, withParam } from "./profiles.js";

/** [low, high] in seconds. */
export type SecondsRange = [number, number];

/** A range wider than this factor (high / low) is shown as unknown, not as a prediction. */
export const UNKNOWN_RATIO = 10;

/**
 * Which way each input moves time: +1 a larger value is slower (latencies, cycles), -1 a larger value
 * is faster (bandwidths, clock, requests in flight, bytes per access). Matched by exact path, then by
 * the path with its array index replaced by `*` (caches.*.latencyCycles), then by prefix (barrierCycles.).
 */
const DIRECTION: Record<string, 1 | -1> = {
  "cpu.ghz": -1,
  "cpu.copyBytesPerCycle": -1,
  "cpu.entryCycles": 1,
  "cpu.ipc": -1,
  "caches.*.latencyCycles": 1,
  "tlb.missCycles": 1,
  "dram.latencyNs": 1,
  "dram.bandwidthGBps": -1,
  "dram.outstandingMisses": -1,
  "uncached.accessBytes": -1,
  "uncached.loadNs": 1,
  "uncached.fetchBytes": -1,
  "uncached.loopFetches": 1,
  "cmo.lineCycles": 1,
  "cmo.pocNs": 1,
  "cmo.pouNs": 1,
  "cmo.outstanding": -1,
  "cmo.icacheInvalidateNs": 1,
  "barrierCycles.": 1,
  "publishedShutdown.seconds": 1,
};

/** +1 or -1 (see DIRECTION), or undefined for a field the model's time does not depend on that way. */
export function directionOf(path: string): 1 | -1 | undefined {
  const exact = DIRECTION[path];
  if (exact !== undefined) return exact;
  const starred = DIRECTION[path.replace(/\.\d+\./, ".*.")];
  if (starred !== undefined) return starred;
  for (const [k, v] of Object.entries(DIRECTION)) if (k.endsWith(".") && path.startsWith(k)) return v;
  return undefined;
}

/**
 * The profile with every ranged input at the end that makes the model fastest ("low") or slowest
 * ("high"). A profile without ranges is returned as is.
 */
export function profileBound(p: Profile, end: "low" | "high"): Profile {
  const ranges = p.ranges;
  if (ranges === undefined) return p;
  let out = p;
  for (const [path, r] of Object.entries(ranges)) {
    const dir = directionOf(path);
    if (dir === undefined || !hasNumber(out, path)) continue;
    const slow = dir > 0 ? r.high : r.low;
    const fast = dir > 0 ? r.low : r.high;
    out = withParam(out, path, end === "high" ? slow : fast);
  }
  return { ...out, name: p.name };
}

/** Whether the profile has a number at `path` (a derived profile may have dropped a ranged field). */
function hasNumber(p: Profile, path: string): boolean {
  let cur: unknown = p;
  for (const k of path.split(".")) {
    if (cur === null || typeof cur !== "object") return false;
    cur = (cur as Record<string, unknown>)[k];
  }
  return typeof cur === "number";
}

/** A copy of the profile whose range for `path` is widened by `factor` (>= 1) around its value. */
export function widenRange(p: Profile, path: string, factor: number): Profile {
  const v = getParam(p, path);
  const r = p.ranges?.[path] ?? { low: v, high: v, why: "exact" };
  const low = Math.min(r.low, v / factor);
  const high = Math.max(r.high, v * factor);
  return { ...p, ranges: { ...(p.ranges ?? {}), [path]: { ...r, low, high } } };
}

/** high / low (Infinity when low is 0 and high is not). */
export function rangeRatio(r: SecondsRange): number {
  if (r[1] <= 0) return 1;
  return r[0] > 0 ? r[1] / r[0] : Infinity;
}

/** A range that is a prediction, or the reason it is not one (wider than UNKNOWN_RATIO). */
export function rangeVerdict(r: SecondsRange): { known: true } | { known: false; why: string } {
  const ratio = rangeRatio(r);
  if (ratio <= UNKNOWN_RATIO) return { known: true };
  return {
    known: false,
    why:
      ratio === Infinity
        ? "the inputs allow anything from zero up"
        : `the inputs allow a x${ratio >= 100 ? Math.round(ratio) : ratio.toFixed(1)} spread`,
  };
}

/** Sum of ranges (interval addition). */
export function addRanges(rs: readonly SecondsRange[]): SecondsRange {
  let lo = 0;
  let hi = 0;
  for (const r of rs) {
    lo += r[0];
    hi += r[1];
  }
  return [lo, hi];
}

/** A range that contains `likely`, whatever rounding or sampling did to the bounds. */
export function around(likely: number, r: SecondsRange): SecondsRange {
  return [Math.min(likely, r[0], r[1]), Math.max(likely, r[0], r[1])];
}
