/**
 * What the kexec_file_load syscall checks before it probes the kernel file (kernel/kexec_file.c
 * SYSCALL_DEFINE5(kexec_file_load) and kimage_file_alloc_init), per running kernel:
 *   - the syscall exists: CONFIG_KEXEC_FILE, and the architecture's first release with it (ENOSYS);
 *   - the flags: KEXEC_FILE_DEBUG (0x8, passed by kexec-tools 2.0.29+ with -d) is known from 6.8;
 *     before, flags & ~KEXEC_FILE_FLAGS is EINVAL;
 * and, with KHO scratch areas (6.16+, not a crash load), the KHO FDT and scratch table buffer the
 * kernel adds first (kho.ts). Browser-safe.
 */

import type { Range } from "../../machine/ranges.js";
import { DEFAULT_KEXEC_TOOLS_VERSION, KernelRefusal, toolsBefore } from "../auto.js";
import type { Ctx } from "../context.js";
import type { MachineView } from "../machine-view.js";
import { addKhoScratchTable, type KhoChosen } from "./kho.js";
import { atLeast, FILE_LOAD_SYSCALL_SINCE, hasFileLoadSyscall, KERNEL_RULES } from "./version.js";

/**
 * The syscall's own checks (KernelRefusal with ENOSYS or EINVAL), after the KHO buffer is added.
 * Returns what the arm64 DTB's /chosen must point at when KHO is on (kho.ts), else undefined.
 */
export function kexecFileSyscall(
  ctx: Ctx,
  view: MachineView,
  crashRegion: Range | undefined,
): KhoChosen | undefined {
  const input = ctx.input;
  const version = view.kernelVersion;
  const kho = view.khoScratch;
  const chosen = kho && !crashRegion ? addKhoScratchTable(ctx, kho) : undefined;
  if (!view.kexecFileSyscall)
    throw new KernelRefusal("ENOSYS", "the running kernel has no kexec_file_load (CONFIG_KEXEC_FILE is off)");
  if (!hasFileLoadSyscall(view.arch, version)) {
    const { since, source } = FILE_LOAD_SYSCALL_SINCE[view.arch];
    throw new KernelRefusal(
      "ENOSYS",
      `a ${view.kernelVersionName} kernel has no kexec_file_load on ${view.arch} (from ${since.join(".")} on: ${source})`,
    );
  }
  // kexec-tools 2.0.29+ (9d9cf8d) passes KEXEC_FILE_DEBUG (0x8) with -d; kernels before 6.8 do not
  // know the flag and refuse it (flags & ~KEXEC_FILE_FLAGS): EINVAL, so -a falls back to kexec_load.
  const tools = input.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION;
  if (
    input.kexecDebug &&
    !toolsBefore(tools, "2.0.29") &&
    !atLeast(version, ...KERNEL_RULES.fileDebugFlag.since)
  ) {
    throw new KernelRefusal(
      "EINVAL",
      `kexec -d passes KEXEC_FILE_DEBUG (kexec-tools ${tools}), which a ${view.kernelVersionName} kernel does not know (added in 6.8)`,
    );
  }
  return chosen;
}
