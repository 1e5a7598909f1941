/**
 * Hand-made access streams of each relocation strategy's loop, from a list of (destination, source)
 * page pairs: for tests, calibration and what-if sweeps before (or without) a full simulated run.
 * The real CPU loop (src/reloc) produces the same kinds of events; the model accepts either.
 *
 *   mmu-off          kexec_list_flush cleans the list and sources to PoC (MMU on), MMU off, then per
 *                    page: entry read (uncached), dc ivac over the destination, uncached copy.
 *   linear-map-copy  MMU on with the copied linear map; per page: entry read, copy through the linear
 *                    map, dc civac over the destination line by line; a TLB miss whenever the source or
 *                    destination enters a new linear-map leaf (2 MiB block by default).
 *   va-copy          MMU on with page-granular maps of sources and destinations at contiguous VAs; one
 *                    linear loop (two TLB misses per page), then dc cvau over the destination.
 *   x86-copy         relocate_kernel_64 since 6.14: per page: entry read, one rep movsq copy.
 *   x86-swap         before 6.14: per page: entry read, three copies through the swap page.
 */

import { KexecLabError } from "../errors.js";
import {
  ACC_ENTRY,
  ACC_UNCACHED,
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_TLBI,
  CMO_DC_CIVAC,
  CMO_DC_CVAC,
  CMO_DC_CVAU,
  CMO_DC_IVAC,
  CMO_IC_IALLU,
  COPY_LINEAR_LOOP,
  COPY_SCRATCH,
  COPY_UNCACHED,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_DESC_READ,
  EV_LOAD,
  EV_TLB_MISS,
  TraceBuffer,
} from "../reloc/trace.js";

export const SHAPE_STRATEGIES = ["mmu-off", "linear-map-copy", "va-copy", "x86-copy", "x86-swap"] as const;
export type ShapeStrategy = (typeof SHAPE_STRATEGIES)[number];

export type PageLayout = "contiguous" | "scattered";

export interface PairOptions {
  pageSize?: number;
  /** First destination page (default 0x40200000). */
  dstBase?: number;
  /** Start of the source region (default 0x100000000). */
  srcBase?: number;
  /** contiguous: sources in order; scattered: a seeded shuffle over a region twice the size. */
  layout?: PageLayout;
  seed?: number;
}

export interface ShapeOptions {
  pageSize?: number;
  /** Leaf size of the copied linear map / x86 identity map (default 2 MiB; pageSize for rodata=full). */
  leafBytes?: number;
  /** Translation levels walked on a TLB miss, 1..5 (default: 4 for 4K, 3 for 16K and 64K with 48-bit VA;
   * 5 is 4K with 52-bit VA (FEAT_LPA2) or x86_64 LA57, walked from level -1). */
  levels?: number;
  /** Where the indirection pages live (default 0x0c0000000). */
  entryBase?: number;
  /** Where the relocation page tables live (default 0x0d0000000). */
  tableBase?: number;
}

const MiB = 1024 * 1024;

