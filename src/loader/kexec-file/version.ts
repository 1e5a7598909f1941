/**
 * Running-kernel versions whose kexec_file_load placement differs. Each boundary is a mainline commit;
 * where the release that first carried it was inferred from the commit's date rather than checked
 * against a tag, the docs (docs/loaders.md) say so.
 */

import { KexecLabError } from "../../errors.js";

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
  /** "kexec_file: add kexec_file flag to control debug printing": KEXEC_FILE_DEBUG (0x8) is accepted. */
  fileDebugFlag: {
    since: [6, 8] as const,
    commit: "kexec_file: add kexec_file flag to control debug printing",
  },
};
