/**
 * Pieces both loaders use: the DTB requirement and size limit, the Image size check, ELF PT_LOAD
 * segments at their physical addresses.
 */

import { KexecLabError } from "../errors.js";
import type { Arm64Image } from "../formats/arm64-image.js";
import { hex } from "../formats/bytes.js";
import type { Elf64 } from "../formats/elf.js";
import { type Fdt, serializeFdt } from "../formats/fdt.js";
import { formatBytes } from "../report/format.js";
import { addSegment, alignDown, alignUp, type Ctx, describeRange, fixedPlacement, MiB } from "./context.js";
import type { PlannedSegment } from "./types.js";

export function kernelTooBig(img: Arm64Image, memsz: number, name: string | undefined): void {
  if (img.fileSize > memsz) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the Image file (${img.fileSize} bytes) is larger than its image_size rounded to pages (${memsz}): bufsz > memsz`,
      { ...(name !== undefined ? { file: name } : {}), offset: 0x10, field: "image_size" },
    );
  }
}

export function requireDtb(dtb: Fdt | undefined): Fdt {
  if (!dtb) {
    throw new KexecLabError(
      "E_USAGE",
      "arm64 needs --dtb (kexec-tools reads /sys/firmware/fdt of the running kernel: pass a copy of it)",
      { field: "dtb" },
    );
  }
  return dtb;
}

/** The DTB bytes (padded to `padTo` when the loader keeps the file's totalsize), at most 2 MiB (booting.rst). */
export function dtbSegment(fdt: Fdt, padTo: number, name: string | undefined): Uint8Array {
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

/** PT_LOAD segments at their physical addresses (page-aligned), each checked against free memory. */
export function elfSegments(
  ctx: Ctx,
  elf: Elf64,
  source: string,
): { end: number; entry: number; segments: PlannedSegment[] } {
  if (elf.loads.length === 0)
    throw new KexecLabError("E_FORMAT_CORRUPT", "the ELF file has no PT_LOAD segment", { field: "phdr" });
  let end = 0;
  // The kernel entry in physical terms: e_entry translated through the PT_LOAD that holds it
  // (e_entry itself when it is already physical).
  let entry = elf.entry < 2n ** 53n ? Number(elf.entry) : -1;
  const segments: PlannedSegment[] = [];
  elf.loads.forEach((l, i) => {
    const mem = alignDown(l.paddr, ctx.pageSize);
    const memEnd = alignUp(l.paddr + l.memsz, ctx.pageSize);
    const label = `kernel[${i}]`;
    const free = ctx.placer.largest(mem, memEnd, ctx.segments);
    if (!free || free.start !== mem || free.end !== memEnd) {
      throw new KexecLabError(
        "E_NO_HOLE",
        `${label}: PT_LOAD at physical ${hex(l.paddr)}, ${formatBytes(l.memsz)}, is not inside free RAM (or overlaps another segment); the largest free range is ${describeRange(ctx.placer.largest(0, Number.POSITIVE_INFINITY, ctx.segments))}`,
        { field: label },
      );
    }
    const data = new Uint8Array(l.paddr - mem + l.filesz);
    data.set(ctx.input.kernel.subarray(l.offset, l.offset + l.filesz), l.paddr - mem);
    segments.push(
      addSegment(
        ctx,
        label,
        mem,
        data,
        memEnd - mem,
        fixedPlacement(ctx, source, mem, memEnd - mem, "p_paddr of the PT_LOAD"),
      ),
    );
    if (elf.entry >= l.vaddr && elf.entry < l.vaddr + BigInt(l.memsz))
      entry = l.paddr + Number(elf.entry - l.vaddr);
    end = Math.max(end, memEnd);
  });
  if (entry < 0) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `e_entry 0x${elf.entry.toString(16)} lies in no PT_LOAD segment`,
      {
        field: "e_entry",
      },
    );
  }
  return { end, entry, segments };
}
