/**
 * `kexec-lab diff`: a logged load (parseKexecLog) against the same load planned here. The rules that
 * pick what to plan and what to compare; the findings themselves are src/diagnose/diff.ts's.
 * Browser-safe.
 */

import { type DiffReport, diffLoad } from "../diagnose/diff.js";
import type { KexecLogFacts } from "../diagnose/log.js";
import { parseIomem } from "../formats/iomem.js";
import type { GateState } from "../gates/types.js";
import type { Host } from "../host/host.js";
import { arm64MemoryRanges, x86MemoryRanges } from "../kexectools/debug.js";
import type { LoaderKind, PlanInput } from "../loader/plan.js";

/**
 * The loader to plan with: with --loader auto (the default) the syscall the log shows (kexec_load's
 * segment table: kexec-tools; the kernel's kexec_file lines: kexec-file), as the logged run did;
 * otherwise the one asked for.
 */
export function loaderForLog(asked: LoaderKind, facts: KexecLogFacts): LoaderKind {
  if (asked !== "auto" || facts.syscall === undefined) return asked;
  return facts.syscall === "kexec_load" ? "kexec-tools" : "kexec-file";
}

/**
 * Compare the log with `plan`: our MEMORY RANGES block for the machine (x86_64 from the host's
 * /sys/firmware/memmap, x86MemoryRanges; arm64 from the iomem, arm64MemoryRanges, with the crash
 * region of a crash load: --crashkernel's, else the last "Crash kernel" range of /proc/iomem), the
 * host's MemTotal and `memFree` (bytes; default the host's MemFree), then diffLoad.
 */
export function diffLog(
  facts: KexecLogFacts,
  plan: PlanInput,
  host?: Host,
  memFree?: number,
  gates?: GateState,
): DiffReport {
  let ourMemoryRanges: string[] | undefined;
  const crashRegion = plan.crash
    ? (plan.crashRegion ?? (plan.iomem !== undefined ? parseIomem(plan.iomem).crashKernel.at(-1) : undefined))
    : undefined;
  if (plan.arch === "x86_64" && host?.memmap !== undefined)
    ourMemoryRanges = x86MemoryRanges(host.memmap).lines;
  else if (plan.arch === "arm64" && plan.iomem !== undefined)
    ourMemoryRanges = arm64MemoryRanges(plan.iomem, crashRegion).lines;
  const free = memFree ?? host?.memFree;
  return diffLoad({
    facts,
    plan,
    ...(ourMemoryRanges !== undefined ? { ourMemoryRanges } : {}),
    ...(host?.memTotal !== undefined ? { memTotal: host.memTotal } : {}),
    ...(free !== undefined ? { memFree: free } : {}),
    ...((gates ?? host?.gates) !== undefined ? { gates: gates ?? host!.gates } : {}),
  });
}
