/**
 * Physical address ranges. A Range is half-open [start, end); addresses are JS numbers (exact below
 * 2^53, and physical addresses are at most 52 bits). A RangeSet keeps disjoint, sorted, coalesced
 * ranges and answers the placement questions loaders ask: first or last fit of a size with an
 * alignment inside bounds.
 */

export interface Range {
  readonly start: number;
  readonly end: number;
}

export function rangeSize(r: Range): number {
  return r.end - r.start;
}

export function rangesOverlap(a: Range, b: Range): boolean {
  return a.start < b.end && b.start < a.end;
}

export function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

export function alignDown(x: number, align: number): number {
  return Math.floor(x / align) * align;
}

export interface FitOptions {
  /** Alignment of the placed start address (a power of two or any positive integer). Default 1. */
  align?: number;
  /** Lowest allowed start. Default 0. */
  min?: number;
  /** Highest allowed end (exclusive). Default unbounded. */
  max?: number;
}

export class RangeSet {
  private readonly list: Range[];

  constructor(ranges: Iterable<Range> = []) {
    this.list = [];
    for (const r of ranges) this.addInPlace(r);
  }

  static of(...ranges: Range[]): RangeSet {
    return new RangeSet(ranges);
  }

  get ranges(): readonly Range[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  get totalBytes(): number {
    let total = 0;
    for (const r of this.list) total += r.end - r.start;
    return total;
  }

  isEmpty(): boolean {
    return this.list.length === 0;
  }

  clone(): RangeSet {
    return new RangeSet(this.list);
  }

  /** Index of the last range whose start <= addr, or -1. */
  private indexAtOrBefore(addr: number): number {
    let lo = 0;
    let hi = this.list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.start <= addr) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  contains(addr: number): boolean {
    const i = this.indexAtOrBefore(addr);
    return i >= 0 && addr < this.list[i]!.end;
  }

  /** The range containing addr, or undefined. */
  find(addr: number): Range | undefined {
    const i = this.indexAtOrBefore(addr);
    return i >= 0 && addr < this.list[i]!.end ? this.list[i] : undefined;
  }

  /** True when all of [r.start, r.end) is covered. */
  covers(r: Range): boolean {
    if (r.end <= r.start) return true;
    const i = this.indexAtOrBefore(r.start);
    return i >= 0 && r.end <= this.list[i]!.end;
  }

  overlaps(r: Range): boolean {
    if (r.end <= r.start) return false;
    const i = this.indexAtOrBefore(r.end - 1);
    return i >= 0 && this.list[i]!.end > r.start;
  }

  private addInPlace(r: Range): void {
    if (r.end <= r.start) return;
    let start = r.start;
    let end = r.end;
    const kept: Range[] = [];
    let inserted = false;
    for (const cur of this.list) {
      if (cur.end < start) {
        kept.push(cur);
      } else if (cur.start > end) {
        if (!inserted) {
          kept.push({ start, end });
          inserted = true;
        }
        kept.push(cur);
      } else {
        start = Math.min(start, cur.start);
        end = Math.max(end, cur.end);
      }
    }
    if (!inserted) kept.push({ start, end });
    this.list.length = 0;
    this.list.push(...kept);
  }

  union(other: RangeSet | Iterable<Range>): RangeSet {
    const out = this.clone();
    for (const r of other instanceof RangeSet ? other.ranges : other) out.addInPlace(r);
    return out;
  }

  subtract(other: RangeSet | Iterable<Range>): RangeSet {
    let pieces: Range[] = [...this.list];
    for (const cut of other instanceof RangeSet ? other.ranges : other) {
      if (cut.end <= cut.start) continue;
      const next: Range[] = [];
      for (const p of pieces) {
        if (!rangesOverlap(p, cut)) {
          next.push(p);
          continue;
        }
        if (p.start < cut.start) next.push({ start: p.start, end: cut.start });
        if (cut.end < p.end) next.push({ start: cut.end, end: p.end });
      }
      pieces = next;
    }
    return new RangeSet(pieces);
  }

  intersect(other: RangeSet | Iterable<Range>): RangeSet {
    const out: Range[] = [];
    for (const b of other instanceof RangeSet ? other.ranges : other) {
      for (const a of this.list) {
        const start = Math.max(a.start, b.start);
        const end = Math.min(a.end, b.end);
        if (start < end) out.push({ start, end });
      }
    }
    return new RangeSet(out);
  }

  /** Lowest aligned start such that [start, start+size) lies in one range and within [min, max). */
  firstFit(size: number, opts: FitOptions = {}): number | undefined {
    const align = opts.align ?? 1;
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.POSITIVE_INFINITY;
    for (const r of this.list) {
      const start = alignUp(Math.max(r.start, min), align);
      const end = start + size;
      if (end <= r.end && end <= max) return start;
      if (start >= max) return undefined;
    }
    return undefined;
  }

  /** Highest aligned start such that [start, start+size) lies in one range and within [min, max). */
  lastFit(size: number, opts: FitOptions = {}): number | undefined {
    const align = opts.align ?? 1;
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.POSITIVE_INFINITY;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const r = this.list[i]!;
      const start = alignDown(Math.min(r.end, max) - size, align);
      if (start >= r.start && start >= min) return start;
      if (r.end <= min) return undefined;
    }
    return undefined;
  }

  /** The largest single range (for "largest free range" messages). */
  largest(): Range | undefined {
    let best: Range | undefined;
    for (const r of this.list) if (!best || r.end - r.start > best.end - best.start) best = r;
    return best;
  }
}
