/**
 * What a host description contributes to a plan: the memory map the loader reads on that machine,
 * its DTB, its CPU count and, for crash loads, its crashkernel region. Options the user gives
 * explicitly win (the caller applies these first, then the options).
 */

import { hostKhoScratch } from "../kho/host.js";
import type { Arch } from "../kimage/constants.js";
import { atLeast, KERNEL_RULES, parseKernelVersion } from "../loader/kexec-file/version.js";
import { purgatoryPreset } from "../loader/kexec-tools/purgatory.js";
import { type MachineInput, type MachineView, machineView } from "../loader/machine-view.js";
import type { LoaderKind, PlanInput } from "../loader/plan.js";
import type { Range } from "../machine/ranges.js";
import type { Host } from "./host.js";

export type HostPlanFields = Pick<
  PlanInput,
  | "iomem"
  | "iomemName"
  | "memmap"
  | "memmapName"
  | "memblockMemory"
  | "memblockReserved"
  | "dtb"
  | "dtbName"
  | "wipeKaslrSeed"
  | "cpus"
  | "crashRegion"
  | "kexecToolsVersion"
  | "kernelVersion"
  | "crngReady"
  | "acpiRsdp"
  | "kexecFileSyscall"
  | "purgatory"
  | "memTotal"
  | "cma"
  | "cmaUsed"
  | "khoScratch"
  | "khoScratchFrom"
>;

/**
 * The running kernel's MAJOR.MINOR from uname -r ("6.1.0-50-cloud-arm64" -> "6.1"), or undefined
 * when the loader's parseKernelVersion (src/loader/kexec-file/version.ts) does not take it.
 */
export function hostKernelVersion(release: string | undefined): string | undefined {
  if (release === undefined) return undefined;
  try {
    const [major, minor] = parseKernelVersion(release);
    return `${major}.${minor}`;
  } catch {
    return undefined;
  }
}

/**
 * The machine view (src/loader/machine-view.ts) of a host's collected files: its /proc/iomem,
 * /sys/firmware/memmap and memblock dumps, parsed once when first read, with errors naming the files.
 * What the loaders read through hostPlanFields, the crashkernel model (src/crash/host.ts) reads here.
 */
export function hostMachineView(host: Host, arch: Arch): MachineView {
  const input: MachineInput = { arch };
  if (host.iomem !== undefined) {
    input.iomem = host.iomem;
    input.iomemName = `${host.source}/iomem.txt`;
  }
  if (host.memmap !== undefined) {
    input.memmap = host.memmap;
    input.memmapName = `${host.source}/memmap.txt`;
  }
  if (host.memblockMemory !== undefined) input.memblockMemory = host.memblockMemory;
  if (host.memblockReserved !== undefined) input.memblockReserved = host.memblockReserved;
  return machineView(input, {
    memblockMemory: `${host.source}/memblock-memory.txt`,
    memblockReserved: `${host.source}/memblock-reserved.txt`,
  });
}

/**
 * The "Crash kernel" region of the host's /proc/iomem (the last one when split low/high). The regions
 * do not depend on the architecture; the view is made for the host's own (x86_64 when it is unknown).
 */
export function hostCrashRegion(host: Host): Range | undefined {
  if (host.iomem === undefined) return undefined;
  return hostMachineView(host, host.arch ?? "x86_64").crashRegions.at(-1);
}

