/**
 * Kexec HandOver (KHO) for kexec_file_load, kernel 6.16+ with kho=on (kernel/kexec_handover.c):
 *
 * - kexec_locate_mem_hole asks kho_locate_mem_hole first: while KHO is enabled and the load is not a
 *   crash load, every buffer must fit in a KHO scratch area (all other memory may be handed over).
 *   kho_walk_scratch calls locate_mem_hole_callback on each scratch area in index order, so the
 *   per-buffer top-down / bottom-up rule applies inside an area; when none fits the result is
 *   -EADDRNOTAVAIL and the RAM walk and CMA are never tried;
 * - kho_fill_kimage, run by kimage_file_prepare_segments before the image loader, adds the scratch
 *   table: kho_scratch_cnt x sizeof(struct kho_scratch) (16 bytes: addr, size; an empty area counts),
 *   SZ_64K aligned, top-down. The KHO FDT is passed by its physical address (image->kho.fdt), not as a
 *   segment; on arm64 drivers/of/kexec.c kho_add_chosen writes /chosen linux,kho-fdt and
 *   linux,kho-scratch (arm64.ts).
 * Source: kernel/liveupdate/kexec_handover.c (7.x; kernel/kexec_handover.c before) kho_fill_kimage,
 * kho_walk_scratch, kho_locate_mem_hole; kernel/kexec_file.c kexec_locate_mem_hole. Recorded on arm64 with
 * a custom 7.3.4 kernel (test/fixtures/recordings/arm64-virt-4g-linux-7.3-custom-kho*): every segment's
 * mem, memsz and bufsz reproduce. The 6.16-era rule (no scratch table before debugfs kho/out/finalize)
 * is not modelled.
 */

import type { Range } from "../../machine/ranges.js";
import { addBuffer, type Ctx, KiB } from "../context.js";

/** sizeof(struct kho_scratch): phys_addr_t addr, phys_addr_t size. */
export const KHO_SCRATCH_ENTRY_SIZE = 16;

/** What drivers/of/kexec.c kho_add_chosen writes into the next kernel's /chosen (arm64). */
export interface KhoChosen {
  /** linux,kho-fdt: the KHO FDT page kho_init allocated at boot (its address is not visible: 0 here), PAGE_SIZE. */
  fdt: { start: number; size: number };
  /** linux,kho-scratch: the scratch table segment's mem and bufsz. */
  scratch: { start: number; size: number };
}

/**
 * kho_fill_kimage: the scratch table as the first segment (bufsz 16 x areas, memsz a page). Returns what
 * kho_add_chosen then puts in the DTB.
 */
export function addKhoScratchTable(ctx: Ctx, scratch: readonly Range[]): KhoChosen {
  const table = new Uint8Array(scratch.length * KHO_SCRATCH_ENTRY_SIZE);
  const v = new DataView(table.buffer);
  scratch.forEach((r, i) => {
    v.setBigUint64(i * 16, BigInt(r.start), true);
    v.setBigUint64(i * 16 + 8, BigInt(r.end - r.start), true);
  });
  addBuffer(ctx, "kho-scratch", table, table.length, {
    align: 64 * KiB,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: "kernel kernel/kexec_handover.c kho_fill_kimage -> kexec_add_buffer -> kexec_locate_mem_hole",
  });
  ctx.notes.push(
    `KHO (kho=on): every segment lies in the ${scratch.length} KHO scratch area(s); the scratch table is a segment, the KHO FDT is passed by address`,
  );
  if (ctx.input.khoScratchFrom !== undefined) ctx.notes.push(ctx.input.khoScratchFrom);
  const at = ctx.segments[ctx.segments.length - 1]!.mem;
  return { fdt: { start: 0, size: ctx.pageSize }, scratch: { start: at, size: table.length } };
}
