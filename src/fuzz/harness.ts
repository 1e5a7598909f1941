/**
 * The fuzz harness: a target is one table entry (name, seeds, function under test); a run feeds it
 * mutated seeds and classifies every case.
 *
 *   accepted  the function returned
 *   rejected  it threw a KexecLabError (a catalogued, explained refusal: the wanted answer to bad input)
 *   crash     it threw anything else (TypeError, RangeError, a plain Error): a bug
 *   slow      it took longer than the per-case bound: a hang in the making
 *   memory    the process grew by more than the per-case memory bound while it ran
 *
 * Every case is a pure function of (target, run seed, case index), so a failure is replayed from those
 * three values. Runs in Node and in a browser (no node: imports); time and memory probes are injected.
 */

import { type ErrorCode, KexecLabError } from "../errors.js";
import { formatBytes } from "../report/format.js";
import {
  type MutatedInput,
  type MutationHints,
  mutateBytes,
  mutateJson,
  serializeMutatedJson,
} from "./mutate.js";
import { FuzzRng } from "./rng.js";

export interface FuzzSeed {
  /** A short name: the file name of a real input, or what a generated one is. */
  name: string;
  bytes: Uint8Array;
}

export interface FuzzTarget {
  /** Short name: "fdt", "image", "cli-inspect" ... (also the prefix of saved regression files). */
  name: string;
  /** What is under test, one line. */
  description: string;
  /** Seed inputs: real files (the test data, test/helpers/data.ts) and small generated ones. Called once per run. */
  seeds: () => FuzzSeed[];
  /** "json" targets also get structural JSON mutations. Default "bytes". */
  kind?: "bytes" | "json";
  hints?: MutationHints;
  /** Cases in the CI budget when a case is too slow for the default (e.g. a whole `run`). */
  ciCases?: number;
  /**
   * Per-case time bound in CI for targets whose one case is a whole command (a `run` simulates and
   * models a 92 MiB load: seconds, more on a shared machine); the suite's default applies otherwise.
   */
  ciCaseMs?: number;
  /** The function under test. Return normally or throw a KexecLabError; anything else is a crash. */
  run: (bytes: Uint8Array, seedName: string) => unknown | Promise<unknown>;
}

export type CaseVerdict = "accepted" | "rejected" | "crash" | "slow" | "memory";

export interface CaseOutcome {
  verdict: CaseVerdict;
  /** The catalogued code, for rejected cases. */
  code?: ErrorCode;
  /** Error message (crash, rejected) or what was exceeded (slow, memory). */
  message?: string;
  stack?: string;
  ms: number;
}

export interface FuzzCase {
  index: number;
  seedIndex: number;
  seedName: string;
  input: MutatedInput;
}

export interface FuzzFailure {
  target: string;
  runSeed: number;
  index: number;
  seedName: string;
  ops: string[];
  outcome: CaseOutcome;
  /** A copy of the failing input. */
  bytes: Uint8Array;
}

export interface FuzzStats {
  target: string;
  runSeed: number;
  cases: number;
  accepted: number;
  rejected: number;
  failures: FuzzFailure[];
  /** Rejections by catalogued code. */
  byCode: Record<string, number>;
  /** Rejections whose message reads "undefined", "NaN" or "[object": unclear answers, not crashes. */
  unclear: Array<{ index: number; message: string }>;
  totalMs: number;
  maxCaseMs: number;
  maxCaseIndex: number;
}

