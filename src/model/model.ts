/**
 * The timing model: replays a relocation's access stream (src/reloc/trace.ts) through a model of one
 * core's memory system and reports modeled seconds, split by what the time went to.
 *
 * How time is kept (all in nanoseconds, one clock per run):
 *   now          the core's issue point: advanced by core work (cycles per line copied, per entry,
 *                per maintenance instruction) and by stalls on data the core must wait for.
 *   busFree      when the memory bus is next free. A line read from DRAM returns at
 *                max(issue + latency, busFree + lineTime); a write-back occupies lineTime on the bus.
 *                This makes a stream bandwidth-bound when requests come fast enough, latency-bound
 *                when they do not.
 *   miss window  a ring of `dram.outstandingMisses` completion times: a demand miss must wait for a
 *                free slot, so demand-only streams run at outstandingMisses x lineBytes / latency.
 *   prefetcher   per-stream state over the addresses the core issues (virtual addresses for a linear
 *                loop over contiguous VAs, physical ones otherwise): after `trainLines` sequential
 *                misses it runs ahead by a distance ramping up to `distanceLines`, stopping at
 *                `boundaryBytes` unless `crossesPages`. Prefetched lines use the bus when issued; a
 *                demand access to a prefetched line waits only until it has arrived.
 *   uncached     with the MMU off (or ACC_UNCACHED/COPY_UNCACHED) arm64 data accesses are
 *                Device-nGnRnE (Arm ARM B2.7.2, and the D-cache is off): no gathering, no reordering,
 *                no early write acknowledgement. So every access of `accessBytes`, load or store,
 *                waits for its full round trip to memory (`uncached.loadNs`) before the next one is
 *                issued: a store costs what a load costs, and nothing overlaps.
 *   maintenance  one instruction per line; the line is cleaned/invalidated in the simulated caches;
 *                each operation takes pocNs (or pouNs) to complete, `outstanding` at a time; dirty
 *                data goes over the bus; a DSB waits for all of it.
 *   dependent    entry-list loads and page-table descriptor reads stall the core until their data
 *                arrives (the next address depends on them): this is why the entry walk cannot be
 *                hidden by prefetching when its line misses.
 *
 * Large runs: at most about `sample` copy events (pages) are simulated exactly, as evenly spaced blocks
 * of 64 consecutive pages (counted with the page-sized maintenance events around them); the time of each kind of event in the skipped blocks is extrapolated from the
 * simulated events of the same kind (per byte or per event). `sampled` says when that happened.
 */

import { KexecLabError } from "../errors.js";
import type { ModelSummary } from "../reloc/result.js";
import {
  ACC_ENTRY,
  ACC_TABLE,
  ACC_UNCACHED,
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  BARRIER_TLBI,
  CMO_DC_CIVAC,
  CMO_DC_CVAC,
  CMO_DC_CVAU,
  CMO_DC_IVAC,
  CMO_IC_IALLU,
  CMO_IC_IVAU,
  COPY_LINEAR_LOOP,
  COPY_SCRATCH,
  COPY_UNCACHED,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_DESC_READ,
  EV_LOAD,
  EV_STORE,
  EV_TLB_MISS,
} from "../reloc/trace.js";
import { CacheHierarchy } from "./cache.js";
import type { Profile } from "./profiles.js";
import { around, profileBound } from "./ranges.js";

/** Breakdown components, in ModelSummary.breakdown order. */
export const COMPONENTS = ["copy", "entryWalk", "tableWalk", "cacheMaintenance", "tlb", "other"] as const;
const C_COPY = 0;
const C_ENTRY = 1;
const C_TABLE = 2;
const C_CMO = 3;
const C_TLB = 4;
const C_OTHER = 5;

/** Pages per exactly simulated block when sampling. */
export const SAMPLE_BLOCK = 64;
/** Lines of one event simulated exactly by default (64 MiB of 64-byte lines); the rest of a bigger
 * event (say, one dc civac over a whole segment) is extrapolated from them. */
export const MAX_EVENT_LINES = 1 << 20;
/** Copy bytes simulated exactly by default before sampling starts (64 MiB). */
export const DEFAULT_SAMPLE_BYTES = 64 * 1024 * 1024;

