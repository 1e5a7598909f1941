/**
 * Running strategies on a scenario: the library function behind `kexec-lab run`.
 *
 * runStrategy: a fresh machine and kimage for one strategy (same scenario and seed: deterministic),
 * its tables prepared at the point the kernel builds them, the relocation executed on the simulated
 * CPU with the guard armed, then verification. runScenario: every applicable strategy in turn, as one
 * RunResult (the JSON shape of src/reloc/result.ts).
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { Kimage, Segment } from "../kimage/kimage.js";
import { kexecLoad, type LoadOptions } from "../kimage/load.js";
import { summarizeKimage } from "../kimage/summary.js";
import type { Verdict } from "../kimage/validate.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import { type ContentMode, Machine } from "../machine/machine.js";
import type { MemoryMap } from "../machine/memmap.js";
import type { PageSize } from "../machine/physmem.js";
import type { Range } from "../machine/ranges.js";
import { RelocCpu } from "./cpu.js";
import { PageGuard } from "./guard.js";
import { walkEntryList } from "./list.js";
import { findStrategy, strategiesFor } from "./registry.js";
import type { ModelSummary, RelocCounters, RunResult, StrategyResult } from "./result.js";
import {
  DEFAULT_STRATEGY_OPTIONS,
  type PreparedRelocation,
  type RelocationStrategy,
  type StrategyContext,
  type StrategyOptions,
} from "./strategy.js";
import { type AccessSink, NULL_SINK, TraceBuffer } from "./trace.js";
import { verifySegments } from "./verify.js";

export const TOOL_VERSION = "0.1.0";

/** Everything a run needs to know about the machine and the image. */
export interface RelocScenario {
  name: string;
  arch: Arch;
  pageSize: PageSize;
  vaBits: number;
  memoryMap: MemoryMap;
  segments: Segment[];
  contentMode: ContentMode;
  seed: number;
  freePages?: FreePagePolicy;
  /** x86_64 paging levels (4 or 5). Default 4. */
  x86Levels?: 4 | 5;
  /** The region the `in-place` strategy loads into (a crash region). Default: the segments' hull plus room for the control page. */
  inPlaceRegion?: Range;
  paBits?: number;
  /** Host-memory budget for exact page contents (bytes). */
  maxBytes?: number;
}

export interface RunStrategyOptions extends Partial<StrategyOptions> {
  /** Receives the access stream (a TraceBuffer for the timing model). Default: none. */
  sink?: AccessSink;
  /** Measure wall-clock seconds of execute() into wallSeconds. */
  timings?: boolean;
  onProgress?: (pagesLoaded: number, totalPages: number) => void;
}

export interface StrategyRun {
  result: StrategyResult;
  /** The machine and image after the run (for tests and tools that look further). */
  machine: Machine;
  image: Kimage;
  prepared: PreparedRelocation;
}

