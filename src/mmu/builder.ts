/**
 * The table builder: maps [va, va + size) -> pa by writing real descriptors into simulated RAM, with
 * table pages from an injected allocator (the kimage's control pages in practice), as
 * arch/arm64/mm/trans_pgd.c and arch/x86/kernel/machine_kexec_64.c build theirs.
 *
 * One function per level with the same shape (the kernel's alloc_init_pud/pmd/pte): walk the entries
 * the range covers at this level; where a leaf of this level's size fits (the level allows one, and VA
 * and PA are aligned to it and the range covers the whole entry) write a leaf, else find or allocate the
 * next-level table and recurse. So every piece is mapped with the largest leaf alignment allows.
 *
 * An existing valid entry is never silently replaced: E_MAP_OVERLAP, unless `overwrite`, which replaces
 * leaves, splits a block that the new range covers only in part (the split table repeats the old
 * mapping with next-level leaves), and maps through an existing table where a new block would cover it
 * (so no table page is ever orphaned).
 */

import { KexecLabError } from "../errors.js";
import type { PhysMem } from "../machine/physmem.js";
import {
  type DescriptorHalves,
  KIND_INVALID,
  KIND_TABLE,
  type LevelInfo,
  type MapAttributes,
  type MapOptions,
  type MapRequest,
  type TableAllocator,
  type TranslationFormat,
  type VaHalf,
} from "./types.js";

export interface TableCost {
  /** Table pages allocated (each one granule, even a root smaller than a granule). */
  pages: number;
  bytes: number;
  /** Pages per level number ("-1".."3"), every level of the format present. */
  byLevel: Record<string, number>;
}

/** Which levels may hold a leaf under the given options (indexed like format.levels). */
export function leafLevels(format: TranslationFormat, opts: MapOptions = {}): boolean[] {
  const largest = opts.largestBlocks ?? format.arch === "arm64";
  const n = format.levels.length;
  const max = opts.maxBlockBytes !== undefined && opts.maxBlockBytes > 0 ? opts.maxBlockBytes : Infinity;
  return format.levels.map(
    (l, i) =>
      i === n - 1 ||
      (l.blockAllowed && opts.pageGranular !== true && (l.level >= 2 || largest) && 2 ** l.shift <= max),
  );
}

/** Throws E_MAP_RANGE when a request cannot be expressed in the format. */
export function checkMapRequest(format: TranslationFormat, req: MapRequest): void {
  const g = format.granule;
  const hex = (n: number) => `0x${n.toString(16)}`;
  const bad = (why: string, field: string) => {
    throw new KexecLabError("E_MAP_RANGE", why, { field });
  };
  for (const [name, v] of [
    ["va", req.va],
    ["pa", req.pa],
    ["size", req.size],
  ] as const) {
    if (!Number.isInteger(v) || v < 0) bad(`${name} ${v} is not a non-negative integer`, name);
    if (v % g !== 0) bad(`${name} ${hex(v)} is not aligned to the ${g}-byte granule`, name);
  }
  if (req.size === 0) bad("size is 0", "size");
  if (req.half !== 0 && req.half !== 1) bad(`half ${String(req.half)} is not 0 or 1`, "half");
  const span = 2 ** format.vaBits;
  if (req.va + req.size > span) {
    bad(`[${hex(req.va)}, ${hex(req.va + req.size)}) leaves the ${format.vaBits}-bit VA range`, "va");
  }
  if (format.arch === "x86_64") {
    const mid = span / 2;
    if (req.half === 0 && req.va + req.size > mid) {
      bad(`lower-half range ends at ${hex(req.va + req.size)}, above the canonical limit ${hex(mid)}`, "va");
    }
    if (req.half === 1 && req.va < mid) {
      bad(`upper-half va ${hex(req.va)} is below ${hex(mid)}: not canonical`, "va");
    }
  }
  if (req.pa + req.size > 2 ** format.paBits) {
    bad(`PA range ends at ${hex(req.pa + req.size)}, beyond ${format.paBits} bits`, "pa");
  }
}

export class TableBuilder {
  readonly mem: PhysMem;
  readonly format: TranslationFormat;
  private readonly alloc: TableAllocator;
  private readonly levels: readonly LevelInfo[];
  private readonly roots = [-1, -1];
  private readonly pagePa: number[] = [];
  private readonly pageLevel: number[] = [];
  private readonly perLevel = [0, 0, 0, 0, 0];
  private readonly out: DescriptorHalves = { lo: 0, hi: 0 };
  private readonly memPage: number;

  // Descriptor access: the frame of the last page touched.
  private cPfn = -1;
  private cFrame: Uint8Array = new Uint8Array(0);