export interface ModelOptions {
  /** Maximum copy events (pages) simulated exactly; default: 64 MiB worth of copies. */
  sample?: number;
  /** Lines of one event simulated exactly (default MAX_EVENT_LINES); the rest is extrapolated. */
  maxEventLines?: number;
  /** Bytes relocated, for the physical limit; default: the copies in the trace except COPY_SCRATCH ones. */
  bytes?: number;
}

/** What the memory system did, for tests and the detailed report. */
export interface ModelStats {
  /** Lines read from DRAM on demand (not covered by a prefetch). */
  demandLines: number;
  /** Lines the prefetcher read from DRAM (used or not). */
  prefetchLines: number;
  /** Demand accesses that found their line prefetched. */
  prefetchHits: number;
  /** Dirty lines written back to DRAM. */
  writebackLines: number;
  /** Accesses with the MMU off or to non-cacheable memory. */
  uncachedAccesses: number;
  /** Cache-maintenance line operations. */
  maintenanceLines: number;
  /** Copy events simulated exactly and in total. */
  simulatedCopies: number;
  totalCopies: number;
}

export interface ModelDetail {
  summary: ModelSummary;
  stats: ModelStats;
}

/** 2 x bytes / copy bandwidth: every byte read once and written once at the memory's copy bandwidth. */
export function physicalLimitSeconds(bytes: number, profile: Profile): number {
  return (2 * bytes) / (profile.dram.bandwidthGBps * 1e9);
}

/**
 * Table levels an EV_DESC_READ may name: -1 (the extra level of arm64 FEAT_LPA2 52-bit VA with the 4K
 * granule, or x86_64's PML5 with LA57) through 3 (the last level). Every level is costed alike: one
 * dependent 8-byte load through the caches (src/mmu/types.ts numbers levels the same way).
 */
export const MIN_WALK_LEVEL = -1;
export const MAX_WALK_LEVEL = 3;
/** A TLB miss's VA page is below 2^57 (x86_64 LA57's 57-bit VA, its low bits; src/mmu/walker.ts). */
export const MAX_TRACE_VA = 2 ** 57;

/** Event classes for extrapolation: kind x low flag bits. */
const CLASS_FLAGS = 16;
const CLASSES = 8 * CLASS_FLAGS;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Virtual stream spaces for linear loops (kept apart from physical addresses, exact below 2^53). */
const VA_SRC_BASE = 2 ** 50;
const VA_DST_BASE = 2 ** 51;

class MemorySystem {
  readonly caches: CacheHierarchy;
  readonly lineBytes: number;
  private readonly depth: number;
  private readonly levelNs: Float64Array;
  private readonly latencyNs: number;
  /** Bus time of one line, ns. */
  readonly lineNs: number;
  private readonly coreNsPerLine: number;
  private readonly entryNs: number;
  private readonly writeStreaming: boolean;
  // uncached
  private readonly ucBytes: number;
  /** One Device-nGnRnE access, load or store: the full round trip (no early write acknowledgement). */
  private readonly ucRoundTripNs: number;
  /** Round trips of the copy loop's Non-cacheable instruction fetches per 64 bytes (MMU off). */
  private readonly ucLoopFetches: number;
  // maintenance
  private readonly cmoLineNs: number;
  private readonly pocNs: number;
  private readonly pouNs: number;
  private readonly icacheNs: number;
  private readonly cmoWindow: Float64Array;
  private cmoSlot = 0;
  // barriers
  private readonly dsbNs: number;
  private readonly isbNs: number;
  private readonly tlbiNs: number;
  private readonly mmuNs: number;
  private readonly tlbMissNs: number;
  // demand-miss window
  private readonly window: Float64Array;
  private slot = 0;
  // prefetcher
  private readonly pfEnabled: boolean;
  private readonly pfTrain: number;
  private readonly pfRamp: number;
  private readonly pfDistance: number;
  private readonly pfCross: boolean;
  private readonly pfBoundaryLines: number;
  private readonly streams: number;
  private readonly sNext: Float64Array;
  private readonly sConf: Float64Array;
  private readonly sCovered: Float64Array;
  private readonly sStamp: Float64Array;
  private readonly ringSize: number;
  private readonly ringTag: Float64Array;
  private readonly ringReady: Float64Array;
  private streamClock = 0;

