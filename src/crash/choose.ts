/**
 * Which "Crash kernel" region a crash load goes into, and which one the kernel checks it against.
 * Browser-safe.
 *
 * The kernel: a crash image's segments (and its entry) must lie inside crashk_res, the main
 * reservation (kernel/kexec_core.c sanity_check_segment_list and kimage_alloc_init: -EADDRNOTAVAIL
 * otherwise); crashk_low_res, the low part of crashkernel=X,high (or of X placed above 4 GiB), is never
 * a place for the load. Both show as "Crash kernel" in /proc/iomem, and crashk_res is always the
 * higher one (the low part is only reserved when crashk_res lies at or above CRASH_ADDR_LOW_MAX).
 *
 * kexec-tools: x86 (kexec/arch/i386/crashdump-x86.c get_crash_kernel_load_range) takes the last, i.e.
 * highest, "Crash kernel" line of /proc/iomem, because "the kernel refuses to load the panic kernel to
 * low memory" (since kexec-tools 2.0.11, commit 4fbf781; before it parse_iomem_single wanted exactly
 * one line). arm64 (kexec/arch/arm64/crashdump-arm64.c) loads into crash_reserved_mem[size - 1], the
 * highest, and passes every region in linux,usable-memory-range; releases that kept one region only
 * refuse two (crash_get_memory_ranges: "usablemem_rgns.size != 1" -> EINVAL). The release that lifted
 * that on arm64 is modelled as 2.0.24 (not pinned to a commit here). kexec_file_load places into
 * crashk_res itself.
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { Range } from "../machine/ranges.js";

function versionAtLeast(v: string | undefined, min: [number, number, number]): boolean {
  if (v === undefined) return true;
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  if (!m) return true;
  const a = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) if (a[i] !== min[i]) return a[i]! > min[i]!;
  return true;
}

/** The kernel's crashk_res among the "Crash kernel" regions: the highest. */
export function kernelCrashRes(regions: readonly Range[]): Range | undefined {
  return regions.reduce<Range | undefined>(
    (a, b) => (a === undefined || b.start > a.start ? b : a),
    undefined,
  );
}

/** The first kexec-tools release that loads with more than one "Crash kernel" region, per arch. */
export const KEXEC_TOOLS_MULTI_REGION: Record<Arch, [number, number, number]> = {
  x86_64: [2, 0, 11],
  arm64: [2, 0, 24],
};

/**
 * The region kexec-tools (kexec_load) or the kernel (kexec_file_load) places a crash load in, from the
 * "Crash kernel" regions of /proc/iomem. E_SYSCALL_REFUSED for a kexec-tools release that takes one
 * region only when there are several.
 */
export function crashLoadRegion(
  regions: readonly Range[],
  arch: Arch,
  loader: "kexec-tools" | "kexec-file" | "auto",
  kexecToolsVersion?: string,
): { region: Range; why: string } {
  const high = kernelCrashRes(regions)!;
  if (regions.length <= 1) return { region: high, why: 'the only "Crash kernel" region' };
  if (loader === "kexec-file")
    return { region: high, why: "kexec_file_load places into crashk_res, the main (highest) region" };
  const since = KEXEC_TOOLS_MULTI_REGION[arch];
  if (!versionAtLeast(kexecToolsVersion, since)) {
    throw new KexecLabError(
      "E_SYSCALL_REFUSED",
      `kexec-tools ${kexecToolsVersion} reads one "Crash kernel" region and the host has ${regions.length}; ${arch} kexec-tools takes the highest since ${since.join(".")}`,
      { field: "kexec-tools-version" },
    );
  }
  return {
    region: high,
    why:
      arch === "x86_64"
        ? 'kexec-tools takes the highest "Crash kernel" region (crashdump-x86.c get_crash_kernel_load_range, since 2.0.11): the kernel refuses a crash load in the low one'
        : 'kexec-tools loads into the highest "Crash kernel" region (crashdump-arm64.c crash_reserved_mem[size - 1])',
  };
}
