/**
 * kexec-tools' ELF core header for crash loads (kexec/crashdump-elf.c crash_create_elf64_headers):
 * an Elf64_Ehdr (64 bytes) and one Elf64_Phdr (56 bytes) for each of
 *   - every CPU (sysconf(_SC_NPROCESSORS_CONF): a PT_NOTE per CPU),
 *   - the vmcoreinfo note (when /sys/kernel/vmcoreinfo exists; it does on every kernel modelled here),
 *   - the kernel text (when the kernel's size was found: a PT_LOAD for the kernel mapping),
 *   - every memory range the architecture read for the dump,
 * the total rounded up to ELF_CORE_HEADER_ALIGN (1024, kexec/crashdump.h).
 *
 * arm64 (kexec/arch/arm64/crashdump-arm64.c): the ranges are the "System RAM" lines of /proc/iomem with
 * each crash kernel region cut out (crash_get_memory_ranges, mem_regions_exclude). The header is
 * placed top-down in the crash region with memsz = bufsz.
 */

import type { Iomem } from "../../formats/iomem.js";
import type { MemoryMap } from "../../machine/memmap.js";
import { type Range, RangeSet } from "../../machine/ranges.js";

export const ELF_CORE_HEADER_ALIGN = 1024;
const EHDR = 64;
const PHDR = 56;

export function kexecToolsElfcorehdrSize(cpus: number, ranges: number, kernelText = true): number {
  const sz = EHDR + (cpus + 1) * PHDR + ranges * PHDR + (kernelText ? PHDR : 0);
  return Math.ceil(sz / ELF_CORE_HEADER_ALIGN) * ELF_CORE_HEADER_ALIGN;
}

/** arm64: System RAM lines (or the map's RAM ranges) minus the crash regions. */
export function arm64CrashMemoryRanges(
  iomem: Iomem | undefined,
  map: MemoryMap,
  crash: readonly Range[],
): Range[] {
  const ram = iomem
    ? iomem.entries
        .filter((e) => e.name.startsWith("System RAM"))
        .map((e) => ({ start: e.start, end: e.end }))
    : [...map.ram.ranges];
  return ram.flatMap((r) => [...new RangeSet([r]).subtract(crash).ranges]);
}

/** The non-RAM /proc/iomem names x86 get_crash_memory_ranges keeps (kexec/arch/i386/crashdump-x86.c). */
export const X86_CRASH_IOMEM_TYPES: ReadonlySet<string> = new Set([
  "ACPI Tables",
  "ACPI Non-volatile Storage",
  "Persistent Memory (legacy)",
  "Persistent Memory",
  "reserved",
  "Reserved",
]);

/**
 * x86 (kexec/arch/i386/crashdump-x86.c get_crash_memory_ranges): every /proc/iomem line, nested ones
 * too, that names "System RAM" (anywhere in the name), "ACPI Tables", "ACPI Non-volatile Storage",
 * "Persistent Memory (legacy)", "Persistent Memory", "reserved" or "Reserved"; then exclude_region
 * cuts each crash region out (splitting a range in two where it lies inside). A "GART" line is cut
 * out too. Returned in the order kexec-tools keeps them (type: true for RAM).
 */
export function x86CrashMemoryRanges(
  iomem: Iomem,
  crash: readonly Range[],
): { start: number; end: number; ram: boolean }[] {
  let list: { start: number; end: number; ram: boolean }[] = [];
  const gart: Range[] = [];
  for (const e of iomem.entries) {
    if (e.name.includes("System RAM")) list.push({ start: e.start, end: e.end, ram: true });
    else if (X86_CRASH_IOMEM_TYPES.has(e.name)) list.push({ start: e.start, end: e.end, ram: false });
    else if (e.name === "GART") gart.push({ start: e.start, end: e.end });
  }
  // exclude_region, with kexec-tools' inclusive ends: a range that strictly contains the region
  // is split; one that shares an edge is trimmed.
  const exclude = (r: Range) => {
    const start = r.start;
    const end = r.end - 1;
    const out: typeof list = [];
    for (const m of list) {
      const mend = m.end - 1;
      if (start < mend && end > m.start) {
        if (start !== m.start && end !== mend) {
          out.push({ ...m, end: start });
          out.push({ start: end + 1, end: m.end, ram: true });
        } else if (start !== m.start) out.push({ ...m, end: start });
        else out.push({ ...m, start: end + 1 });
      } else out.push(m);
    }
    list = out;
  };
  for (const c of crash) exclude(c);
  for (const g of gart) exclude(g);
  return list;
}

/** get_backup_area: the first RAM range ending at or below 640 KiB (0xa0000), else [0, 640 KiB). */
export function x86BackupArea(ranges: readonly { start: number; end: number; ram: boolean }[]): Range {
  const r = ranges.find((m) => m.ram && m.end - 1 <= 0xa0000);
  return r ? { start: r.start, end: r.end } : { start: 0, end: 0xa0000 };
}
