/**
 * The two hole finders every placement goes through, written after the originals so that a kernel
 * developer can map them back line by line:
 *
 * - locateHole: kexec-tools' locate_hole (kexec/kexec.c), used by add_buffer for kexec_load. It
 *   merges the RAM ranges it read (not coalesced: two adjacent ranges stay two) with the segments
 *   added so far (kept sorted by add_segment), clips each free piece to [mem_min, mem_max] and
 *   [hole_min, hole_max], aligns its start up (to at least a page), and takes the first piece that
 *   holds the size (hole_end > 0, "bottom-up") or the last one, at align_down(end - size + 1)
 *   (hole_end < 0, "top-down"). A piece is usable when end - start >= size - 1 with end inclusive.
 *
 * - kexecLocateMemHole: the kernel's kexec_locate_mem_hole (kernel/kexec_file.c) for
 *   kexec_file_load. It walks whole memory ranges in the order the caller gives (System RAM
 *   resources ascending or descending, free memblock ranges, or the crash region) and stops at the
 *   FIRST range where locate_mem_hole_callback finds room: within that range top-down takes the
 *   highest aligned start whose [start, start + memsz) misses every segment placed so far
 *   (kimage_is_destination_range), bottom-up the lowest. So "top-down" means top-down inside the
 *   first range that fits, not at the top of memory, unless the walk itself is descending.
 *
 * Ends here are exclusive unless a name says "inclusive"; Infinity stands for ULONG_MAX.
 */

import type { Range } from "../machine/ranges.js";

export interface PlacedRange {
  mem: number;
  memsz: number;
}

/** A memory range as a loader read it: [start, end) with the name it had in the input. */
export interface NamedRange extends Range {
  name: string;
}

const hexs = (n: number) => (Number.isFinite(n) ? `0x${n.toString(16)}` : "ULONG_MAX");
const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
const alignDown = (x: number, a: number) => Math.floor(x / a) * a;

// --- kexec-tools locate_hole ----------------------------------------------------------------------

export interface LocateHoleRequest {
  size: number;
  align: number;
  /** hole_min. */
  holeMin: number;
  /** hole_max, inclusive (Infinity: ULONG_MAX). */
  holeMax: number;
  /** hole_end: +1 first fit (bottom-up), -1 last fit (top-down). */
  holeEnd: 1 | -1;
}

export interface HoleResult {
  mem: number | undefined;
  /** Free pieces (or walked ranges) that were not taken, and why. */
  skipped: string[];
}

/**
 * kexec-tools locate_hole over `ranges` (RAM only, sorted by start as kexec-tools keeps them) and the
 * segments placed so far. memMin/memMax are the global --mem-min/--mem-max (memMax inclusive).
 */
export function locateHole(
  ranges: readonly Range[],
  placed: readonly PlacedRange[],
  req: LocateHoleRequest,
  pageSize: number,
  memMin: number,
  memMax: number,
): HoleResult {
  const holeAlign = Math.max(req.align, pageSize);
  const segs = [...placed].sort((a, b) => a.mem - b.mem);
  // Merge the two sorted lists into free pieces [mstart, mend] (inclusive), exactly as locate_hole.
  const pieces: { start: number; end: number }[] = [];
  let j = 0;
  for (const r of ranges) {
    let mstart = r.start;
    const mend = r.end - 1;
    while (j < segs.length && segs[j]!.mem <= mend) {
      const sstart = segs[j]!.mem;
      const send = sstart + segs[j]!.memsz - 1;
      if (mstart < sstart) pieces.push({ start: mstart, end: sstart - 1 });
      mstart = send + 1;
      j++;
    }
    if (mstart < mend) pieces.push({ start: mstart, end: mend });
  }
  let base: number | undefined;
  let basePiece = "";
  const skipped: string[] = [];
  for (const p of pieces) {
    let { start, end } = p;
    const piece = `[${hexs(start)}, ${hexs(end + 1)})`;
    if (start < memMin) start = memMin;
    if (start < req.holeMin) start = req.holeMin;
    start = alignUp(start, holeAlign);
    if (end > memMax) end = memMax;
    if (end > req.holeMax) end = req.holeMax;
    if (start >= end || start >= memMax || end <= memMin) {
      skipped.push(`${piece}: outside the window`);
      continue;
    }
    const size = end - start;
    if (!req.size || size >= req.size - 1) {
      if (req.holeEnd > 0) {
        base = start;
        break;
      }
      if (base !== undefined)
        skipped.push(`${basePiece}: fits, but a higher piece fits too (top-down takes the last)`);
      base = alignDown(end - req.size + 1, holeAlign);
      basePiece = piece;
    } else {
      skipped.push(`${piece}: ${hexs(size + 1)} bytes after clipping and alignment, too small`);
    }
  }
  if (base !== undefined && req.size && base + req.size - 1 > req.holeMax) base = undefined;
  return { mem: base, skipped };
}

// --- kernel kexec_locate_mem_hole ----------------------------------------------------------------

