/**
 * The kernel's arm64 kexec_file_load placement (arch/arm64/kernel/kexec_image.c image_load,
 * arch/arm64/kernel/machine_kexec_file.c load_other_segments, drivers/of/kexec.c
 * of_kexec_alloc_and_setup_fdt), each buffer through kexec_add_buffer -> kexec_locate_mem_hole ->
 * kexec_walk_memblock (CONFIG_ARCH_KEEP_MEMBLOCK): free memblock ranges, ascending for bottom-up
 * buffers and descending for top-down ones; crash loads use the crash kernel region as the one range.
 *
 *   kernel      memsz image_size + text_offset, MIN_KIMG_ALIGN 2 MiB, bottom-up; the segment then
 *               starts at text_offset (mem += text_offset, memsz -= text_offset)
 *   elfcorehdr  crash only: buf_min = kernel end, align SZ_64K, top-down (so 64 KiB below the top
 *               of the crash region); size 64 + 56 x (possible CPUs + vmcoreinfo + kernel text +
 *               memblock memory ranges with crashk_res and crashk_low_res cut out), rounded to 4 KiB;
 *               the DTB's linux,usable-memory-range is crashk_res, then crashk_low_res (from source:
 *               prepare_elf_headers, of_kexec_alloc_and_setup_fdt; the low part not yet recorded)
 *   initrd      page-aligned, bottom-up, buf_min = kernel end,
 *               buf_max = round_down(kernel, 1 GiB) + 32 GiB (else EADDRNOTAVAIL)
 *   dtb         the running kernel's FDT edited, packed; align SZ_2M (never crosses 2 MiB), top-down
 * No purgatory; the kexec entry is the kernel. Segments keep load order.
 */

import { KexecLabError } from "../../errors.js";
import type { Arm64Image } from "../../formats/arm64-image.js";
import { hex } from "../../formats/bytes.js";
import type { Fdt } from "../../formats/fdt.js";
import type { Range } from "../../machine/ranges.js";
import { formatBytes } from "../../report/format.js";
import { dtbSegment, kernelTooBig, requireDtb } from "../common.js";
import { addBuffer, addSegment, alignDown, alignUp, type Ctx, GiB, KiB, MiB, place } from "../context.js";
import { editDtbKexecFile } from "../dtb-edit.js";
import type { KhoChosen } from "./kho.js";

const IMG = "kernel arch/arm64/kernel/kexec_image.c image_load -> kexec_add_buffer -> kexec_locate_mem_hole";
const OTHER =
  "kernel arch/arm64/kernel/machine_kexec_file.c load_other_segments -> kexec_add_buffer -> kexec_locate_mem_hole";

export function arm64KernelElfcorehdrSize(cpus: number, memRanges: number): number {
  return alignUp(64 + 56 * (cpus + 1 + memRanges + 1), 4096);
}

