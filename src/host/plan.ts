/**
 * What a host description contributes to a plan: the memory map the loader reads on that machine,
 * its DTB, its CPU count and, for crash loads, its crashkernel region. Options the user gives
 * explicitly win (the caller applies these first, then the options).
 */

import { parseIomem } from "../formats/iomem.js";
import type { Arch } from "../kimage/constants.js";
import type { LoaderKind, PlanInput } from "../loader/plan.js";
import type { Range } from "../machine/ranges.js";
import type { Host } from "./host.js";

export type HostPlanFields = Pick<
  PlanInput,
  "iomem" | "iomemName" | "dtb" | "dtbName" | "wipeKaslrSeed" | "cpus" | "crashRegion"
>;

/** The "Crash kernel" region of the host's /proc/iomem (the last one when split low/high). */
export function hostCrashRegion(host: Host): Range | undefined {
  if (host.iomem === undefined) return undefined;
  const ck = parseIomem(host.iomem, `${host.source}/iomem.txt`).crashKernel;
  return ck.length > 0 ? ck[ck.length - 1] : undefined;
}

/**
 * The plan fields a host gives, for `arch` and `loader`:
 *   memory map: x86_64 kexec-tools reads /sys/firmware/memmap when it exists (kexec/arch/i386/
 *   kexec-x86-common.c get_memory_ranges -> get_firmware_memmap_ranges), so memmap.txt when present;
 *   everything else /proc/iomem (iomem.txt);
 *   DTB (arm64): /sys/firmware/fdt (fdt.dtb), whose kaslr-seed the running kernel has wiped;
 *   cpus: nproc; crashRegion: iomem's "Crash kernel" when the map used is not iomem itself.
 */
export function hostPlanFields(host: Host, arch: Arch, loader: LoaderKind): HostPlanFields {
  const out: HostPlanFields = {};
  const useMemmap = arch === "x86_64" && loader === "kexec-tools" && host.memmap !== undefined;
  if (useMemmap) {
    out.iomem = host.memmap!;
    out.iomemName = `${host.source}/memmap.txt`;
    const ck = hostCrashRegion(host);
    if (ck !== undefined) out.crashRegion = ck;
  } else if (host.iomem !== undefined) {
    out.iomem = host.iomem;
    out.iomemName = `${host.source}/iomem.txt`;
  }
  if (arch === "arm64" && host.fdt !== undefined) {
    out.dtb = host.fdt;
    out.dtbName = `${host.source}/fdt.dtb`;
    out.wipeKaslrSeed = true;
  }
  if (host.cpus !== undefined) out.cpus = host.cpus;
  return out;
}
