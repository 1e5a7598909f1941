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
import { MAX_FAILURES, RelocCpu } from "./cpu.js";
import { PageGuard } from "./guard.js";
import {
  ARM64_DEFAULT_COHERENCE,
  type Coherence,
  LineTracker,
  WRITER_LOAD,
  WRITER_PREPARE,
  X86_COHERENCE,
} from "./lines.js";
import { walkEntryList } from "./list.js";
import { findStrategy, strategiesFor } from "./registry.js";
import type {
  ModelSummary,
  RelocCounters,
  RunResult,
  StrategyResult,
  VerificationFailure,
} from "./result.js";
import {
  DEFAULT_STRATEGY_OPTIONS,
  noTables,
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
  /**
   * The machine's cache rules the run is verified against (PoU, PoC; coherent on x86_64): a profile's
   * (coherenceOf in src/model/profiles.ts). Default: defaultCoherence(arch).
   */
  coherence?: Coherence;
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

/** The cache rules of an architecture without a profile: arm64's default (PoU is not PoC), x86_64 coherent. */
export function defaultCoherence(arch: Arch): Coherence {
  return arch === "x86_64" ? X86_COHERENCE : ARM64_DEFAULT_COHERENCE;
}

/** prepare() wrote outside its control pages: the run stops there (the write is not made). */
class LoadWriteRefused extends Error {}

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
    linearMapBlock: opts.linearMapBlock ?? DEFAULT_STRATEGY_OPTIONS.linearMapBlock,
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
  const coherence = opts.coherence ?? defaultCoherence(sc.arch);
  const machine = machineFor(sc);
  const mem = machine.mem;
  const ps = machine.pageSize;
  const strategyControl: number[] = [];
  const failures: RunFailure[] = [];
  const lines = coherence.coherent ? null : new LineTracker(coherence, mem, failures, MAX_FAILURES);
  // Who is writing now: the kimage's load, the strategy's prepare(), or the CPU's relocation.
  let phase: "load" | "prepare" | "execute" = "load";
  let allowed = new Set<number>();
  let loadImage: Kimage | undefined;
  let refused: VerificationFailure | undefined;
  const inPlaceLoad = strategy.image === "in-place";
  const crash = inPlaceLoad ? (sc.inPlaceRegion ?? defaultInPlaceRegion(sc)) : undefined;
  let cpu: RelocCpu | undefined;
  mem.writeWatch = (pa, bytes) => {
    if (phase === "prepare") {
      const pfn = Math.floor(pa / ps);
      if (
        !allowed.has(pfn) &&
        !(loadImage !== undefined && pfn === Math.floor(loadImage.controlCodePage / ps))
      ) {
        refused = loadWriteFailure(strategy, pa, loadImage, sc);
        throw new LoadWriteRefused(refused.message);
      }
      if (lines !== null) {
        lines.step = WRITER_PREPARE;
        lines.loadWrite(pa, bytes, true);
      }
      return;
    }
    if (lines === null) return;
    if (phase === "load") {
      lines.step = WRITER_LOAD;
      // a crash region is reserved at boot and never mapped executable: no I-cache entries for it
      lines.loadWrite(pa, bytes, crash === undefined || pa < crash.start || pa >= crash.end);
      return;
    }
    lines.step = cpu!.step + 1; // the write belongs to the copy in progress: copy step N is the N-th page copy
    lines.write(pa, bytes);
  };
  let prepared: PreparedRelocation | undefined;
  const contextFor = (image: Kimage): StrategyContext => ({
    image,
    machine,
    options,
    coherence,
    allocTable: () => {
      phase = "load";
      const pa = image.allocControlPages(0, "table");
      phase = "prepare";
      strategyControl.push(pa);
      allowed.add(Math.floor(pa / ps));
      return pa;
    },
    allocControlPage: () => {
      phase = "load";
      const pa = image.allocControlPages(0, "other");
      phase = "prepare";
      strategyControl.push(pa);
      allowed.add(Math.floor(pa / ps));
      return pa;
    },
  });
  const prepare = (image: Kimage): PreparedRelocation => {
    loadImage = image;
    phase = "prepare";
    try {
      return strategy.prepare(contextFor(image));
    } catch (e) {
      if (e instanceof LoadWriteRefused) return refusedRelocation();
      throw strategyFailure(strategy, e);
    } finally {
      phase = "load";
    }
  };
  const loadOpts: LoadOptions = {};
  if (sc.x86Levels !== undefined) loadOpts.x86Levels = sc.x86Levels;
  if (opts.onProgress !== undefined) loadOpts.onProgress = opts.onProgress;
  if (crash !== undefined) {
    loadOpts.type = "crash";
    loadOpts.crashRegion = crash;
  }
  if (strategy.phase === "before-segments") {
    loadOpts.beforeSegments = (image) => {
      prepared = prepare(image);
    };
  }
  const loaded = kexecLoad(machine, sc.segments, loadOpts);
  if (!loaded.ok) {
    mem.writeWatch = null;
    throw new LoadRefused(loaded.verdict);
  }
  const image = loaded.image;
  if (prepared === undefined) prepared = prepare(image);
  allowed = new Set();

  // Arm the guard: everything the relocation still has to read.
  const guard = new PageGuard(mem);
  walkEntryList(mem, image.head, {
    source: (_dest, src) => guard.protect(src, "source"),
    indirection: (page) => guard.protect(page, "indirection"),
  });
  for (const pa of prepared.livePages) guard.protect(pa, "table");
  if (image.controlCodePage >= 0) guard.protect(image.controlCodePage, "control-code");

  cpu = new RelocCpu(mem, guard, opts.sink ?? NULL_SINK, 64, lines);
  cpu.tablePages = prepared.livePages;
  const t0 = opts.timings ? performance.now() : 0;
  if (refused === undefined) {
    phase = "execute";
    try {
      prepared.execute(cpu);
    } catch (e) {
      mem.writeWatch = null;
      throw strategyFailure(strategy, e);
    }
  }
  mem.writeWatch = null;
  const wall = opts.timings ? (performance.now() - t0) / 1000 : 0;
  // At the jump: what the new kernel reads under its entry conditions (booting.rst).
  if (lines !== null && refused === undefined && !cpu.halted) checkJump(cpu, lines, image.segments);
  const counters: RelocCounters = cpu.finish();
  counters.controlPages = image.controlPages.length;
  if (prepared.prepareCounters !== undefined) {
    for (const [k, v] of Object.entries(prepared.prepareCounters)) counters[k] = v;
  }
  const verify = verifySegments(mem, image.segments);
  counters.pagesVerified = verify.pagesChecked;
  counters.badPages = verify.badPages;
  if (lines !== null) counters.coherenceViolations = lines.violations;
  // most fundamental first: a refused prepare(), clobbers and faults, wrong bytes, then cache state
  const all = [...(refused !== undefined ? [refused] : []), ...cpu.failures, ...verify.failures, ...failures];
  const result: StrategyResult = {
    name: strategy.name,
    description: strategy.description,
    verified:
      all.length === 0 &&
      verify.badPages === 0 &&
      (counters.clobbers as number) === 0 &&
      (lines === null || lines.violations === 0),
    failures: pickFailures(all, MAX_FAILURES),
    pageTables: prepared.pageTables,
    controlPages: strategyControl.map(hex),
    counters,
    checks: {
      coherence: coherence.coherent ? `coherent: ${coherence.name}` : coherence.name,
      linesChecked: lines?.linesChecked ?? 0,
    },
  };
  if (strategy.reference !== undefined) result.reference = strategy.reference;
  if (opts.timings) result.wallSeconds = wall;
  return { result, machine, image, prepared };
}

