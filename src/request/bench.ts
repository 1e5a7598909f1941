/**
 * `kexec-lab bench`: how fast this machine simulates a scenario, per strategy (wall-clock seconds of
 * the simulator itself, not modeled kernel time). Browser-safe (performance.now).
 */

import { KexecLabError } from "../errors.js";
import { type RelocScenario, runScenario } from "../reloc/run.js";

/** One strategy's best run. */
export interface BenchRow {
  strategy: string;
  /** Pages relocated by the strategy per run. */
  pages: number;
  /** Bytes relocated per run. */
  bytes: number;
  /** Best wall-clock seconds of the simulated relocation (execute) over the repeats. */
  seconds: number;
  pagesPerSecond: number;
  /** Simulated bytes relocated per wall-clock second. */
  bytesPerSecond: number;
  /** Wall-clock seconds of the whole best run (load, prepare, execute, verify) divided by its strategies. */
  totalSeconds: number;
}

export interface BenchOptions {
  /** Runs per strategy (1..100); the fastest execute is kept. */
  repeat: number;
  /** Strategy names (default: every one for the scenario's arch). */
  strategies?: string[];
  /** Called as runs progress: (done, total) strategy runs. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Run `sc` `repeat` times with timings and keep each strategy's fastest execute. Errors: E_FIELD_VALUE
 * naming --repeat outside 1..100; E_NOT_MODELED when the kernel refuses the scenario's load.
 */
export function benchScenario(sc: RelocScenario, opts: BenchOptions): BenchRow[] {
  const { repeat, strategies } = opts;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) {
    throw new KexecLabError("E_FIELD_VALUE", `"${repeat}" is not a count from 1 to 100`, {
      field: "--repeat",
    });
  }
  const best = new Map<string, BenchRow>();
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const out = runScenario(sc, {
      timings: true,
      ...(strategies !== undefined ? { strategies } : {}),
      onStrategy: (_n, k, total) => opts.onProgress?.(i * total + k, repeat * total),
    });
    const total = (performance.now() - t0) / 1000;
    if (!out.ok) {
      throw new KexecLabError("E_NOT_MODELED", `the default scenario was refused: ${out.verdict.reason}`);
    }
    for (const s of out.result.strategies) {
      const seconds = s.wallSeconds ?? 0;
      const pages = s.counters.pagesCopied;
      const row: BenchRow = {
        strategy: s.name,
        pages,
        bytes: s.counters.bytesCopied,
        seconds,
        pagesPerSecond: seconds > 0 ? pages / seconds : 0,
        bytesPerSecond: seconds > 0 ? s.counters.bytesCopied / seconds : 0,
        totalSeconds: total / out.result.strategies.length,
      };
      const prev = best.get(s.name);
      if (prev === undefined || row.seconds < prev.seconds) best.set(s.name, row);
    }
  }
  return [...best.values()];
}
