/** `kexec-lab crashkernel`'s text output for a CrashkernelAnswer (src/request/crashkernel.ts). Browser-safe. */

import type { CrashkernelAnswer } from "../request/crashkernel.js";
import { formatBytes } from "./format.js";

/**
 * The crashkernel= options read, the model (arch, kernel version, source), what parse_crashkernel
 * found, each memblock search, the kernel's log lines, the /proc/iomem lines and kexec_crash_size (or
 * the failure), where the crash load goes, the host's own lines for comparison, and the memblock
 * model's sources and notes. Ends with a newline.
 */
export function renderCrashkernelText(a: CrashkernelAnswer): string {
  const out: string[] = [];
  out.push(`${a.cmdline} on ${a.arch}, Linux ${a.kernelVersion}`);
  out.push(`  rules: ${a.source}`);
  const p = a.parsed;
  const parts = [`size ${formatBytes(p.size)}`];
  if (p.base) parts.push(`at 0x${p.base.toString(16)}`);
  if (p.high) parts.push("high");
  if (p.lowSize) parts.push(`low part ${formatBytes(p.lowSize)}`);
  if (p.cmaSize) parts.push(`CMA ${formatBytes(p.cmaSize)}`);
  out.push(
    `  parsed (RAM ${formatBytes(a.systemRam)}${p.syntax !== undefined ? `, ${p.syntax} syntax` : ""}): ${parts.join(", ")}`,
  );
  out.push(
    `  CRASH_ADDR_LOW_MAX ${a.limits.lowMax}, CRASH_ADDR_HIGH_MAX ${a.limits.highMax}, CRASH_ALIGN ${a.limits.align}`,
  );
  out.push("");
  out.push("memblock searches:");
  for (const s of a.steps) out.push(`  ${s}`);
  if (a.steps.length === 0) out.push("  none");
  out.push("");
  out.push("kernel log:");
  for (const l of a.log) out.push(`  ${l}`);
  if (a.log.length === 0) out.push("  (nothing)");
  out.push("");
  if (a.failure !== undefined) {
    out.push(`NOT RESERVED: ${a.failure}`);
    out.push("/sys/kernel/kexec_crash_size: 0");
  } else {
    out.push("/proc/iomem:");
    for (const l of a.iomem) out.push(l);
    for (const r of a.regions.filter((x) => x.kind === "cma"))
      out.push(`  (crashkernel CMA ${r.start}-${r.end}: not in /proc/iomem)`);
    out.push(`/sys/kernel/kexec_crash_size: ${a.kexecCrashSize}`);
    if (a.crashLoad !== undefined)
      out.push(
        `crash load (kexec -p) goes to [${a.crashLoad.start}, ${a.crashLoad.end}): ${a.crashLoad.why}`,
      );
  }
  out.push("");
  const hostLines = a.host.iomem.length > 0 ? a.host.iomem.map((l) => l.trim()).join(", ") : "none";
  if (a.host.sameCmdline && a.host.matches !== undefined)
    out.push(
      `the host booted with the same options; its "Crash kernel" lines: ${hostLines} (${a.host.matches ? "the same" : "DIFFERENT"})`,
    );
  else out.push(`the host's own "Crash kernel" lines: ${hostLines}`);
  out.push("memblock model:");
  for (const s of a.memblock.sources) out.push(`  ${s}`);
  for (const n of a.memblock.notes) out.push(`  note: ${n}`);
  return `${out.join("\n")}\n`;
}
