/**
 * The simulated CPU that runs a relocation: it reads the kimage entry list and, with the MMU on, the
 * translation tables from simulated RAM (through a TLB), copies pages, performs cache maintenance,
 * and counts everything. Each write is checked against the guard (pages still to be read).
 *
 * The hot path per source page is: one 64-bit entry load, the TLB lookups, the guard check and
 * PhysMem.copyPage. Nothing is allocated in it; the access sink is only called when one is attached
 * (`tracing`), so the default costs one boolean test per event site.
 */

import { IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE } from "../kimage/constants.js";
import type { PhysMem } from "../machine/physmem.js";
import type { VaHalf } from "../mmu/types.js";
import type { PageGuard } from "./guard.js";
import type { LineTracker } from "./lines.js";
import type { RelocCounters, VerificationFailure } from "./result.js";
import {
  ACC_ENTRY,
  ACC_UNCACHED,
  type AccessSink,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  CMO_DC_CIVAC,
  CMO_DC_CVAC,
  CMO_DC_CVAU,
  CMO_DC_IVAC,
  COPY_SCRATCH,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_LOAD,
  NULL_SINK,
} from "./trace.js";

const TWO_32 = 4294967296;
/** Failures kept per run (the counters still count all of them). */
export const MAX_FAILURES = 16;

/**
 * What the CPU needs from a TLB (src/mmu's Tlb implements it): translate(half, va) -> pa, or -1 on a
 * fault, counting hits, misses, walks and descriptor reads per level.
 */
export interface Translator {
  translate(half: VaHalf, va: number): number;
  readonly hits: number;
  readonly misses: number;
  readonly walks: number;
  readonly descriptorReadsByLevel: ArrayLike<number> | Record<string, number>;
  readonly lastFault?: unknown;
}