function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function checkPageSize(pageSize: number): void {
  if (pageSize !== 4096 && pageSize !== 16384 && pageSize !== 65536) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${pageSize}`, { field: "pageSize" });
  }
}

/** (dst, src) physical page pairs for `bytes` of image, flat: [dst0, src0, dst1, src1, ...]. */
export function pagePairs(bytes: number, opts: PairOptions = {}): Float64Array {
  const pageSize = opts.pageSize ?? 4096;
  checkPageSize(pageSize);
  const pages = Math.ceil(bytes / pageSize);
  const dstBase = opts.dstBase ?? 0x40200000;
  const srcBase = opts.srcBase ?? 0x100000000;
  const out = new Float64Array(pages * 2);
  let order: Uint32Array | undefined;
  if ((opts.layout ?? "contiguous") === "scattered") {
    const rand = mulberry32(opts.seed ?? 1);
    const slots = new Uint32Array(pages * 2);
    for (let i = 0; i < slots.length; i++) slots[i] = i;
    for (let i = slots.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = slots[i]!;
      slots[i] = slots[j]!;
      slots[j] = t;
    }
    order = slots;
  }
  for (let i = 0; i < pages; i++) {
    out[2 * i] = dstBase + i * pageSize;
    out[2 * i + 1] = srcBase + (order ? order[i]! : i) * pageSize;
  }
  return out;
}

/** Walk the simulated entry list: emit the read of entry number `k` (with indirection links). */
class EntryReader {
  private readonly perPage: number;
  private k = 0;
  constructor(
    private readonly t: TraceBuffer,
    private readonly base: number,
    private readonly pageSize: number,
    private readonly flags: number,
  ) {
    this.perPage = pageSize / 8 - 1;
  }
  read(): void {
    const page = Math.floor(this.k / this.perPage);
    const slot = this.k % this.perPage;
    if (slot === 0 && page > 0) {
      // the link entry (IND_INDIRECTION) at the end of the previous page
      this.t.event(EV_LOAD, this.base + (page - 1) * this.pageSize + this.perPage * 8, 0, 8, this.flags);
    }
    this.t.event(EV_LOAD, this.base + page * this.pageSize + slot * 8, 0, 8, this.flags);
    this.k++;
  }
  get pagesUsed(): number {
    return Math.ceil(this.k / this.perPage);
  }
}

/** A TLB miss and the walk behind it: upper levels from fixed table pages, the leaf from `leafTable`. */
function walk(
  t: TraceBuffer,
  va: number,
  leafBytes: number,
  levels: number,
  tableBase: number,
  leafTable: number,
) {
  t.event(EV_TLB_MISS, va % 2 ** 32, Math.floor(va / 2 ** 32), leafBytes, 0);
  const pageSize = 4096;
  // Levels numbered as src/mmu does: the leaf is level 3, so a 5-level walk starts at level -1.
  const start = 4 - levels;
  for (let i = 0; i < levels - 1; i++) {
    t.event(
      EV_DESC_READ,
      tableBase + i * pageSize + (Math.floor(va / 2 ** (39 - 9 * i)) % 512) * 8,
      start + i,
      8,
      0,
    );
  }
  t.event(EV_DESC_READ, leafTable + Math.floor(va / leafBytes) * 8, 3, 8, 0);
}

function tail(t: TraceBuffer, mmuOff: boolean): void {
  t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
  t.event(EV_CMO, 0, 0, 0, CMO_IC_IALLU);
  t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
  t.event(EV_BARRIER, 0, 0, 0, BARRIER_ISB);
  if (!mmuOff) t.event(EV_BARRIER, 0, 0, 0, BARRIER_MMU_OFF);
}

/** The access stream of one strategy relocating the given page pairs. */
export function strategyTrace(
  strategy: ShapeStrategy,
  pairs: Float64Array,
  opts: ShapeOptions = {},
): TraceBuffer {
  const pageSize = opts.pageSize ?? 4096;
  checkPageSize(pageSize);
  const pages = pairs.length / 2;
  const leafBytes = opts.leafBytes ?? 2 * MiB;
  const levels = opts.levels ?? (pageSize === 4096 ? 4 : 3);
  if (!(Number.isInteger(levels) && levels >= 1 && levels <= 5)) {
    throw new KexecLabError("E_FIELD_VALUE", `a walk has 1 to 5 levels (-1..3), not ${levels}`, {
      field: "levels",
    });
  }
  const entryBase = opts.entryBase ?? 0xc0000000;
  const tableBase = opts.tableBase ?? 0xd0000000;
  const t = new TraceBuffer(pages * 6 + 64);
  switch (strategy) {
    case "mmu-off": {
      // kexec_list_flush (MMU on): the list pages and every source page to PoC.
      const listPages = Math.ceil((pages + 2) / (pageSize / 8 - 1));
      for (let i = 0; i < listPages; i++) t.event(EV_CMO, entryBase + i * pageSize, 0, pageSize, CMO_DC_CVAC);
      for (let i = 0; i < pages; i++) t.event(EV_CMO, pairs[2 * i + 1]!, 0, pageSize, CMO_DC_CVAC);
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_MMU_OFF);
      const entries = new EntryReader(t, entryBase, pageSize, ACC_ENTRY | ACC_UNCACHED);
      entries.read(); // IND_DESTINATION
      for (let i = 0; i < pages; i++) {
        entries.read();
        t.event(EV_CMO, pairs[2 * i]!, 0, pageSize, CMO_DC_IVAC);
        t.event(EV_COPY, pairs[2 * i]!, pairs[2 * i + 1]!, pageSize, COPY_UNCACHED);
      }
      entries.read(); // IND_DONE
      tail(t, true);
      break;
    }
    case "linear-map-copy":
    case "x86-copy":
    case "x86-swap": {
      const x86 = strategy !== "linear-map-copy";
      if (!x86) {
        t.event(EV_BARRIER, 0, 0, 0, BARRIER_TLBI);
        t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
        t.event(EV_BARRIER, 0, 0, 0, BARRIER_ISB);
      }
      const entries = new EntryReader(t, entryBase, pageSize, ACC_ENTRY);
      const leafTable = tableBase + 8 * 4096;
      const swap = tableBase - pageSize;
      let lastSrcLeaf = -1;
      let lastDstLeaf = -1;
      let lastDst = -1;
      for (let i = 0; i < pages; i++) {
        const dst = pairs[2 * i]!;
        const src = pairs[2 * i + 1]!;
        if (dst !== lastDst + pageSize) entries.read(); // IND_DESTINATION
        lastDst = dst;
        entries.read();
        const sl = Math.floor(src / leafBytes);
        if (sl !== lastSrcLeaf) {
          walk(t, src, leafBytes, levels, tableBase, leafTable);
          lastSrcLeaf = sl;
        }
        const dl = Math.floor(dst / leafBytes);
        if (dl !== lastDstLeaf) {
          walk(t, dst, leafBytes, levels, tableBase, leafTable);
          lastDstLeaf = dl;
        }
        if (strategy === "x86-swap") {
          t.event(EV_COPY, swap, src, pageSize, COPY_SCRATCH);
          t.event(EV_COPY, src, dst, pageSize, 0);
          t.event(EV_COPY, dst, swap, pageSize, COPY_SCRATCH);
        } else {
          t.event(EV_COPY, dst, src, pageSize, 0);
        }
        if (!x86) t.event(EV_CMO, dst, 0, pageSize, CMO_DC_CIVAC);
      }
      entries.read(); // IND_DONE
      if (x86) t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
      else tail(t, false);
      break;
    }
    case "va-copy": {
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_TLBI);
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_ISB);
      const srcVa = 2 ** 40; // source and destination bases of the contiguous maps
      const dstVa = 2 ** 41;
      const srcTable = tableBase + 8 * 4096;
      const dstTable = srcTable + Math.ceil((pages * 8) / pageSize + 1) * pageSize;
      for (let i = 0; i < pages; i++) {
        walk(t, srcVa + i * pageSize, pageSize, levels, tableBase, srcTable - (srcVa / pageSize) * 8);
        walk(
          t,
          dstVa + i * pageSize,
          pageSize,
          levels,
          tableBase + 4 * 4096,
          dstTable - (dstVa / pageSize) * 8,
        );
        t.event(EV_COPY, pairs[2 * i]!, pairs[2 * i + 1]!, pageSize, COPY_LINEAR_LOOP);
      }
      for (let i = 0; i < pages; i++) t.event(EV_CMO, pairs[2 * i]!, 0, pageSize, CMO_DC_CVAU);
      tail(t, false);
      break;
    }
    default:
      throw new KexecLabError("E_FIELD_VALUE", `unknown strategy "${String(strategy)}"`, {
        field: "strategy",
      });
  }
  return t;
}

/** Shortcut: the trace of `strategy` relocating `bytes` laid out as `layout`. */
export function shapeTrace(
  strategy: ShapeStrategy,
  bytes: number,
  opts: ShapeOptions & PairOptions = {},
): TraceBuffer {
  return strategyTrace(strategy, pagePairs(bytes, opts), opts);
}
