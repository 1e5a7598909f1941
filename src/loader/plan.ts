/**
 * planLoad: real files in, the segments a loader would pass to the kernel out. No file I/O here: the
 * caller reads the files (the CLI) and passes bytes; this runs in a browser as well.
 *
 * Loaders modelled (see docs/loaders.md for the rules and their sources):
 *   kexec-tools (kexec_load): arm64 Image (kexec/arch/arm64), x86_64 bzImage64 (kexec/arch/x86_64),
 *     ELF64 kernels at their physical addresses; plus a purgatory segment of a modelled size.
 *   kexec-file (kexec_file_load): the arm64 kernel's own rules (arch/arm64/kernel/kexec_image.c,
 *     machine_kexec_file.c); no purgatory on arm64.
 */

import { KexecLabError } from "../errors.js";
import { type Arm64Image, parseArm64Image } from "../formats/arm64-image.js";
import { hex } from "../formats/bytes.js";
import { type BzImage, LOADED_HIGH, parseBzImage } from "../formats/bzimage.js";
import { detectKind } from "../formats/detect.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../formats/devicetree.js";
import { type Elf64, parseElf64 } from "../formats/elf.js";
import { type Fdt, parseFdt, serializeFdt } from "../formats/fdt.js";
import { iomemToMemoryMap, parseIomem } from "../formats/iomem.js";
import type { KernelFileFormat } from "../formats/unwrap.js";
import { type Arch, KEXEC_SEGMENT_MAX } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import { type Verdict, validateLoad } from "../kimage/validate.js";
import type { MemoryMap } from "../machine/memmap.js";
import type { Range, RangeSet } from "../machine/ranges.js";
import { formatBytes } from "../report/format.js";
import { editDtbKexecFile, editDtbKexecTools } from "./dtb-edit.js";
import { type HoleRequest, largestFree, locateHole, type PlacedRange } from "./holes.js";
import { checkAcceptance } from "./plan-accept.js";

export type LoaderKind = "kexec-tools" | "kexec-file";
export const LOADERS: readonly LoaderKind[] = ["kexec-tools", "kexec-file"];

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Sizes of the purgatory segment kexec-tools loads. A model: the real size depends on the build. */
export interface PurgatorySize {
  bufsz: number;
  memsz: number;
}
export const DEFAULT_PURGATORY: Record<Arch, PurgatorySize> = {
  arm64: { bufsz: 0x3000, memsz: 0x4000 },
  x86_64: { bufsz: 0x5000, memsz: 0x9000 },
};
/** kexec-tools x86: extra room after the command line in the setup segment (PURGATORY_CMDLINE_SIZE). */
export const PURGATORY_CMDLINE_SIZE = 64;
/** kexec-tools x86: lowest initrd address (INITRD_BASE). */
export const X86_INITRD_BASE = 0x1000000;

export interface PlanInput {
  arch: Arch;
  loader?: LoaderKind;
  kernel: Uint8Array;
  kernelName?: string;
  initrd?: Uint8Array;
  initrdName?: string;
  dtb?: Uint8Array;
  dtbName?: string;
  /** /proc/iomem or /sys/firmware/memmap text. */
  iomem?: string;
  iomemName?: string;
  /** A memory map given directly (wins over iomem and the DTB). */
  memoryMap?: MemoryMap;
  /** Kernel command line (--append). */
  append?: string;
  /** kexec-tools --mem-min: lowest address a segment may use. */
  memMin?: number;
  /** kexec-tools --mem-max: highest address (inclusive) a segment may use. */
  memMax?: number;
  /** A crash (kexec -p) load into the crash kernel region. */
  crash?: boolean;
  /** Crash region [start, end); default: the "Crash kernel" range of the iomem input. */
  crashRegion?: Range;
  /** Page size of the running kernel (getpagesize() / PAGE_SIZE): rounding and minimum alignment. */
  pageSize?: number;
  /** Seed for the random bytes written into the DTB (kaslr-seed, rng-seed). */
  seed?: number;
  /** kexec-tools: treat a non-zero /chosen/kaslr-seed as wiped (DTB dumped outside a running kernel). */
  wipeKaslrSeed?: boolean;
  purgatory?: PurgatorySize;
  /** CPUs for the crash ELF core header model (one PT_NOTE each). */
  cpus?: number;
  /** The file the user gave, when `kernel` was unwrapped from it (zboot, UKI, compressed): see accept.ts. */
  kernelFormat?: KernelFileFormat;
  /** What was done to reach `kernel` (describeLayers()). */
  unwrapped?: string[];
  /** kexec-tools release whose acceptance rules apply (default LATEST_KEXEC_TOOLS). */
  kexecToolsVersion?: string;
  /** Who calls kexec_file_load (loader "kexec-file"): kexec-tools (default) or systemd. */
  via?: "kexec-tools" | "systemd";
}

export interface Plan {
  arch: Arch;
  loader: LoaderKind;
  memoryMap: MemoryMap;
  memoryMapSource: "memoryMap" | "iomem" | "dtb";
  /** In the order the loader passes them (kexec-tools sorts by address; kexec_file keeps load order). */
  segments: Segment[];
  /** Where the kernel's kexec jump lands: purgatory_start for kexec-tools, the kernel for kexec_file. */
  entry: number;
  /** The new kernel's own entry point (what purgatory jumps to). */
  kernelEntry: number;
  dtbAddress?: number;
  initrd?: { start: number; end: number };
  crashRegion?: Range;
  notes: string[];
  patchedDtb?: Uint8Array;
  /** What the kernel's kexec_load checks (sanity_check_segment_list, ...) say about these segments. */
  verdict: Verdict;
}

