/**
 * `va-copy`: the contiguous-VA proposal (Pasha Tatashin's series v1..v11; the seed thread). At load
 * time the kernel walks the entry list once and maps, page-granular in TTBR1, the i-th source page at
 * SRC_BASE + i * PAGE_SIZE and the i-th destination page at DST_BASE + i * PAGE_SIZE (v10's bases with
 * 48-bit VA: 0xffff000000000000 and 0xffff800000000000, i.e. the bottom and the middle of the TTBR1
 * range), plus the identity map of the relocation code page in TTBR0. The relocation routine turns the
 * MMU on and runs one linear loop over (src base, dst base, length), cleans the destination to the
 * PoU, turns the MMU off and jumps. The list is not read at relocation time.
 *
 * The series' clean to the PoU is not enough where the PoU is not the PoC (every arm64 profile
 * shipped: the new kernel reads memory with the D-cache off), so `va-copy` cleans to the PoC there
 * (dc cvac) and `va-copy-series` keeps the posted dc cvau as a reference that fails verification on
 * such machines; run shows both.
 *
 * Runs of physically contiguous pages are handed to the builder as one page-granular mapping each
 * (same tables as page-by-page, fewer calls).
 */

import { TableBuilder } from "../mmu/builder.js";
import type { MapRequest } from "../mmu/types.js";
import { walkEntryList } from "./list.js";
import {
  CODE_ATTRS,
  cleanRelocationCode,
  DATA_ATTRS,
  enterInPlace,
  fetch,
  formatFor,
  installTlb,
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
  CMO_DC_CVAC,
  CMO_DC_CVAU,
  CMO_IC_IALLU,
  COPY_LINEAR_LOOP,
} from "./trace.js";

/** Maps consecutive VAs from `base` onto a stream of pages, one builder call per physically contiguous run. */
class RunMapper {
  private runVa = 0;
  private runPa = -1;
  private runLen = 0;
  constructor(
    private readonly builder: TableBuilder,
    private readonly base: number,
    private readonly pageSize: number,
  ) {}

  add(index: number, pa: number): void {
    if (this.runPa >= 0 && pa === this.runPa + this.runLen) {
      this.runLen += this.pageSize;
      return;
    }
    this.flush();
    this.runVa = this.base + index * this.pageSize;
    this.runPa = pa;
    this.runLen = this.pageSize;
  }

  flush(): void {
    if (this.runPa < 0) return;
    const req: MapRequest = { half: 1, va: this.runVa, pa: this.runPa, size: this.runLen, attrs: DATA_ATTRS };
    this.builder.map(req, { pageGranular: true });
    this.runPa = -1;
  }
}

/**
 * How va-copy cleans its destination before the MMU goes off: "series" is what v1..v11 posted (dc cvau:
 * to the PoU); "correct" cleans to the PoC (dc cvac) where the machine's PoU is not its PoC, which
 * booting.rst needs (the new kernel reads memory with the D-cache off), and keeps dc cvau where it is.
 */
export type VaCopyClean = "series" | "correct";

/** The va-copy strategy with the given cleaning rule. */
export function vaCopyStrategy(clean: VaCopyClean): RelocationStrategy {
  const series = clean === "series";
  return {
    name: series ? "va-copy-series" : "va-copy",
    description: series
      ? "the va-copy series as posted: consecutive VAs, one linear loop, destination cleaned to PoU only (dc cvau)"
      : "proposal: sources and destinations at consecutive VAs (page-granular), one linear copy loop, destination cleaned to PoC",
    arches: ["arm64"],
    phase: "after-segments",
    ...(series
      ? {
          reference:
            "the series' dc cvau cleans to the PoU only; the new kernel reads memory (the PoC) with the MMU off, so it verifies only where the PoU is the PoC",
        }
      : {}),
    prepare(ctx) {
      const { image, machine, options, coherence } = ctx;
      const ps = machine.pageSize;
      const format = formatFor(machine, options.vaBits);
      const builder = new TableBuilder(machine.mem, format, (level) => ctx.allocTable(level));
      const srcBase = 0; // 0xffff000000000000 with 48-bit VA
      const dstBase = 2 ** (options.vaBits - 1); // 0xffff800000000000 with 48-bit VA
      const srcMap = new RunMapper(builder, srcBase, ps);
      const dstMap = new RunMapper(builder, dstBase, ps);
      // dc cvau reaches the PoC only where the PoU is the PoC (CLIDR_EL1.LoUU >= LoC)
      const cleanOp = series || coherence.louu >= coherence.loc ? CMO_DC_CVAU : CMO_DC_CVAC;
      let pages = 0;
      const inPlaceImage = image.head % 8 === 4;
      let entriesRead = 0;
      if (!inPlaceImage) {
        entriesRead = walkEntryList(machine.mem, image.head, {
          source(dest, src) {
            srcMap.add(pages, src);
            dstMap.add(pages, dest);
            pages++;
          },
        });
        srcMap.flush();
        dstMap.flush();
        const code = image.controlCodePage;
        builder.map({ half: 0, va: code, pa: code, size: ps, attrs: CODE_ATTRS }, { pageGranular: true });
      }
      const translation = { format, ...builder.rootsForTlb() };
      return {
        pageTables: tableCost(builder),
        livePages: tablePagePas(builder),
        translation,
        prepareCounters: { loadTimeEntriesRead: entriesRead },
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
          if (fetch(cpu, machine, translation, 0, image.controlCodePage) < 0) return;
          // 1: copy_page dst, src; sub length, PAGE_SIZE; cbnz 1b
          for (let i = 0; i < pages; i++) {
            const src = cpu.translate(1, srcBase + i * ps);
            if (src < 0) return;
            const dst = cpu.translate(1, dstBase + i * ps);
            if (dst < 0) return;
            cpu.copyPage(dst, src, COPY_LINEAR_LOOP);
            if (cpu.halted) return;
          }
          // clean the destination (dc cvau or dc cvac over [dst base, dst base + length))
          for (let i = 0; i < pages; i++) {
            const dst = cpu.translate(1, dstBase + i * ps);
            if (dst < 0) return;
            cpu.cmo(dst, ps, cleanOp, true, false);
          }
          cpu.barrier(BARRIER_DSB);
          cpu.cmo(0, 0, CMO_IC_IALLU, false, false);
          cpu.barrier(BARRIER_ISB);
          cpu.barrier(BARRIER_MMU_OFF);
        },
      };
    },
  };
}

/** va-copy with what correctness needs on the machine (clean to PoC where the PoU is not the PoC). */
export const vaCopy: RelocationStrategy = vaCopyStrategy("correct");

/** va-copy exactly as the series posted it (clean to PoU only): a reference, not a correct strategy everywhere. */
export const vaCopySeries: RelocationStrategy = vaCopyStrategy("series");
