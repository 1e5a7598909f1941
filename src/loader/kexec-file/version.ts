/**
 * Running-kernel versions whose kexec_file_load placement differs. Each boundary is a mainline commit;
 * where the release that first carried it was inferred from the commit's date rather than checked
 * against a tag, the docs (docs/loaders.md) say so.
 */

import { KexecLabError } from "../../errors.js";
import type { Arch } from "../../kimage/constants.js";

export const DEFAULT_KERNEL_VERSION = "6.1";

export function parseKernelVersion(v: string | undefined): [number, number] {
  const s = v ?? DEFAULT_KERNEL_VERSION;
  const m = /^(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(s.trim());
  if (!m) {
    throw new KexecLabError("E_USAGE", `--kernel-version wants MAJOR.MINOR (e.g. 6.1, 6.16), got "${s}"`, {
      field: "kernel-version",
    });
  }
  return [Number(m[1]), Number(m[2])];
}

export function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

export const KERNEL_RULES = {
  /** b3ba234171cd "kexec_file: load kernel at top of system RAM if required": top-down buffers walk System RAM descending (walk_system_ram_res_rev). */
  walkRev: { since: [6, 8] as const, commit: "b3ba234171cd" },
  /** bzImage64_load: the kernel's buf_min is max(MIN_KERNEL_LOAD_ADDR, pref_address). */
  prefAddress: { since: [6, 8] as const, commit: "x86/kexec pref_address (bzImage64_load)" },
  /** Yuntao Wang "kexec_file: fix incorrect temp_start value in locate_mem_hole_top_down()": + 1. */
  topDownPlusOne: {
    since: [6, 8] as const,
    commit: "kexec_file: fix incorrect temp_start value in locate_mem_hole_top_down()",
  },
  /** "kexec: add KHO support to kexec file loads": kho_locate_mem_hole, kho_fill_kimage. */
  kho: { since: [6, 16] as const, commit: "kexec: add KHO support to kexec file loads" },
  /** 07d24902977e "kexec: enable CMA based contiguous allocation": kexec_alloc_contig. */
  cma: { since: [6, 17] as const, commit: "07d24902977e" },
  /**
   * ea53ad9cf73b "x86/crash: add x86 crash hotplug support" (Linux 6.6): with CONFIG_CRASH_HOTPLUG the
   * kexec_file crash elfcorehdr segment is sized for the hotplug maximum (crash_load_segments).
   */
  crashHotplug: { since: [6, 6] as const, commit: "ea53ad9cf73b" },
  /**
   * "kexec_file: add kexec_file flag to control debug printing": KEXEC_FILE_DEBUG (0x8) is accepted, and
   * kexec_file_load prints its segments as "kexec_file: segment[N]: ..." with "nr_segments = N" before and
   * "kexec_file_load: type:..., start:0x... head:0x... flags:0x..." after, only when the flag is set (the
   * pr_debug "Loading segment N" lines are gone). Recorded on Debian 6.12 and 7.3.
   */
  fileDebugFlag: {
    since: [6, 8] as const,
    commit: "kexec_file: add kexec_file flag to control debug printing",
  },
};

/**
 * The first kernel release whose kexec_file_load exists on each architecture; before it the syscall
 * is ENOSYS (sys_kexec_file_load is a COND_SYSCALL stub, kernel/sys_ni.c), and kexec-tools' -a falls
 * back to kexec_load on ENOSYS (kexec/kexec.c do_kexec_file_load). x86_64: the syscall was added with
 * "kexec: new syscall kexec_file_load() declaration" and its x86 table entry (Linux 3.17); arm64:
 * 3ddd9992a590 "arm64: enable KEXEC_FILE config" (Linux 5.0). docs/loaders.md says the same.
 */
export const FILE_LOAD_SYSCALL_SINCE: Record<Arch, { since: readonly [number, number]; source: string }> = {
  x86_64: {
    since: [3, 17],
    source: 'kexec_file_load added in Linux 3.17 ("kexec: new syscall kexec_file_load() declaration")',
  },
  arm64: { since: [5, 0], source: '3ddd9992a590 "arm64: enable KEXEC_FILE config", Linux 5.0' },
};

/** Does a kernel of version `v` have kexec_file_load on `arch` (FILE_LOAD_SYSCALL_SINCE)? */
export function hasFileLoadSyscall(arch: Arch, v: [number, number]): boolean {
  const { since } = FILE_LOAD_SYSCALL_SINCE[arch];
  return atLeast(v, since[0], since[1]);
}
