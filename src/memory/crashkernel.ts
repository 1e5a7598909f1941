/**
 * crashkernel= sizing as `kdumpctl estimate` computes it (kdump-utils, kdumpctl do_estimate() and
 * kdump-lib.sh kdump_get_arch_recommend_crashkernel(), get_system_size(), get_recommend_size(); read
 * at rhkdump/kdump-utils 63f248c, 2026-03):
 *
 *   estimated   = kernel + modules + 3 x initrd + 16 MiB runtime + LUKS
 *                 (the initrd is loaded into the reservation and unpacked into a tmpfs limited to
 *                 half of the memory then: hence 3 x)
 *   LUKS        = the largest LUKS2 keyslot memory cost + 50 MiB on aarch64, 20 MiB elsewhere
 *   baseline    = the per-arch default crashkernel= ranges at the machine's RAM size
 *                 x86_64 (and s390x): 2G-64G:256M, 64G-:512M (+64M with SME/SEV)
 *                 aarch64: 2G-4G:256M, 4G-64G:320M, 64G-:576M (+100M for a 64K-page kernel, more
 *                 with an SMMU or mlx5 there)
 *                 RAM size: every "System RAM" line of /proc/iomem summed, in MiB rounded up to
 *                 128 MiB, then whole GiB (rounded down); a range start is inclusive, its end not
 *   recommended = max(baseline, estimated)
 *
 * kdumpctl's kernel size is the decompressed vmlinux's PT_LOAD memsz sum (else the running kernel's
 * Kernel code/rodata/data/bss in /proc/iomem); modules are those in the kdump initramfs, sized as in
 * /proc/modules. The caller supplies these (see crashkernelInputs in the CLI).
 */

import type { Arch } from "../kimage/constants.js";

const MiB = 1024 * 1024;

export interface CrashkernelInput {
  arch: Arch;
  /** The crash kernel's memory footprint in bytes. */
  kernelBytes: number;
  /** Sum of the kdump initramfs' modules as /proc/modules sizes them. */
  modulesBytes: number;
  /** The kdump initramfs file's size. */
  initrdBytes: number;
  /** The largest LUKS2 keyslot memory cost (bytes), 0 without an encrypted dump target. */
  luksBytes?: number;
  /** System RAM in bytes (the sum of /proc/iomem's System RAM lines). */
  systemRamBytes: number;
  /** arm64 with 64K pages: kdump-lib's +100M. */
  pageSize?: number;
  /** SME/SEV memory encryption active (x86_64): kdump-lib's +64M. */
  memoryEncryption?: boolean;
}

export interface CrashkernelEstimate {
  /** kdumpctl's "Recommended crashkernel" in bytes (MiB-exact). */
  recommendedBytes: number;
  estimatedBytes: number;
  baselineBytes: number;
  /** The crashkernel= ranges the baseline came from, as kdump-lib prints them. */
  baselineRanges: string;
  /** RAM size in GiB as get_system_size() computes it. */
  systemGiB: number;
  parts: { name: string; bytes: number }[];
}

/** A "2G-64G:256M,64G-:512M" range list and a delta in MiB added to every size (_crashkernel_add). */
function rangesFor(input: CrashkernelInput): { ranges: [number, number, number][]; text: string } {
  let delta = 0;
  let base: [number, number, number][];
  if (input.arch === "x86_64") {
    base = [
      [2, 64, 256],
      [64, Number.POSITIVE_INFINITY, 512],
    ];
    if (input.memoryEncryption) delta += 64;
  } else {
    base = [
      [2, 4, 256],
      [4, 64, 320],
      [64, Number.POSITIVE_INFINITY, 576],
    ];
    if (input.pageSize === 65536) delta += 100;
  }
  const ranges = base.map(([a, b, s]) => [a, b, s + delta] as [number, number, number]);
  const text = ranges
    .map(([a, b, s]) => `${a}G-${b === Number.POSITIVE_INFINITY ? "" : `${b}G`}:${s}M`)
    .join(",");
  return { ranges, text };
}

/** get_system_size(): RAM in MiB rounded up to 128 MiB, in whole GiB. */
export function kdumpSystemGiB(systemRamBytes: number): number {
  const mb = Math.floor(systemRamBytes / MiB);
  return Math.floor((Math.ceil(mb / 128) * 128) / 1024);
}

export function estimateCrashkernel(input: CrashkernelInput): CrashkernelEstimate {
  const runtime = 16 * MiB;
  const luks = (input.luksBytes ?? 0) > 0 ? input.luksBytes! + (input.arch === "arm64" ? 50 : 20) * MiB : 0;
  const estimated = input.kernelBytes + input.modulesBytes + 3 * input.initrdBytes + runtime + luks;
  const systemGiB = kdumpSystemGiB(input.systemRamBytes);
  const { ranges, text } = rangesFor(input);
  const hit = ranges.find(([a, b]) => systemGiB >= a && systemGiB < b);
  const baseline = (hit?.[2] ?? 0) * MiB;
  const parts = [
    { name: "kernel", bytes: input.kernelBytes },
    { name: "modules", bytes: input.modulesBytes },
    { name: "initrd x 3", bytes: 3 * input.initrdBytes },
    { name: "runtime", bytes: runtime },
  ];
  if (luks > 0) parts.push({ name: "LUKS", bytes: luks });
  return {
    recommendedBytes: Math.max(baseline, estimated),
    estimatedBytes: estimated,
    baselineBytes: baseline,
    baselineRanges: text,
    systemGiB,
    parts,
  };
}