const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
const alignDown = (x: number, a: number) => Math.floor(x / a) * a;

interface Ctx {
  input: PlanInput;
  pageSize: number;
  free: RangeSet;
  placed: (PlacedRange & { label: string })[];
  segments: Segment[];
  notes: string[];
  memMin: number;
  /** Exclusive. */
  memMaxEnd: number;
}

function describeRange(r: Range | undefined): string {
  return r ? `[${hex(r.start)}, ${hex(r.end)}) (${formatBytes(r.end - r.start)})` : "none";
}

/** locate_hole + add_segment, with a failure that names the segment, size, alignment and the largest free range. */
function place(ctx: Ctx, label: string, req: HoleRequest): number {
  const min = Math.max(req.min, ctx.memMin);
  const max = Math.min(req.max, ctx.memMaxEnd);
  const base = locateHole(ctx.free, ctx.placed, { ...req, min, max }, ctx.pageSize);
  if (base === undefined) {
    const largest = largestFree(ctx.free, ctx.placed, min, max);
    throw new KexecLabError(
      "E_NO_HOLE",
      `${label}: no free range of ${hex(req.size)} bytes (${formatBytes(req.size)}) aligned to ${hex(Math.max(req.align, ctx.pageSize))} within [${hex(min)}, ${max === Number.POSITIVE_INFINITY ? "end of memory" : hex(max)}) searching ${req.topDown ? "top-down" : "bottom-up"}; the largest free range there is ${describeRange(largest)}`,
      { field: label },
    );
  }
  return base;
}

/**
 * kexec-tools' add_buffer / the kernel's kexec_add_buffer: find a hole for `memsz` bytes (page-rounded)
 * and add the buffer there as a segment. Returns its address.
 */
function addBuffer(
  ctx: Ctx,
  label: string,
  data: Uint8Array,
  memsz: number,
  hole: Omit<HoleRequest, "size">,
): number {
  const mem = place(ctx, label, { ...hole, size: alignUp(memsz, ctx.pageSize) });
  addSegment(ctx, label, mem, data, memsz);
  return mem;
}

/**
 * The purgatory as a buffer in `hole`. Its size is a model (a Debian build's), said in the plan's notes;
 * `builtin` for kexec_file_load, whose purgatory is part of the kernel.
 */
function addPurgatory(ctx: Ctx, arch: Arch, builtin: boolean, hole: Omit<HoleRequest, "size">): number {
  const purg = ctx.input.purgatory ?? DEFAULT_PURGATORY[arch];
  const base = addBuffer(ctx, "purgatory", new Uint8Array(purg.bufsz), purg.memsz, hole);
  ctx.notes.push(
    `purgatory is a size model (bufsz ${hex(purg.bufsz)}, memsz ${hex(purg.memsz)}); ${builtin ? "the kernel's built-in purgatory size depends on the build" : "its size depends on the kexec-tools build"}`,
  );
  return base;
}

/** The initrd, when there is one, as a buffer in `hole`; its range [start, start + length). */
function addInitrd(ctx: Ctx, hole: Omit<HoleRequest, "size">): { start: number; end: number } | undefined {
  const data = ctx.input.initrd;
  if (data === undefined || data.length === 0) return undefined;
  const start = addBuffer(ctx, "initrd", data, data.length, hole);
  return { start, end: start + data.length };
}

function addSegment(ctx: Ctx, label: string, mem: number, data: Uint8Array, memsz: number): Segment {
  const seg: Segment = { mem, memsz: alignUp(memsz, ctx.pageSize), content: { kind: "bytes", data }, label };
  ctx.segments.push(seg);
  ctx.placed.push({ mem: seg.mem, memsz: seg.memsz, label });
  return seg;
}

function memoryMapFor(
  input: PlanInput,
  dtb: Fdt | undefined,
  notes: string[],
): { map: MemoryMap; source: Plan["memoryMapSource"] } {
  if (input.memoryMap) return { map: input.memoryMap, source: "memoryMap" };
  if (input.iomem !== undefined)
    return { map: iomemToMemoryMap(parseIomem(input.iomem, input.iomemName)), source: "iomem" };
  if (input.arch === "arm64" && dtb) {
    notes.push(
      "memory map taken from the DTB's memory nodes minus /memreserve/ and /reserved-memory: the running kernel's own reservations are unknown; pass --iomem for kexec-tools' view",
    );
    return { map: deviceTreeMemoryMap(deviceTreeInfo(dtb)), source: "dtb" };
  }
  throw new KexecLabError(
    "E_NO_MEMORY_MAP",
    input.arch === "arm64"
      ? "neither --iomem nor a DTB with memory nodes was given"
      : "x86_64 needs --iomem (/proc/iomem or /sys/firmware/memmap)",
  );
}

/**
 * kexec-tools on arm64 (get_memory_ranges, to_be_excluded): System RAM minus every resource inside it
 * except "Kernel code" and "Kernel data" (the running kernel's image may be overwritten: the copy
 * happens after it has stopped) and, for crash loads, the crash kernel region itself.
 */
export const KEXEC_TOOLS_ARM64_KEPT = ["Kernel code", "Kernel data"];

/**
 * The memory each loader may place segments in:
 *   kexec-tools arm64: RAM minus the reserved regions other than the running kernel's image;
 *   kexec-tools x86_64: all RAM (its ranges come from /sys/firmware/memmap, which lists no kernel);
 *   kexec_file_load arm64: free memblock memory, i.e. RAM minus every reserved region (usable);
 *   kexec_file_load x86_64: every System RAM resource (walk_system_ram_res), i.e. all RAM.
 */
export function freeForLoader(arch: Arch, loader: LoaderKind, map: MemoryMap): RangeSet {
  if (arch === "x86_64") return map.ram;
  if (loader === "kexec-file") return map.usable;
  return map.ram.subtract(
    map.regions.filter(
      (r) => r.type === "reserved" && !KEXEC_TOOLS_ARM64_KEPT.some((k) => r.name.startsWith(k)),
    ),
  );
}

function crashRegionFor(input: PlanInput): Range | undefined {
  if (!input.crash) return undefined;
  if (input.crashRegion) return input.crashRegion;
  if (input.iomem !== undefined) {
    const ck = parseIomem(input.iomem, input.iomemName).crashKernel;
    if (ck.length > 0) return ck[ck.length - 1];
  }
  throw new KexecLabError(
    "E_NO_MEMORY_MAP",
    'a crash load (-p) needs a crash kernel region: a "Crash kernel" line in --iomem or --crashkernel SIZE@OFFSET',
  );
}

/** A model of the ELF core header kexec-tools builds for crash loads: one PT_NOTE per CPU plus vmcoreinfo, one PT_LOAD per RAM range. */
function elfcorehdrSize(map: MemoryMap, cpus: number): number {
  return 64 + 56 * (cpus + 1 + map.ram.size + 1);
}

export function planLoad(input: PlanInput): Plan {
  const loader = input.loader ?? "kexec-tools";
  const pageSize = input.pageSize ?? 4096;
  if (![4096, 16384, 65536].includes(pageSize) || (input.arch === "x86_64" && pageSize !== 4096)) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${pageSize}`, { field: "pageSize" });
  }
  const notes: string[] = checkAcceptance({ ...input, loader });
  const dtb = input.dtb ? parseFdt(input.dtb, input.dtbName) : undefined;
  if (input.dtb && input.arch === "x86_64") notes.push("a DTB is ignored on x86_64");
  const { map, source } = memoryMapFor(input, dtb, notes);
  const crashRegion = crashRegionFor(input);
  let free = freeForLoader(input.arch, loader, map);
  if (crashRegion) free = map.ram.intersect([crashRegion]);
  if (input.memMin !== undefined && input.memMax !== undefined && input.memMax < input.memMin) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `--mem-max ${hex(input.memMax)} is below --mem-min ${hex(input.memMin)}`,
      { field: "mem-max" },
    );
  }
  const ctx: Ctx = {
    input,
    pageSize,
    free,
    placed: [],
    segments: [],
    notes,
    memMin: input.memMin ?? 0,
    memMaxEnd: input.memMax !== undefined ? input.memMax + 1 : Number.POSITIVE_INFINITY,
  };
  if (loader === "kexec-file" && (input.memMin !== undefined || input.memMax !== undefined)) {
    notes.push("--mem-min/--mem-max apply to kexec_load only; kexec_file_load places segments in the kernel");
    ctx.memMin = 0;
    ctx.memMaxEnd = Number.POSITIVE_INFINITY;
  }
  const kind = detectKind(input.kernel);
  const where = input.kernelName !== undefined ? { file: input.kernelName, offset: 0 } : { offset: 0 };
  let result: Omit<
    Plan,
    "arch" | "loader" | "memoryMap" | "memoryMapSource" | "notes" | "segments" | "verdict"
  >;
  if (input.arch === "arm64") {
    if (kind === "arm64-image") {
      const img = parseArm64Image(input.kernel, input.kernelName);
      result =
        loader === "kexec-tools"
          ? arm64KexecTools(ctx, img, dtb, crashRegion, map)
          : arm64KexecFile(ctx, img, dtb, crashRegion, map);
    } else if (kind === "elf64") {
      const elf = parseElf64(input.kernel, input.kernelName);
      if (elf.arch !== "arm64")
        throw new KexecLabError(
          "E_KERNEL_UNSUPPORTED",
          `an ELF kernel for machine ${elf.machine}, not AArch64`,
          where,
        );
      if (loader !== "kexec-tools")
        throw new KexecLabError(
          "E_NOT_MODELED",
          "kexec_file_load on arm64 takes an Image, not an ELF vmlinux",
          where,
        );
      result = arm64ElfKexecTools(ctx, elf, dtb, crashRegion, map);
    } else {
      throw new KexecLabError(
        "E_KERNEL_UNSUPPORTED",
        `arm64 loads an Image or an ELF64 vmlinux; this file is ${kind ?? "not a kernel"}`,
        where,
      );
    }
  } else {
    if (loader !== "kexec-tools" && kind !== "bzimage")
      throw new KexecLabError(
        "E_NOT_MODELED",
        "kexec_file_load on x86_64 is modelled for bzImage kernels only",
        where,
      );
    if (kind === "bzimage") {
      const bz = parseBzImage(input.kernel, input.kernelName);
      result = loader === "kexec-tools" ? x86BzImageKexecTools(ctx, bz) : x86BzImageKexecFile(ctx, bz);
    } else if (kind === "elf64") {
      const elf = parseElf64(input.kernel, input.kernelName);
      if (elf.arch !== "x86_64")
        throw new KexecLabError(
          "E_KERNEL_UNSUPPORTED",
          `an ELF kernel for machine ${elf.machine}, not x86_64`,
          where,
        );
      result = x86ElfKexecTools(ctx, elf);
    } else {
      throw new KexecLabError(
        "E_KERNEL_UNSUPPORTED",
        `x86_64 loads a bzImage or an ELF64 vmlinux; this file is ${kind ?? "not a kernel"}`,
        where,
      );
    }
  }
  if (ctx.segments.length > KEXEC_SEGMENT_MAX) {
    throw new KexecLabError(
      "E_TOO_MANY_SEGMENTS",
      `the load needs ${ctx.segments.length} segments (${ctx.segments.map((s) => s.label).join(", ")}); kexec_load takes at most ${KEXEC_SEGMENT_MAX}`,
      { field: "segments" },
    );
  }
  const segments = loader === "kexec-tools" ? [...ctx.segments].sort((a, b) => a.mem - b.mem) : ctx.segments;
  for (const s of segments) {
    for (const r of map.regions) {
      if (r.type === "reserved" && s.mem < r.end && r.start < s.mem + s.memsz) {
        notes.push(
          `${s.label} [${hex(s.mem)}, ${hex(s.mem + s.memsz)}) overlaps the running kernel's "${r.name}" [${hex(r.start)}, ${hex(r.end)}): allowed, the copy happens after the running kernel has stopped`,
        );
      }
    }
  }
  const verdict = validateLoad({
    arch: input.arch,
    pageSize,
    ramBytes: BigInt(map.ramBytes),
    segments: segments.map((s) => ({
      mem: BigInt(s.mem),
      memsz: BigInt(s.memsz),
      bufsz: BigInt(segmentBufszOf(s)),
    })),
    ...(crashRegion
      ? {
          crash: { start: BigInt(crashRegion.start), end: BigInt(crashRegion.end - 1) },
          entry: BigInt(result.entry),
        }
      : {}),
  });
  if (!verdict.ok)
    notes.push(`the kernel would refuse these segments with ${verdict.errno}: ${verdict.reason}`);
  const plan: Plan = {
    arch: input.arch,
    loader,
    memoryMap: map,
    memoryMapSource: source,
    segments,
    notes,
    verdict,
    ...result,
  };
  if (crashRegion) plan.crashRegion = crashRegion;
  return plan;
}

