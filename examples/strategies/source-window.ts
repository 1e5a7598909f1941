/**
 * An example user strategy, in one file: `source-window`.
 *
 * Idea: the va-copy proposal maps both sources and destinations page-granular, doubling the last
 * level. Destinations are already contiguous per segment, so map only the sources at consecutive VAs
 * (page-granular, TTBR1 from the bottom of the range) and reach the destinations through a
 * block-mapped copy of the linear map (TTBR1, va = pa - memstart + PAGE_OFFSET, placed in the upper
 * half of the TTBR1 range so the two never overlap). The relocation code then runs one linear loop per
 * segment - no entry list at relocation time - and cleans+invalidates each destination page to PoC.
 * Expected table cost: about relocated size / 512 plus a few pages.
 *
 * Run it:
 *   npx tsx src/cli/main.ts run --load-strategy examples/strategies/source-window.ts --strategy source-window,va-copy
 * or from code:
 *   registerStrategy(sourceWindow); runScenario(scenario, { strategies: ["source-window"] });
 */

import { TableBuilder } from "../../src/mmu/builder.js";
import { walkEntryList } from "../../src/reloc/list.js";
import {
  CODE_ATTRS,
  cleanRelocationCode,
  DATA_ATTRS,
  formatFor,
  installTlb,
  memstartOf,
  tableCost,
  tablePagePas,
} from "../../src/reloc/mmu-common.js";
import type { RelocationStrategy } from "../../src/reloc/strategy.js";
import {
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  CMO_DC_CIVAC,
  CMO_IC_IALLU,
  COPY_LINEAR_LOOP,
} from "../../src/reloc/trace.js";

export const sourceWindow: RelocationStrategy = {
  name: "source-window",
  description: "example: sources at consecutive VAs (page-granular), destinations through a block linear map",
  arches: ["arm64"],
  phase: "after-segments",
  prepare(ctx) {
    const { image, machine, options } = ctx;
    const ps = machine.pageSize;
    const format = formatFor(machine, options.vaBits);
    // 1. Every table page from the kimage's control pages (never in a destination).
    const builder = new TableBuilder(machine.mem, format, (level) => ctx.allocTable(level));
    const linearBase = 2 ** (options.vaBits - 1); // upper half of the TTBR1 range
    const memstart = memstartOf(machine);

    // 2. The source window: walk the list once, map source i at VA i * PAGE_SIZE (runs coalesced).
    let pages = 0;
    let runVa = 0;
    let runPa = -1;
    let runLen = 0;
    const flush = () => {
      if (runPa >= 0) {
        builder.map(
          { half: 1, va: runVa, pa: runPa, size: runLen, attrs: DATA_ATTRS },
          { pageGranular: true },
        );
      }
    };
    walkEntryList(machine.mem, image.head, {
      source(_dest, src) {
        if (runPa >= 0 && src === runPa + runLen) runLen += ps;
        else {
          flush();
          runVa = pages * ps;
          runPa = src;
          runLen = ps;
        }
        pages++;
      },
    });
    flush();

    // 3. The destinations through a block-mapped linear map of RAM; the code page identity-mapped.
    for (const r of machine.mem.ram.ranges) {
      builder.map({
        half: 1,
        va: linearBase + r.start - memstart,
        pa: r.start,
        size: r.end - r.start,
        attrs: DATA_ATTRS,
      });
    }
    const code = image.controlCodePage;
    builder.map({ half: 0, va: code, pa: code, size: ps, attrs: CODE_ATTRS }, { pageGranular: true });

    return {
      pageTables: tableCost(builder),
      livePages: tablePagePas(builder),
      translation: { format, ...builder.rootsForTlb() },
      prepareCounters: { loadTimeEntriesRead: pages },
      // 4. What the CPU does at kexec time: every access through the TLB.
      execute(cpu) {
        // the relocation code in the control page: cleaned to PoC, I-cache invalidated over it
        cleanRelocationCode(cpu, code);
        installTlb(cpu, format, builder);
        cpu.barrier(BARRIER_MMU_ON);
        const codePa = cpu.translate(0, code);
        if (codePa < 0) return;
        cpu.fetchCode(codePa);
        let i = 0;
        for (const seg of image.segments) {
          for (let off = 0; off < seg.memsz; off += ps, i++) {
            const src = cpu.translate(1, i * ps);
            if (src < 0) return;
            const dst = cpu.translate(1, linearBase + seg.mem + off - memstart);
            if (dst < 0) return;
            cpu.copyPage(dst, src, COPY_LINEAR_LOOP);
            // the new kernel reads memory with the MMU and D-cache off: clean to PoC
            cpu.cmo(dst, ps, CMO_DC_CIVAC);
            if (cpu.halted) return;
          }
        }
        // no stale instructions for the new image, then MMU and caches off and the jump
        cpu.barrier(BARRIER_DSB);
        cpu.cmo(0, 0, CMO_IC_IALLU);
        cpu.barrier(BARRIER_ISB);
        cpu.barrier(BARRIER_MMU_OFF);
      },
    };
  },
};

export default sourceWindow;
