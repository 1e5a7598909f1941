/**
 * What every loader module shares while placing one load: the placer (kexec-tools' locate_hole or
 * the kernel's kexec_locate_mem_hole over the memory that loader sees), the segments placed so far,
 * notes, and add_buffer / kexec_add_buffer.
 */

import { KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import type { Range } from "../machine/ranges.js";
import { formatBytes } from "../report/format.js";
import {
  type HoleResult,
  kexecLocateMemHole,
  largestFree,
  locateHole,
  type NamedRange,
  type PlacedRange,
} from "./holes.js";
import { kexecAllocContig } from "./kexec-file/cma.js";
import type { MachineView } from "./machine-view.js";
import type { Placement, PlanInput, PlannedSegment } from "./types.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
export const alignDown = (x: number, a: number) => Math.floor(x / a) * a;

/** One search: size in bytes, alignment, window [min, max) (max Infinity = no bound), direction. */
export interface HoleRequest {
  size: number;
  align: number;
  min: number;
  max: number;
  topDown: boolean;
  /** The function chain that asks, e.g. "kexec-tools kexec/arch/arm64/kexec-image-arm64.c image_arm64_load -> add_buffer -> locate_hole". */
  source: string;
}

/** Where holes are looked for: one per syscall. */
export interface Placer {
  syscall: "kexec_load" | "kexec_file_load";
  find(
    req: HoleRequest,
    placed: readonly PlacedRange[],
    pageSize: number,
  ): HoleResult & { walk: string; inPlace?: boolean };
  largest(min: number, max: number, placed: readonly PlacedRange[]): Range | undefined;
  /**
   * The window a request [min, max) is actually searched in: kexec-tools' locate_hole clips it to
   * info->mem_min/mem_max (--mem-min/--mem-max); the kernel's kexec_locate_mem_hole uses buf_min/buf_max
   * as they are. max is exclusive (Infinity: end of memory); empty when min >= max.
   */
  window(min: number, max: number): { min: number; max: number };
  /** What narrows the window (kexec-tools: --mem-min/--mem-max, or the crash region for -p), for messages. */
  clippedBy?: string;
}

/** kexec-tools: locate_hole over its memory_range list, with --mem-min/--mem-max. */
export function kexecToolsPlacer(
  ranges: readonly Range[],
  memMin: number,
  memMaxEnd: number,
  walk: string,
  clippedBy = "--mem-min/--mem-max",
): Placer {
  return {
    syscall: "kexec_load",
    clippedBy,
    find(req, placed, pageSize) {
      const r = locateHole(
        ranges,
        placed,
        {
          size: req.size,
          align: req.align,
          holeMin: req.min,
          holeMax: req.max - 1,
          holeEnd: req.topDown ? -1 : 1,
        },
        pageSize,
        memMin,
        memMaxEnd - 1,
      );
      return { ...r, walk };
    },
    largest: (min, max, placed) =>
      largestFree(ranges, placed, Math.max(min, memMin), Math.min(max, memMaxEnd)),
    window: (min, max) => ({ min: Math.max(min, memMin), max: Math.min(max, memMaxEnd) }),
  };
}

export interface KernelPlacerOptions {
  /** Kernels before 6.8 start a top-down search one byte low (see holes.ts). */
  oneByteLow: boolean;
  /** KHO on (6.16+, not a crash load): only these scratch areas, in index order. */
  khoScratch?: readonly Range[];
  /** CMA-first (6.17+, not a crash load, no KEXEC_FILE_NO_CMA): the default CMA area. */
  cma?: Range;
  /** Bytes at the CMA area's base other users took before the load (PlanInput.cmaUsed). */
  cmaUsed?: number;
}

/**
 * The kernel: kexec_locate_mem_hole over the ranges `walk(topDown)` returns in walk order (System RAM
 * resources, free memblock ranges, or the crash region); with KHO the scratch areas only; with CMA
 * kexec_alloc_contig first (kexec-file/kho.ts, kexec-file/cma.ts).
 */
export function kernelPlacer(
  walk: (topDown: boolean) => { ranges: NamedRange[]; what: string },
  opts: KernelPlacerOptions = { oneByteLow: false },
): Placer {
  const cmaTaken: Range[] = [];
  if (opts.cma && opts.cmaUsed) cmaTaken.push({ start: opts.cma.start, end: opts.cma.start + opts.cmaUsed });
  return {
    syscall: "kexec_file_load",
    find(req, placed, pageSize) {
      const kbuf = {
        memsz: alignUp(req.size, pageSize),
        bufAlign: Math.max(req.align, pageSize),
        bufMin: req.min,
        bufMax: req.max - 1,
        topDown: req.topDown,
        oneByteLow: opts.oneByteLow,
      };
      if (opts.khoScratch) {
        const ranges = opts.khoScratch.map((r, i) => ({ ...r, name: `KHO scratch ${i}` }));
        const r = kexecLocateMemHole(ranges, placed, kbuf);
        return { ...r, walk: "KHO scratch areas in index order (kho_locate_mem_hole -> kho_walk_scratch)" };
      }
      const skipped: string[] = [];
      if (opts.cma) {
        const c = kexecAllocContig(opts.cma, cmaTaken, placed, kbuf.memsz, kbuf.bufAlign, pageSize);
        if ("mem" in c) {
          cmaTaken.push({ start: c.mem, end: c.mem + kbuf.memsz });
          return {
            mem: c.mem,
            skipped: [],
            walk: "the default CMA area (kexec_alloc_contig -> dma_alloc_from_contiguous: lowest free aligned run; buf_min/buf_max not consulted)",
            inPlace: true,
          };
        }
        skipped.push(c.reason);
      }
      const w = walk(req.topDown);
      const r = kexecLocateMemHole(w.ranges, placed, kbuf);
      return { mem: r.mem, skipped: [...skipped, ...r.skipped], walk: w.what };
    },
    // with KHO only the scratch areas are searched: the largest free range is among them
    largest: (min, max, placed) => largestFree(opts.khoScratch ?? walk(false).ranges, placed, min, max),
    window: (min, max) => ({ min, max }),
  };
}

export interface Ctx {
  input: PlanInput;
  /** The machine the load is placed on, read once (machine-view.ts). */
  view: MachineView;
  pageSize: number;
  placer: Placer;
  segments: PlannedSegment[];
  notes: string[];
}

function describeRange(r: Range | undefined): string {
  return r ? `[${hex(r.start)}, ${hex(r.end)}) (${formatBytes(r.end - r.start)})` : "none";
}

/** "[min, max)" with "end of memory" for an unbounded max. */
function describeWindow(w: { min: number; max: number }): string {
  return `[${hex(w.min)}, ${w.max === Number.POSITIVE_INFINITY ? "end of memory" : hex(w.max)})`;
}

export { describeRange };

/**
 * What a failed hole search was, for printing what the real tool prints (`kexec -d`): the segment,
 * the size searched for (kexec-tools' hole_size, after rounding memsz to the page) and the syscall
 * whose placement failed. Keyed by the E_NO_HOLE error `place` throws.
 */
export const NO_HOLE_SEARCH = new WeakMap<
  Error,
  { label: string; size: number; syscall: Placer["syscall"] }
>();

/** The hint of a KHO load that fits in no scratch area: the scratch sizes (kho_scratch=) are what to change. */
export const KHO_NO_HOLE_HINT =
  "with KHO on, kexec_file_load places every segment inside one KHO scratch area: boot the running kernel with larger areas (kho_scratch=LOWMEM,GLOBAL,PERNODE or a larger kho_scratch=N%), or load a smaller kernel or initrd";

/** The hint of a crash load that does not fit its region: the region's size is what to change. */
export const CRASH_NO_HOLE_HINT =
  "the crash kernel region is too small for this load: reserve a larger one (crashkernel=SIZE on the running kernel's command line; `kexec-lab memory` estimates it) or load a smaller kernel or initrd";

/**
 * Find a hole or fail with E_NO_HOLE naming the segment, size, alignment, the window actually searched
 * (the loader's [min, max) clipped by --mem-min/--mem-max where kexec-tools' locate_hole clips it, with
 * the loader's own bounds named when they were narrowed) and the largest free range inside it.
 */
export function place(ctx: Ctx, label: string, req: HoleRequest): { mem: number; placement: Placement } {
  const r = ctx.placer.find(req, ctx.segments, ctx.pageSize);
  if (r.mem === undefined) {
    const w = ctx.placer.window(req.min, req.max);
    const clipped = w.min !== req.min || w.max !== req.max;
    const clippedBy = ctx.placer.clippedBy ?? "--mem-min/--mem-max";
    const window =
      w.min >= w.max
        ? `in an empty window (the loader's ${describeWindow({ min: req.min, max: req.max })} and ${clippedBy} do not meet)`
        : `within ${describeWindow(w)}${clipped ? ` (the loader's ${describeWindow({ min: req.min, max: req.max })} clipped by ${clippedBy})` : ""}`;
    const largest = w.min < w.max ? ctx.placer.largest(w.min, w.max, ctx.segments) : undefined;
    const err = new KexecLabError(
      "E_NO_HOLE",
      `${label}: no free range of ${hex(req.size)} bytes (${formatBytes(req.size)}) aligned to ${hex(Math.max(req.align, ctx.pageSize))} ${window} searching ${req.topDown ? "top-down" : "bottom-up"} (${r.walk}); the largest free range there is ${largest !== undefined ? describeRange(largest) : "none (no free memory in that window)"}${ctx.placer.syscall === "kexec_file_load" ? "; the kernel returns EADDRNOTAVAIL" : ""}`,
      { field: label },
      ctx.input.crash
        ? CRASH_NO_HOLE_HINT
        : ctx.placer.syscall === "kexec_file_load" && ctx.input.khoScratch
          ? KHO_NO_HOLE_HINT
          : undefined,
    );
    NO_HOLE_SEARCH.set(err, { label, size: req.size, syscall: ctx.placer.syscall });
    throw err;
  }
  return {
    mem: r.mem,
    placement: {
      syscall: ctx.placer.syscall,
      source: req.source,
      window: { min: req.min, max: req.max },
      align: Math.max(req.align, ctx.pageSize),
      direction: req.topDown ? "top-down" : "bottom-up",
      walk: r.walk,
      skipped: r.skipped,
      relocated: !r.inPlace,
    },
  };
}

/** A segment at a known address (ELF PT_LOADs, the arm64 crash kernel): no search. */
export function fixedPlacement(ctx: Ctx, source: string, mem: number, size: number, walk: string): Placement {
  return {
    syscall: ctx.placer.syscall,
    source,
    window: { min: mem, max: mem + size },
    align: ctx.pageSize,
    direction: "fixed",
    walk,
    skipped: [],
    relocated: true,
  };
}

export function addSegment(
  ctx: Ctx,
  label: string,
  mem: number,
  data: Uint8Array,
  memsz: number,
  placement: Placement,
): PlannedSegment {
  const seg: PlannedSegment = {
    mem,
    memsz: alignUp(memsz, ctx.pageSize),
    content: { kind: "bytes", data },
    label,
    placement,
  };
  ctx.segments.push(seg);
  return seg;
}

/**
 * kexec-tools' add_buffer / the kernel's kexec_add_buffer: find a hole for `memsz` bytes (rounded up
 * to pages) and add the buffer there as a segment. Returns its address.
 */
export function addBuffer(
  ctx: Ctx,
  label: string,
  data: Uint8Array,
  memsz: number,
  hole: Omit<HoleRequest, "size">,
): number {
  const { mem, placement } = place(ctx, label, { ...hole, size: alignUp(memsz, ctx.pageSize) });
  addSegment(ctx, label, mem, data, memsz, placement);
  return mem;
}

/** The initrd, when there is one, as a buffer in `hole`; its range [start, start + length). */
export function addInitrd(
  ctx: Ctx,
  hole: Omit<HoleRequest, "size">,
): { start: number; end: number } | undefined {
  const data = ctx.input.initrd;
  if (data === undefined || data.length === 0) return undefined;
  const start = addBuffer(ctx, "initrd", data, data.length, hole);
  return { start, end: start + data.length };
}

export function kernelWhere(input: PlanInput, offset: number, field: string) {
  return { ...(input.kernelName !== undefined ? { file: input.kernelName } : {}), offset, field };
}

/**
 * A bzImage's protected-mode kernel (the file after its setup sectors) and the memsz both bzImage64
 * loaders give it: init_size rounded up to `pageSize` (kexec-tools' do_bzImage64_load and the
 * kernel's bzImage64_load). E_FORMAT_CORRUPT when the file's kernel is larger than init_size.
 */
export function bzImageKernel(
  input: PlanInput,
  bz: { setupSize: number; initSize: number },
  pageSize: number,
): { bytes: Uint8Array; memsz: number } {
  const memsz = alignUp(bz.initSize, pageSize);
  const bytes = input.kernel.subarray(bz.setupSize);
  if (bytes.length > memsz) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the protected-mode kernel (${bytes.length} bytes) is larger than init_size (${bz.initSize})`,
      kernelWhere(input, 0x260, "init_size"),
    );
  }
  return { bytes, memsz };
}