type RunFailure = VerificationFailure;

/** At most `max` failures, in order, keeping the first of every kind (16 clobbers must not hide a coherence failure). */
function pickFailures(all: VerificationFailure[], max: number): VerificationFailure[] {
  if (all.length <= max) return all;
  const keep = new Set<VerificationFailure>();
  const kinds = new Set<string>();
  for (const f of all) {
    if (!kinds.has(f.kind)) {
      kinds.add(f.kind);
      keep.add(f);
    }
  }
  for (const f of all) {
    if (keep.size >= max) break;
    keep.add(f);
  }
  return all.filter((f) => keep.has(f));
}

/** A strategy's prepare() or execute() threw: the error names the strategy (and its module, when loaded from one). */
export class StrategyError extends KexecLabError {
  constructor(strategy: RelocationStrategy, cause: unknown) {
    const from = strategyFile(strategy);
    const what = cause instanceof Error ? cause.message : String(cause);
    super(
      "E_STRATEGY",
      `strategy "${strategy.name}"${from !== undefined ? ` (from ${from})` : ""} threw: ${what}`,
      from !== undefined ? { file: from } : { field: "--strategy" },
    );
  }
}

/**
 * What a throw from prepare() or execute() becomes: a catalogued error keeps its code (E_LIMIT stays
 * E_LIMIT) with a user strategy's name and file in front of its detail; anything else is E_STRATEGY.
 */