  // clock
  now = 0;
  lastDone = 0;
  busFree = 0;
  mmuOff = false;
  /** The component of the event being simulated, and of the one that set lastDone. */
  comp = C_OTHER;
  lastDoneComp = C_OTHER;
  vaSrc = VA_SRC_BASE;
  vaDst = VA_DST_BASE;
  /** Events longer than maxEventLines, partly extrapolated. */
  extrapolatedEvents = 0;
  private readonly maxEventLines: number;
  readonly stats: ModelStats = {
    demandLines: 0,
    prefetchLines: 0,
    prefetchHits: 0,
    writebackLines: 0,
    uncachedAccesses: 0,
    maintenanceLines: 0,
    simulatedCopies: 0,
    totalCopies: 0,
  };

  constructor(p: Profile, maxEventLines = MAX_EVENT_LINES) {
    this.maxEventLines = Math.max(1, Math.floor(maxEventLines));
    const ghz = p.cpu.ghz;
    this.lineBytes = p.lineBytes;
    this.caches = new CacheHierarchy(p.caches, p.lineBytes);
    this.depth = p.caches.length;
    this.levelNs = Float64Array.from(p.caches.map((c) => c.latencyCycles / ghz));
    this.latencyNs = p.dram.latencyNs;
    this.lineNs = p.lineBytes / p.dram.bandwidthGBps;
    this.coreNsPerLine = p.lineBytes / p.cpu.copyBytesPerCycle / ghz;
    this.entryNs = p.cpu.entryCycles / ghz;
    this.writeStreaming = p.writeStreaming;
    this.ucBytes = p.uncached.accessBytes;
    this.ucRoundTripNs = p.uncached.loadNs;
    this.ucLoopFetches = p.uncached.loopFetches;
    this.cmoLineNs = p.cmo.lineCycles / ghz;
    this.pocNs = p.cmo.pocNs;
    this.pouNs = p.cmo.pouNs;
    this.icacheNs = p.cmo.icacheInvalidateNs;
    this.cmoWindow = new Float64Array(p.cmo.outstanding);
    this.dsbNs = p.barrierCycles.dsb / ghz;
    this.isbNs = p.barrierCycles.isb / ghz;
    this.tlbiNs = p.barrierCycles.tlbi / ghz;
    this.mmuNs = p.barrierCycles.mmuSwitch / ghz;
    this.tlbMissNs = p.tlb.missCycles / ghz;
    this.window = new Float64Array(p.dram.outstandingMisses);
    const pf = p.prefetcher;
    this.pfEnabled = pf.enabled;
    this.pfTrain = pf.trainLines;
    this.pfRamp = pf.rampLines;
    this.pfDistance = pf.distanceLines;
    this.pfCross = pf.crossesPages;
    this.pfBoundaryLines = Math.max(1, Math.floor(pf.boundaryBytes / p.lineBytes));
    this.streams = pf.streams;
    this.sNext = new Float64Array(pf.streams).fill(-10);
    this.sConf = new Float64Array(pf.streams);
    this.sCovered = new Float64Array(pf.streams).fill(-10);
    this.sStamp = new Float64Array(pf.streams);
    this.ringSize = nextPow2(pf.distanceLines * 2 + 2);
    this.ringTag = new Float64Array(pf.streams * this.ringSize).fill(-1);
    this.ringReady = new Float64Array(pf.streams * this.ringSize);
  }

  /** A line read from DRAM requested at time t: when its data is back. */
  private dramRead(t: number): number {
    const done = Math.max(t + this.latencyNs, this.busFree + this.lineNs);
    this.busFree = done;
    return done;
  }

  private flushWritebacks(): void {
    const n = this.caches.takeWritebacks();
    if (n > 0) {
      this.stats.writebackLines += n;
      this.busFree = Math.max(this.busFree, this.now) + n * this.lineNs;
    }
  }

