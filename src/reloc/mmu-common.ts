/**
 * Helpers the MMU-on strategies share: the translation format for a machine, the attributes of the
 * relocation's mappings, the arm64 linear-map offset, and the TLB for the executing CPU.
 */

import type { Kimage } from "../kimage/kimage.js";
import type { Machine } from "../machine/machine.js";
import type { PageSize } from "../machine/physmem.js";
import type { TableBuilder } from "../mmu/builder.js";
import { createFormat } from "../mmu/formats.js";
import type { MapAttributes, TranslationFormat } from "../mmu/types.js";
import { Tlb, walk } from "../mmu/walker.js";
import type { RelocCpu } from "./cpu.js";
import type { PageTableCost } from "./result.js";
import { BARRIER_DSB, BARRIER_ISB, BARRIER_MMU_OFF, CMO_DC_CIVAC, CMO_IC_IVAU, NULL_SINK } from "./trace.js";

/** Normal memory, read-write, not executable: the data mappings of the relocation. */
export const DATA_ATTRS: MapAttributes = { memType: "normal", writable: true, executable: false };
/** The relocation code page: normal memory, read-only, executable. */
export const CODE_ATTRS: MapAttributes = { memType: "normal", writable: false, executable: true };
/**
 * x86_64's identity map: read-write AND executable (init_pgtable maps with __PAGE_KERNEL_LARGE_EXEC),
 * since relocate_kernel jumps to its identity-mapped copy and runs from there.
 */
export const IDENT_ATTRS: MapAttributes = { memType: "normal", writable: true, executable: true };

/**
 * An instruction fetch at (half, va): translate it, then check that the leaf allows execution at the
 * kernel's privilege (arm64 PXN clear, x86_64 NX clear). A non-executable leaf halts the CPU with a
 * fault, as the real CPU would take a prefetch abort / #PF. Returns the PA, or -1.
 */
export function fetch(
  cpu: RelocCpu,
  machine: Machine,
  translation: { format: TranslationFormat; ttbr0: number; ttbr1: number },
  half: 0 | 1,
  va: number,
): number {
  const pa = cpu.translate(half, va);
  if (pa < 0) return pa;
  cpu.fetchCode(pa);
  const { format } = translation;
  const root = half === 1 ? translation.ttbr1 : translation.ttbr0;
  const leaf = walk(machine.mem, format, root, half, va);
  if (leaf.ok && !format.leafAttributes(leaf.lo, leaf.hi, leaf.level).executable) {
    cpu.fault(
      `instruction fetch from a non-executable mapping (${machine.arch === "x86_64" ? "NX" : "PXN"} set) at ${half === 1 ? "upper-half" : "lower-half"} VA offset 0x${va.toString(16)}`,
      va,
    );
    return -1;
  }
  return pa;
}

export function formatFor(machine: Machine, vaBits: number, x86Levels: 4 | 5 = 4): TranslationFormat {
  if (machine.arch === "arm64") {
    return createFormat({
      arch: "arm64",
      granule: machine.pageSize,
      vaBits: vaBits as 39 | 42 | 47 | 48 | 52,
      paBits: machine.mem.paBits,
    });
  }
  return createFormat({ arch: "x86_64", levels: vaBits === 57 ? 5 : x86Levels });
}

/**
 * arm64 memstart_addr: the start of DRAM (memblock_start_of_DRAM) rounded down to
 * ARM64_MEMSTART_ALIGN, so the linear map can use the largest blocks: 1 GiB with 4K pages (PUD_SIZE),
 * 1 GiB with 16K (32 x 32M PMDs under the contiguous hint), 512 MiB with 64K (PMD_SIZE).
 * The linear map is va = pa - memstart + PAGE_OFFSET; PAGE_OFFSET is the bottom of the TTBR1 range
 * (0xffff000000000000 with 48-bit VA), which is VA offset 0 in (half 1, va) form.
 */
export function memstartOf(machine: Machine): number {
  const align = memstartAlign(machine.pageSize);
  const first = machine.mem.ram.ranges[0]?.start ?? 0;
  return Math.floor(first / align) * align;
}

export function memstartAlign(pageSize: PageSize): number {
  return pageSize === 65536 ? 512 * 1024 * 1024 : 1024 * 1024 * 1024;
}

/** The page table cost in the result's shape, with only the levels the format has. */
export function tableCost(builder: TableBuilder): PageTableCost {
  const c = builder.cost();
  return { pages: c.pages, bytes: c.bytes, byLevel: { ...c.byLevel } };
}

export function tablePagePas(builder: TableBuilder): number[] {
  return builder.tablePages().map((t) => t.pa);
}

/** Install the tables in the CPU: a fresh TLB over the builder's roots, the sink attached when tracing. */
export function installTlb(cpu: RelocCpu, format: TranslationFormat, builder: TableBuilder): Tlb {
  const tlb = new Tlb(cpu.mem, format, builder.rootsForTlb(), cpu.sink === NULL_SINK ? undefined : cpu.sink);
  cpu.tlb = tlb;
  return tlb;
}

/** Upper bound on entry reads for a list walk over this image (a corrupted list must not loop forever). */
export function maxEntriesOf(image: Kimage): number {
  return 2 * (image.counters.entries + image.counters.indirectionPages) + 64;
}

/**
 * machine_kexec_post_load (Linux 5.16+): the relocation code copied into the control page is cleaned
 * and invalidated to PoC (dcache_clean_inval_poc) and the I-cache invalidated over it
 * (icache_inval_pou), so the CPU fetches it right with the MMU on. The kernel does this at load time;
 * the simulated CPU does it at the start of execute (one page: 2 x page/64 lines of maintenance).
 */
export function cleanRelocationCode(cpu: RelocCpu, codePage: number): void {
  cpu.cmo(codePage, cpu.pageSize, CMO_DC_CIVAC);
  cpu.cmo(codePage, cpu.pageSize, CMO_IC_IVAU);
}

/**
 * An image already in place (head & IND_DONE) on arm64: kexec_segment_flush cleans and invalidates
 * every segment to PoC (machine_kexec_post_load since 5.16, machine_kexec before), then
 * cpu_soft_restart turns the MMU and caches off and jumps; nothing is copied.
 */
export function enterInPlace(cpu: RelocCpu, image: Kimage): void {
  for (const s of image.segments) cpu.cmo(s.mem, s.memsz, CMO_DC_CIVAC);
  cpu.barrier(BARRIER_DSB);
  cpu.barrier(BARRIER_MMU_OFF);
  cpu.barrier(BARRIER_ISB);
}