function strategyFailure(strategy: RelocationStrategy, e: unknown): Error {
  const from = strategyFile(strategy);
  if (e instanceof KexecLabError) {
    if (from === undefined) return e;
    return new KexecLabError(
      e.code,
      `strategy "${strategy.name}" (from ${from}): ${e.detail}`,
      e.where,
      e.specificHint,
    );
  }
  return new StrategyError(strategy, e);
}

const strategyFiles = new WeakMap<RelocationStrategy, string>();

/** Remember which module a user strategy came from (the CLI's --load-strategy), for its errors. */
export function noteStrategyFile(strategy: RelocationStrategy, file: string): void {
  strategyFiles.set(strategy, file);
}

function strategyFile(strategy: RelocationStrategy): string | undefined {
  return strategyFiles.get(strategy);
}

/** After a refused prepare(): nothing to run. */
function refusedRelocation(): PreparedRelocation {
  return { pageTables: noTables(), livePages: [], execute() {} };
}

/** The rule a write in prepare() broke, naming the page it hit. */
function loadWriteFailure(
  strategy: RelocationStrategy,
  pa: number,
  image: Kimage | undefined,
  sc: RelocScenario,
): VerificationFailure {
  let what = "a page the running kernel owns";
  const seg = sc.segments.findIndex((s) => pa >= s.mem && pa < s.mem + s.memsz);
  if (seg >= 0) what = `the destination of segment ${seg} (${sc.segments[seg]!.label ?? "segment"})`;
  else if (image !== undefined) {
    const ps = image.pageSize;
    const page = Math.floor(pa / ps) * ps;
    walkEntryList(image.mem, image.head, {
      source: (_d, src) => {
        if (src === page) what = "a source page of the kimage";
      },
      indirection: (p) => {
        if (p === page) what = "an indirection page of the kimage";
      },
    });
  }
  return {
    kind: "load-write",
    message: `${strategy.name}: prepare() wrote ${hex(pa)}, ${what}: at load time a strategy may write only the control pages it allocated (ctx.allocTable, ctx.allocControlPage) and the control code page; the running kernel still owns every other page until kexec -e (kernel/kexec_core.c: kimage_alloc_control_pages), so copies to destinations belong in execute()`,
    address: hex(pa),
  };
}

/**
 * arm64 entry conditions (Documentation/arch/arm64/booting.rst): MMU off, D-cache off, the image
 * cleaned to PoC, no stale I-cache entries for it; purgatory (MMU off on arm64) and the new kernel
 * read every other segment too.
 */
function checkJump(cpu: RelocCpu, lines: LineTracker, segments: readonly Segment[]): void {
  if (cpu.mmuOn && cpu.failures.length < MAX_FAILURES) {
    cpu.failures.push({
      kind: "coherence",
      message: `step ${cpu.step}: the MMU is still on at the jump: the new kernel must be entered with the MMU and D-cache off (booting.rst): missing the SCTLR_EL1.M/C clear (cpu.barrier(BARRIER_MMU_OFF))`,
      step: cpu.step,
    });
    lines.violations++;
  }
  const labelled = segments.some((s) => s.label === "kernel" || s.label === "purgatory");
  segments.forEach((s, i) => {
    const code = s.label === "kernel" || s.label === "purgatory" || (!labelled && i === 0);
    lines.checkSegment(s.mem, s.memsz, i, s.label ?? "segment", code);
  });
}

export interface RunScenarioOptions extends Partial<StrategyOptions> {
  /** Strategy names; default every built-in strategy for the scenario's arch (and the reference designs). */
  strategies?: readonly string[];
  /** The cache rules every strategy is verified against (default: defaultCoherence(arch)). */
  coherence?: Coherence;
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
