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