  /**
   * The prefetcher sees an L1 miss at stream line `sl` (in the address space the core issues).
   * Returns when the line's prefetched data is (or will be) available, or -1 when it was not prefetched.
   */
  private observe(sl: number): number {
    const S = this.streams;
    let s = -1;
    let advance = false;
    for (let i = 0; i < S; i++) {
      const next = this.sNext[i]!;
      if (next === sl) {
        s = i;
        advance = true;
        break;
      }
      if (next - 1 === sl) {
        s = i;
        break;
      }
    }
    if (s < 0) {
      // a new stream replaces the least recently used one
      let oldest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < S; i++) {
        if (this.sStamp[i]! < oldest) {
          oldest = this.sStamp[i]!;
          s = i;
        }
      }
      this.sNext[s] = sl + 1;
      this.sConf[s] = 1;
      this.sCovered[s] = sl;
      this.sStamp[s] = ++this.streamClock;
      return -1;
    }
    this.sStamp[s] = ++this.streamClock;
    const ring = s * this.ringSize;
    const slot = ring + (sl % this.ringSize);
    const ready = sl <= this.sCovered[s]! && this.ringTag[slot] === sl ? this.ringReady[slot]! : -1;
    if (!advance) return ready;
    this.sNext[s] = sl + 1;
    if (!this.pfCross && sl % this.pfBoundaryLines === 0) {
      // a new page: this prefetcher must train again
      this.sConf[s] = 1;
      this.sCovered[s] = sl;
      return ready;
    }
    const conf = this.sConf[s]! + 1;
    this.sConf[s] = conf;
    if (this.pfEnabled && conf >= this.pfTrain) {
      const ramp = Math.min(1, (conf - this.pfTrain + 1) / this.pfRamp);
      let target = sl + Math.ceil(this.pfDistance * ramp);
      if (!this.pfCross) {
        const end = (Math.floor(sl / this.pfBoundaryLines) + 1) * this.pfBoundaryLines - 1;
        if (target > end) target = end;
      }
      let l = Math.max(this.sCovered[s]! + 1, sl + 1);
      for (; l <= target; l++) {
        const k = ring + (l % this.ringSize);
        this.ringTag[k] = l;
        this.ringReady[k] = this.dramRead(this.now);
        this.stats.prefetchLines++;
      }
      if (target > this.sCovered[s]!) this.sCovered[s] = target;
    }
    return ready;
  }

  /** Take a miss slot: the earliest time a new miss can be issued. */
  private missIssue(): number {
    const t = Math.max(this.now, this.window[this.slot]!);
    return t;
  }

  private missDone(done: number): void {
    this.window[this.slot] = done;
    this.slot = (this.slot + 1) % this.window.length;
    if (done > this.lastDone) {
      this.lastDone = done;
      this.lastDoneComp = this.comp;
    }
  }

  /** A cacheable read of one line. Returns when its data is available. */
  read(line: number, streamLine: number): number {
    const level = this.caches.access(line, false);
    if (level === 0) return this.now + this.levelNs[0]!;
    const ready = this.observe(streamLine);
    const issue = this.missIssue();
    this.now = issue;
    let done: number;
    if (level < this.depth) {
      done = issue + this.levelNs[level]!;
    } else if (ready >= 0) {
      this.stats.prefetchHits++;
      done = Math.max(issue + this.levelNs[this.depth - 1]!, ready);
    } else {
      this.stats.demandLines++;
      done = this.dramRead(issue);
    }
    this.missDone(done);
    this.flushWritebacks();
    return done;
  }

  /** A cacheable store of one line; `full`: the whole line is written (write streaming applies). */
  write(line: number, streamLine: number, full: boolean): void {
    const level = this.caches.access(line, true);
    if (level > 0 && level === this.depth && !(full && this.writeStreaming)) {
      // read for ownership
      const ready = this.observe(streamLine);
      const issue = this.missIssue();
      this.now = issue;
      let done: number;
      if (ready >= 0) {
        this.stats.prefetchHits++;
        done = Math.max(issue + this.levelNs[this.depth - 1]!, ready);
      } else {
        this.stats.demandLines++;
        done = this.dramRead(issue);
      }
      this.missDone(done);
    }
    this.flushWritebacks();
  }

  copy(dst: number, src: number, n: number, flags: number): void {
    if (n <= 0) return;
    if (this.mmuOff || (flags & COPY_UNCACHED) !== 0) {
      const accesses = Math.ceil(n / this.ucBytes);
      this.stats.uncachedAccesses += 2 * accesses;
      // ldp then stp of each access: two serialized round trips, plus the loop's Non-cacheable
      // instruction fetches per 64 bytes (uncached.loopFetches; 0 unless a range asks for more).
      this.now += (2 * accesses + Math.ceil(n / 64) * this.ucLoopFetches) * this.ucRoundTripNs;
      return;
    }
    const lb = this.lineBytes;
    let sBase: number;
    let dBase: number;
    if ((flags & COPY_LINEAR_LOOP) !== 0) {
      sBase = this.vaSrc + (src % lb);
      dBase = this.vaDst + (dst % lb);
      this.vaSrc = Math.ceil((sBase + n) / lb) * lb;
      this.vaDst = Math.ceil((dBase + n) / lb) * lb;
    } else {
      sBase = src;
      dBase = dst;
    }
    const lines = Math.ceil((src + n) / lb) - Math.floor(src / lb);
    const src0 = Math.floor(src / lb);
    const dst0 = Math.floor(dst / lb);
    const ss0 = Math.floor(sBase / lb);
    const ds0 = Math.floor(dBase / lb);
    const full = src % lb === 0 && dst % lb === 0 && n % lb === 0;
    const exact = Math.min(lines, this.maxEventLines);
    const before = this.now;
    for (let i = 0; i < exact; i++) {
      this.read(src0 + i, ss0 + i);
      this.write(dst0 + i, ds0 + i, full);
      this.now += this.coreNsPerLine;
    }
    if (exact < lines) this.extrapolate(before, lines / exact);
  }

  /** The event simulated so far since `before` stands for `factor` times as much work. */
  private extrapolate(before: number, factor: number): void {
    const extra = (this.now - before) * (factor - 1);
    this.now += extra;
    this.busFree = Math.max(this.busFree, this.now);
    if (this.lastDone < this.now) this.lastDone = this.now;
    this.extrapolatedEvents++;
  }

  /** A load the core must wait for (entry list, descriptors); returns the stall end. */
  load(a: number, n: number, flags: number, dependent: boolean): void {
    if (this.mmuOff || (flags & ACC_UNCACHED) !== 0) {
      const accesses = Math.max(1, Math.ceil(n / this.ucBytes));
      this.stats.uncachedAccesses += accesses;
      this.now += accesses * this.ucRoundTripNs;
      return;
    }
    const lb = this.lineBytes;
    const first = Math.floor(a / lb);
    const last = Math.floor((a + Math.max(n, 1) - 1) / lb);
    const stop = Math.min(last, first + this.maxEventLines - 1);
    const before = this.now;
    let done = this.now;
    for (let l = first; l <= stop; l++) done = Math.max(done, this.read(l, l));
    if (dependent && done > this.now) this.now = done;
    if (stop < last) this.extrapolate(before, (last - first + 1) / (stop - first + 1));
  }

  store(a: number, n: number, flags: number): void {
    if (this.mmuOff || (flags & ACC_UNCACHED) !== 0) {
      const accesses = Math.max(1, Math.ceil(n / this.ucBytes));
      this.stats.uncachedAccesses += accesses;
      // Device-nGnRnE: the store completes only when the memory acknowledges it.
      this.now += accesses * this.ucRoundTripNs;
      return;
    }
    const lb = this.lineBytes;
    const first = Math.floor(a / lb);
    const last = Math.floor((a + Math.max(n, 1) - 1) / lb);
    const stop = Math.min(last, first + this.maxEventLines - 1);
    const before = this.now;
    for (let l = first; l <= stop; l++) {
      const full = a <= l * lb && a + n >= (l + 1) * lb;
      this.write(l, l, full);
    }
    if (stop < last) this.extrapolate(before, (last - first + 1) / (stop - first + 1));
  }

  entryCost(): void {
    this.now += this.entryNs;
  }

  tlbMiss(): void {
    this.now += this.tlbMissNs;
  }

  maintain(a: number, n: number, op: number): void {
    if (op === CMO_IC_IALLU) {
      this.now += this.icacheNs;
      return;
    }
    const lb = this.lineBytes;
    const first = Math.floor(a / lb);
    const last = Math.floor((a + Math.max(n, 1) - 1) / lb);
    const pou = op === CMO_DC_CVAU || op === CMO_IC_IVAU;
    const opNs = pou ? this.pouNs : this.pocNs;
    const W = this.cmoWindow;
    const before = this.now;
    const total = last - first + 1;
    const stop = first + Math.min(total, this.maxEventLines) - 1;
    for (let l = first; l <= stop; l++) {
      this.now += this.cmoLineNs;
      let dirty = false;
      if (op === CMO_DC_CIVAC) dirty = this.caches.maintain(l, true, true);
      else if (op === CMO_DC_IVAC) this.caches.maintain(l, false, true);
      else if (op === CMO_DC_CVAC) dirty = this.caches.maintain(l, true, false);
      else if (op === CMO_DC_CVAU) this.caches.maintain(l, true, false, 1);
      const issue = Math.max(this.now, W[this.cmoSlot]!);
      this.now = issue;
      let done = issue + opNs;
      if (dirty && !pou) {
        // A dirty line cleaned to PoC is complete only when the memory has acknowledged its write:
        // a full DRAM round trip after the write-back leaves, at least.
        this.flushWritebacks();
        done = Math.max(done, issue + this.latencyNs, this.busFree);
      } else if (dirty) {
        this.flushWritebacks();
        if (this.busFree > done) done = this.busFree;
      }
      W[this.cmoSlot] = done;
      this.cmoSlot = (this.cmoSlot + 1) % W.length;
      if (done > this.lastDone) {
        this.lastDone = done;
        this.lastDoneComp = this.comp;
      }
    }
    this.stats.maintenanceLines += stop - first + 1;
    if (stop < last) this.extrapolate(before, total / (stop - first + 1));
  }

  /** A barrier; returns how long it waited for outstanding work (charged to that work's component). */
  barrier(op: number): number {
    let waited = 0;
    switch (op) {
      case BARRIER_DSB: {
        const until = Math.max(this.now, this.lastDone, this.busFree);
        waited = until - this.now;
        this.now = until + this.dsbNs;
        break;
      }
      case BARRIER_ISB:
        this.now += this.isbNs;
        break;
      case BARRIER_TLBI:
        this.now += this.tlbiNs;
        break;
      case BARRIER_MMU_ON:
      case BARRIER_MMU_OFF: {
        const until = Math.max(this.now, this.lastDone);
        waited = until - this.now;
        this.now = until + this.mmuNs;
        this.mmuOff = op === BARRIER_MMU_OFF;
        break;
      }
    }
    return waited;
  }
}

