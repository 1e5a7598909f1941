/**
 * `mmu-off`: arm64 up to Linux 5.15 (arch/arm64/kernel/relocate_kernel.S before the trans_pgd
 * series). At kexec time the kernel cleans the entry list, the indirection pages, the source pages
 * and the destination segments to the PoC (kexec_list_flush, kexec_segment_flush), cleans the
 * relocation code it copied into the control page, then turns the MMU and D-cache off. The relocation
 * routine walks the list with every access uncached (Device-nGnRnE-like, straight to DRAM); before
 * each page copy it invalidates the destination page to the PoC (dc ivac, line by line) so no stale
 * line can later be written back over the new data. No page tables at all.
 */

import { IND_INDIRECTION, IND_SOURCE } from "../kimage/constants.js";
import type { Kimage } from "../kimage/kimage.js";
import { type RelocCpu, relocateList } from "./cpu.js";
import { noTables, type RelocationStrategy } from "./strategy.js";
import {
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  CMO_DC_CIVAC,
  CMO_DC_IVAC,
  CMO_IC_IALLU,
  COPY_UNCACHED,
} from "./trace.js";

const TWO_32 = 4294967296;

/** kexec_list_flush + kexec_segment_flush: clean+invalidate to PoC what the MMU-off code will read. */
export function flushBeforeMmuOff(cpu: RelocCpu, image: Kimage): number {
  const ps = cpu.pageSize;
  let entriesRead = 0;
  let entry = image.head;
  let ptr = -1;
  const mem = image.mem;
  // The kernel walks the list with the MMU on here (for_each_kimage_entry); these reads are not part
  // of the relocation loop and are counted separately.
  for (let low = entry % TWO_32; (low & 4) === 0 && entry > 0; low = entry % TWO_32) {
    const addr = entry - (low % ps);
    if ((low & IND_INDIRECTION) !== 0) {
      ptr = addr;
      cpu.cmo(addr, ps, CMO_DC_CIVAC, true, true);
    } else if ((low & IND_SOURCE) !== 0) {
      cpu.cmo(addr, ps, CMO_DC_CIVAC, true, true);
    }
    if (ptr < 0) break;
    entry = mem.read64(ptr);
    ptr += 8;
    entriesRead++;
    if (entry < 0) break;
  }
  for (const s of image.segments) cpu.cmo(s.mem, s.memsz, CMO_DC_CIVAC, true, true);
  return entriesRead;
}

export const mmuOff: RelocationStrategy = {
  name: "mmu-off",
  description: "arm64 <= 5.15: walk the list with the MMU and caches off, every access uncached",
  arches: ["arm64"],
  phase: "after-segments",
  prepare(ctx) {
    const image = ctx.image;
    return {
      pageTables: noTables(),
      livePages: [],
      execute(cpu) {
        const flushed = flushBeforeMmuOff(cpu, image);
        cpu.counters.flushEntriesRead = flushed;
        // the relocation code in the control page is cleaned to PoC too
        cpu.cmo(image.controlCodePage, cpu.pageSize, CMO_DC_CIVAC, true, true);
        cpu.barrier(BARRIER_DSB);
        cpu.barrier(BARRIER_MMU_OFF);
        cpu.barrier(BARRIER_ISB);
        // arm64_relocate_new_kernel runs from the control page with SCTLR.M/C/I clear: fetched from the PoC
        cpu.fetchCode(image.controlCodePage);
        relocateList(cpu, {
          head: image.head,
          mmuOn: false,
          half: 0,
          vaOffset: 0,
          copyFlags: COPY_UNCACHED,
          cmoBefore: CMO_DC_IVAC,
          cmoAfter: 0,
          swapPage: -1,
          maxEntries: 2 * (image.counters.entries + image.counters.indirectionPages) + 64,
        });
        cpu.barrier(BARRIER_DSB);
        cpu.cmo(0, 0, CMO_IC_IALLU, false, false);
        cpu.barrier(BARRIER_ISB);
      },
    };
  },
};
