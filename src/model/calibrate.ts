/**
 * Calibration: fit a profile's free parameters (profile.free, dotted paths of continuous numeric
 * fields) to measured (bytes, strategy, seconds) points, each with the access stream of that run.
 *
 * Least squares on log(modeled / measured), Levenberg-Marquardt over log(parameter): the Jacobian by
 * forward differences (one model run per point and parameter), a damped Gauss-Newton step, accepted
 * only when it lowers the error. Relocation time is close to linear in each of the usual free
 * parameters, so a handful of iterations suffice.
 */

import { KexecLabError } from "../errors.js";
import { modelTrace } from "./model.js";
import { getParam, loadProfile, type Profile, withParam } from "./profiles.js";

export interface CalibrationPoint {
  bytes: number;
  strategy: string;
  seconds: number;
  trace: Float64Array;
}

export interface CalibrationResidual {
  bytes: number;
  strategy: string;
  measuredSeconds: number;
  modeledSeconds: number;
  /** (modeled - measured) / measured. */
  relativeError: number;
}

export interface CalibrationResult {
  profile: Profile;
  residuals: CalibrationResidual[];
}

export interface CalibrateOptions {
  /** Parameters to fit (default: profile.free). */
  free?: string[];
  /** Name of the calibrated profile (default: "<name>-calibrated"). */
  name?: string;
  /** Passed to modelTrace for every evaluation (default: exact up to 64 MiB). */
  sample?: number;
  maxIterations?: number;
}

/** Fields whose values are continuous (integers such as sizes, ways and counts cannot be fitted). */
const FITTABLE =
  /^(cpu\.(ghz|copyBytesPerCycle|entryCycles|ipc)|caches\.\d+\.latencyCycles|tlb\.missCycles|dram\.(latencyNs|bandwidthGBps)|uncached\.loadNs|cmo\.(lineCycles|pocNs|pouNs|icacheInvalidateNs)|barrierCycles\.(dsb|isb|tlbi|mmuSwitch))$/;

/** Solve the small dense system A x = b (Gaussian elimination with partial pivoting). */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[piv]![c]!)) piv = r;
    [M[c], M[piv]] = [M[piv]!, M[c]!];
    const d = M[c]![c]!;
    if (Math.abs(d) < 1e-300) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r]![c]! / d;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  return M.map((row, i) => (Math.abs(row[i]!) < 1e-300 ? 0 : row[n]! / row[i]!));
}

export function calibrate(
  profile: Profile,
  points: CalibrationPoint[],
  opts: CalibrateOptions = {},
): CalibrationResult {
  const free = opts.free ?? profile.free;
  if (points.length === 0) {
    throw new KexecLabError("E_FIELD_MISSING", "calibration needs at least one measured point", {
      field: "points",
    });
  }
  points.forEach((pt, i) => {
    if (!(pt.seconds > 0) || !Number.isFinite(pt.seconds)) {
      throw new KexecLabError("E_FIELD_VALUE", `measured seconds must be positive (got ${pt.seconds})`, {
        field: `points[${i}].seconds`,
      });
    }
  });
  free.forEach((path, i) => {
    if (!FITTABLE.test(path)) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `"${path}" cannot be fitted (only continuous latencies, cycles, frequencies and bandwidths can)`,
        { field: `free[${i}]` },
      );
    }
    getParam(profile, path);
  });
  const modelOpts = opts.sample === undefined ? {} : { sample: opts.sample };
  const apply = (theta: number[]): Profile => {
    let p = profile;
    free.forEach((path, i) => {
      p = withParam(p, path, Math.exp(theta[i]!));
    });
    return p;
  };
  const residualsOf = (p: Profile): number[] =>
    points.map((pt) => Math.log(modelTrace(pt.trace, p, modelOpts).seconds / pt.seconds));
  const sq = (r: number[]) => r.reduce((s, x) => s + x * x, 0);

  let theta = free.map((path) => Math.log(getParam(profile, path)));
  let r = residualsOf(apply(theta));
  let err = sq(r);
  let lambda = 1e-3;
  const h = 0.05;
  const maxIter = opts.maxIterations ?? 20;
  for (let it = 0; it < maxIter && free.length > 0 && err > 1e-10; it++) {
    // Jacobian d r_i / d theta_j
    const J: number[][] = points.map(() => free.map(() => 0));
    for (let j = 0; j < free.length; j++) {
      const t2 = theta.slice();
      t2[j]! += h;
      const r2 = residualsOf(apply(t2));
      for (let i = 0; i < points.length; i++) J[i]![j] = (r2[i]! - r[i]!) / h;
    }
    const JtJ = free.map((_, a) => free.map((_, b) => J.reduce((s, row) => s + row[a]! * row[b]!, 0)));
    const Jtr = free.map((_, a) => J.reduce((s, row, i) => s + row[a]! * r[i]!, 0));
    let improved = false;
    for (let tries = 0; tries < 8; tries++) {
      const A = JtJ.map((row, a) => row.map((v, b) => (a === b ? v * (1 + lambda) + 1e-12 : v)));
      const step = solve(
        A,
        Jtr.map((v) => -v),
      );
      // keep steps moderate: at most a factor e^2 per iteration
      const cand = theta.map((v, j) => v + Math.max(-2, Math.min(2, step[j]!)));
      const rc = residualsOf(apply(cand));
      const ec = sq(rc);
      if (ec < err) {
        theta = cand;
        r = rc;
        const gain = err - ec;
        err = ec;
        lambda = Math.max(lambda / 10, 1e-7);
        improved = gain > 1e-12;
        break;
      }
      lambda *= 10;
    }
    if (!improved) break;
  }
  const fitted = apply(theta);
  const named = { ...fitted, name: opts.name ?? `${profile.name}-calibrated` } as Profile;
  const result = loadProfile(JSON.parse(JSON.stringify(named)));
  const residuals = points.map((pt) => {
    const modeled = modelTrace(pt.trace, result, modelOpts).seconds;
    return {
      bytes: pt.bytes,
      strategy: pt.strategy,
      measuredSeconds: pt.seconds,
      modeledSeconds: modeled,
      relativeError: (modeled - pt.seconds) / pt.seconds,
    };
  });
  return { profile: result, residuals };
}