function componentOf(kind: number, flags: number): number {
  switch (kind) {
    case EV_COPY:
      return C_COPY;
    case EV_LOAD:
    case EV_STORE:
      return (flags & ACC_ENTRY) !== 0 ? C_ENTRY : (flags & ACC_TABLE) !== 0 ? C_TABLE : C_OTHER;
    case EV_DESC_READ:
      return C_TABLE;
    case EV_CMO:
      return C_CMO;
    case EV_TLB_MISS:
      return C_TLB;
    default:
      return C_OTHER;
  }
}

/** Model a trace on a profile: seconds, breakdown, limit and the memory system's counters. */
export function modelTraceDetailed(
  trace: Float64Array,
  profile: Profile,
  opts: ModelOptions = {},
): ModelDetail {
  if (trace.length % 5 !== 0) {
    throw new KexecLabError("E_FIELD_VALUE", `a trace is 5 numbers per event; got ${trace.length}`, {
      field: "trace",
    });
  }
  const events = trace.length / 5;
  // Pre-scan: copies, bytes, and the "heavy" events (page copies and page-sized maintenance) that
  // sampling blocks are counted in.
  const heavyCmoBytes = profile.lineBytes * 8;
  let heavy = 0;
  let copies = 0;
  let copyBytes = 0;
  let relocatedBytes = 0;
  for (let e = 0; e < events; e++) {
    const k = trace[e * 5]!;
    if (!(k >= EV_COPY && k <= EV_BARRIER && Number.isInteger(k))) {
      throw new KexecLabError("E_FIELD_VALUE", `trace event ${e} has unknown kind ${k}`, {
        field: `trace[${e}]`,
      });
    }
    for (let f = 1; f < 5; f++) {
      const v = trace[e * 5 + f]!;
      // A descriptor read's field 2 is its table level: -1 (FEAT_LPA2 52-bit VA, x86 PML5) to 3.
      // A TLB miss's field 1 is a page-aligned VA of up to 57 bits (x86 LA57), exact as a number.
      const level = f === 2 && k === EV_DESC_READ;
      const ok = level
        ? v >= MIN_WALK_LEVEL && v <= MAX_WALK_LEVEL && Number.isInteger(v)
        : v >= 0 && (f === 1 && k === EV_TLB_MISS ? v < MAX_TRACE_VA : v <= Number.MAX_SAFE_INTEGER);
      if (!ok) {
        const what = level ? ` (a table level: ${MIN_WALK_LEVEL}..${MAX_WALK_LEVEL})` : "";
        throw new KexecLabError("E_FIELD_VALUE", `trace event ${e} field ${f} is ${v}${what}`, {
          field: `trace[${e}]`,
        });
      }
    }
    if (trace[e * 5] === EV_COPY) {
      copies++;
      copyBytes += trace[e * 5 + 3]!;
      if ((trace[e * 5 + 4]! & COPY_SCRATCH) === 0) relocatedBytes += trace[e * 5 + 3]!;
      heavy++;
    } else if (trace[e * 5] === EV_CMO && trace[e * 5 + 3]! >= heavyCmoBytes) {
      heavy++;
    }
  }
  const avgCopy = copies > 0 ? copyBytes / copies : 4096;
  const sample = Math.max(
    SAMPLE_BLOCK,
    Math.floor(opts.sample ?? Math.max(256, Math.floor(DEFAULT_SAMPLE_BYTES / avgCopy))),
  );
  const sampled = copies > sample;
  const blockSize = Math.max(1, Math.round((SAMPLE_BLOCK * heavy) / Math.max(1, copies)));
  const blocks = Math.ceil(heavy / blockSize);
  const simBlocks = Math.max(1, Math.floor(sample / SAMPLE_BLOCK));
  const isSimulated = (b: number): boolean =>
    !sampled || b === 0 || Math.floor((b * simBlocks) / blocks) > Math.floor(((b - 1) * simBlocks) / blocks);

  const m = new MemorySystem(profile, opts.maxEventLines);
  const simSec = new Float64Array(CLASSES);
  const simUnits = new Float64Array(CLASSES);
  const totalUnits = new Float64Array(CLASSES);
  const classComp = new Int8Array(CLASSES).fill(-1);

  let heavySeen = 0;
  let currentBlock = -1;
  let blockSimulated = true;
  // Time that is not extrapolated: barrier waits and the final drain, by component.
  const fixedNs = new Float64Array(COMPONENTS.length);
  for (let e = 0; e < events; e++) {
    const o = e * 5;
    const kind = trace[o]!;
    const a = trace[o + 1]!;
    const b = trace[o + 2]!;
    const n = trace[o + 3]!;
    const flags = trace[o + 4]!;
    if (kind === EV_COPY || (kind === EV_CMO && n >= heavyCmoBytes)) {
      const blk = Math.floor(heavySeen / blockSize);
      if (blk !== currentBlock) {
        currentBlock = blk;
        blockSimulated = isSimulated(blk);
      }
      heavySeen++;
    }
    const comp = componentOf(kind, flags);
    const cls = (kind & 7) * CLASS_FLAGS + (flags & (CLASS_FLAGS - 1));
    const units = kind === EV_COPY || kind === EV_CMO || kind === EV_LOAD || kind === EV_STORE ? n : 1;
    totalUnits[cls]! += units;
    classComp[cls] = comp;
    // Barriers always run (they switch the MMU); other events of a skipped block are extrapolated,
    // unless nothing of their class has been simulated yet.
    if (!blockSimulated && kind !== EV_BARRIER && simUnits[cls]! > 0) continue;
    if (kind === EV_COPY) m.stats.simulatedCopies++;
    const before = m.now;
    m.comp = comp;
    let waited = 0;
    switch (kind) {
      case EV_COPY:
        m.copy(a, b, n, flags);
        break;
      case EV_LOAD:
        m.load(a, n, flags, (flags & (ACC_ENTRY | ACC_TABLE)) !== 0);
        if ((flags & ACC_ENTRY) !== 0) m.entryCost();
        break;
      case EV_STORE:
        m.store(a, n, flags);
        break;
      case EV_DESC_READ:
        if (!m.mmuOff) m.load(a, 8, 0, true);
        break;
      case EV_TLB_MISS:
        m.tlbMiss();
        break;
      case EV_CMO:
        m.maintain(a, n, flags);
        break;
      case EV_BARRIER:
        waited = m.barrier(flags);
        fixedNs[m.lastDoneComp]! += waited;
        break;
    }
    simSec[cls]! += m.now - before - waited;
    simUnits[cls]! += units;
  }
  m.stats.totalCopies = copies;
  // Drain: whatever is still in flight at the end belongs to the work that issued it.
  const settled = Math.max(m.now, m.lastDone);
  fixedNs[m.lastDoneComp]! += settled - m.now;
  // The relocation is done when its output is in memory (the premise of the physical limit): the
  // dirty lines still in the caches are written back, after the write-backs already on the bus.
  // Charged to the copies and, when sampled, scaled as they are: the skipped blocks' output would
  // have pushed as many lines out of the caches on the way.
  const dirty = m.caches.dirtyLines();
  m.stats.writebackLines += dirty;
  const written = Math.max(m.busFree, m.now) + dirty * m.lineNs;
  if (written > settled) {
    let simCopyBytes = 0;
    let allCopyBytes = 0;
    for (let c = EV_COPY * CLASS_FLAGS; c < (EV_COPY + 1) * CLASS_FLAGS; c++) {
      simCopyBytes += simUnits[c]!;
      allCopyBytes += totalUnits[c]!;
    }
    const scale = simCopyBytes > 0 ? allCopyBytes / simCopyBytes : 1;
    fixedNs[C_COPY]! += (written - settled) * scale;
  }

  const breakdownNs = new Float64Array(COMPONENTS.length);
  for (let c = 0; c < CLASSES; c++) {
    if (classComp[c]! < 0 || simUnits[c]! === 0) continue;
    breakdownNs[classComp[c]!]! += (simSec[c]! * totalUnits[c]!) / simUnits[c]!;
  }
  for (let c = 0; c < COMPONENTS.length; c++) breakdownNs[c]! += fixedNs[c]!;

  const breakdown: Record<string, number> = {};
  let total = 0;
  for (let c = 0; c < COMPONENTS.length; c++) {
    const s = breakdownNs[c]! * 1e-9;
    breakdown[COMPONENTS[c]!] = s;
    total += s;
  }
  const bytes = opts.bytes ?? relocatedBytes;
  const limitSeconds = physicalLimitSeconds(bytes, profile);
  return {
    summary: {
      profile: profile.name,
      seconds: total,
      breakdown,
      limitSeconds,
      ratioToLimit: limitSeconds > 0 ? total / limitSeconds : 0,
      sampled: sampled || m.extrapolatedEvents > 0,
    },
    stats: m.stats,
  };
}