  // State of the map() call in progress.
  private leafOk: boolean[] = [];
  private attrs: MapAttributes = { memType: "normal", writable: true, executable: true };
  private contiguous = false;
  private overwrite = false;
  private reqStart = 0;
  private reqEnd = 0;
  private reqHalf: VaHalf = 0;

  constructor(mem: PhysMem, format: TranslationFormat, alloc: TableAllocator) {
    this.mem = mem;
    this.format = format;
    this.alloc = alloc;
    this.levels = format.levels;
    this.memPage = mem.pageSize;
  }

  /** PA of the root table for a half, allocated on first use (x86_64: one root for both halves). */
  root(half: VaHalf): number {
    const slot = this.format.arch === "x86_64" ? 0 : half;
    if (this.roots[slot]! < 0) this.roots[slot] = this.newTable(this.format.startLevel);
    return this.roots[slot]!;
  }

  /** True when the half has a root table already. */
  hasRoot(half: VaHalf): boolean {
    return this.roots[this.format.arch === "x86_64" ? 0 : half]! >= 0;
  }

  /** TTBR0/TTBR1 values (table PAs; -1 where none was built). x86_64: the same root twice (CR3). */
  rootsForTlb(): { ttbr0: number; ttbr1: number } {
    if (this.format.arch === "x86_64") return { ttbr0: this.roots[0]!, ttbr1: this.roots[0]! };
    return { ttbr0: this.roots[0]!, ttbr1: this.roots[1]! };
  }

  map(req: MapRequest, opts: MapOptions = {}): void {
    checkMapRequest(this.format, req);
    this.leafOk = leafLevels(this.format, opts);
    this.attrs = req.attrs;
    this.contiguous = opts.contiguous === true && this.format.arch === "arm64";
    this.overwrite = opts.overwrite === true;
    this.reqStart = req.va;
    this.reqEnd = req.va + req.size;
    this.reqHalf = req.half;
    const root = this.root(req.half);
    this.cPfn = -1;
    this.mapLevel(root, 0, req.va, req.va + req.size, req.pa);
    this.cPfn = -1;
  }

  cost(): TableCost {
    const byLevel: Record<string, number> = {};
    for (const l of this.levels) byLevel[String(l.level)] = this.perLevel[l.level + 1]!;
    const pages = this.pagePa.length;
    return { pages, bytes: pages * this.format.granule, byLevel };
  }

  /** Every table page, in allocation order. */
  tablePages(): { pa: number; level: number }[] {
    return this.pagePa.map((pa, i) => ({ pa, level: this.pageLevel[i]! }));
  }

  // ---- internals ------------------------------------------------------------------------------------

  private newTable(level: number): number {
    const pa = this.alloc(level);
    if (typeof pa !== "number" || pa < 0 || !Number.isInteger(pa)) {
      throw new KexecLabError("E_OUT_OF_MEMORY", `no page for a level-${level} translation table`);
    }
    if (pa % this.format.granule !== 0) {
      throw new KexecLabError(
        "E_MAP_RANGE",
        `table page 0x${pa.toString(16)} is not aligned to the ${this.format.granule}-byte granule`,
        { field: "allocator" },
      );
    }
    if (!this.mem.isRam(pa)) {
      throw new KexecLabError("E_PHYS_FAULT", `table page 0x${pa.toString(16)} is not RAM`, {
        field: "allocator",
      });
    }
    this.pagePa.push(pa);
    this.pageLevel.push(level);
    this.perLevel[level + 1]!++;
    this.cPfn = -1;
    return pa;
  }

  /** Offset of descriptor `dpa` in this.cFrame (fetching the frame when it changes). */
  private at(dpa: number): number {
    const pfn = Math.floor(dpa / this.memPage);
    if (pfn !== this.cPfn) {
      const f = this.mem.frameForWrite(pfn);
      if (f === undefined) {
        throw new KexecLabError("E_PHYS_FAULT", `translation table at 0x${dpa.toString(16)} is not RAM`);
      }
      this.cFrame = f;
      this.cPfn = pfn;
    }
    return dpa - pfn * this.memPage;
  }

  private write(dpa: number, lo: number, hi: number): void {
    const o = this.at(dpa);
    const f = this.cFrame;
    f[o] = lo;
    f[o + 1] = lo >>> 8;
    f[o + 2] = lo >>> 16;
    f[o + 3] = lo >>> 24;
    f[o + 4] = hi;
    f[o + 5] = hi >>> 8;
    f[o + 6] = hi >>> 16;
    f[o + 7] = hi >>> 24;
  }