/**
 * The plan fields a host gives; each loader then reads what it reads on that machine
 * (src/loader/memory.ts):
 *   /proc/iomem (iomem.txt): the resources (x86_64 kexec_file_load walks System RAM; arm64 kexec-tools
 *   reads it; its "Crash kernel" lines give the crash region);
 *   /sys/firmware/memmap (memmap.txt, x86_64): what x86_64 kexec-tools prefers for its memory ranges
 *   (kexec/arch/i386/kexec-x86-common.c get_memory_ranges -> get_firmware_memmap_ranges);
 *   memblock dumps (arm64): the free memblock ranges arm64 kexec_file_load walks;
 *   KHO scratch areas (kho-scratch.txt, kho=on): where kexec_file_load must place every segment; without
 *   that file, on arm64 6.16+ with kho=on, rebuilt from the memblock dumps (src/kho/host.ts);
 *   DTB (arm64): /sys/firmware/fdt (fdt.dtb), whose kaslr-seed the running kernel has wiped;
 *   cpus: nproc;
 *   kexec --version (kexec-version.txt): the kexec-tools release, whose syscall choice --loader auto
 *   follows (src/loader/auto.ts syscallPlan); its purgatory preset when the description names the
 *   Debian build (host.purgatoryPreset);
 *   uname -r (uname.txt): the running kernel's version, for the kexec_file_load rules;
 *   dmesg (dmesg.txt): whether the random pool was ready (x86 RNG seed setup_data) and the ACPI RSDP;
 *   kexec-file.txt: "no" when the running kernel lacks CONFIG_KEXEC_FILE (kexec_file_load: ENOSYS);
 *   cma.txt and dmesg.txt: the default CMA area and its taken pages (src/host/cma.ts), given only when
 *   the running kernel places kexec_file_load buffers in CMA (6.17+, KERNEL_RULES.cma).
 * `loader` is kept for callers that want to know which of these a loader uses; every field is passed.
 */
export function hostPlanFields(host: Host, arch: Arch, _loader: LoaderKind): HostPlanFields {
  const out: HostPlanFields = {};
  if (host.iomem !== undefined) {
    out.iomem = host.iomem;
    out.iomemName = `${host.source}/iomem.txt`;
  }
  if (arch === "x86_64" && host.memmap !== undefined) {
    out.memmap = host.memmap;
    out.memmapName = `${host.source}/memmap.txt`;
  }
  if (arch === "arm64" && host.memblockMemory !== undefined) {
    out.memblockMemory = host.memblockMemory;
    if (host.memblockReserved !== undefined) out.memblockReserved = host.memblockReserved;
  }
  if (arch === "arm64" && host.fdt !== undefined) {
    out.dtb = host.fdt;
    out.dtbName = `${host.source}/fdt.dtb`;
    out.wipeKaslrSeed = true;
  }
  // KHO on (kho-scratch.txt): kexec_file_load places every non-crash segment in these areas.
  if (host.khoScratch !== undefined && host.khoScratch.length > 0) out.khoScratch = host.khoScratch;
  else {
    // kho=on without kho-scratch.txt: where the boot put them, from the memblock dumps (src/kho/host.ts)
    const kho = hostKhoScratch(host, arch);
    if (kho !== undefined) {
      out.khoScratch = kho.areas.map((a) => ({ start: a.start, end: a.end }));
      out.khoScratchFrom = kho.from;
    }
  }
  if (host.cpus !== undefined) out.cpus = host.cpus;
  // MemTotal is totalram_pages() x PAGE_SIZE: the kernel's "half of RAM" check counts it.
  if (host.memTotal !== undefined) out.memTotal = host.memTotal;
  if (host.kexecToolsVersion !== undefined) out.kexecToolsVersion = host.kexecToolsVersion;
  const kv = hostKernelVersion(host.release);
  if (kv !== undefined) out.kernelVersion = kv;
  if (host.crngReady !== undefined) out.crngReady = host.crngReady;
  if (host.acpiRsdp !== undefined) out.acpiRsdp = host.acpiRsdp;
  // A kernel without CONFIG_KEXEC_FILE answers kexec_file_load with ENOSYS (kexec-tools falls back).
  if (host.kexecFileSyscall === false) out.kexecFileSyscall = false;
  const v = kv !== undefined ? parseKernelVersion(kv) : undefined;
  if (host.cma !== undefined && v !== undefined && atLeast(v, ...KERNEL_RULES.cma.since)) {
    out.cma = host.cma.area;
    if (host.cma.used !== undefined) out.cmaUsed = host.cma.used;
  }
  if (host.purgatoryPreset !== undefined) out.purgatory = purgatoryPreset(host.purgatoryPreset, arch);
  return out;
}