/** Model a trace on a profile (see modelTraceDetailed for the counters behind it). */
export function modelTrace(trace: Float64Array, profile: Profile, opts: ModelOptions = {}): ModelSummary {
  return modelTraceDetailed(trace, profile, opts).summary;
}

/** Pages of the default sample (64 MiB of 4 KiB pages), the base of the bounds' smaller sample. */
const BOUND_SAMPLE_PAGES = DEFAULT_SAMPLE_BYTES / 4096;

/**
 * A trace on a profile with its range (src/model/ranges.ts): `seconds` with the profile's own values,
 * `range` [low, high] from the same trace with every ranged input at its fast and its slow end. A
 * profile without ranges gives [seconds, seconds].
 */
export function modelTraceRange(
  trace: Float64Array,
  profile: Profile,
  opts: ModelOptions = {},
): ModelSummary {
  const m = modelTrace(trace, profile, opts);
  if (profile.ranges === undefined || Object.keys(profile.ranges).length === 0) {
    return { ...m, range: [m.seconds, m.seconds] };
  }
  // The bounds are simulated on an eighth of the sample (the rest extrapolated as usual): they are
  // estimates of the extremes, and sampling moves them by a few percent at most (docs/model.md).
  const boundOpts: ModelOptions = {
    ...opts,
    sample: Math.max(256, Math.floor((opts.sample ?? BOUND_SAMPLE_PAGES) / 8)),
  };
  const lo = modelTrace(trace, profileBound(profile, "low"), boundOpts).seconds;
  const hi = modelTrace(trace, profileBound(profile, "high"), boundOpts).seconds;
  return { ...m, range: around(m.seconds, [lo, hi]) };
}

/**
 * The `model` callback of runScenario: every profile on each strategy's trace, each with its range.
 * `bytes` (the image's relocated bytes) sets the physical limit; default: the trace's copy bytes.
 */
export function traceModeler(
  profiles: readonly Profile[],
  opts: ModelOptions = {},
): (trace: { raw(): Float64Array }, strategy: string) => ModelSummary[] {
  return (trace) => profiles.map((p) => modelTraceRange(trace.raw(), p, opts));
}