  private overlap(va: number, level: number): never {
    const full = this.reqHalf === 1 ? `upper-half va 0x${va.toString(16)}` : `va 0x${va.toString(16)}`;
    throw new KexecLabError(
      "E_MAP_OVERLAP",
      `${full} is already mapped (${this.format.levelName(level)} entry is valid)`,
      { field: "va" },
    );
  }

  /** alloc_init_pXd for the level at index li: map [va, end) -> pa inside the table at tablePa. */
  private mapLevel(tablePa: number, li: number, va: number, end: number, pa: number): void {
    const info = this.levels[li]!;
    const level = info.level;
    const size = 2 ** info.shift;
    const leafOk = this.leafOk[li]!;
    const fmt = this.format;
    const out = this.out;
    const contN = this.contiguous ? fmt.contiguousEntries(level) : 0;
    const group = contN * size;
    let idx = Math.floor(va / size) % info.entries;
    while (va < end) {
      let next = (Math.floor(va / size) + 1) * size;
      if (next > end) next = end;
      const dpa = tablePa + idx * 8;
      const o = this.at(dpa);
      const f = this.cFrame;
      const lo = (f[o]! | (f[o + 1]! << 8) | (f[o + 2]! << 16) | (f[o + 3]! << 24)) >>> 0;
      const hi = (f[o + 4]! | (f[o + 5]! << 8) | (f[o + 6]! << 16) | (f[o + 7]! << 24)) >>> 0;
      const kind = lo === 0 && hi === 0 ? KIND_INVALID : fmt.kindOf(lo, hi, level);
      if (leafOk && next - va === size && va % size === 0 && pa % size === 0) {
        if (kind === KIND_TABLE) {
          if (!this.overwrite) this.overlap(va, level);
          this.mapLevel(fmt.outputAddress(lo, hi, level), li + 1, va, next, pa);
        } else {
          if (kind !== KIND_INVALID && !this.overwrite) this.overlap(va, level);
          let cont = false;
          if (group > 0) {
            const g0 = va - (va % group);
            cont = g0 >= this.reqStart && g0 + group <= this.reqEnd && (pa - (va - g0)) % group === 0;
          }
          fmt.encodeLeaf(pa, level, this.attrs, cont, out);
          f[o] = out.lo;
          f[o + 1] = out.lo >>> 8;
          f[o + 2] = out.lo >>> 16;
          f[o + 3] = out.lo >>> 24;
          f[o + 4] = out.hi;
          f[o + 5] = out.hi >>> 8;
          f[o + 6] = out.hi >>> 16;
          f[o + 7] = out.hi >>> 24;
        }
      } else {
        let child: number;
        if (kind === KIND_TABLE) {
          child = fmt.outputAddress(lo, hi, level);
        } else if (kind === KIND_INVALID) {
          child = this.newTable(this.levels[li + 1]!.level);
          fmt.encodeTable(child, level, out);
          this.write(dpa, out.lo, out.hi);
        } else {
          if (!this.overwrite) this.overlap(va, level);
          child = this.split(dpa, lo, hi, li);
        }
        this.mapLevel(child, li + 1, va, next, pa);
      }
      pa += next - va;
      va = next;
      idx++;
    }
  }

  /** Replace the leaf (or reserved entry) at dpa by a table that repeats its mapping one level down. */
  private split(dpa: number, lo: number, hi: number, li: number): number {
    const fmt = this.format;
    const info = this.levels[li]!;
    const childInfo = this.levels[li + 1]!;
    const child = this.newTable(childInfo.level);
    if (fmt.kindOf(lo, hi, info.level) > KIND_TABLE) {
      const attrs = fmt.leafAttributes(lo, hi, info.level);
      const size = 2 ** info.shift;
      const oa = fmt.outputAddress(lo, hi, info.level);
      const base = oa - (oa % size);
      const childSize = 2 ** childInfo.shift;
      for (let i = 0; i < childInfo.entries; i++) {
        fmt.encodeLeaf(base + i * childSize, childInfo.level, attrs, false, this.out);
        this.write(child + i * 8, this.out.lo, this.out.hi);
      }
    }
    fmt.encodeTable(child, info.level, this.out);
    this.write(dpa, this.out.lo, this.out.hi);
    return child;
  }
}

/**
 * A bump allocator over [start, end) for tests, benches and the CLI: zeroes each page it hands out
 * (a fresh PhysMem page already reads as zeros) and returns -1 when the pool is exhausted.
 */
export function bumpAllocator(mem: PhysMem, start: number, end: number, pageBytes: number): TableAllocator {
  let next = start;
  return () => {
    if (next + pageBytes > end) return -1;
    const pa = next;
    next += pageBytes;
    for (let p = pa; p < pa + pageBytes; p += mem.pageSize) mem.zeroPage(p);
    return pa;
  };
}
