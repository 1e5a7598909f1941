/**
 * What the crash kernel is given by a planned crash load: the "Crash kernel" regions and the one the
 * load went into, the memory map it boots with, what kexec-tools appended to its command line, and the
 * ELF core header's program headers (what /proc/vmcore will show). Browser-safe.
 *
 * x86_64 kexec_load (kexec-tools kexec/arch/i386/crashdump-x86.c load_crashdump_segments): the memory
 * map (memmap_p) is the backup area (the first 640 KiB of RAM) and every Crash kernel region as RAM,
 * with the backup and elfcorehdr segments deleted from it (delete_memmap), plus the ACPI, NVS, reserved
 * and persistent-memory ranges of the dump's memory ranges; setup_linux_system_parameters passes it as
 * the boot_params e820 table (memmap=exactmap memmap=... on the command line only with
 * --pass-memmap-cmdline). The command line gets " acpi_rsdp=0x..." (non-EFI) and " elfcorehdr=NK".
 * arm64 kexec_load (kexec/arch/arm64/kexec-arm64.c setup_2nd_dtb): /chosen linux,usable-memory-range
 * lists the Crash kernel regions, linux,elfcorehdr the header segment; the command line is unchanged.
 * The ELF core header (kexec/crashdump-elf.c crash_create_elf64_headers): one PT_NOTE per CPU and one
 * for vmcoreinfo, a PT_LOAD for the kernel text, and a PT_LOAD per RAM range of the dump's ranges
 * (the first 640 KiB read from the backup segment on x86); its size counts every range.
 * kexec_file_load: the kernel builds both (x86 crash_setup_memmap_entries and prepare_elf_headers;
 * arm64 of_kexec_alloc_and_setup_fdt). x86_64: its RAM (x86KexecFileCrashRam) and the "elfcorehdr=0x... "
 * it puts before the command line; arm64: only the regions and the header segment are shown.
 */

import { parseIomem } from "../formats/iomem.js";
import { x86CrashHotplugElfcorehdrMemsz } from "../loader/kexec-file/x86_64.js";
import {
  arm64CrashMemoryRanges,
  X86_CRASH_IOMEM_TYPES,
  x86BackupArea,
  x86CrashMemoryRanges,
} from "../loader/kexec-tools/crash.js";
import { crashRegionsOf, kernelCrashResFor } from "../loader/memory.js";
import { segmentBufszOf } from "../loader/output.js";
import type { Plan, PlanInput } from "../loader/types.js";
import { type Range, RangeSet } from "../machine/ranges.js";

export interface CrashKernelGiven {
  /** Every "Crash kernel" region of the running kernel. */
  regions: Range[];
  /** The region the load went into. */
  loadRegion: Range;
  /** The kernel's crashk_res, against which it checks the segments. */
  crashRes: Range;
  /** The memory the crash kernel boots with, and how it is passed. */
  memoryMap: { how: string; ranges: { start: number; end: number; type: string }[] };
  /** What kexec-tools appended to the command line (empty for kexec_file_load and arm64). */
  appended: string;
  /**
   * What the kernel put before the command line: x86_64 kexec_file_load's "elfcorehdr=0x... "
   * (arch/x86/kernel/kexec-bzimage64.c setup_cmdline); empty otherwise.
   */
  prepended: string;
  elfcorehdr?: { start: number; bufsz: number; notes: number; loads: Range[] };
}

