/**
 * The write guard: which pages are still to be read by the relocation (translation tables,
 * indirection pages, source pages not yet copied, the relocation code). Every write the simulated
 * CPU makes is checked against it; a hit is a clobber, reported with the address and the step.
 *
 * One bit per page frame over the span of RAM, in a Uint32Array: a 1 TiB machine with 4K pages costs
 * 32 MiB, a 4 GiB one 128 KiB. What kind of page a guarded frame is (for the report) is kept only for
 * the few non-source pages, in a Map consulted only when a clobber is found.
 */

import { KexecLabError } from "../errors.js";
import type { PhysMem } from "../machine/physmem.js";
import { formatBytes } from "../report/format.js";

/** The most host memory the two guard bitmaps may take (covers a 32 TiB RAM span with 4K pages). */
const GUARD_MAX_BYTES = 2 ** 30;

export type GuardedKind = "source" | "indirection" | "table" | "control-code";

export class PageGuard {
  private readonly basePfn: number;
  private readonly limitPfn: number;
  private readonly bits: Uint32Array;
  private readonly pageSize: number;
  private readonly kinds = new Map<number, GuardedKind>();
  /** Pages that stay live to the end (tables, indirection pages, code): release() leaves them alone. */
  private readonly sticky: Uint32Array;

  constructor(mem: PhysMem) {
    this.pageSize = mem.pageSize;
    const ranges = mem.ram.ranges;
    const first = ranges.length > 0 ? ranges[0]!.start : 0;
    const last = ranges.length > 0 ? ranges[ranges.length - 1]!.end : 0;
    this.basePfn = Math.floor(first / mem.pageSize);
    this.limitPfn = Math.ceil(last / mem.pageSize);
    const words = Math.ceil((this.limitPfn - this.basePfn) / 32) + 1;
    // Absurd RAM spans (a fuzzed map ending near 2^52) must fail with a clear error, not a RangeError.
    const limit = Math.min(GUARD_MAX_BYTES, mem.maxBytes);
    if (words * 8 > limit) {
      throw new KexecLabError(
        "E_LIMIT",
        `the write guard needs ${formatBytes(words * 8)} for a RAM span of ${this.limitPfn - this.basePfn} pages (limit ${formatBytes(limit)})`,
        { field: "--max-memory" },
      );
    }
    this.bits = new Uint32Array(words);
    this.sticky = new Uint32Array(this.bits.length);
  }

  /** Guard the page holding pa (outside RAM: ignored, nothing can be written there anyway). */
  protect(pa: number, kind: GuardedKind): void {
    const i = Math.floor(pa / this.pageSize) - this.basePfn;
    if (i < 0 || i >= this.limitPfn - this.basePfn) return;
    this.bits[i >>> 5]! |= 1 << (i & 31);
    if (kind !== "source") {
      this.kinds.set(i, kind);
      this.sticky[i >>> 5]! |= 1 << (i & 31);
    }
  }

  /** The page has been read for the last time. */
  release(pa: number): void {
    const i = Math.floor(pa / this.pageSize) - this.basePfn;
    if (i < 0 || i >= this.limitPfn - this.basePfn) return;
    // tables, indirection pages and code stay live to the end
    this.bits[i >>> 5]! &= ~(1 << (i & 31)) | this.sticky[i >>> 5]!;
  }

  /**
   * One page copy: the source page is read (released unless it stays live to the end), then the
   * destination is checked. False when the destination is still to be read (a clobber).
   */
  passCopy(dstPa: number, srcPa: number): boolean {
    const ps = this.pageSize;
    const span = this.limitPfn - this.basePfn;
    const bits = this.bits;
    const s = Math.floor(srcPa / ps) - this.basePfn;
    if (s >= 0 && s < span) bits[s >>> 5]! &= ~(1 << (s & 31)) | this.sticky[s >>> 5]!;
    const d = Math.floor(dstPa / ps) - this.basePfn;
    return !(d >= 0 && d < span && (bits[d >>> 5]! & (1 << (d & 31))) !== 0);
  }

  /** True when the page holding pa is still to be read. */
  isLive(pa: number): boolean {
    const i = Math.floor(pa / this.pageSize) - this.basePfn;
    if (i < 0 || i >= this.limitPfn - this.basePfn) return false;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** What a live page is (for reports). */
  kindOf(pa: number): GuardedKind {
    const i = Math.floor(pa / this.pageSize) - this.basePfn;
    return this.kinds.get(i) ?? "source";
  }

  /** Guarded pages in all (for tests). */
  count(): number {
    let n = 0;
    for (let w = 0; w < this.bits.length; w++) {
      let v = this.bits[w]!;
      while (v !== 0) {
        v &= v - 1;
        n++;
      }
    }
    return n;
  }
}
