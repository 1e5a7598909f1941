/**
 * CMA-first placement for kexec_file_load, kernel 6.17+ (commit 07d24902977e "kexec: enable CMA based
 * contiguous allocation", kernel/kexec_file.c kexec_alloc_contig):
 *
 * - after KHO and before the memory walk, kexec_locate_mem_hole tries kexec_alloc_contig: unless the
 *   load is a crash load or user space passed KEXEC_FILE_NO_CMA (0x10), it asks
 *   dma_alloc_from_contiguous(NULL, memsz >> PAGE_SHIFT, get_order(buf_align)) for pages from the
 *   default CMA area. buf_min, buf_max and top_down are NOT consulted;
 * - dma_alloc_from_contiguous caps the order at CONFIG_CMA_ALIGNMENT (8 by default: 1 MiB with 4 KiB
 *   pages), and cma_alloc takes the lowest free run of pages whose first pfn is aligned to 2^order;
 * - if the run overlaps a segment already placed (kimage_is_destination_range(mem, mem + memsz)),
 *   the pages are released (-EBUSY) and the normal walk places the buffer;
 * - a segment from CMA is written straight to its destination at load time (kimage_load_cma_segment),
 *   so nothing is copied at reboot; when every segment came from CMA the purgatory's checksum is
 *   skipped too (kexec_calculate_store_digests).
 * The CMA area's other users are unknown here: the area is taken as free. Derived from source; no
 * recording is possible here.
 */

import type { Range } from "../../machine/ranges.js";

export const KEXEC_FILE_NO_CMA = 0x10;
/** CONFIG_CMA_ALIGNMENT default (an order). */
export const CONFIG_CMA_ALIGNMENT = 8;

/** get_order(size): the smallest order with PAGE_SIZE << order >= size. */
export function getOrder(size: number, pageSize: number): number {
  let order = 0;
  while (pageSize * 2 ** order < size) order++;
  return order;
}

/**
 * kexec_alloc_contig on the default CMA area: the address, or why not (the caller then walks memory).
 * `allocated` are the runs this load already took from the area.
 */
export function kexecAllocContig(
  area: Range,
  allocated: readonly Range[],
  placed: readonly { mem: number; memsz: number }[],
  memsz: number,
  bufAlign: number,
  pageSize: number,
): { mem: number } | { reason: string } {
  const order = Math.min(getOrder(bufAlign, pageSize), CONFIG_CMA_ALIGNMENT);
  const align = pageSize * 2 ** order;
  let start = Math.ceil(area.start / align) * align;
  for (;;) {
    if (start + memsz > area.end) {
      return {
        reason: `CMA: no free run of 0x${memsz.toString(16)} bytes aligned to 0x${align.toString(16)} in the CMA area (-ENOMEM)`,
      };
    }
    const hit = allocated.find((r) => r.start < start + memsz && start < r.end);
    if (!hit) break;
    start = Math.ceil(hit.end / align) * align;
  }
  // kimage_is_destination_range(image, mem, mem + memsz): inclusive ends, so one byte more.
  const end = start + memsz;
  if (placed.some((s) => s.mem + s.memsz - 1 >= start && s.mem <= end)) {
    return { reason: `CMA: the run at 0x${start.toString(16)} overlaps a segment already placed (-EBUSY)` };
  }
  return { mem: start };
}