export class LoadRefused extends Error {
  constructor(readonly verdict: Verdict) {
    super(`the kernel would refuse the load with ${verdict.errno}: ${verdict.reason}`);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;

export function machineFor(sc: RelocScenario): Machine {
  return new Machine({
    arch: sc.arch,
    pageSize: sc.pageSize,
    memoryMap: sc.memoryMap,
    contentMode: sc.contentMode,
    ...(sc.freePages !== undefined ? { freePages: sc.freePages } : {}),
    ...(sc.paBits !== undefined ? { paBits: sc.paBits } : {}),
    ...(sc.maxBytes !== undefined ? { maxBytes: sc.maxBytes } : {}),
  });
}

/** Default region for in-place loads: the page-rounded hull of the segments, plus pages for control pages. */
export function defaultInPlaceRegion(sc: RelocScenario): Range {
  const ps = sc.pageSize;
  let start = Infinity;
  let end = 0;
  for (const s of sc.segments) {
    start = Math.min(start, s.mem);
    end = Math.max(end, Math.ceil((s.mem + s.memsz) / ps) * ps);
  }
  const room = 16 * ps;
  const ram = sc.memoryMap.ram;
  if (ram.covers({ start, end: end + room })) return { start, end: end + room };
  if (start - room >= 0 && ram.covers({ start: start - room, end })) return { start: start - room, end };
  return { start, end };
}

/**
 * The options a strategy runs with on a scenario (given options over the scenario's VA bits over the
 * defaults); refuses a strategy that does not exist on the scenario's architecture.
 */
export function strategyOptionsFor(
  sc: RelocScenario,
  strategy: RelocationStrategy,
  opts: Partial<StrategyOptions>,
): StrategyOptions {
  if (!strategy.arches.includes(sc.arch)) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `strategy "${strategy.name}" exists on ${strategy.arches.join(", ")}, not on ${sc.arch}`,
      { field: "--strategy" },
    );
  }
  return {
    vaBits: opts.vaBits ?? sc.vaBits ?? DEFAULT_STRATEGY_OPTIONS.vaBits,
    linearMap: opts.linearMap ?? DEFAULT_STRATEGY_OPTIONS.linearMap,
    x86Swap: opts.x86Swap ?? DEFAULT_STRATEGY_OPTIONS.x86Swap,
    gbpages: opts.gbpages ?? DEFAULT_STRATEGY_OPTIONS.gbpages,
  };
}

/** Run one strategy on a fresh machine and kimage built from the scenario. */
export function runStrategy(
  sc: RelocScenario,
  strategy: RelocationStrategy,
  opts: RunStrategyOptions = {},
): StrategyRun {
  const options = strategyOptionsFor(sc, strategy, opts);
  const machine = machineFor(sc);
  const strategyControl: number[] = [];
  let prepared: PreparedRelocation | undefined;
  const contextFor = (image: Kimage): StrategyContext => ({
    image,
    machine,
    options,
    allocTable: () => {
      const pa = image.allocControlPages(0, "table");
      strategyControl.push(pa);
      return pa;
    },
    allocControlPage: () => {
      const pa = image.allocControlPages(0, "other");
      strategyControl.push(pa);
      return pa;
    },
  });
  const loadOpts: LoadOptions = {};
  if (sc.x86Levels !== undefined) loadOpts.x86Levels = sc.x86Levels;
  if (opts.onProgress !== undefined) loadOpts.onProgress = opts.onProgress;
  if (strategy.image === "in-place") {
    loadOpts.type = "crash";
    loadOpts.crashRegion = sc.inPlaceRegion ?? defaultInPlaceRegion(sc);
  }
  if (strategy.phase === "before-segments") {
    loadOpts.beforeSegments = (image) => {
      prepared = strategy.prepare(contextFor(image));
    };
  }
  const loaded = kexecLoad(machine, sc.segments, loadOpts);
  if (!loaded.ok) throw new LoadRefused(loaded.verdict);
  const image = loaded.image;
  if (prepared === undefined) prepared = strategy.prepare(contextFor(image));

  // Arm the guard: everything the relocation still has to read.
  const mem = machine.mem;
  const guard = new PageGuard(mem);
  walkEntryList(mem, image.head, {
    source: (_dest, src) => guard.protect(src, "source"),
    indirection: (page) => guard.protect(page, "indirection"),
  });
  for (const pa of prepared.livePages) guard.protect(pa, "table");
  if (image.controlCodePage >= 0) guard.protect(image.controlCodePage, "control-code");

  const cpu = new RelocCpu(mem, guard, opts.sink ?? NULL_SINK);
  const t0 = opts.timings ? performance.now() : 0;
  prepared.execute(cpu);
  const wall = opts.timings ? (performance.now() - t0) / 1000 : 0;
  const counters: RelocCounters = cpu.finish();
  counters.controlPages = image.controlPages.length;
  if (prepared.prepareCounters !== undefined) {
    for (const [k, v] of Object.entries(prepared.prepareCounters)) counters[k] = v;
  }
  const verify = verifySegments(mem, image.segments);
  counters.pagesVerified = verify.pagesChecked;
  counters.badPages = verify.badPages;
  const failures = [...cpu.failures, ...verify.failures];
  const result: StrategyResult = {
    name: strategy.name,
    description: strategy.description,
    verified: failures.length === 0 && verify.badPages === 0 && (counters.clobbers as number) === 0,
    failures,
    pageTables: prepared.pageTables,
    controlPages: strategyControl.map(hex),
    counters,
  };
  if (opts.timings) result.wallSeconds = wall;
  return { result, machine, image, prepared };
}