// --- arm64, kexec-tools ------------------------------------------------------------------------------

function kernelTooBig(img: Arm64Image, memsz: number, name: string | undefined): void {
  if (img.fileSize > memsz) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the Image file (${img.fileSize} bytes) is larger than its image_size rounded to pages (${memsz}): bufsz > memsz`,
      { ...(name !== undefined ? { file: name } : {}), offset: 0x10, field: "image_size" },
    );
  }
}

function crashSetup(ctx: Ctx, map: MemoryMap, crashRegion: Range | undefined, topDown: boolean) {
  if (!crashRegion) return undefined;
  const size = elfcorehdrSize(map, ctx.input.cpus ?? 1);
  const base = addBuffer(ctx, "elfcorehdr", new Uint8Array(size), size, {
    align: ctx.pageSize,
    min: crashRegion.start,
    max: crashRegion.end,
    topDown,
  });
  ctx.notes.push(
    `elfcorehdr is a size model (${size} bytes: ELF header, one PT_NOTE per CPU and vmcoreinfo, one PT_LOAD per RAM range)`,
  );
  return {
    elfcorehdr: { start: base, size },
    usable: { start: crashRegion.start, size: crashRegion.end - crashRegion.start },
  };
}

function requireDtb(dtb: Fdt | undefined): Fdt {
  if (!dtb) {
    throw new KexecLabError(
      "E_USAGE",
      "arm64 needs --dtb (kexec-tools reads /sys/firmware/fdt of the running kernel: pass a copy of it)",
      {
        field: "dtb",
      },
    );
  }
  return dtb;
}

function dtbSegment(fdt: Fdt, padTo: number, name: string | undefined): Uint8Array {
  const bytes = serializeFdt(fdt, { padTo });
  if (bytes.length > 2 * MiB) {
    throw new KexecLabError(
      "E_DTB_TOO_BIG",
      `the DTB is ${bytes.length} bytes (${formatBytes(bytes.length)}) after the edits; booting.rst allows at most 2 MiB`,
      { ...(name !== undefined ? { file: name } : {}), field: "totalsize" },
    );
  }
  return bytes;
}

function arm64KexecTools(
  ctx: Ctx,
  img: Arm64Image,
  srcDtb: Fdt | undefined,
  crashRegion: Range | undefined,
  map: MemoryMap,
) {
  const input = ctx.input;
  const dtb = requireDtb(srcDtb);
  const crash = crashSetup(ctx, map, crashRegion, true);
  const kernelHole = img.textOffset + img.imageSize;
  let hole: number;
  if (crashRegion) {
    // arm64_locate_kernel_segment for crash loads: the 2 MiB-aligned start of the crash region.
    hole = alignUp(Math.max(crashRegion.start, ctx.memMin), 2 * MiB);
    if (hole + kernelHole > Math.min(ctx.memMaxEnd, crashRegion.end)) {
      throw new KexecLabError(
        "E_NO_HOLE",
        `kernel: ${hex(kernelHole)} bytes (${formatBytes(kernelHole)}) at the 2 MiB-aligned start ${hex(hole)} of the crash region ${describeRange(crashRegion)} do not fit`,
        { field: "kernel" },
      );
    }
  } else {
    hole = place(ctx, "kernel", {
      size: kernelHole,
      align: 2 * MiB,
      min: 0,
      max: Number.POSITIVE_INFINITY,
      topDown: false,
    });
  }
  const imageBase = hole + img.textOffset;
  const kernelMemsz = alignUp(img.imageSize, ctx.pageSize);
  kernelTooBig(img, kernelMemsz, input.kernelName);
  addSegment(ctx, "kernel", imageBase, input.kernel, img.imageSize);
  if (img.pre317)
    ctx.notes.push("image_size is 0 (kernel older than 3.17): assumed text_offset 0x80000 and 16 MiB");

  const holeMin = imageBase + img.imageSize;
  const holeMax = crashRegion ? crashRegion.end : Number.POSITIVE_INFINITY;
  let initrd: { start: number; end: number } | undefined;
  if (input.initrd && input.initrd.length > 0) {
    const size = alignUp(input.initrd.length, ctx.pageSize);
    const base = place(ctx, "initrd", {
      size,
      align: ctx.pageSize,
      min: holeMin,
      max: holeMax,
      topDown: false,
    });
    const end = base + input.initrd.length;
    const window = alignUp(end, GiB) - alignDown(imageBase, GiB);
    if (window > 32 * GiB) {
      throw new KexecLabError(
        "E_INITRD_WINDOW",
        `kexec-tools: "image + initrd too big": the kernel at ${hex(imageBase)} and the initrd at [${hex(base)}, ${hex(end)}) span ${formatBytes(window)} of 1 GiB-aligned address space, more than 32 GiB`,
        { field: "initrd" },
      );
    }
    addSegment(ctx, "initrd", base, input.initrd, input.initrd.length);
    initrd = { start: base, end };
  }
  const edited = editDtbKexecTools(dtb, {
    ...(input.append !== undefined ? { cmdline: input.append } : {}),
    ...(initrd ? { initrd } : {}),
    seed: input.seed ?? 0,
    ...(input.wipeKaslrSeed ? { wipeKaslrSeed: true } : {}),
    ...(crash ? { crash } : {}),
    ...(input.dtbName !== undefined ? { file: input.dtbName } : {}),
  });
  ctx.notes.push(...edited.notes);
  // setup_2nd_dtb packs the DTB only on the kaslr-seed path; otherwise the file's own totalsize (padding) stays.
  const hadKaslr =
    dtb.root.children.find((c) => c.name === "chosen")?.props.some((p) => p.name === "kaslr-seed") ?? false;
  const dtbBytes = dtbSegment(edited.fdt, hadKaslr || crash ? 0 : dtb.totalSize, input.dtbName);
  const dtbBase = addBuffer(ctx, "dtb", dtbBytes, dtbBytes.length, {
    align: ctx.pageSize,
    min: holeMin,
    max: holeMax,
    topDown: false,
  });

  const purgBase = addPurgatory(ctx, "arm64", false, {
    align: ctx.pageSize,
    min: holeMin,
    max: holeMax,
    topDown: false,
  });
  return {
    entry: purgBase,
    kernelEntry: imageBase,
    dtbAddress: dtbBase,
    ...(initrd ? { initrd } : {}),
    patchedDtb: dtbBytes,
  };
}

function arm64ElfKexecTools(
  ctx: Ctx,
  elf: Elf64,
  srcDtb: Fdt | undefined,
  crashRegion: Range | undefined,
  map: MemoryMap,
) {
  const input = ctx.input;
  const dtb = requireDtb(srcDtb);
  const crash = crashSetup(ctx, map, crashRegion, true);
  const { end, entry } = elfSegments(ctx, elf);
  const initrd = addInitrd(ctx, {
    align: ctx.pageSize,
    min: end,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
  });
  const edited = editDtbKexecTools(dtb, {
    ...(input.append !== undefined ? { cmdline: input.append } : {}),
    ...(initrd ? { initrd } : {}),
    seed: input.seed ?? 0,
    ...(input.wipeKaslrSeed ? { wipeKaslrSeed: true } : {}),
    ...(crash ? { crash } : {}),
  });
  ctx.notes.push(
    ...edited.notes,
    "ELF kernel: PT_LOAD segments placed at their physical addresses (p_paddr); kexec-tools' arm64 ELF relocation is not modelled",
  );
  const dtbBytes = dtbSegment(edited.fdt, 0, input.dtbName);
  const dtbBase = addBuffer(ctx, "dtb", dtbBytes, dtbBytes.length, {
    align: ctx.pageSize,
    min: end,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
  });
  const purgBase = addPurgatory(ctx, "arm64", false, {
    align: ctx.pageSize,
    min: end,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
  });
  return {
    entry: purgBase,
    kernelEntry: entry,
    dtbAddress: dtbBase,
    ...(initrd ? { initrd } : {}),
    patchedDtb: dtbBytes,
  };
}

/** PT_LOAD segments at their physical addresses (page-aligned), each checked against free memory. */
function elfSegments(ctx: Ctx, elf: Elf64): { end: number; entry: number } {
  if (elf.loads.length === 0)
    throw new KexecLabError("E_FORMAT_CORRUPT", "the ELF file has no PT_LOAD segment", { field: "phdr" });
  let end = 0;
  // The kernel entry in physical terms: e_entry translated through the PT_LOAD that holds it
  // (e_entry itself when it is already physical).
  let entry = elf.entry < 2n ** 53n ? Number(elf.entry) : -1;
  elf.loads.forEach((l, i) => {
    const mem = alignDown(l.paddr, ctx.pageSize);
    const memEnd = alignUp(l.paddr + l.memsz, ctx.pageSize);
    const label = `kernel[${i}]`;
    if (
      !ctx.free.covers({ start: mem, end: memEnd }) ||
      ctx.placed.some((p) => p.mem < memEnd && mem < p.mem + p.memsz)
    ) {
      throw new KexecLabError(
        "E_NO_HOLE",
        `${label}: PT_LOAD at physical ${hex(l.paddr)}, ${formatBytes(l.memsz)}, is not inside free RAM (or overlaps another segment); the largest free range is ${describeRange(ctx.free.largest())}`,
        { field: label },
      );
    }
    const data = new Uint8Array(l.paddr - mem + l.filesz);
    data.set(ctx.input.kernel.subarray(l.offset, l.offset + l.filesz), l.paddr - mem);
    addSegment(ctx, label, mem, data, memEnd - mem);
    if (elf.entry >= l.vaddr && elf.entry < l.vaddr + BigInt(l.memsz))
      entry = l.paddr + Number(elf.entry - l.vaddr);
    end = Math.max(end, memEnd);
  });
  if (entry < 0) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `e_entry 0x${elf.entry.toString(16)} lies in no PT_LOAD segment`,
      { field: "e_entry" },
    );
  }
  return { end, entry };
}

// --- arm64, kexec_file_load ----------------------------------------------------------------------------

function arm64KexecFile(
  ctx: Ctx,
  img: Arm64Image,
  srcDtb: Fdt | undefined,
  crashRegion: Range | undefined,
  map: MemoryMap,
) {
  const input = ctx.input;
  if (img.pre317) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "kexec_file_load's image loader refuses an Image with image_size 0 (a kernel older than 3.17): EINVAL",
      {
        ...(input.kernelName !== undefined ? { file: input.kernelName } : {}),
        offset: 0x10,
        field: "image_size",
      },
    );
  }
  if (img.bigEndian) {
    ctx.notes.push("a big-endian Image: kexec_file_load refuses it unless the CPUs support mixed endianness");
  }
  const dtb = requireDtb(srcDtb);
  ctx.notes.push("kexec_file_load edits the running kernel's own FDT: --dtb stands for /sys/firmware/fdt");
  const crash = crashSetup(ctx, map, crashRegion, true);
  // image_load: kbuf.memsz = image_size + text_offset, 2 MiB aligned, bottom-up; the segment then
  // starts at text_offset.
  const memszWithText = alignUp(img.imageSize + img.textOffset, ctx.pageSize);
  const base = place(ctx, "kernel", {
    size: memszWithText,
    align: 2 * MiB,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
  });
  const kernelMem = base + img.textOffset;
  kernelTooBig(img, memszWithText - img.textOffset, input.kernelName);
  addSegment(ctx, "kernel", kernelMem, input.kernel, memszWithText - img.textOffset);
  const kernelEnd = kernelMem + memszWithText - img.textOffset;
  let initrd: { start: number; end: number } | undefined;
  if (input.initrd && input.initrd.length > 0) {
    const size = alignUp(input.initrd.length, ctx.pageSize);
    const windowEnd = alignDown(kernelMem, GiB) + 32 * GiB;
    const req = { size, align: ctx.pageSize, min: kernelEnd, max: windowEnd, topDown: false };
    const at = locateHole(ctx.free, ctx.placed, req, ctx.pageSize);
    if (at === undefined) {
      const beyond = locateHole(
        ctx.free,
        ctx.placed,
        { ...req, max: Number.POSITIVE_INFINITY },
        ctx.pageSize,
      );
      if (beyond !== undefined) {
        throw new KexecLabError(
          "E_INITRD_WINDOW",
          `kexec_file_load: the initrd (${formatBytes(input.initrd.length)}) fits only at ${hex(beyond)}, beyond round_down(kernel ${hex(kernelMem)}, 1 GiB) + 32 GiB = ${hex(windowEnd)}; the kernel returns EADDRNOTAVAIL`,
          { field: "initrd" },
        );
      }
      place(ctx, "initrd", req);
    }
    addSegment(ctx, "initrd", at!, input.initrd, input.initrd.length);
    initrd = { start: at!, end: at! + input.initrd.length };
  }
  const edited = editDtbKexecFile(dtb, {
    ...(input.append !== undefined ? { cmdline: input.append } : {}),
    ...(initrd ? { initrd } : {}),
    seed: input.seed ?? 0,
    ...(crash ? { crash } : {}),
  });
  ctx.notes.push(...edited.notes);
  const dtbBytes = dtbSegment(edited.fdt, 0, input.dtbName);
  const dtbBase = addBuffer(ctx, "dtb", dtbBytes, dtbBytes.length, {
    align: 2 * MiB,
    min: kernelEnd,
    max: crashRegion ? crashRegion.end : Number.POSITIVE_INFINITY,
    topDown: true,
  });
  return {
    entry: kernelMem,
    kernelEntry: kernelMem,
    dtbAddress: dtbBase,
    ...(initrd ? { initrd } : {}),
    patchedDtb: dtbBytes,
  };
}

// --- x86_64, kexec-tools --------------------------------------------------------------------------------

function x86BzImageKexecTools(ctx: Ctx, bz: BzImage) {
  const input = ctx.input;
  // bzImage64_probe: a 64-bit, relocatable kernel that can be loaded high.
  const where = (offset: number, field: string) => ({
    ...(input.kernelName !== undefined ? { file: input.kernelName } : {}),
    offset,
    field,
  });
  if (!bz.relocatable) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "kexec-tools' bzImage64 loader needs a relocatable kernel (relocatable_kernel is 0)",
      where(0x234, "relocatable_kernel"),
    );
  }
  if ((bz.loadflags & LOADED_HIGH) === 0) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "loadflags LOADED_HIGH is clear: the kernel cannot be loaded high",
      where(0x211, "loadflags"),
    );
  }
  const cmdline = input.append ?? "";
  const cmdlineLen = cmdline.length + 1;
  if (cmdlineLen > bz.cmdlineSize) {
    throw new KexecLabError(
      "E_CMDLINE_TOO_LONG",
      `the command line with its NUL is ${cmdlineLen} bytes; this kernel's cmdline_size is ${bz.cmdlineSize}`,
      { field: "append" },
    );
  }
  if (crashRegionFor(input))
    throw new KexecLabError(
      "E_NOT_MODELED",
      "x86_64 crash loads (backup region, elfcorehdr, e820 edits) are not modelled",
    );
  // Purgatory first: anywhere above 0x3000, top-down.
  const purgBase = addPurgatory(ctx, "x86_64", false, {
    align: ctx.pageSize,
    min: 0x3000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  // The setup segment: zero page with the setup header copied, then the command line.
  const kern16Needed = Math.max(bz.setupSize, 4096);
  const setupSize = kern16Needed + cmdlineLen + PURGATORY_CMDLINE_SIZE;
  const setup = new Uint8Array(setupSize);
  const headerLen = Math.min(input.kernel[0x201]! + 0x202 - 0x1f1, 0x7f);
  setup.set(input.kernel.subarray(0x1f1, 0x1f1 + headerLen), 0x1f1);
  for (let i = 0; i < cmdline.length; i++) setup[kern16Needed + i] = cmdline.charCodeAt(i) & 0xff;
  addBuffer(ctx, "setup", setup, setupSize, {
    align: 16,
    min: 0x3000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  // The kernel: init_size bytes at kernel_alignment, above 1 MiB, top-down.
  const memsz = alignUp(bz.initSize, 4096);
  const kernelBytes = input.kernel.subarray(bz.setupSize);
  if (kernelBytes.length > memsz) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the protected-mode kernel (${kernelBytes.length} bytes) is larger than init_size (${bz.initSize})`,
      {
        ...(input.kernelName !== undefined ? { file: input.kernelName } : {}),
        offset: 0x260,
        field: "init_size",
      },
    );
  }
  const addr = place(ctx, "kernel", {
    size: memsz,
    align: bz.kernelAlignment,
    min: 0x100000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  addSegment(ctx, "kernel", addr, kernelBytes, memsz);
  const initrd = addInitrd(ctx, {
    align: 4096,
    min: X86_INITRD_BASE,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  ctx.notes.push(
    "x86_64 setup segment: setup header and command line only (boot_params fields such as e820 and ramdisk_image are not filled)",
  );
  if (!bz.canBeLoadedAbove4G) {
    for (const s of ctx.segments) {
      if ((s.label === "kernel" || s.label === "initrd") && s.mem + s.memsz > 2 ** 32) {
        ctx.notes.push(
          `the ${s.label} is placed above 4 GiB but xloadflags lacks XLF_CAN_BE_LOADED_ABOVE_4G: this kernel may not boot; try --mem-max 0xffffffff`,
        );
      }
    }
  }
  return { entry: purgBase, kernelEntry: addr + 0x200, ...(initrd ? { initrd } : {}) };
}

// --- x86_64, kexec_file_load --------------------------------------------------------------------------

/** arch/x86/kernel/kexec-bzimage64.c: lowest addresses of the segments, and string room reserved. */
export const X86_KEXEC_FILE = {
  MIN_PURGATORY_ADDR: 0x3000,
  MIN_BOOTPARAM_ADDR: 0x3000,
  MIN_KERNEL_LOAD_ADDR: 0x100000,
  MIN_INITRD_LOAD_ADDR: 0x1000000,
  MAX_ELFCOREHDR_STR_LEN: 30,
  /** sizeof(struct boot_params). */
  BOOT_PARAMS_SIZE: 4096,
  /** sizeof(struct setup_data), sizeof(struct efi_setup_data), RNG seed bytes. */
  SETUP_DATA_SIZE: 16,
  EFI_SETUP_DATA_SIZE: 96,
  RNG_SEED_LENGTH: 32,
};

function x86BzImageKexecFile(ctx: Ctx, bz: BzImage) {
  const input = ctx.input;
  const K = X86_KEXEC_FILE;
  const where = (offset: number, field: string) => ({
    ...(input.kernelName !== undefined ? { file: input.kernelName } : {}),
    offset,
    field,
  });
  // bzImage64_probe.
  if ((bz.loadflags & LOADED_HIGH) === 0) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "loadflags LOADED_HIGH is clear: bzImage64_probe refuses the kernel",
      where(0x211, "loadflags"),
    );
  }
  if (!bz.relocatable) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "relocatable_kernel is 0: bzImage64_probe refuses the kernel",
      where(0x234, "relocatable_kernel"),
    );
  }
  if (!bz.canBeLoadedAbove4G) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "XLF_CAN_BE_LOADED_ABOVE_4G is not set: bzImage64_probe refuses the kernel",
      where(0x236, "xloadflags"),
    );
  }
  if (crashRegionFor(input))
    throw new KexecLabError(
      "E_NOT_MODELED",
      "x86_64 crash loads (backup region, elfcorehdr, e820 edits) are not modelled",
    );
  const cmdline = input.append ?? "";
  const cmdlineLen = cmdline.length + 1;
  if (cmdlineLen + K.MAX_ELFCOREHDR_STR_LEN > bz.cmdlineSize) {
    throw new KexecLabError(
      "E_CMDLINE_TOO_LONG",
      `the command line with its NUL is ${cmdlineLen} bytes; kexec_file_load keeps ${K.MAX_ELFCOREHDR_STR_LEN} bytes free for "elfcorehdr=" within this kernel's cmdline_size ${bz.cmdlineSize}`,
      { field: "append" },
    );
  }
  const purgBase = addPurgatory(ctx, "x86_64", true, {
    align: ctx.pageSize,
    min: K.MIN_PURGATORY_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  // boot_params + command line + setup_data for EFI (no EFI memory map modelled) and the RNG seed.
  const paramsCmdline = alignUp(K.BOOT_PARAMS_SIZE + cmdlineLen + K.MAX_ELFCOREHDR_STR_LEN, 16);
  const paramsSize =
    paramsCmdline + K.SETUP_DATA_SIZE + K.EFI_SETUP_DATA_SIZE + K.SETUP_DATA_SIZE + K.RNG_SEED_LENGTH;
  const params = new Uint8Array(paramsSize);
  const headerLen = Math.min(0x202 + input.kernel[0x201]! - 0x1f1, 0x7f);
  params.set(input.kernel.subarray(0x1f1, 0x1f1 + headerLen), 0x1f1);
  for (let i = 0; i < cmdline.length; i++) params[K.BOOT_PARAMS_SIZE + i] = cmdline.charCodeAt(i) & 0xff;
  addBuffer(ctx, "bootparams", params, paramsSize, {
    align: 16,
    min: K.MIN_BOOTPARAM_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  // The kernel: above max(MIN_KERNEL_LOAD_ADDR, pref_address).
  const memsz = alignUp(bz.initSize, ctx.pageSize);
  const kernelBytes = input.kernel.subarray(bz.setupSize);
  if (kernelBytes.length > memsz) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the protected-mode kernel (${kernelBytes.length} bytes) is larger than init_size (${bz.initSize})`,
      where(0x260, "init_size"),
    );
  }
  const addr = place(ctx, "kernel", {
    size: memsz,
    align: bz.kernelAlignment,
    min: Math.max(K.MIN_KERNEL_LOAD_ADDR, bz.prefAddress),
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  addSegment(ctx, "kernel", addr, kernelBytes, memsz);
  const initrd = addInitrd(ctx, {
    align: ctx.pageSize,
    min: K.MIN_INITRD_LOAD_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  ctx.notes.push(
    "x86_64 kexec_file boot_params: setup header and command line only (e820, EFI and setup_data contents are not filled; no EFI memory map is modelled in its size)",
  );
  return { entry: purgBase, kernelEntry: addr + 0x200, ...(initrd ? { initrd } : {}) };
}

function x86ElfKexecTools(ctx: Ctx, elf: Elf64) {
  const { entry } = elfSegments(ctx, elf);
  const purgBase = addPurgatory(ctx, "x86_64", false, {
    align: ctx.pageSize,
    min: 0x3000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  const initrd = addInitrd(ctx, {
    align: 4096,
    min: X86_INITRD_BASE,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
  });
  ctx.notes.push("ELF kernel: PT_LOAD segments placed at their physical addresses (p_paddr)");
  return { entry: purgBase, kernelEntry: entry, ...(initrd ? { initrd } : {}) };
}

// --- output -------------------------------------------------------------------------------------------

export function segmentBufszOf(s: Segment): number {
  return s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz;
}

/** The plan as one JSON-ready object: addresses "0x...", sizes numbers. */
export function planToJson(plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {
    arch: plan.arch,
    loader: plan.loader,
    memoryMapSource: plan.memoryMapSource,
    segments: plan.segments.map((s) => ({
      kind: s.label ?? "segment",
      mem: hex(s.mem),
      memsz: s.memsz,
      bufsz: segmentBufszOf(s),
    })),
    entry: hex(plan.entry),
    kernelEntry: hex(plan.kernelEntry),
  };
  if (plan.dtbAddress !== undefined) out.dtb = hex(plan.dtbAddress);
  if (plan.initrd) out.initrd = { start: hex(plan.initrd.start), end: hex(plan.initrd.end) };
  if (plan.crashRegion)
    out.crashRegion = { start: hex(plan.crashRegion.start), end: hex(plan.crashRegion.end) };
  out.kernelCheck = {
    ok: plan.verdict.ok,
    errno: plan.verdict.errno,
    check: plan.verdict.check,
    reason: plan.verdict.reason,
  };
  out.notes = plan.notes;
  return out;
}

/**
 * kexec-tools' print_segments format (what --debug prints just before the syscall). The buf
 * pointers of a real run are user-space addresses that change every run; here they are offsets in a
 * notional buffer arena starting at 0x10000000, so only buf lines differ in a diff against a real run.
 */
export function formatPrintSegments(plan: Plan): string {
  const lines = [`nr_segments = ${plan.segments.length}`];
  let buf = 0x10000000;
  plan.segments.forEach((s, i) => {
    const bufsz = segmentBufszOf(s);
    lines.push(`segment[${i}].buf   = ${hex(buf)}`);
    lines.push(`segment[${i}].bufsz = ${hex(bufsz)}`);
    lines.push(`segment[${i}].mem   = ${hex(s.mem)}`);
    lines.push(`segment[${i}].memsz = ${hex(s.memsz)}`);
    buf += alignUp(Math.max(bufsz, 1), 4096);
  });
  return `${lines.join("\n")}\n`;
}