export interface FuzzOptions {
  /** Number of cases. */
  cases: number;
  /** First case index (to continue a run). Default 0. */
  start?: number;
  runSeed?: number;
  /** A case slower than this is a failure ("slow"). Default 2000 ms. */
  caseTimeMs?: number;
  /** A case that grows the probe by more than this is a failure ("memory"). Default 512 MiB. */
  caseMemoryBytes?: number;
  /** Bytes the process holds now (Node: process.memoryUsage().arrayBuffers + heapUsed). */
  memoryProbe?: () => number;
  /** Milliseconds clock. Default performance.now(). */
  now?: () => number;
  /** Stop after this many milliseconds even if cases remain. */
  budgetMs?: number;
  /** Called before every case (a worker's heartbeat). */
  onCase?: (index: number) => void;
  onFailure?: (f: FuzzFailure) => void;
  /** Keep at most this many failures in the stats (all are still reported to onFailure). Default 20. */
  keepFailures?: number;
}

const UNCLEAR = /\bundefined\b|\bNaN\b|\[object /;

/** Seeds are loaded once per target per process; JSON seeds parsed once. */
interface PreparedSeeds {
  seeds: FuzzSeed[];
  json: Array<unknown | undefined>;
}

const prepared = new WeakMap<FuzzTarget, PreparedSeeds>();

function prepare(target: FuzzTarget): PreparedSeeds {
  let p = prepared.get(target);
  if (p === undefined) {
    const seeds = target.seeds();
    if (seeds.length === 0) throw new Error(`fuzz target ${target.name} has no seeds`);
    const json = seeds.map((s) => {
      if (target.kind !== "json") return undefined;
      try {
        return JSON.parse(new TextDecoder().decode(s.bytes)) as unknown;
      } catch {
        return undefined;
      }
    });
    p = { seeds, json };
    prepared.set(target, p);
  }
  return p;
}

const encoder = new TextEncoder();

/** JSON cases above this size are cut (a truncated document is still a case: a parse error). */
const MAX_JSON_CASE = 2_000_000;

/**
 * Build case `index` of a run. The first cases of every run are the seeds themselves, unmutated.
 * Call `input.restore()` when done with it.
 */
export function makeCase(target: FuzzTarget, runSeed: number, index: number): FuzzCase {
  const { seeds, json } = prepare(target);
  const noop = () => {};
  if (index < seeds.length) {
    const s = seeds[index]!;
    return { index, seedIndex: index, seedName: s.name, input: { bytes: s.bytes, ops: [], restore: noop } };
  }
  const rng = FuzzRng.forCase(runSeed, index);
  const seedIndex = rng.below(seeds.length);
  const seed = seeds[seedIndex]!;
  const doc = json[seedIndex];
  if (doc !== undefined && rng.chance(0.85)) {
    let m = mutateJson(doc, rng);
    // Stacked blow-ups can reach tens of MB, which tests nothing more than 2 MB does.
    for (let tries = 0; tries < 8 && (JSON.stringify(m.value)?.length ?? 0) > MAX_JSON_CASE; tries++) {
      m = mutateJson(doc, rng);
    }
    let bytes: Uint8Array = encoder.encode(serializeMutatedJson(m.value));
    if (bytes.length > MAX_JSON_CASE) {
      bytes = bytes.subarray(0, MAX_JSON_CASE);
      m.ops.push(`truncate ${MAX_JSON_CASE}`);
    }
    const ops = m.ops;
    if (rng.chance(0.15)) {
      const b = mutateBytes(bytes, rng, { maxOps: 2 });
      bytes = b.bytes;
      ops.push(...b.ops);
    }
    return { index, seedIndex, seedName: seed.name, input: { bytes, ops, restore: noop } };
  }
  return { index, seedIndex, seedName: seed.name, input: mutateBytes(seed.bytes, rng, target.hints) };
}

function defaultNow(): number {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/** Run one input through a target and classify what happened. */
export async function runCase(
  target: FuzzTarget,
  bytes: Uint8Array,
  seedName: string,
  opts: Pick<FuzzOptions, "caseTimeMs" | "caseMemoryBytes" | "memoryProbe" | "now"> = {},
): Promise<CaseOutcome> {
  const now = opts.now ?? defaultNow;
  const before = opts.memoryProbe?.() ?? 0;
  const t0 = now();
  let outcome: CaseOutcome;
  try {
    const r = target.run(bytes, seedName);
    if (r instanceof Promise) await r;
    outcome = { verdict: "accepted", ms: 0 };
  } catch (e) {
    if (e instanceof KexecLabError) {
      outcome = { verdict: "rejected", code: e.code, message: e.message, ms: 0 };
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      outcome = {
        verdict: "crash",
        message: `${err.name}: ${err.message}`,
        ...(err.stack !== undefined ? { stack: err.stack } : {}),
        ms: 0,
      };
    }
  }
  outcome.ms = now() - t0;
  if (outcome.verdict === "crash") return outcome;
  const limitMs = opts.caseTimeMs ?? 2000;
  if (outcome.ms > limitMs) {
    return {
      verdict: "slow",
      message: `took ${Math.round(outcome.ms)} ms (bound ${limitMs} ms)`,
      ms: outcome.ms,
    };
  }
  if (opts.memoryProbe !== undefined) {
    const grown = opts.memoryProbe() - before;
    const limit = opts.caseMemoryBytes ?? 512 * 2 ** 20;
    if (grown > limit) {
      return {
        verdict: "memory",
        message: `grew the process by ${formatBytes(grown)} (bound ${formatBytes(limit)})`,
        ms: outcome.ms,
      };
    }
  }
  return outcome;
}

/** Run `opts.cases` cases of one target. */
export async function fuzzTarget(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzStats> {
  const runSeed = opts.runSeed ?? 1;
  const now = opts.now ?? defaultNow;
  const keep = opts.keepFailures ?? 20;
  const stats: FuzzStats = {
    target: target.name,
    runSeed,
    cases: 0,
    accepted: 0,
    rejected: 0,
    failures: [],
    byCode: {},
    unclear: [],
    totalMs: 0,
    maxCaseMs: 0,
    maxCaseIndex: -1,
  };
  const t0 = now();
  const start = opts.start ?? 0;
  for (let index = start; index < start + opts.cases; index++) {
    if (opts.budgetMs !== undefined && now() - t0 > opts.budgetMs) break;
    opts.onCase?.(index);
    const c = makeCase(target, runSeed, index);
    let outcome: CaseOutcome;
    let failureBytes: Uint8Array | null = null;
    try {
      outcome = await runCase(target, c.input.bytes, c.seedName, opts);
      if (outcome.verdict !== "accepted" && outcome.verdict !== "rejected")
        failureBytes = c.input.bytes.slice();
    } finally {
      c.input.restore();
    }
    stats.cases++;
    if (outcome.ms > stats.maxCaseMs) {
      stats.maxCaseMs = outcome.ms;
      stats.maxCaseIndex = index;
    }
    if (outcome.verdict === "accepted") stats.accepted++;
    else if (outcome.verdict === "rejected") {
      stats.rejected++;
      const code = outcome.code!;
      stats.byCode[code] = (stats.byCode[code] ?? 0) + 1;
      if (UNCLEAR.test(outcome.message ?? "") && stats.unclear.length < keep) {
        stats.unclear.push({ index, message: outcome.message! });
      }
    } else {
      const f: FuzzFailure = {
        target: target.name,
        runSeed,
        index,
        seedName: c.seedName,
        ops: c.input.ops,
        outcome,
        bytes: failureBytes!,
      };
      if (stats.failures.length < keep) stats.failures.push(f);
      opts.onFailure?.(f);
    }
  }
  stats.totalMs = now() - t0;
  return stats;
}

/** One line per failure, for test messages and the fuzz script. */
export function describeFailure(f: FuzzFailure): string {
  return (
    `${f.target} case ${f.index} (run seed ${f.runSeed}, seed ${f.seedName}, ${f.bytes.length} bytes, ` +
    `ops [${f.ops.join("; ")}]): ${f.outcome.verdict}: ${f.outcome.message ?? ""}`
  );
}