export function newCounters(): RelocCounters {
  return {
    bytesCopied: 0,
    pagesCopied: 0,
    entriesRead: 0,
    indirectionPagesFollowed: 0,
    tlbHits: 0,
    tlbMisses: 0,
    walks: 0,
    descriptorReadsByLevel: {},
    cacheLinesCleaned: 0,
    cacheLinesInvalidated: 0,
    controlPages: 0,
    clobbers: 0,
    faults: 0,
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

export class RelocCpu {
  readonly mem: PhysMem;
  readonly pageSize: number;
  readonly guard: PageGuard;
  readonly sink: AccessSink;
  readonly tracing: boolean;
  /** Data cache line size (CTR_EL0.DminLine; 64 bytes on the cores modeled). */
  readonly lineSize: number;
  readonly counters: RelocCounters;
  readonly failures: VerificationFailure[] = [];
  /** The TLB when the MMU is on (set by the strategy), null with the MMU off. */
  tlb: Translator | null = null;
  /** Pages copied so far: the "step" named in clobber and fault reports. */
  step = 0;
  /** Set when execution cannot go on (a fault): the loops stop. */
  halted = false;
  /**
   * The architectural cache-state check (src/reloc/lines.ts), or null on a coherent machine (x86_64).
   * Reads and maintenance through the CPU and every write to `mem` update it.
   */
  readonly lines: LineTracker | null;
  /** SCTLR_EL1.M (and C): on until the strategy turns the MMU off (BARRIER_MMU_OFF); the running kernel has it on. */
  mmuOn = true;
  /** Pages the hardware walks once the MMU goes on (the strategy's tables: PreparedRelocation.livePages). */
  tablePages: readonly number[] = [];
  // counters kept in locals of the object for speed, flushed by finish()
  private pagesCopied = 0;
  private entriesRead = 0;
  private indirections = 0;
  private linesCleaned = 0;
  private linesInvalidated = 0;
  private microTlbHits = 0;

  constructor(
    mem: PhysMem,
    guard: PageGuard,
    sink: AccessSink = NULL_SINK,
    lineSize = 64,
    lines: LineTracker | null = null,
  ) {
    this.lines = lines;
    this.mem = mem;
    this.pageSize = mem.pageSize;
    this.guard = guard;
    this.sink = sink;
    this.tracing = sink !== NULL_SINK;
    this.lineSize = lineSize;
    this.counters = newCounters();
  }

  /** copy_page(dst, src) as the CPU does it: the source is read, the destination written. */
  copyPage(dstPa: number, srcPa: number, copyFlags: number): void {
    if (this.lines !== null) this.lines.read(srcPa, this.pageSize, "source", this.step);
    if (!this.guard.passCopy(dstPa, srcPa)) this.clobber(dstPa, srcPa);
    if (!this.mem.copyPage(dstPa, srcPa)) {
      this.fault(`copy of page ${hex(srcPa)} -> ${hex(dstPa)} touches an address with no RAM`, dstPa);
      return;
    }
    this.pagesCopied++;
    this.step++;
    if (this.tracing) this.sink.event(EV_COPY, dstPa, srcPa, this.pageSize, copyFlags);
  }

  /** A page copy that is not part of the image (x86 swap: to/from the swap page); counted the same. */
  copyScratch(dstPa: number, srcPa: number, copyFlags: number): void {
    if (this.lines !== null) this.lines.read(srcPa, this.pageSize, "source", this.step);
    if (this.guard.isLive(dstPa)) this.clobber(dstPa, srcPa);
    if (!this.mem.copyPage(dstPa, srcPa)) {
      this.fault(`copy of page ${hex(srcPa)} -> ${hex(dstPa)} touches an address with no RAM`, dstPa);
      return;
    }
    this.pagesCopied++;
    if (this.tracing) this.sink.event(EV_COPY, dstPa, srcPa, this.pageSize, copyFlags);
  }

  /**
   * Read one kimage entry (a 64-bit load) at physical address pa: THE way a strategy's own loop reads
   * the list. It counts the read (entriesRead), records it in the access stream (EV_LOAD, ACC_ENTRY;
   * ACC_UNCACHED when `uncached`, i.e. the MMU is off) so the timing model charges it, and checks it
   * against the cache state (an uncached read needs the list cleaned to PoC). Returns the entry, or -1
   * when pa is not RAM (a fault, which halts the CPU).
   */
  readEntry(pa: number, uncached: boolean): number {
    this.entriesRead++;
    if (this.tracing) this.sink.event(EV_LOAD, pa, 0, 8, uncached ? ACC_ENTRY | ACC_UNCACHED : ACC_ENTRY);
    if (this.lines !== null) this.lines.read(pa, 8, "entry list", this.step);
    const v = this.mem.read64(pa);
    if (v < 0) this.fault(`entry load at ${hex(pa)} hit an address with no RAM`, pa);
    return v;
  }

  /**
   * Cache maintenance by VA over [pa, pa + bytes), line by line (`op`: CMO_DC_CIVAC, CMO_DC_IVAC,
   * CMO_DC_CVAC, CMO_DC_CVAU, CMO_IC_IVAU; CMO_IC_IALLU ignores pa and bytes). What it does to the
   * cache state follows from `op`; `clean` and `invalidate` only say which counters it adds to
   * (derived from `op` when left out).
   */
  cmo(pa: number, bytes: number, op: number, clean?: boolean, invalidate?: boolean): void {
    const lines = Math.ceil(bytes / this.lineSize);
    const c = clean ?? (op === CMO_DC_CIVAC || op === CMO_DC_CVAC || op === CMO_DC_CVAU);
    const i = invalidate ?? (op === CMO_DC_CIVAC || op === CMO_DC_IVAC);
    if (c) this.linesCleaned += lines;
    if (i) this.linesInvalidated += lines;
    if (this.tracing) this.sink.event(EV_CMO, pa, 0, bytes, op);
    if (this.lines !== null) this.lines.maintain(pa, bytes, op, this.step);
  }

  /**
   * A barrier or a system-register change (BARRIER_DSB, _ISB, _TLBI, _MMU_ON, _MMU_OFF). MMU_OFF clears
   * SCTLR_EL1.M/C/I: from then on data accesses are Non-cacheable (they read and write memory at the
   * PoC) and code is fetched from the PoC. MMU_ON sets them: the tables the CPU will walk are checked
   * (a cacheable walk must not hit a cached copy older than memory).
   */
  barrier(kind: number): void {
    if (this.tracing) this.sink.event(EV_BARRIER, 0, 0, 0, kind);
    if (kind === BARRIER_MMU_OFF) {
      this.mmuOn = false;
      if (this.lines !== null) this.lines.cacheable = false;
    } else if (kind === BARRIER_MMU_ON) {
      this.mmuOn = true;
      if (this.lines !== null) {
        this.lines.cacheable = true;
        this.lines.checkCacheableReads(this.tablePages, "translation table", this.step);
      }
    }
  }

  /**
   * The CPU fetches relocation code from page `pa` (physical): with the MMU on through the I-cache
   * (the code must not be stale there), with it off from the PoC (the code must be cleaned to PoC).
   * mmu-common's fetch() calls it after translating; an MMU-off strategy calls it itself.
   */
  fetchCode(pa: number): void {
    if (this.lines !== null) this.lines.checkFetch(pa, this.step);
  }

  /** Translate through the TLB; a fault is recorded and halts the CPU. */
  translate(half: VaHalf, va: number): number {
    const pa = this.tlb!.translate(half, va);
    if (pa < 0) {
      this.fault(
        `translation fault at ${half === 1 ? "TTBR1" : "TTBR0"} VA offset ${hex(va)}${describeFault(this.tlb!.lastFault)}`,
        va,
      );
    }
    return pa;
  }

  /** Clobbers so far (the list walk re-reads a cached entry page after one). */
  get clobberCount(): number {
    return this.counters.clobbers as number;
  }

  /**
   * @internal relocateList's counts: it inlines readEntry, copyPage and cmo(…, CMO_DC_CIVAC) for speed
   * and emits their events itself. A strategy's own loop uses readEntry, copyPage and cmo instead.
   */
  addLoopCounts(pagesCopied: number, cleanInvalLines: number, entries: number, microTlbHits: number): void {
    this.pagesCopied += pagesCopied;
    this.linesCleaned += cleanInvalLines;
    this.linesInvalidated += cleanInvalLines;
    this.entriesRead += entries;
    this.microTlbHits += microTlbHits;
  }

  followIndirection(): void {
    this.indirections++;
  }

  clobber(dstPa: number, srcPa: number): void {
    this.counters.clobbers = (this.counters.clobbers as number) + 1;
    if (this.failures.length < MAX_FAILURES) {
      const kind = this.guard.kindOf(dstPa);
      this.failures.push({
        kind: "clobber",
        message: `step ${this.step}: copy from ${hex(srcPa)} writes ${hex(dstPa)}, ${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} page still to be read`,
        address: hex(dstPa),
        step: this.step,
      });
    }
  }

  fault(message: string, address: number): void {
    this.counters.faults = (this.counters.faults as number) + 1;
    this.halted = true;
    if (this.failures.length < MAX_FAILURES) {
      this.failures.push({
        kind: "fault",
        message: `step ${this.step}: ${message}`,
        address: hex(address),
        step: this.step,
      });
    }
  }

  /** Flush the loop counters and the TLB's into `counters`. */
  finish(): RelocCounters {
    const c = this.counters;
    c.pagesCopied += this.pagesCopied;
    c.bytesCopied += this.pagesCopied * this.pageSize;
    c.entriesRead += this.entriesRead;
    c.indirectionPagesFollowed += this.indirections;
    c.cacheLinesCleaned += this.linesCleaned;
    c.cacheLinesInvalidated += this.linesInvalidated;
    this.pagesCopied = 0;
    this.entriesRead = 0;
    this.indirections = 0;
    this.linesCleaned = 0;
    this.linesInvalidated = 0;
    const tlb = this.tlb;
    if (tlb !== null) {
      c.tlbHits = tlb.hits + this.microTlbHits;
      c.tlbMisses = tlb.misses;
      c.walks = tlb.walks;
      c.descriptorReadsByLevel = byLevelRecord(tlb.descriptorReadsByLevel);
    }
    return c;
  }
}

function describeFault(f: unknown): string {
  if (f === null || f === undefined || typeof f !== "object") return "";
  const o = f as { kind?: string; level?: number };
  return o.kind !== undefined ? ` (${o.kind} fault, level ${o.level})` : "";
}

/** Arrays indexed by level + 1 (level -1 first) or records keyed by level become "level" -> count records. */
export function byLevelRecord(v: ArrayLike<number> | Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof (v as ArrayLike<number>).length === "number") {
    const a = v as ArrayLike<number>;
    for (let i = 0; i < a.length; i++) if (a[i]! > 0) out[String(i - 1)] = a[i]!;
    return out;
  }
  for (const [k, n] of Object.entries(v as Record<string, number>)) if (n > 0) out[k] = n;
  return out;
}

/** How the entry-list walk reaches memory and what it does around each copy. */
export interface ListWalk {
  /** image->head. */
  head: number;
  /** Accesses are virtual through cpu.tlb (MMU on) or physical (MMU off, tlb unused). */
  mmuOn: boolean;
  /** Translation half of every access with the MMU on. */
  half: VaHalf;
  /** va = pa + vaOffset for every access with the MMU on (linear map: -memstart; identity: 0). */
  vaOffset: number;
  /** EV_COPY flags. */
  copyFlags: number;
  /** Cache maintenance on each destination page before the copy (0: none), e.g. dc ivac with the MMU off. */
  cmoBefore: number;
  /** Cache maintenance on each destination page after the copy (0: none), e.g. dc civac (counted as clean+invalidate). */
  cmoAfter: number;
  /** x86 before 6.14: swap every page through this page (source->swap, dest->source, swap->dest); -1: plain copy. */
  swapPage: number;
  /** Stop (as a fault) after this many entry reads: a corrupted list could loop forever. */
  maxEntries: number;
}

/**
 * The relocation loop every list-walking strategy runs (arm64_relocate_new_kernel, x86's swap_pages):
 *
 *   for (entry = head; !(entry & IND_DONE); entry = *ptr++) {
 *     addr = entry & PAGE_MASK;
 *     if (entry & IND_SOURCE)           { copy_page(dest, addr); dest += PAGE_SIZE; }
 *     else if (entry & IND_INDIRECTION) ptr = addr;
 *     else if (entry & IND_DESTINATION) dest = addr;
 *   }
 *
 * The flag tests are in the arm64 routine's order (SOURCE, INDIRECTION, DESTINATION); an entry with
 * none of them (0) is skipped. ptr and dest are kept as physical addresses; with the MMU on every
 * access is translated (va = pa + vaOffset) through the TLB, as the CPU would.
 */
export function relocateList(cpu: RelocCpu, w: ListWalk): void {
  const pageSize = cpu.pageSize;
  const mmuOn = w.mmuOn;
  const half = w.half;
  const off = w.vaOffset;
  const copyFlags = w.copyFlags;
  const cmoBefore = w.cmoBefore;
  const cmoAfter = w.cmoAfter;
  const swap = w.swapPage;
  const uncached = !mmuOn;
  const mem = cpu.mem;
  const tracing = cpu.tracing;
  const entryFlags = uncached ? ACC_ENTRY | ACC_UNCACHED : ACC_ENTRY;
  const entry = w.head;
  let dest = 0;
  let reads = 0;
  // The page of entries being read: its PA and, when it holds exact bytes, its frame. Entry loads in
  // the same page as the previous one are served by the CPU's micro-TLB (counted as TLB hits).
  let entryPage = -1;
  let entryPagePa = 0;
  let entryFrame: Uint8Array | undefined;
  let clobbersSeen = cpu.clobberCount;
  let microHits = 0;
  let copied = 0;
  let cmoLines = 0;
  const linesPerPage = Math.ceil(pageSize / cpu.lineSize);
  const guard = cpu.guard;
  const lines = cpu.lines;
  const tlb = mmuOn ? cpu.tlb : null;
  if (mmuOn && tlb === null) throw new Error("relocateList: the MMU is on but no TLB is installed");
  // The entry is kept as its two 32-bit halves (no floating-point modulo in the loop); ptr as the PA
  // of its page and an offset in it.
  let lo = entry % TWO_32;
  let hi = (entry - lo) / TWO_32;
  let ptrPage = -1;
  let ptrOff = 0;
  const addrMaskLo = ~(pageSize - 1); // PAGE_MASK, low word
  // while (!(entry & IND_DONE))
  while ((lo & IND_DONE) === 0) {
    const low = lo;
    const addr = hi * TWO_32 + ((lo & addrMaskLo) >>> 0);
    if ((low & IND_SOURCE) !== 0) {
      let src = addr;
      let dst = dest;
      if (tlb !== null) {
        src = tlb.translate(half, addr + off);
        if (src < 0) {
          cpu.translate(half, addr + off); // records the fault
          break;
        }
        dst = tlb.translate(half, dest + off);
        if (dst < 0) {
          cpu.translate(half, dest + off);
          break;
        }
      }
      if (cmoBefore !== 0) cpu.cmo(dst, pageSize, cmoBefore, false, true);
      if (swap < 0) {
        // cpu.copyPage, inlined: cache-state read check, guard, copy, count
        if (lines !== null) lines.read(src, pageSize, "source", cpu.step);
        if (!guard.passCopy(dst, src)) cpu.clobber(dst, src);
        if (!mem.copyPage(dst, src)) {
          cpu.fault(
            `copy of page 0x${src.toString(16)} -> 0x${dst.toString(16)} touches an address with no RAM`,
            dst,
          );
          break;
        }
        copied++;
        cpu.step++;
        if (tracing) cpu.sink.event(EV_COPY, dst, src, pageSize, copyFlags);
      } else {
        let sw = swap;
        if (mmuOn) {
          sw = cpu.translate(half, swap + off);
          if (sw < 0) break;
        }
        // swap_pages: source -> swap, destination -> source, swap -> destination
        // (the model counts the destination -> source copy as the relocated bytes, as its shapes do)
        cpu.guard.release(src);
        cpu.copyScratch(sw, src, copyFlags | COPY_SCRATCH);
        cpu.copyScratch(src, dst, copyFlags);
        cpu.copyPage(dst, sw, copyFlags | COPY_SCRATCH);
      }
      if (cmoAfter !== 0) {
        cmoLines += linesPerPage;
        if (tracing) cpu.sink.event(EV_CMO, dst, 0, pageSize, cmoAfter);
        if (lines !== null) lines.maintain(dst, pageSize, cmoAfter, cpu.step);
      }
      if (swap >= 0 && cpu.halted) break;
      dest += pageSize;
    } else if ((low & IND_INDIRECTION) !== 0) {
      ptrPage = addr;
      ptrOff = 0;
      cpu.followIndirection();
    } else if ((low & IND_DESTINATION) !== 0) {
      dest = addr;
    }
    // entry = *ptr++
    if (ptrPage < 0 || ++reads > w.maxEntries) {
      cpu.fault(
        ptrPage < 0
          ? "the list continues past image->head without an indirection page"
          : "the entry list does not end",
        ptrPage + ptrOff,
      );
      break;
    }
    if (ptrOff === pageSize) {
      // ran off the end of an indirection page without a link (a corrupted list): keep reading
      ptrPage += pageSize;
      ptrOff = 0;
    }
    const offset = ptrOff;
    if (ptrPage !== entryPage || cpu.clobberCount !== clobbersSeen) {
      let pa = ptrPage;
      if (mmuOn) {
        pa = cpu.translate(half, ptrPage + off);
        if (pa < 0) break;
      }
      entryPage = ptrPage;
      entryPagePa = pa;
      entryFrame = mem.exactFrame(Math.floor(pa / pageSize));
      clobbersSeen = cpu.clobberCount;
      // the loop reads this page of entries from here on: check the page once
      if (lines !== null) lines.read(pa, pageSize, "entry list", cpu.step);
    } else if (mmuOn) {
      microHits++;
    }
    if (tracing) cpu.sink.event(EV_LOAD, entryPagePa + offset, 0, 8, entryFlags);
    if (entryFrame !== undefined) {
      const f = entryFrame;
      lo = (f[offset]! | (f[offset + 1]! << 8) | (f[offset + 2]! << 16) | (f[offset + 3]! << 24)) >>> 0;
      hi = (f[offset + 4]! | (f[offset + 5]! << 8) | (f[offset + 6]! << 16) | (f[offset + 7]! << 24)) >>> 0;
    } else {
      const at = entryPagePa + offset;
      const l = mem.read32(at);
      const h = l < 0 ? -1 : mem.read32(at + 4);
      if (h < 0) {
        cpu.fault(`entry load at 0x${at.toString(16)} hit an address with no RAM`, at);
        break;
      }
      lo = l;
      hi = h;
    }
    ptrOff += 8;
  }
  cpu.addLoopCounts(copied, cmoLines, reads, microHits);
}

export { IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE };
