/**
 * Architectural cache state of the relocation, per 64-byte line: where the latest data of each line
 * is (in the caches up to the Point of Unification, beyond the PoU but short of the Point of
 * Coherency, or in memory), whether a cache may hold an OLDER copy than memory (after a write with
 * the MMU and D-cache off), and whether the instruction cache may hold an older copy. Cache
 * maintenance (dc cvau/cvac/civac/ivac, ic iallu/ivau) and SCTLR_EL1.M/C changes act on it as the
 * Arm ARM says (DDI 0487, D7.5 "Caches", "Cache maintenance instructions"; B2.7.2 with the MMU off
 * every data access is Non-cacheable, so it reads and writes memory at the PoC and never sees a line
 * that is dirty in a cache). At the jump the runner checks what the new kernel reads under its entry
 * conditions (Documentation/arch/arm64/booting.rst: MMU off, D-cache off, the image cleaned to PoC,
 * no stale instruction-cache entries for the image).
 *
 * This is the rule layer, not the timing model: it does not know which level a line sits in, only on
 * which side of the PoU and PoC its latest data is, which is what correctness depends on. It tracks
 * only pages the run touches (sparse by page: a Map from page frame to a slot of a growable
 * Uint8Array, one byte per line); nothing is allocated per line.
 *
 * x86_64 caches are coherent with memory, instruction fetch and DMA (Intel SDM vol. 3A, 12.4 and
 * 12.6: self-modifying code is detected by the hardware; kexec's relocate_kernel_64 does no cache
 * maintenance but wbinvd for SME): a coherent machine is not tracked at all.
 */

import type { PhysMem } from "../machine/physmem.js";
import type { VerificationFailure } from "./result.js";
import { CMO_DC_CIVAC, CMO_DC_CVAC, CMO_DC_CVAU, CMO_DC_IVAC, CMO_IC_IALLU, CMO_IC_IVAU } from "./trace.js";

/** The coherence rules of a machine: which maintenance reaches where (from the profile's sources). */
export interface Coherence {
  /** What the rules come from, for reports: "neoverse-n1-server: CLIDR_EL1 LoUU 0, LoC 2". */
  name: string;
  /** Caches coherent with memory and instruction fetch (x86_64): nothing to maintain, nothing tracked. */
  coherent: boolean;
  /** CLIDR_EL1.LoUU: cache levels a clean to the Point of Unification cleans (0: none, L1 D is at the PoU). */
  louu: number;
  /** CLIDR_EL1.LoC: cache levels a clean to the Point of Coherency cleans. */
  loc: number;
}

/** arm64 without a profile: PoU after L1, PoC after L2 (a Cortex-A72-like hierarchy; the PoU is not the PoC). */
export const ARM64_DEFAULT_COHERENCE: Coherence = {
  name: "arm64 default: CLIDR_EL1 LoUU 1, LoC 2",
  coherent: false,
  louu: 1,
  loc: 2,
};

/** x86_64: coherent caches. */
export const X86_COHERENCE: Coherence = {
  name: "x86_64 (caches coherent with memory and instruction fetch)",
  coherent: true,
  louu: 0,
  loc: 0,
};

/** The line-state bits (one byte per line). */
const LOC_MASK = 3;
/** Latest data dirty beyond the PoU, short of the PoC (cleaned to PoU only). */
const LOC_POU = 1;
/** Latest data dirty in the caches inside the PoU (written through the cache, not cleaned). */
const LOC_INNER = 2;
/** A cache may hold a copy of the line. */
const CACHED = 4;
/** A cache may hold a copy OLDER than memory (written Non-cacheable while the line could be cached). */
const STALE = 8;
/** The instruction cache may hold an older copy (written since the last I-cache invalidation covering it). */
const ISTALE = 16;

/** A cacheable store: latest data dirty inside the PoU, the line cached, I-side out of date. */
const AFTER_CACHED_WRITE = LOC_INNER | CACHED | ISTALE;
/** A line nobody wrote during the run: memory holds its data, a cache may hold a (clean or dirty) copy. */
const UNTOUCHED = CACHED;

/** Page frames per directory chunk (256 KiB of Int32 per 256 MiB of 4K pages touched). */
const CHUNK_PAGES = 65536;

/** Writer codes besides a relocation step (>= 0: pages copied before the write). */
export const WRITER_NONE = -3;
export const WRITER_LOAD = -1;
export const WRITER_PREPARE = -2;

/** What is being read, for messages. */
export type ReadWhat = "source" | "entry list" | "relocation code" | "translation table";

const hex = (n: number) => `0x${n.toString(16)}`;

export class LineTracker {
  readonly coherence: Coherence;
  readonly pageSize: number;
  readonly lineSize: number;
  readonly linesPerPage: number;
  /** Page frame -> slot + 1 (0: untouched), in chunks of CHUNK_PAGES frames (sparse over huge RAM spans). */
  private readonly chunks = new Map<number, Int32Array>();
  private lastChunkKey = -1;
  private lastChunk: Int32Array | undefined;
  private pfns: Float64Array;
  private state: Uint8Array;
  private writer: Float64Array;
  private used = 0;
  /** Data accesses are cacheable (SCTLR_EL1.M and C set); the running kernel starts with them on. */
  cacheable = true;
  /** The step a write made now is attributed to: copy step N (the N-th page copy, from 1), or a WRITER_* code. */
  step: number = WRITER_LOAD;
  /** Lines in violation of a rule (all of them; failures keeps the first few). */
  violations = 0;
  /** Lines checked at the jump. */
  linesChecked = 0;
  /** The CPU's failure list (the tracker appends to it, up to `maxFailures`). */
  readonly failures: VerificationFailure[];
  private readonly maxFailures: number;
  /** Lines whose D-side data are not yet visible to instruction fetch until cleaned to PoU. */
  private readonly pouIsL1: boolean;
  private readonly pouIsPoc: boolean;

  constructor(
    coherence: Coherence,
    mem: PhysMem,
    failures: VerificationFailure[],
    maxFailures: number,
    lineSize = 64,
  ) {
    this.coherence = coherence;
    this.pageSize = mem.pageSize;
    this.lineSize = lineSize;
    this.linesPerPage = Math.ceil(mem.pageSize / lineSize);
    this.failures = failures;
    this.maxFailures = maxFailures;
    this.pouIsL1 = coherence.louu === 0;
    this.pouIsPoc = coherence.louu >= coherence.loc;
    const initialPages = 1024;
    this.pfns = new Float64Array(initialPages);
    this.state = new Uint8Array(initialPages * this.linesPerPage);
    this.writer = new Float64Array(initialPages);
  }

  /** The chunk holding pfn's directory entry (created when `create`). */
  private chunkOf(pfn: number, create: boolean): Int32Array | undefined {
    const key = (pfn / CHUNK_PAGES) | 0;
    if (key === this.lastChunkKey) return this.lastChunk;
    let c = this.chunks.get(key);
    if (c === undefined) {
      if (!create) return undefined;
      c = new Int32Array(CHUNK_PAGES);
      this.chunks.set(key, c);
    }
    this.lastChunkKey = key;
    this.lastChunk = c;
    return c;
  }

  /** The slot of a page already touched, or undefined. */
  private slotIf(pfn: number): number | undefined {
    const c = this.chunkOf(pfn, false);
    if (c === undefined) return undefined;
    const v = c[pfn % CHUNK_PAGES]!;
    return v === 0 ? undefined : v - 1;
  }

  /** The slot of page pfn, created (untouched state) on first use. */
  private slotOf(pfn: number): number {
    const c = this.chunkOf(pfn, true)!;
    const v = c[pfn % CHUNK_PAGES]!;
    if (v !== 0) return v - 1;
    if (this.used === this.pfns.length) {
      const n = this.pfns.length * 2;
      const pfns = new Float64Array(n);
      pfns.set(this.pfns);
      this.pfns = pfns;
      const state = new Uint8Array(n * this.linesPerPage);
      state.set(this.state);
      this.state = state;
      const writer = new Float64Array(n);
      writer.set(this.writer);
      this.writer = writer;
    }
    const slot = this.used++;
    this.pfns[slot] = pfn;
    this.state.fill(UNTOUCHED, slot * this.linesPerPage, (slot + 1) * this.linesPerPage);
    this.writer[slot] = WRITER_NONE;
    c[pfn % CHUNK_PAGES] = slot + 1;
    return slot;
  }

  /** A store over [pa, pa + bytes) at the current step, cacheable or not as SCTLR says now. */
  write(pa: number, bytes: number): void {
    this.writeAs(pa, bytes, this.cacheable, true);
  }

  /**
   * A store the running kernel made at load time (cacheable). `icache`: the I-cache may hold the
   * page's old contents (false for a crash region: reserved at boot, never mapped executable).
   */
  loadWrite(pa: number, bytes: number, icache: boolean): void {
    this.writeAs(pa, bytes, true, icache);
  }

  private writeAs(pa: number, bytes: number, cacheable: boolean, icache: boolean): void {
    if (bytes <= 0) return;
    const ps = this.pageSize;
    const lb = this.lineSize;
    const lpp = this.linesPerPage;
    const st = this.state;
    let at = pa;
    const end = pa + bytes;
    while (at < end) {
      const pfn = Math.floor(at / ps);
      const pageEnd = (pfn + 1) * ps;
      const stop = Math.min(end, pageEnd);
      const slot = this.slotOf(pfn);
      this.writer[slot] = this.step;
      const base = slot * lpp;
      const first = base + Math.floor((at - pfn * ps) / lb);
      const last = base + Math.floor((stop - 1 - pfn * ps) / lb);
      if (cacheable) {
        st.fill(icache ? AFTER_CACHED_WRITE : AFTER_CACHED_WRITE & ~ISTALE, first, last + 1);
      } else {
        // memory gets the data; a cached copy (clean, or dirty with older data) is now older than memory
        for (let i = first; i <= last; i++) {
          const s = st[i]!;
          st[i] = ((s & (CACHED | LOC_MASK)) !== 0 ? CACHED | STALE : 0) | (icache ? ISTALE : s & ISTALE);
        }
      }
      at = stop;
    }
  }

  /**
   * A read of [pa, pa + bytes) through the CPU: with the D-cache off it reads memory (the latest data
   * must be at the PoC); with it on, it must not hit a cached copy older than memory. True when fine.
   */
  read(pa: number, bytes: number, what: ReadWhat, cpuStep: number): boolean {
    const ps = this.pageSize;
    const pfn = Math.floor(pa / ps);
    const slot = this.slotIf(pfn);
    if (slot === undefined) return true; // untouched: memory holds it, no copy is older
    const lb = this.lineSize;
    const base = slot * this.linesPerPage;
    const first = base + Math.floor((pa - pfn * ps) / lb);
    const last = base + Math.floor((Math.min(pa + bytes, (pfn + 1) * ps) - 1 - pfn * ps) / lb);
    const st = this.state;
    const cacheable = this.cacheable;
    for (let i = first; i <= last; i++) {
      const s = st[i]!;
      if (cacheable ? (s & STALE) !== 0 : !this.atPoc(s)) {
        this.readViolation(slot, i - base, s, what, cpuStep);
        return false;
      }
    }
    if (cacheable) for (let i = first; i <= last; i++) st[i] = st[i]! | CACHED;
    return true;
  }

  /** Latest data at the PoC (memory, or a level the machine's PoC includes). */
  private atPoc(s: number): boolean {
    const loc = s & LOC_MASK;
    return loc === 0 || (loc === LOC_POU && this.pouIsPoc);
  }

  private readViolation(slot: number, line: number, s: number, what: ReadWhat, cpuStep: number): void {
    this.violations++;
    const addr = this.pfns[slot]! * this.pageSize + line * this.lineSize;
    const by = describeWriter(this.writer[slot]!);
    const message = this.cacheable
      ? `step ${cpuStep}: ${what} line ${hex(addr)} read with the caches on may hit a cached copy older than memory: it was ${by} with the MMU/D-cache off while the line could be cached: missing dc ivac/civac of the line before that write (or before the MMU goes on)`
      : `step ${cpuStep}: ${what} line ${hex(addr)} read with the MMU/D-cache off (memory, at the PoC) holds data ${by} that is still dirty ${(s & LOC_MASK) === LOC_POU ? "beyond the PoU, short of the PoC (cleaned to PoU only)" : "in the caches"}: missing dc cvac/civac to PoC before SCTLR_EL1.M/C are cleared`;
    this.fail(message, addr, cpuStep);
  }

  private fail(message: string, addr: number, step: number | undefined, segment?: number): void {
    if (this.failures.length >= this.maxFailures) return;
    const f: VerificationFailure = { kind: "coherence", message, address: hex(addr) };
    if (step !== undefined) f.step = step;
    if (segment !== undefined) f.segment = segment;
    this.failures.push(f);
  }

  /** Cache maintenance by VA over [pa, pa + bytes) (dc ...), or ic iallu (pa and bytes ignored). */
  maintain(pa: number, bytes: number, op: number, cpuStep: number): void {
    if (op === CMO_IC_IALLU) {
      this.invalidateICache(0, 0, true);
      return;
    }
    if (op === CMO_IC_IVAU) {
      this.invalidateICache(pa, bytes, false);
      return;
    }
    if (bytes <= 0) return;
    const ps = this.pageSize;
    const lb = this.lineSize;
    const lpp = this.linesPerPage;
    const st = this.state;
    const end = pa + bytes;
    let at = pa;
    while (at < end) {
      const pfn = Math.floor(at / ps);
      const pageEnd = (pfn + 1) * ps;
      const stop = Math.min(end, pageEnd);
      const slot = this.slotOf(pfn);
      const base = slot * lpp;
      const first = base + Math.floor((at - pfn * ps) / lb);
      const last = base + Math.floor((stop - 1 - pfn * ps) / lb);
      if (op === CMO_DC_CVAU) {
        for (let i = first; i <= last; i++) {
          const s = st[i]!;
          if ((s & LOC_MASK) === LOC_INNER) st[i] = (s & ~LOC_MASK) | LOC_POU;
        }
      } else if (op === CMO_DC_CVAC || op === CMO_DC_CIVAC) {
        const civac = op === CMO_DC_CIVAC;
        for (let i = first; i <= last; i++) {
          const s = st[i]!;
          if ((s & STALE) !== 0) this.staleClean(slot, i - base, civac, cpuStep);
          st[i] = civac ? s & ISTALE : s & (ISTALE | CACHED | STALE);
        }
      } else if (op === CMO_DC_IVAC) {
        for (let i = first; i <= last; i++) {
          const s = st[i]!;
          if ((s & LOC_MASK) !== 0) this.dirtyInvalidate(slot, i - base, cpuStep);
          st[i] = s & ISTALE;
        }
      }
      at = stop;
    }
  }

  private staleClean(slot: number, line: number, civac: boolean, cpuStep: number): void {
    this.violations++;
    const addr = this.pfns[slot]! * this.pageSize + line * this.lineSize;
    this.fail(
      `step ${cpuStep}: ${civac ? "dc civac" : "dc cvac"} of line ${hex(addr)} after it was ${describeWriter(this.writer[slot]!)} with the MMU/D-cache off while an older copy could be cached (possibly dirty): the clean can write the older copy back over the new data: missing dc ivac of the line before the Non-cacheable write`,
      addr,
      cpuStep,
    );
  }

  private dirtyInvalidate(slot: number, line: number, cpuStep: number): void {
    this.violations++;
    const addr = this.pfns[slot]! * this.pageSize + line * this.lineSize;
    // the dirty data is gone: memory keeps what it had (older than the write)
    this.fail(
      `step ${cpuStep}: dc ivac of line ${hex(addr)} discards data ${describeWriter(this.writer[slot]!)} that is still dirty in the caches: missing dc civac (clean before invalidating)`,
      addr,
      cpuStep,
    );
  }

  /**
   * ic iallu (all) or ic ivau over a range: the I-cache no longer holds older copies, except of lines
   * whose new data have not reached the PoU (still dirty inside it): a fetch after the invalidate reads
   * the PoU and would still get the old instructions.
   */
  private invalidateICache(pa: number, bytes: number, all: boolean): void {
    const st = this.state;
    const lpp = this.linesPerPage;
    const keepInner = !this.pouIsL1;
    if (all) {
      const n = this.used * lpp;
      for (let i = 0; i < n; i++) {
        const s = st[i]!;
        if ((s & ISTALE) !== 0 && !(keepInner && (s & LOC_MASK) === LOC_INNER)) st[i] = s & ~ISTALE;
      }
      return;
    }
    const ps = this.pageSize;
    const lb = this.lineSize;
    const end = pa + bytes;
    let at = pa;
    while (at < end) {
      const pfn = Math.floor(at / ps);
      const pageEnd = (pfn + 1) * ps;
      const stop = Math.min(end, pageEnd);
      const slot = this.slotIf(pfn);
      if (slot !== undefined) {
        const base = slot * lpp;
        const first = base + Math.floor((at - pfn * ps) / lb);
        const last = base + Math.floor((stop - 1 - pfn * ps) / lb);
        for (let i = first; i <= last; i++) {
          const s = st[i]!;
          if (!(keepInner && (s & LOC_MASK) === LOC_INNER)) st[i] = s & ~ISTALE;
        }
      }
      at = stop;
    }
  }

  /**
   * Pages a walk or fetch with the MMU on will read (translation tables, relocation code): a cacheable
   * read must not hit an older copy; code must also not be stale in the I-cache.
   */
  checkCacheableReads(pages: readonly number[], what: ReadWhat, cpuStep: number): void {
    const saved = this.cacheable;
    this.cacheable = true;
    for (const pa of pages) this.read(pa, this.pageSize, what, cpuStep);
    this.cacheable = saved;
  }

  /** Relocation code fetched now: with the MMU off (SCTLR.I clear) from the PoC, else through the I-cache. */
  checkFetch(pa: number, cpuStep: number): void {
    const pfn = Math.floor(pa / this.pageSize);
    const slot = this.slotIf(pfn);
    if (slot === undefined) return;
    const base = slot * this.linesPerPage;
    for (let i = base; i < base + this.linesPerPage; i++) {
      const s = this.state[i]!;
      const bad = this.cacheable ? (s & ISTALE) !== 0 : !this.atPoc(s);
      if (!bad) continue;
      this.violations++;
      const addr = pfn * this.pageSize + (i - base) * this.lineSize;
      this.fail(
        this.cacheable
          ? `step ${cpuStep}: relocation code line ${hex(addr)} (${describeWriter(this.writer[slot]!)}) may be stale in the I-cache when fetched with the MMU on: missing dc civac + ic ivau of the relocation code after it was copied (machine_kexec_post_load)`
          : `step ${cpuStep}: relocation code line ${hex(addr)} (${describeWriter(this.writer[slot]!)}) is fetched with the MMU and I-cache off from the PoC but is dirty in the caches: missing dc civac of the relocation code before SCTLR_EL1.M/C/I are cleared`,
        addr,
        cpuStep,
      );
      return;
    }
  }

  /**
   * At the jump to the new kernel: every line of [mem, mem + memsz) must be at the PoC with no older
   * copy cached (the kernel reads it with the MMU and D-cache off, purgatory hashes it so on arm64, and
   * the kernel later reads it with its caches on); lines of executed images (`code`) must not be stale
   * in the I-cache. One failure per segment and rule, naming the first line and how many lines.
   */
  checkSegment(mem: number, memsz: number, segment: number, label: string, code: boolean): void {
    const ps = this.pageSize;
    const lb = this.lineSize;
    const lpp = this.linesPerPage;
    const st = this.state;
    let dirty = 0;
    let firstDirty = -1;
    let dirtyWriter = 0;
    let dirtyLoc = 0;
    let stale = 0;
    let firstStale = -1;
    let staleWriter = 0;
    let istale = 0;
    let firstI = -1;
    let iWriter = 0;
    const end = mem + memsz;
    for (let page = Math.floor(mem / ps) * ps; page < end; page += ps) {
      const pfn = page / ps;
      const slot = this.slotIf(pfn);
      const lo = Math.max(mem, page);
      const hi = Math.min(end, page + ps);
      const lines = Math.ceil((hi - page) / lb) - Math.floor((lo - page) / lb);
      this.linesChecked += lines;
      if (slot === undefined) continue;
      const base = slot * lpp;
      const first = base + Math.floor((lo - page) / lb);
      const last = base + Math.floor((hi - 1 - page) / lb);
      for (let i = first; i <= last; i++) {
        const s = st[i]!;
        if (!this.atPoc(s)) {
          if (dirty++ === 0) {
            firstDirty = page + (i - base) * lb;
            dirtyWriter = this.writer[slot]!;
            dirtyLoc = s & LOC_MASK;
          }
        } else if ((s & STALE) !== 0) {
          if (stale++ === 0) {
            firstStale = page + (i - base) * lb;
            staleWriter = this.writer[slot]!;
          }
        }
        if (code && (s & ISTALE) !== 0 && istale++ === 0) {
          firstI = page + (i - base) * lb;
          iWriter = this.writer[slot]!;
        }
      }
    }
    const name = `segment ${segment} (${label})`;
    const of = (n: number) => (n === 1 ? "" : ` (and ${n - 1} more lines of the segment)`);
    if (dirty > 0) {
      this.violations += dirty;
      const where =
        dirtyLoc === LOC_POU
          ? `dirty beyond the PoU, short of the PoC (cleaned to PoU only; ${this.coherence.name}: the PoU is not the PoC)`
          : "dirty in the caches";
      this.fail(
        `${name}: line ${hex(firstDirty)} ${describeWriter(dirtyWriter)} is ${where} at the jump, where the new kernel (and arm64 purgatory) read memory with the MMU and D-cache off: missing dc cvac/civac to PoC before SCTLR_EL1.M/C are cleared${of(dirty)}`,
        firstDirty,
        dirtyWriter >= 0 ? dirtyWriter : undefined,
        segment,
      );
    }
    if (stale > 0) {
      this.violations += stale;
      this.fail(
        `${name}: line ${hex(firstStale)} ${describeWriter(staleWriter)} with the MMU/D-cache off while an older copy could be cached: once the new kernel turns its caches on it can hit, or have written back, the older copy: missing dc ivac/civac of the line before the Non-cacheable write${of(stale)}`,
        firstStale,
        staleWriter >= 0 ? staleWriter : undefined,
        segment,
      );
    }
    if (istale > 0) {
      this.violations += istale;
      this.fail(
        `${name}: line ${hex(firstI)} ${describeWriter(iWriter)} may be stale in the I-cache at the jump (booting.rst: no stale instruction-cache entries for the image): missing ic iallu (or ic ivau over the image) after the copy, with the data cleaned to PoU first${of(istale)}`,
        firstI,
        iWriter >= 0 ? iWriter : undefined,
        segment,
      );
    }
  }

  /** Pages tracked (for tests and the bench). */
  get pagesTracked(): number {
    return this.used;
  }
}

/** "written by the copy at step N" / "written at load time" ... */
export function describeWriter(w: number): string {
  if (w >= 0) return `written by copy step ${w}`;
  if (w === WRITER_LOAD) return "written at load time by the running kernel";
  if (w === WRITER_PREPARE) return "written by prepare() at load time";
  return "not written during the run";
}

/** The maintenance a CMO op code names, for docs and messages. */
export const CMO_NAMES: Record<number, string> = {
  [CMO_DC_CIVAC]: "dc civac",
  [CMO_DC_IVAC]: "dc ivac",
  [CMO_DC_CVAU]: "dc cvau",
  [CMO_DC_CVAC]: "dc cvac",
  [CMO_IC_IVAU]: "ic ivau",
  [CMO_IC_IALLU]: "ic iallu",
};
