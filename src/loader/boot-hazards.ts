/**
 * What the loaded kernel itself writes before it reads its other segments, checked against where the
 * load put them. The kernel accepts such a load (kexec_file_load returns 0) and the new kernel boots,
 * then finds its initramfs damaged: a load kexec-lab flags instead of calling it fine.
 *
 * x86 bzImage (arch/x86/boot/compressed/head_64.S, startup_32/startup_64 with CONFIG_RELOCATABLE): the
 * decompressor rounds its load address UP to boot_params.hdr.kernel_alignment and takes
 * [aligned, aligned + init_size) as its buffer; it first copies the compressed kernel to the END of that
 * buffer (so decompression in place is safe), then decompresses. A loader that puts the kernel segment
 * [mem, mem + init_size) at an address that is not a multiple of kernel_alignment gives the decompressor
 * up to kernel_alignment - 1 bytes past the segment's end, and whatever segment starts there is
 * overwritten by the copy of the compressed kernel.
 *
 * kexec-tools' locate_hole and the kernel's kexec_locate_mem_hole honour the alignment; kernel 6.17+'s
 * CMA placement (kernel/kexec_file.c kexec_alloc_contig) does not always: dma_alloc_from_contiguous caps
 * the order at CONFIG_CMA_ALIGNMENT (8: 1 MiB with 4 KiB pages) while the x86 kernel asks for 2 MiB.
 * Recorded: Debian 7.3 on a 2 GiB q35 guest with cma=256M and a 40 MiB initrd put the kernel at
 * 0x6c500000 and the initrd right after it at 0x70139000; the loaded kernel printed "Initramfs unpacking
 * failed: invalid magic at start of compressed archive" (test/fixtures/recordings/
 * x86_64-q35-2g-linux-7.3-cma256m-initrd40m-kexec_file_load). The same load on 8 GiB got a 2 MiB-aligned
 * kernel (0x111a00000) and booted.
 */

import { hex } from "../formats/bytes.js";
import type { BootHazard, PlannedSegment } from "./types.js";

export type { BootHazard } from "./types.js";

const SOURCE =
  "arch/x86/boot/compressed/head_64.S (startup_64: load address aligned up to kernel_alignment, buffer of init_size)";

/**
 * The x86 bzImage decompressor's buffer against the other segments. `kernel` is the kernel segment,
 * `kernelAlignment` and `initSize` the bzImage header's fields. Returns one hazard per overlapped segment.
 */
export function x86DecompressorHazards(
  segments: readonly PlannedSegment[],
  kernel: PlannedSegment,
  kernelAlignment: number,
  initSize: number,
): BootHazard[] {
  if (kernelAlignment <= 0) return [];
  const aligned = Math.ceil(kernel.mem / kernelAlignment) * kernelAlignment;
  if (aligned === kernel.mem) return [];
  const bufEnd = aligned + initSize;
  const out: BootHazard[] = [];
  for (const s of segments) {
    if (s === kernel) continue;
    const start = Math.max(s.mem, kernel.mem);
    const end = Math.min(s.mem + s.memsz, bufEnd);
    if (start >= end) continue;
    out.push({
      segment: s.label,
      start,
      end,
      mechanism: `the kernel segment starts at ${hex(kernel.mem)}, not a multiple of its kernel_alignment ${hex(kernelAlignment)}; the new kernel's decompressor rounds up to ${hex(aligned)} and uses init_size ${hex(initSize)} from there, so it writes up to ${hex(bufEnd)}, ${hex(bufEnd - (kernel.mem + kernel.memsz))} bytes past the segment, over ${s.label} [${hex(start)}, ${hex(end)}) before that is read`,
      source: SOURCE,
    });
  }
  return out;
}

/**
 * The decompressor check of a placed bzImage load (both syscalls): the kernel segment against the
 * others, with the bzImage header's kernel_alignment and init_size. No kernel segment: no hazard.
 */
export function bzImageHazards(
  segments: readonly PlannedSegment[],
  bz: { kernelAlignment: number; initSize: number },
): BootHazard[] {
  const kernel = segments.find((s) => s.label === "kernel");
  return kernel ? x86DecompressorHazards(segments, kernel, bz.kernelAlignment, bz.initSize) : [];
}
