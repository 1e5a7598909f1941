/**
 * `x86-ident`: x86_64 (arch/x86/kernel/machine_kexec_64.c, relocate_kernel_64.S). init_pgtable runs
 * in machine_kexec_prepare, before the segments are loaded, with table pages from control pages: an
 * identity map (VA == PA) of every RAM range and every segment, 2M pages (1G pages where a whole GiB
 * is covered and gbpages is on), plus the transition mapping of the control page at the VA of
 * relocate_kernel in the running kernel's text (a single 4K page). swap_pages then walks the entry
 * list with paging on (identity): since Linux 6.14 one copy per page; before, unless preserve_context
 * was dropped, every page went through the swap page (source -> swap, destination -> source,
 * swap -> destination: 3 copies), which `--x86-swap` selects.
 *
 * The identity map is executable (__PAGE_KERNEL_LARGE_EXEC): relocate_kernel runs from its
 * identity-mapped copy, and the simulated CPU checks that fetch (QEMU found an NX map faulting).
 *
 * Modeling choices: every RAM range of the memory map and every segment, each rounded out to 2 MiB,
 * merged; no EFI/ACPI/UART extras (the memory maps used carry none outside RAM). The transition VA is
 * 0xffffffff81000000 (the conventional start of kernel text) plus the control page's offset in its 2M.
 */

import { RangeSet } from "../machine/ranges.js";
import { TableBuilder } from "../mmu/builder.js";
import { relocateList } from "./cpu.js";
import {
  CODE_ATTRS,
  fetch,
  formatFor,
  IDENT_ATTRS,
  installTlb,
  maxEntriesOf,
  tableCost,
  tablePagePas,
} from "./mmu-common.js";
import type { RelocationStrategy } from "./strategy.js";
import { BARRIER_TLBI } from "./trace.js";

const MiB2 = 2 * 1024 * 1024;
/** 0xffffffff81000000 as a 48-bit upper-half VA offset (full VA = 0xffff000000000000 + this). */
const KERNEL_TEXT_VA48 = 0xffff81000000;

export const x86Ident: RelocationStrategy = {
  name: "x86-ident",
  description: "x86_64: identity map (2M/1G pages) of RAM and segments, walk the list with paging on",
  arches: ["x86_64"],
  phase: "before-segments",
  prepare(ctx) {
    const { image, machine, options } = ctx;
    const format = formatFor(machine, options.vaBits === 57 ? 57 : 48);
    const builder = new TableBuilder(machine.mem, format, (level) => ctx.allocTable(level));
    const ranges = new RangeSet([
      ...machine.mem.ram.ranges,
      ...image.segments.map((s) => ({ start: s.mem, end: s.mem + s.memsz })),
    ]);
    const rounded = new RangeSet(
      ranges.ranges.map((r) => ({
        start: Math.floor(r.start / MiB2) * MiB2,
        end: Math.ceil(r.end / MiB2) * MiB2,
      })),
    );
    for (const r of rounded.ranges) {
      builder.map(
        { half: 0, va: r.start, pa: r.start, size: r.end - r.start, attrs: IDENT_ATTRS },
        { largestBlocks: options.gbpages },
      );
    }
    // init_transition_pgtable: relocate_kernel's VA -> the control page, one 4K page
    const code = image.controlCodePage;
    const upperBase = 2 ** format.vaBits - 2 ** 48; // 5-level: the 48-bit offset sits higher
    const transitionVa = upperBase + KERNEL_TEXT_VA48 + (code % MiB2);
    builder.map(
      { half: 1, va: transitionVa, pa: code, size: 4096, attrs: CODE_ATTRS },
      { pageGranular: true },
    );
    const swap = options.x86Swap ? image.swapPage : -1;
    const translation = { format, ...builder.rootsForTlb() };
    return {
      pageTables: tableCost(builder),
      livePages: tablePagePas(builder),
      translation,
      execute(cpu) {
        installTlb(cpu, format, builder);
        cpu.barrier(BARRIER_TLBI);
        // relocate_kernel runs from the transition mapping, then jumps to its identity-mapped copy
        if (fetch(cpu, machine, translation, 1, transitionVa) < 0) return;
        if (fetch(cpu, machine, translation, 0, code) < 0) return;
        relocateList(cpu, {
          head: image.head,
          mmuOn: true,
          half: 0,
          vaOffset: 0,
          copyFlags: 0,
          cmoBefore: 0,
          cmoAfter: 0,
          swapPage: swap,
          maxEntries: maxEntriesOf(image),
        });
      },
    };
  },
};
