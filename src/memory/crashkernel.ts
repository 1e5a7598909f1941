/**
 * crashkernel= sizing as `kdumpctl estimate` computes it (kdump-utils, kdumpctl do_estimate() and
 * kdump-lib.sh kdump_get_arch_recommend_crashkernel(), get_system_size(), get_recommend_size(); read
 * at rhkdump/kdump-utils 63f248c, 2026-03):
 *
 *   estimated   = kernel + modules + 3 x initrd + 16 MiB runtime + LUKS
 *                 (the initrd is loaded into the reservation and unpacked into a tmpfs limited to
 *                 half of the memory then: hence 3 x)
 *   LUKS        = the largest LUKS2 keyslot memory cost + 50 MiB on aarch64, 20 MiB elsewhere
 *   baseline    = the per-arch default crashkernel= ranges at the machine's RAM size, as
 *                 kdump_get_arch_recommend_crashkernel builds them (kdump-lib.sh, read at rhkdump/
 *                 kdump-utils 015e0f9; `kdumpctl get-default-crashkernel` prints the same string):
 *                 x86_64 (and s390x): 2G-64G:256M, 64G-:512M, every range +64M with SME/SEV active
 *                 aarch64: 2G-4G:256M, 4G-64G:320M, 64G-:576M, then: 64K-page kernel +100M, +384M
 *                 more with an SMMU (arm-smmu-* platform devices), +200M with an mlx5 NIC; 4K-page
 *                 kernel +150M with an mlx5 NIC; added to every range at 63f248c, from the second
 *                 range on at 015e0f9 (_crashkernel_add's skip = 1: "skip adding additional memory
 *                 for small-memory machine")
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

/**
 * The kdump-utils trees whose kdump-lib.sh was read, and the rule they differ in: 015e0f9 adds no
 * delta to aarch64's first range (2G-4G), 63f248c adds it to every range. Their order in time was not
 * established from the store; 63f248c is the default (the project's first reading).
 */
export const KDUMP_UTILS_TREES = ["63f248c", "015e0f9"] as const;
export type KdumpUtilsTree = (typeof KDUMP_UTILS_TREES)[number];

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
  /** arm64: an SMMU (has_aarch64_smmu: /sys/devices/platform/arm-smmu-*): +384M with 64K pages. */
  smmu?: boolean;
  /** arm64: an mlx5 NIC (has_mlx5: /sys/bus/pci/drivers/mlx5_core): +150M (4K pages) / +200M (64K). */
  mlx5?: boolean;
  /** Which kdump-utils tree's kdump-lib.sh (default 63f248c). */
  kdumpUtils?: KdumpUtilsTree;
}

export interface CrashkernelEstimate {
  /** kdumpctl's "Recommended crashkernel" in bytes (MiB-exact). */
  recommendedBytes: number;
  estimatedBytes: number;
  baselineBytes: number;
  /** The crashkernel= ranges the baseline came from, as kdump-lib prints them. */
  baselineRanges: string;
  /** The deltas kdump-lib added, one line each. */
  baselineDeltas: string[];
  /** RAM size in GiB as get_system_size() computes it. */
  systemGiB: number;
  parts: { name: string; bytes: number }[];
}

/**
 * kdump_get_arch_recommend_crashkernel: the ranges and the delta (MiB) _crashkernel_add adds to each
 * size from index `skip` on, as the string `kdumpctl get-default-crashkernel` prints.
 */
export function kdumpRecommendCrashkernel(
  input: Pick<CrashkernelInput, "arch" | "pageSize" | "memoryEncryption" | "smmu" | "mlx5" | "kdumpUtils">,
): { ranges: [number, number, number][]; text: string; deltaMiB: number; deltas: string[] } {
  let delta = 0;
  let skip = 0;
  const deltas: string[] = [];
  let base: [number, number, number][];
  if (input.arch === "x86_64") {
    base = [
      [2, 64, 256],
      [64, Number.POSITIVE_INFINITY, 512],
    ];
    if (input.memoryEncryption) {
      delta += 64;
      deltas.push("+64M: SME/SEV active");
    }
  } else {
    base = [
      [2, 4, 256],
      [4, 64, 320],
      [64, Number.POSITIVE_INFINITY, 576],
    ];
    skip = input.kdumpUtils === "015e0f9" ? 1 : 0;
    if (input.pageSize === 65536) {
      delta += 100;
      deltas.push("+100M: 64K-page kernel");
      if (input.smmu) {
        delta += 384;
        deltas.push("+384M: SMMU with 64K pages (its command, event and PRI queues)");
      }
      if (input.mlx5) {
        delta += 200;
        deltas.push("+200M: mlx5 NIC with 64K pages");
      }
    } else if (input.mlx5) {
      delta += 150;
      deltas.push("+150M: mlx5 NIC");
    }
    if (delta > 0 && skip === 1)
      deltas.push("(not added to 2G-4G: kdump-lib 015e0f9 skips the first range on aarch64)");
  }
  const ranges = base.map(([a, b, s], i) => [a, b, i >= skip ? s + delta : s] as [number, number, number]);
  const text = ranges
    .map(([a, b, s]) => `${a}G-${b === Number.POSITIVE_INFINITY ? "" : `${b}G`}:${s}M`)
    .join(",");
  return { ranges, text, deltaMiB: delta, deltas };
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
  const { ranges, text, deltas } = kdumpRecommendCrashkernel(input);
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
    baselineDeltas: deltas,
    systemGiB,
    parts,
  };
}