export function crashKernelGiven(plan: Plan, input: PlanInput): CrashKernelGiven | undefined {
  const load = plan.crashRegion;
  if (load === undefined) return undefined;
  const all = crashRegionsOf(input);
  const regions = all.some((r) => r.start === load.start && r.end === load.end)
    ? [...all].sort((a, b) => a.start - b.start)
    : [load];
  const crashRes = kernelCrashResFor(input, load);
  const hdr = plan.segments.find((s) => s.label === "elfcorehdr");
  const cpus = input.cpus ?? 1;
  const iomemText =
    input.iomem !== undefined && !/^\s*(MEMORY RANGES|System RAM ranges;)\s*$/m.test(input.iomem)
      ? input.iomem
      : undefined;
  const iomem = iomemText !== undefined ? parseIomem(iomemText, input.iomemName) : undefined;
  const base = input.append ?? "";
  const appended = plan.cmdline?.startsWith(base) ? plan.cmdline.slice(base.length) : "";
  const out: CrashKernelGiven = {
    regions,
    loadRegion: load,
    crashRes,
    memoryMap: { how: "", ranges: [] },
    appended,
    prepended: "",
  };
  if (plan.loader === "kexec-file" && plan.arch === "x86_64" && hdr !== undefined) {
    out.prepended = `elfcorehdr=0x${hdr.mem.toString(16)} `;
    out.memoryMap = {
      how: "built by the kernel (arch/x86/kernel/crash.c crash_setup_memmap_entries): its RAM is shown - the System RAM below 1 MiB, crashk_low_res, and crashk_res less the ELF headers (memmap_exclude_ranges: elf_headers_sz bytes at elf_load_addr); the ACPI, NVS and reserved ranges it adds are not",
      ranges: x86KexecFileCrashRam(input, iomem, regions, crashRes, hdr).map((r) => ({ ...r, type: "RAM" })),
    };
    out.elfcorehdr = { start: hdr.mem, bufsz: segmentBufszOf(hdr), notes: cpus + 1, loads: [] };
    return out;
  }
  if (plan.loader === "kexec-file") {
    out.memoryMap = {
      how:
        plan.arch === "x86_64"
          ? "built by the kernel (crash_setup_memmap_entries: the first 1 MiB, ACPI/NVS/reserved ranges, crashk_res and crashk_low_res); the regions are shown"
          : "built by the kernel (linux,usable-memory-range: crashk_res and crashk_low_res); the regions are shown",
      ranges: regions.map((r) => ({ ...r, type: "RAM" })),
    };
    if (hdr) out.elfcorehdr = { start: hdr.mem, bufsz: segmentBufszOf(hdr), notes: cpus + 1, loads: [] };
    return out;
  }
  if (plan.arch === "arm64") {
    out.memoryMap = {
      how: "/chosen linux,usable-memory-range of the DTB (setup_2nd_dtb)",
      ranges: regions.map((r) => ({ ...r, type: "RAM" })),
    };
    if (hdr)
      out.elfcorehdr = {
        start: hdr.mem,
        bufsz: segmentBufszOf(hdr),
        notes: cpus + 1,
        loads: arm64CrashMemoryRanges(iomem, plan.memoryMap, regions),
      };
    return out;
  }
  if (iomem === undefined) return out;
  const ranges = x86CrashMemoryRanges(iomem, regions);
  const backupArea = x86BackupArea(ranges);
  let ram = new RangeSet([backupArea, ...regions]);
  const backupSeg = plan.segments.find((s) => s.label === "backup");
  // load_crashdump_segments deletes backup_src_size bytes at backup_start (the segment's memsz is that
  // rounded up to a page), so the last bytes of the backup segment's page stay usable: recorded on
  // Debian 6.1, 6.12 and 7.3 (the crash kernel's e820 shows e.g. 0x27fffc00-0x27ffffff usable)
  if (backupSeg)
    ram = ram.subtract([{ start: backupSeg.mem, end: backupSeg.mem + (backupArea.end - backupArea.start) }]);
  if (hdr) ram = ram.subtract([{ start: hdr.mem, end: hdr.mem + hdr.memsz }]);
  const named = (r: { start: number; end: number }) =>
    iomem.entries.find((e) => e.start === r.start && e.end === r.end && X86_CRASH_IOMEM_TYPES.has(e.name))
      ?.name ?? "reserved";
  const map = [
    ...ram.ranges.map((r) => ({ ...r, type: "RAM" })),
    ...ranges.filter((r) => !r.ram).map((r) => ({ start: r.start, end: r.end, type: named(r) })),
  ].sort((a, b) => a.start - b.start);
  out.memoryMap = {
    how: "the boot_params e820 table (setup_linux_system_parameters from load_crashdump_segments' memmap; memmap= on the command line only with --pass-memmap-cmdline)",
    ranges: map,
  };
  if (hdr)
    out.elfcorehdr = {
      start: hdr.mem,
      bufsz: segmentBufszOf(hdr),
      notes: cpus + 1,
      loads: ranges.filter((r) => r.ram).map((r) => ({ start: r.start, end: r.end })),
    };
  return out;
}

/**
 * The RAM crash_setup_memmap_entries gives the x86_64 kexec_file_load crash kernel: the System RAM of
 * iomem below 1 MiB, crashk_low_res whole, and crashk_res less [elf_load_addr, + elf_headers_sz).
 * elf_headers_sz is the header buffer's size, or with crash hotplug (6.6+) the unrounded size of room
 * for every possible program header (crash_load_segments sets it to kbuf.memsz before the page round-up):
 * recorded on Debian 6.12 and 7.3 (usable from 0x...0e00b0 in the crash kernel's e820).
 */
function x86KexecFileCrashRam(
  input: PlanInput,
  iomem: ReturnType<typeof parseIomem> | undefined,
  regions: readonly Range[],
  crashRes: Range,
  hdr: Plan["segments"][number],
): Range[] {
  const low = (iomem?.entries ?? [])
    .filter((e) => e.name === "System RAM" && e.start < 0x100000)
    .map((e) => ({ start: e.start, end: Math.min(e.end, 0x100000) }));
  const lowRes = regions.filter((r) => r.start !== crashRes.start || r.end !== crashRes.end);
  const m = /^(\d+)\.(\d+)/.exec(input.kernelVersion ?? "");
  const version: [number, number] = m ? [Number(m[1]), Number(m[2])] : [6, 1];
  const bufsz = segmentBufszOf(hdr);
  const hot = x86CrashHotplugElfcorehdrMemsz(version, input.kernelConfig, 0);
  const headersSz = hot !== undefined && hot.memsz === hdr.memsz ? 64 + 56 * hot.phdrs : bufsz;
  const main = new RangeSet([crashRes]).subtract([{ start: hdr.mem, end: hdr.mem + headersSz }]).ranges;
  return [...low, ...lowRes, ...main].sort((a, b) => a.start - b.start);
}
