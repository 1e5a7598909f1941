/**
 * `linear-map-copy`: arm64 since Linux 5.16 (arch/arm64/mm/trans_pgd.c, machine_kexec_post_load).
 * After the segments are loaded, the kernel copies its linear map [PAGE_OFFSET, PAGE_END) into
 * tables allocated from control pages (same shape as the live one: blocks stay blocks; with
 * rodata=full, debug_pagealloc or kfence the live map is page-granular and every PTE table is copied),
 * and builds a one-page identity map of the relocation code in TTBR0. The relocation routine then runs
 * with the MMU on: it walks the entry list through the linear map (va = pa - memstart + PAGE_OFFSET),
 * copies each page, and cleans+invalidates the destination page to the PoC line by line (dc civac);
 * then invalidates the I-cache, turns the MMU off and jumps.
 *
 * Modeling choices: the live linear map covers every RAM range of the memory map (reserved
 * carve-outs included, as memblock maps them), with the contiguous hint in block mode; memstart is
 * the first RAM address rounded down to ARM64_MEMSTART_ALIGN (see memstartOf).
 */

import { TableBuilder } from "../mmu/builder.js";
import { relocateList } from "./cpu.js";
import {
  CODE_ATTRS,
  cleanRelocationCode,
  DATA_ATTRS,
  enterInPlace,
  fetch,
  formatFor,
  installTlb,
  maxEntriesOf,
  memstartOf,
  tableCost,
  tablePagePas,
} from "./mmu-common.js";
import type { RelocationStrategy } from "./strategy.js";
import {
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  BARRIER_TLBI,
  CMO_DC_CIVAC,
  CMO_IC_IALLU,
} from "./trace.js";

export const linearMapCopy: RelocationStrategy = {
  name: "linear-map-copy",
  description:
    "arm64 >= 5.16: copy of the linear map + idmap of the code page, walk the list with the MMU on",
  arches: ["arm64"],
  phase: "after-segments",
  prepare(ctx) {
    const { image, machine, options } = ctx;
    const format = formatFor(machine, options.vaBits);
    const builder = new TableBuilder(machine.mem, format, (level) => ctx.allocTable(level));
    const memstart = memstartOf(machine);
    const pageGranular = options.linearMap === "page";
    const maxBlockBytes = pageGranular ? 0 : options.linearMapBlock;
    const inPlaceImage = image.head % 8 === 4; // head & IND_DONE: nothing to relocate, no tables
    if (!inPlaceImage) {
      // trans_pgd_create_copy: the linear map, level by level
      for (const r of machine.mem.ram.ranges) {
        builder.map(
          { half: 1, va: r.start - memstart, pa: r.start, size: r.end - r.start, attrs: DATA_ATTRS },
          // the contiguous hint only with the largest blocks (a limited map models one without it)
          { pageGranular, contiguous: !pageGranular && maxBlockBytes === 0, maxBlockBytes },
        );
      }
      // trans_pgd_idmap_page: the relocation code page, identity mapped in TTBR0
      const code = image.controlCodePage;
      builder.map(
        { half: 0, va: code, pa: code, size: machine.pageSize, attrs: CODE_ATTRS },
        { pageGranular: true },
      );
    }
    const translation = { format, ...builder.rootsForTlb() };
    return {
      pageTables: tableCost(builder),
      livePages: tablePagePas(builder),
      translation,
      execute(cpu) {
        if (inPlaceImage) {
          enterInPlace(cpu, image);
          return;
        }
        cleanRelocationCode(cpu, image.controlCodePage);
        installTlb(cpu, format, builder);
        cpu.barrier(BARRIER_TLBI);
        cpu.barrier(BARRIER_ISB);
        cpu.barrier(BARRIER_MMU_ON);
        // the CPU fetches the relocation routine through the identity map
        if (fetch(cpu, machine, translation, 0, image.controlCodePage) < 0) return;
        relocateList(cpu, {
          head: image.head,
          mmuOn: true,
          half: 1,
          vaOffset: -memstart,
          copyFlags: 0,
          cmoBefore: 0,
          cmoAfter: CMO_DC_CIVAC,
          swapPage: -1,
          maxEntries: maxEntriesOf(image),
        });
        cpu.barrier(BARRIER_DSB);
        cpu.cmo(0, 0, CMO_IC_IALLU, false, false);
        cpu.barrier(BARRIER_ISB);
        cpu.barrier(BARRIER_MMU_OFF);
      },
    };
  },
};
