/**
 * kexec-tools' arm64 placement for kexec_load (kexec/arch/arm64/): kexec-image-arm64.c
 * image_arm64_load, kexec-arm64.c arm64_locate_kernel_segment and arm64_load_other_segments,
 * crashdump-arm64.c load_crashdump_segments. ELF vmlinux kernels go at their physical addresses.
 */

import { KexecLabError } from "../../errors.js";
import type { Arm64Image } from "../../formats/arm64-image.js";
import { hex } from "../../formats/bytes.js";
import type { Elf64 } from "../../formats/elf.js";
import type { Fdt } from "../../formats/fdt.js";
import type { Iomem } from "../../formats/iomem.js";
import type { MemoryMap } from "../../machine/memmap.js";
import type { Range } from "../../machine/ranges.js";
import { formatBytes } from "../../report/format.js";
import { dtbSegment, elfSegments, kernelTooBig, requireDtb } from "../common.js";
import {
  addBuffer,
  addSegment,
  alignDown,
  alignUp,
  CRASH_NO_HOLE_HINT,
  type Ctx,
  describeRange,
  fixedPlacement,
  GiB,
  MiB,
  place,
} from "../context.js";
import { clearInitrdInPlace, editDtbKexecTools } from "../dtb-edit.js";
import type { Placement } from "../types.js";
import { arm64CrashMemoryRanges, kexecToolsElfcorehdrSize } from "./crash.js";
import { addPurgatory } from "./purgatory-segment.js";

const SRC = "kexec-tools kexec/arch/arm64/kexec-arm64.c arm64_load_other_segments";

export interface Arm64LoadResult {
  entry: number;
  kernelEntry: number;
  dtbAddress: number;
  initrd?: { start: number; end: number };
  patchedDtb: Uint8Array;
}

/** load_crashdump_segments: the ELF core header, top-down in the crash region (memsz = bufsz). */
function crashSetup(ctx: Ctx, map: MemoryMap, iomem: Iomem | undefined, crashRegion: Range | undefined) {
  if (!crashRegion) return undefined;
  // kexec-tools 2.0.24+: every "Crash kernel" region is cut out of the dump's ranges and passed in
  // linux,usable-memory-range (in /proc/iomem order); the load goes into the highest.
  const all = ctx.view.crashRegions;
  const regions = all.some((r) => r.start === crashRegion.start && r.end === crashRegion.end)
    ? [...all].sort((a, b) => a.start - b.start)
    : [crashRegion];
  const ranges = arm64CrashMemoryRanges(iomem, map, regions);
  const cpus = ctx.input.cpus ?? 1;
  const size = kexecToolsElfcorehdrSize(cpus, ranges.length);
  const base = addBuffer(ctx, "elfcorehdr", new Uint8Array(size), size, {
    align: ctx.pageSize,
    min: crashRegion.start,
    max: crashRegion.end,
    topDown: true,
    source:
      "kexec-tools kexec/arch/arm64/crashdump-arm64.c load_crashdump_segments -> add_buffer_phys_virt -> locate_hole",
  });
  ctx.notes.push(
    `elfcorehdr: ${hex(size)} bytes = 64 + 56 x (${cpus} CPU notes + vmcoreinfo + kernel text + ${ranges.length} memory ranges), rounded to ELF_CORE_HEADER_ALIGN 1024 (--cpus sets the CPU count)`,
  );
  return {
    elfcorehdr: { start: base, size },
    usable: { start: regions[0]!.start, size: regions[0]!.end - regions[0]!.start },
    ...(regions.length > 1
      ? { moreUsable: regions.slice(1).map((r) => ({ start: r.start, size: r.end - r.start })) }
      : {}),
  };
}