export interface KexecBuf {
  /** Already rounded up to PAGE_SIZE (kexec_add_buffer does that first). */
  memsz: number;
  /** Already at least PAGE_SIZE. */
  bufAlign: number;
  bufMin: number;
  /** Inclusive (Infinity: ULONG_MAX). */
  bufMax: number;
  topDown: boolean;
  /**
   * Before 6.8 (Yuntao Wang, "kexec_file: fix incorrect temp_start value in
   * locate_mem_hole_top_down()") top-down starts at temp_end - memsz, one byte low; from 6.8 at
   * temp_end - memsz + 1.
   */
  oneByteLow?: boolean;
}

function overlapsPlaced(placed: readonly PlacedRange[], start: number, end: number): PlacedRange | undefined {
  // kimage_is_destination_range: any segment with mend >= start && mstart <= end (inclusive ends).
  let hit: PlacedRange | undefined;
  for (const s of placed) {
    if (s.mem + s.memsz - 1 >= start && s.mem <= end) {
      if (!hit || s.mem < hit.mem) hit = s;
    }
  }
  return hit;
}

/**
 * locate_mem_hole_top_down / _bottom_up inside one range [start, endIncl]. The kernel steps by
 * PAGE_SIZE past a conflicting segment and re-aligns; jumping straight past the conflicting segment
 * gives the same first candidate that does not conflict with it, so the result is identical.
 */
function holeInRange(
  start: number,
  endIncl: number,
  kbuf: KexecBuf,
  placed: readonly PlacedRange[],
): number | undefined {
  if (kbuf.topDown) {
    // Before 6.8: temp_start = temp_end - memsz, with temp_end inclusive: one byte lower than the last
    // fit, so a range whose end is page-aligned loses a page (6.1 put a 0xf000 initrd at 0x7ffcf000
    // under a range ending at 0x7ffdefff, not at 0x7ffd0000: recording x86_64-q35-2g-kexec_file_load).
    let tempStart = Math.min(endIncl, kbuf.bufMax) - kbuf.memsz + (kbuf.oneByteLow ? 0 : 1);
    for (;;) {
      tempStart = alignDown(tempStart, kbuf.bufAlign);
      if (tempStart < start || tempStart < kbuf.bufMin) return undefined;
      const tempEnd = tempStart + kbuf.memsz - 1;
      // Several segments may overlap; the lowest one decides how far down the next candidate is.
      const hit = overlapsPlaced(placed, tempStart, tempEnd);
      if (!hit) return tempStart;
      tempStart = Math.min(tempStart - 1, hit.mem - kbuf.memsz);
    }
  }
  let tempStart = Math.max(start, kbuf.bufMin);
  for (;;) {
    tempStart = alignUp(tempStart, kbuf.bufAlign);
    const tempEnd = tempStart + kbuf.memsz - 1;
    if (tempEnd > endIncl || tempEnd > kbuf.bufMax) return undefined;
    let hitEnd = -1;
    for (const s of placed) {
      if (s.mem + s.memsz - 1 >= tempStart && s.mem <= tempEnd) hitEnd = Math.max(hitEnd, s.mem + s.memsz);
    }
    if (hitEnd < 0) return tempStart;
    tempStart = hitEnd;
  }
}

/**
 * kexec_locate_mem_hole: walk `ranges` in the given order and call locate_mem_hole_callback on each;
 * the first range that yields a hole wins.
 */
export function kexecLocateMemHole(
  ranges: readonly NamedRange[],
  placed: readonly PlacedRange[],
  kbuf: KexecBuf,
): HoleResult {
  const skipped: string[] = [];
  for (const r of ranges) {
    const start = r.start;
    const end = r.end - 1;
    const label = `[${hexs(r.start)}, ${hexs(r.end)}) ${r.name}`;
    // locate_mem_hole_callback
    if (end - start + 1 < kbuf.memsz) {
      skipped.push(`${label}: smaller than memsz`);
      continue;
    }
    if (end < kbuf.bufMin || start > kbuf.bufMax) {
      skipped.push(`${label}: outside [buf_min, buf_max]`);
      continue;
    }
    const mem = holeInRange(start, end, kbuf, placed);
    if (mem !== undefined) return { mem, skipped };
    skipped.push(`${label}: no aligned room clear of the segments placed so far`);
  }
  return { mem: undefined, skipped };
}

/** The largest free piece of `ranges` minus `placed` within [min, max), for error messages. */
export function largestFree(
  ranges: readonly Range[],
  placed: readonly PlacedRange[],
  min: number,
  max: number,
): Range | undefined {
  let best: Range | undefined;
  const segs = [...placed].sort((a, b) => a.mem - b.mem);
  for (const r of ranges) {
    let cur = Math.max(r.start, min);
    const end = Math.min(r.end, max);
    const consider = (s: number, e: number) => {
      if (e > s && (!best || e - s > best.end - best.start)) best = { start: s, end: e };
    };
    for (const s of segs) {
      if (s.mem + s.memsz <= cur || s.mem >= end) continue;
      consider(cur, Math.min(s.mem, end));
      cur = Math.max(cur, s.mem + s.memsz);
    }
    consider(cur, end);
  }
  return best;
}