export function arm64ImageKexecFile(
  ctx: Ctx,
  img: Arm64Image,
  srcDtb: Fdt | undefined,
  crash: { region: Range; memRanges: number; low?: Range } | undefined,
  kho?: KhoChosen,
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
  const memszWithText = alignUp(img.imageSize + img.textOffset, ctx.pageSize);
  const k = place(ctx, "kernel", {
    size: memszWithText,
    align: 2 * MiB,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
    source: IMG,
  });
  const kernelMem = k.mem + img.textOffset;
  kernelTooBig(img, memszWithText - img.textOffset, input.kernelName);
  addSegment(ctx, "kernel", kernelMem, input.kernel, memszWithText - img.textOffset, k.placement);
  // load_other_segments: kbuf.buf_min = kernel_load_addr + kernel_size, where kernel_size is the
  // page-rounded image_size + text_offset of the kernel's kbuf.
  const bufMin = kernelMem + memszWithText;
  let crashDt:
    | {
        elfcorehdr: { start: number; size: number };
        usable: { start: number; size: number };
        moreUsable?: { start: number; size: number }[];
      }
    | undefined;
  if (crash) {
    const size = arm64KernelElfcorehdrSize(input.cpus ?? 1, crash.memRanges);
    const at = addBuffer(ctx, "elfcorehdr", new Uint8Array(size), size, {
      align: 64 * KiB,
      min: bufMin,
      max: Number.POSITIVE_INFINITY,
      topDown: true,
      source: `${OTHER} (crash: prepare_elf_headers, SZ_64K)`,
    });
    // of_kexec_alloc_and_setup_fdt: linux,usable-memory-range is crashk_res, then crashk_low_res when reserved
    crashDt = {
      elfcorehdr: { start: at, size },
      usable: { start: crash.region.start, size: crash.region.end - crash.region.start },
      ...(crash.low !== undefined
        ? { moreUsable: [{ start: crash.low.start, size: crash.low.end - crash.low.start }] }
        : {}),
    };
    ctx.notes.push(
      `elfcorehdr: ${hex(size)} bytes = 64 + 56 x (${input.cpus ?? 1} CPUs + vmcoreinfo + kernel text + ${crash.memRanges} memory ranges), rounded to 4 KiB (--cpus sets the possible CPUs)`,
    );
  }
  let initrd: { start: number; end: number } | undefined;
  if (input.initrd && input.initrd.length > 0) {
    const windowEnd = alignDown(kernelMem, GiB) + 32 * GiB;
    const req = {
      size: alignUp(input.initrd.length, ctx.pageSize),
      align: ctx.pageSize,
      min: bufMin,
      max: windowEnd,
      topDown: false,
      source: OTHER,
    };
    const found = ctx.placer.find(req, ctx.segments, ctx.pageSize);
    if (found.mem === undefined) {
      const beyond = ctx.placer.find({ ...req, max: Number.POSITIVE_INFINITY }, ctx.segments, ctx.pageSize);
      if (beyond.mem !== undefined) {
        throw new KexecLabError(
          "E_INITRD_WINDOW",
          `kexec_file_load: the initrd (${formatBytes(input.initrd.length)}) fits only at ${hex(beyond.mem)}, beyond round_down(kernel ${hex(kernelMem)}, 1 GiB) + 32 GiB = ${hex(windowEnd)}; the kernel returns EADDRNOTAVAIL`,
          { field: "initrd" },
        );
      }
    }
    const r = place(ctx, "initrd", req);
    addSegment(ctx, "initrd", r.mem, input.initrd, input.initrd.length, r.placement);
    initrd = { start: r.mem, end: r.mem + input.initrd.length };
  }
  const edited = editDtbKexecFile(dtb, {
    ...(input.append !== undefined ? { cmdline: input.append } : {}),
    ...(initrd ? { initrd } : {}),
    seed: input.seed ?? 0,
    ...(input.crngReady === false ? { rngReady: false } : {}),
    ...(crashDt ? { crash: crashDt } : {}),
    ...(kho && !crash ? { kho } : {}),
  });
  ctx.notes.push(...edited.notes);
  if (kho && !crash)
    ctx.notes.push(
      "KHO: /chosen gets linux,kho-fdt and linux,kho-scratch (kho_add_chosen); the KHO FDT's address (kho_out.fdt, allocated at boot) is not visible from user space: written as 0, its size is right",
    );
  const dtbBytes = dtbSegment(edited.fdt, 0, input.dtbName);
  const dtbBase = addBuffer(ctx, "dtb", dtbBytes, dtbBytes.length, {
    align: 2 * MiB,
    min: bufMin,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${OTHER} (SZ_2M: not across a 2 MiB boundary)`,
  });
  return {
    entry: kernelMem,
    kernelEntry: kernelMem,
    dtbAddress: dtbBase,
    ...(initrd ? { initrd } : {}),
    patchedDtb: dtbBytes,
  };
}