function otherSegments(
  ctx: Ctx,
  dtb: Fdt,
  holeMin: number,
  holeMax: number,
  crash: ReturnType<typeof crashSetup>,
  imageBase: number | undefined,
): Omit<Arm64LoadResult, "kernelEntry"> {
  const input = ctx.input;
  let initrd: { start: number; end: number } | undefined;
  if (input.initrd && input.initrd.length > 0) {
    const { mem: base, placement } = place(ctx, "initrd", {
      size: alignUp(input.initrd.length, ctx.pageSize),
      align: ctx.pageSize,
      min: holeMin,
      max: holeMax,
      topDown: false,
      source: `${SRC} -> add_buffer_phys_virt -> locate_hole`,
    });
    const end = base + input.initrd.length;
    if (imageBase !== undefined) {
      const window = alignUp(end, GiB) - alignDown(imageBase, GiB);
      if (window > 32 * GiB) {
        throw new KexecLabError(
          "E_INITRD_WINDOW",
          `kexec-tools: "image + initrd too big": the kernel at ${hex(imageBase)} and the initrd at [${hex(base)}, ${hex(end)}) span ${formatBytes(window)} of 1 GiB-aligned address space, more than 32 GiB`,
          { field: "initrd" },
        );
      }
    }
    addSegment(ctx, "initrd", base, input.initrd, input.initrd.length, placement);
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
  const dtbBytes = dtbSegment(
    edited.beforeClear ?? edited.fdt,
    edited.packed ? 0 : dtb.totalSize,
    input.dtbName,
  );
  if (edited.beforeClear) clearInitrdInPlace(dtbBytes);
  const dtbBase = addBuffer(ctx, "dtb", dtbBytes, dtbBytes.length, {
    align: ctx.pageSize,
    min: holeMin,
    max: holeMax,
    topDown: false,
    source: `${SRC} -> add_buffer_phys_virt -> locate_hole`,
  });
  const purgBase = addPurgatory(ctx, "arm64", {
    min: holeMin,
    max: holeMax,
    topDown: false,
    source: `${SRC} -> elf_rel_build_load -> elf_rel_load -> add_buffer -> locate_hole`,
  });
  return { entry: purgBase, dtbAddress: dtbBase, ...(initrd ? { initrd } : {}), patchedDtb: dtbBytes };
}

/** image_arm64_load: Image kernels. */
export function arm64ImageKexecTools(
  ctx: Ctx,
  img: Arm64Image,
  srcDtb: Fdt | undefined,
  crashRegion: Range | undefined,
  map: MemoryMap,
  iomem: Iomem | undefined,
): Arm64LoadResult {
  const input = ctx.input;
  const dtb = requireDtb(srcDtb);
  const crash = crashSetup(ctx, map, iomem, crashRegion);
  const kernelHole = img.textOffset + img.imageSize;
  let hole: number;
  let placement: Placement;
  const source =
    "kexec-tools kexec/arch/arm64/kexec-image-arm64.c image_arm64_load -> arm64_locate_kernel_segment";
  if (crashRegion) {
    // arm64_locate_kernel_segment for crash loads: the 2 MiB-aligned start of the crash region.
    hole = alignUp(crashRegion.start, 2 * MiB);
    if (hole + kernelHole > crashRegion.end) {
      throw new KexecLabError(
        "E_NO_HOLE",
        `kernel: ${hex(kernelHole)} bytes (${formatBytes(kernelHole)}) at the 2 MiB-aligned start ${hex(hole)} of the crash region ${describeRange(crashRegion)} do not fit`,
        { field: "kernel" },
        CRASH_NO_HOLE_HINT,
      );
    }
    placement = fixedPlacement(
      ctx,
      `${source} (crash: _ALIGN(crash start, 2 MiB))`,
      hole,
      kernelHole,
      "the crash kernel region",
    );
  } else {
    const r = place(ctx, "kernel", {
      size: kernelHole,
      align: 2 * MiB,
      min: 0,
      max: Number.POSITIVE_INFINITY,
      topDown: false,
      source: `${source} -> locate_hole`,
    });
    hole = r.mem;
    placement = r.placement;
  }
  const imageBase = hole + img.textOffset;
  kernelTooBig(img, alignUp(img.imageSize, ctx.pageSize), input.kernelName);
  addSegment(ctx, "kernel", imageBase, input.kernel, img.imageSize, placement);
  if (img.pre317)
    ctx.notes.push("image_size is 0 (kernel older than 3.17): assumed text_offset 0x80000 and 16 MiB");
  const holeMin = imageBase + img.imageSize;
  const holeMax = crashRegion ? crashRegion.end : Number.POSITIVE_INFINITY;
  return { kernelEntry: imageBase, ...otherSegments(ctx, dtb, holeMin, holeMax, crash, imageBase) };
}

/** elf_arm64_load: PT_LOADs at their physical addresses, then the other segments above them. */
export function arm64ElfKexecTools(
  ctx: Ctx,
  elf: Elf64,
  srcDtb: Fdt | undefined,
  crashRegion: Range | undefined,
  map: MemoryMap,
  iomem: Iomem | undefined,
): Arm64LoadResult {
  const dtb = requireDtb(srcDtb);
  const crash = crashSetup(ctx, map, iomem, crashRegion);
  const { end, entry } = elfSegments(
    ctx,
    elf,
    "kexec-tools kexec/arch/arm64/kexec-elf-arm64.c elf_arm64_load -> elf_exec_load",
  );
  ctx.notes.push(
    "ELF kernel: PT_LOAD segments placed at their physical addresses (p_paddr); kexec-tools' arm64 ELF relocation is not modelled",
  );
  return {
    kernelEntry: entry,
    ...otherSegments(
      ctx,
      dtb,
      end,
      crashRegion ? crashRegion.end : Number.POSITIVE_INFINITY,
      crash,
      undefined,
    ),
  };
}
