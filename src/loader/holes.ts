/**
 * Finding a hole for a segment, as kexec-tools' locate_hole (kexec/kexec.c) does for kexec_load and
 * as the kernel's kexec_locate_mem_hole (kernel/kexec_file.c) does for kexec_file_load.
 *
 * Both walk the free memory ranges minus the segments placed so far; each range is clipped to
 * [mem_min, mem_max] and [hole_min, hole_max], its start rounded up to the alignment (at least a
 * page); bottom-up takes the first range that fits at its aligned start, top-down takes the last
 * range that fits at align_down(end - size). Bounds here are exclusive ends.
 */

import type { Range, RangeSet } from "../machine/ranges.js";

export interface HoleRequest {
  size: number;
  align: number;
  /** Lowest allowed start (hole_min, combined with mem_min). */
  min: number;
  /** Highest allowed end, exclusive (hole_max + 1, combined with mem_max + 1). */
  max: number;
  topDown: boolean;
}

export interface PlacedRange {
  mem: number;
  memsz: number;
}

/** Free ranges minus the segments placed so far. */
export function freeRanges(free: RangeSet, placed: readonly PlacedRange[]): RangeSet {
  return free.subtract(placed.map((s) => ({ start: s.mem, end: s.mem + s.memsz })));
}

/** The hole's start, or undefined when nothing fits. */
export function locateHole(
  free: RangeSet,
  placed: readonly PlacedRange[],
  req: HoleRequest,
  pageSize: number,
): number | undefined {
  const align = Math.max(req.align, pageSize);
  const ranges = freeRanges(free, placed).ranges;
  let base: number | undefined;
  for (const r of ranges) {
    const start = Math.ceil(Math.max(r.start, req.min) / align) * align;
    const end = Math.min(r.end, req.max);
    if (start >= end || end - start < req.size) continue;
    if (!req.topDown) return start;
    base = Math.floor((end - req.size) / align) * align;
  }
  return base;
}

/** The largest free range between min and max, for error messages. */
export function largestFree(
  free: RangeSet,
  placed: readonly PlacedRange[],
  min: number,
  max: number,
): Range | undefined {
  return freeRanges(free, placed)
    .intersect([{ start: min, end: max }])
    .largest();
}