export interface RunScenarioOptions extends Partial<StrategyOptions> {
  /** Strategy names; default every built-in strategy for the scenario's arch. */
  strategies?: readonly string[];
  timings?: boolean;
  /**
   * Attach a timing model: called with each strategy's recorded access stream; what it returns is
   * stored as the strategy's `model`. (E.g. (t) => [modelTrace(t.raw(), profile)].)
   */
  model?: (trace: TraceBuffer, strategy: string) => ModelSummary[];
  /** Called before each strategy starts (progress bars). */
  onStrategy?: (name: string, index: number, total: number) => void;
  onProgress?: (pagesLoaded: number, totalPages: number) => void;
}

export type RunOutcome = { ok: true; result: RunResult } | { ok: false; verdict: Verdict };

/** Every selected strategy on the scenario. A refused load is an outcome, not an exception. */
export function runScenario(sc: RelocScenario, opts: RunScenarioOptions = {}): RunOutcome {
  const list =
    opts.strategies !== undefined && opts.strategies.length > 0
      ? opts.strategies.map((n) => findStrategy(n))
      : strategiesFor(sc.arch);
  const strategies: StrategyResult[] = [];
  let kimage: RunResult["kimage"] | undefined;
  for (const [i, s] of list.entries()) {
    opts.onStrategy?.(s.name, i, list.length);
    const trace = opts.model !== undefined ? new TraceBuffer() : undefined;
    let run: StrategyRun;
    try {
      run = runStrategy(sc, s, {
        ...opts,
        ...(trace !== undefined ? { sink: trace } : {}),
      });
    } catch (e) {
      if (e instanceof LoadRefused) return { ok: false, verdict: e.verdict };
      throw e;
    }
    if (trace !== undefined) run.result.model = opts.model!(trace, s.name);
    strategies.push(run.result);
    // The scenario's kimage as a normal load builds it (the in-place run loads differently).
    if (kimage === undefined && s.image !== "in-place") kimage = summarizeKimage(run.image);
    // Nothing of the run's machine is kept: the next strategy's machine is built while this one's
    // simulated RAM is garbage (with exact contents, a 1 GiB initrd costs 2 GiB of frames a machine).
  }
  if (kimage === undefined) {
    const m = machineFor(sc);
    const loaded = kexecLoad(m, sc.segments, sc.x86Levels !== undefined ? { x86Levels: sc.x86Levels } : {});
    if (!loaded.ok) return { ok: false, verdict: loaded.verdict };
    kimage = summarizeKimage(loaded.image);
  }
  const result: RunResult = {
    tool: { name: "kexec-lab", version: TOOL_VERSION },
    scenario: {
      name: sc.name,
      seed: sc.seed,
      contentMode: sc.contentMode,
      freePages: describeFreePages(sc.freePages),
    },
    machine: {
      arch: sc.arch,
      pageSize: sc.pageSize,
      vaBits: sc.vaBits,
      ramBytes: sc.memoryMap.ramBytes,
      memoryMap: sc.memoryMap.regions.map((r) => ({
        start: hex(r.start),
        end: hex(r.end),
        type: r.type,
        name: r.name,
      })),
    },
    kimage,
    strategies,
  };
  return { ok: true, result };
}

function describeFreePages(p: FreePagePolicy | undefined): string {
  if (p === undefined) return "lowest";
  switch (p.kind) {
    case "lowest":
    case "highest":
      return p.kind;
    case "random":
      return `random(seed=${p.seed})`;
    case "fragmented":
      return `fragmented(seed=${p.seed}, fraction=${p.fraction})`;
  }
}
