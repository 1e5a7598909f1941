/**
 * The access stream of one relocation run: what the executing CPU did to memory, in order, at the
 * granularity the timing model needs. The CPU loop (src/reloc) writes events; the timing model
 * (src/model) replays them through its caches, prefetcher, TLB and DRAM.
 *
 * Events are stored flat in a growable Float64Array, five numbers each: kind, a, b, n, flags.
 * Nothing is allocated per event.
 *
 *   kind             a              b              n              flags
 *   EV_COPY          dst PA         src PA         bytes          COPY_* bits
 *   EV_LOAD          PA             -              bytes          ACC_* bits (entry reads, table reads)
 *   EV_STORE         PA             -              bytes          ACC_* bits
 *   EV_DESC_READ     descriptor PA  level          8              0 (a page-table walk step after a TLB miss)
 *   EV_TLB_MISS      VA page (low)  half           leaf size      0
 *
 * Every field is a non-negative number up to 2^53 - 1, except: an EV_DESC_READ's level is -1..3 (as
 * src/mmu numbers them: -1 is the extra level of arm64 FEAT_LPA2 52-bit VA with the 4K granule and
 * x86_64's PML5, 3 the last level), and an EV_TLB_MISS's VA page (the low vaBits bits of the VA) is
 * below 2^57 (x86_64 LA57; exact, being page-aligned). The timing model refuses anything else.
 *   EV_CMO           PA             -              bytes          CMO_* op (by-line maintenance over [a, a+n))
 *   EV_BARRIER       -              -              -              BARRIER_* (dsb, isb, tlbi, mmu on/off)
 */

export const EV_COPY = 1;
export const EV_LOAD = 2;
export const EV_STORE = 3;
export const EV_DESC_READ = 4;
export const EV_TLB_MISS = 5;
export const EV_CMO = 6;
export const EV_BARRIER = 7;

/** The copy ran with the MMU/caches off: every access is a Device/Non-cacheable access. */
export const ACC_UNCACHED = 1;
/** The access is part of walking the kimage entry list. */
export const ACC_ENTRY = 2;
/** The access is a page-table walk (hardware). */
export const ACC_TABLE = 4;

/** Copy flags: uncached (MMU off), and whether it is part of a linear loop over contiguous VAs. */
export const COPY_UNCACHED = 1;
export const COPY_LINEAR_LOOP = 2;
/** A copy to or from a scratch page (x86 swap page): not part of the relocated bytes (timing model's limit). */
export const COPY_SCRATCH = 4;

/** Cache maintenance by VA to a point: dc civac (clean+inval to PoC), dc ivac, dc cvau, dc cvac, ic ivau. */
export const CMO_DC_CIVAC = 1;
export const CMO_DC_IVAC = 2;
export const CMO_DC_CVAU = 3;
export const CMO_DC_CVAC = 4;
export const CMO_IC_IVAU = 5;
export const CMO_IC_IALLU = 6;

export const BARRIER_DSB = 1;
export const BARRIER_ISB = 2;
export const BARRIER_TLBI = 3;
export const BARRIER_MMU_ON = 4;
export const BARRIER_MMU_OFF = 5;

export interface AccessSink {
  event(kind: number, a: number, b: number, n: number, flags: number): void;
}

/** Discards everything (the default when no model runs). */
export const NULL_SINK: AccessSink = { event() {} };

const FIELDS = 5;

export class TraceBuffer implements AccessSink {
  private data: Float64Array;
  private used = 0;

  constructor(initialEvents = 1 << 16) {
    this.data = new Float64Array(initialEvents * FIELDS);
  }

  event(kind: number, a: number, b: number, n: number, flags: number): void {
    if (this.used + FIELDS > this.data.length) {
      // Grow by half: while growing, the old and the new array are both alive (2.5x, not 3x, of the
      // old size), and the last array is at most 1.5x what the run needs (a 1 GiB relocation's va-copy
      // stream is some 4.5 million events, 180 MB).
      const grown = new Float64Array(Math.ceil((this.data.length * 1.5) / FIELDS) * FIELDS);
      grown.set(this.data);
      this.data = grown;
    }
    const d = this.data;
    const i = this.used;
    d[i] = kind;
    d[i + 1] = a;
    d[i + 2] = b;
    d[i + 3] = n;
    d[i + 4] = flags;
    this.used = i + FIELDS;
  }

  get length(): number {
    return this.used / FIELDS;
  }

  /** The raw events: a view of length*5 numbers (kind, a, b, n, flags per event). */
  raw(): Float64Array {
    return this.data.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
  }
}
