/**
 * The KHO scratch areas of a collected host that runs with kho=on but has no kho-scratch.txt (debugfs
 * kho/out not readable): rebuilt from its memblock dumps and command line with the boot-time model
 * (src/kho/reserve.ts khoScratchFromBootedMemblock). Browser-safe.
 *
 * Needs what only arm64 keeps after boot (ARCH_KEEP_MEMBLOCK): memblock-memory.txt and
 * memblock-reserved.txt with their flags column (RSV_KERN, 6.x), and a kernel of 6.16 or later.
 * ARCH_LOW_ADDRESS_LIMIT is arm64_dma_phys_limit - 1: below 4 GiB when dmesg's "Zone ranges:" lists a
 * DMA or DMA32 zone (Debian's kernels), the whole physical space when it lists none.
 */

import { arm64DmaPhysLimit } from "../crash/reserve.js";
import type { Host } from "../host/host.js";
import type { Arch } from "../kimage/constants.js";
import { atLeast, KERNEL_RULES, parseKernelVersion } from "../loader/kexec-file/version.js";
import {
  type KhoScratchArea,
  khoEnabledBy,
  khoScratchFromBootedMemblock,
  parseMemblockRegions,
} from "./reserve.js";

/**
 * Whether dmesg's "Zone ranges:" block lists a DMA or DMA32 zone (undefined: no block). The same reading
 * as src/crash/host.ts dmesgZoneDma, kept here so that host/plan.ts -> kho/host.ts does not import
 * crash/host.ts, which imports host/plan.ts.
 */
function zoneDmaOf(dmesg: string): boolean | undefined {
  const lines = dmesg.split("\n");
  const i = lines.findIndex((l) => /Zone ranges:/.test(l));
  if (i < 0) return undefined;
  return lines.slice(i + 1, i + 6).some((l) => /\]\s+(DMA|DMA32)\s/.test(l));
}

export interface HostKhoScratch {
  areas: KhoScratchArea[];
  /** how they were found (one line for the plan's notes) */
  from: string;
}

/** The predicted areas, or undefined when the host does not run KHO or the model cannot tell (see `why`). */
export function hostKhoScratch(host: Host, arch: Arch): HostKhoScratch | undefined {
  if (host.khoScratch !== undefined || host.cmdline === undefined || !khoEnabledBy(host.cmdline))
    return undefined;
  if (arch !== "arm64" || host.memblockMemory === undefined || host.memblockReserved === undefined)
    return undefined;
  if (host.release === undefined) return undefined;
  let v: [number, number];
  try {
    v = parseKernelVersion(host.release);
  } catch {
    return undefined;
  }
  if (!atLeast(v, ...KERNEL_RULES.kho.since)) return undefined;
  const memory = parseMemblockRegions(host.memblockMemory);
  const reserved = parseMemblockRegions(host.memblockReserved);
  if (memory.length === 0 || !reserved.some((r) => r.flags.includes("RSV_KERN"))) return undefined;
  const zoneDma = host.dmesg !== undefined ? (zoneDmaOf(host.dmesg) ?? true) : true;
  const lowLimit = arm64DmaPhysLimit(memory, zoneDma) - 1;
  const got = khoScratchFromBootedMemblock({ memory, reserved, cmdline: host.cmdline, lowLimit });
  if (got.areas.length === 0) return undefined;
  return {
    areas: got.areas,
    from: `${got.notes.join("; ")} (${host.source}/memblock-reserved.txt, cmdline.txt; src/kho/reserve.ts)`,
  };
}
