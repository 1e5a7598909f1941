/**
 * The text of `kexec-lab crashkernel --verify` / `--bisect` (src/crash/verify-report.ts builds the
 * report): the machine and tools, one line per probe with its wall time, then the verdict.
 */

import type { ProbeResult } from "../crash/verify.js";
import type { VerifyReport } from "../crash/verify-report.js";
import { formatBytes } from "./format.js";

/** One probe in a few words: what worked, how far it got. */
export function probeSummary(p: ProbeResult): string {
  if (p.ok) {
    if (p.dumpWritten)
      return `dump written: all ${formatBytes(p.vmcoreBytes ?? 0)} of /proc/vmcore copied onto the dump disk${p.dumpSeconds !== undefined ? ` in ${p.dumpSeconds.toFixed(1)} s` : ""}${p.dumpOnDisk ? " (an ELF core file there)" : ""}`;
    return "the crash kernel booted";
  }
  return `FAILS: ${p.failure ?? "unknown"}`;
}

function probeDetail(p: ProbeResult): string[] {
  const out: string[] = [];
  const reserved =
    p.reservedLines.length > 0
      ? `reserved ${p.reservedBytes !== undefined ? formatBytes(p.reservedBytes) : "?"} (${p.reservedLines.join(", ")})`
      : "nothing reserved";
  const steps = [
    reserved,
    p.loaded
      ? "kexec -p loaded"
      : `kexec -p ${p.kexecExit !== undefined ? `exit ${p.kexecExit}` : "not run"}`,
    p.crashKernelBooted ? "crash kernel booted" : "no crash kernel",
    ...(p.userSpace ? ["its /init ran"] : []),
  ];
  out.push(`      ${steps.join("; ")}`);
  if (p.kallsymsText !== undefined) out.push(`      /proc/kallsyms had no _text: ${p.kallsymsText}`);
  if (p.memTotal !== undefined)
    out.push(
      `      crash kernel MemTotal ${formatBytes(p.memTotal)}, MemFree ${formatBytes(p.memFreeAtStart ?? 0)} at /init${p.memFreeAfterDump !== undefined ? `, ${formatBytes(p.memFreeAfterDump)} after the dump` : ""}`,
    );
  if (!p.loaded && p.kexecOutput?.length) for (const l of p.kexecOutput) out.push(`      | ${l}`);
  return out;
}

export function renderCrashkernelVerifyText(r: VerifyReport): string {
  const lines: string[] = [];
  const what =
    r.mode === "bisect" ? `crashkernel --bisect ${r.bisect!.lo}:${r.bisect!.hi}` : "crashkernel --verify";
  lines.push(
    `${what}: ${r.kernel} (${r.arch}${r.kernelVersion !== undefined ? `, Linux ${r.kernelVersion}` : ""})`,
  );
  lines.push(
    `  machine: ${r.machine.description}, -m ${r.machine.memory}, -smp ${r.machine.cpus} (${r.machine.qemu})`,
  );
  lines.push(`  kexec -p: Debian kexec-tools ${r.kexecTools.package} (kexec_load), busybox ${r.busybox}`);
  lines.push(`  crash kernel: the same kernel, --append="${r.crashCmdline}", initrd: ${r.crashInitrd}`);
  lines.push(`  then: echo c > /proc/sysrq-trigger`);
  lines.push("");
  lines.push(r.mode === "bisect" ? `probes (in the order run, steps of ${r.bisect!.step}):` : "probe:");
  for (const p of r.probes) {
    lines.push(
      `  crashkernel=${p.crashkernel.padEnd(6)} ${String(p.seconds.toFixed(1)).padStart(6)} s  ${probeSummary(p)}`,
    );
    lines.push(...probeDetail(p));
  }
  lines.push("");
  if (r.mode === "bisect") {
    const b = r.bisect!;
    if (b.verdict === "found")
      lines.push(
        `smallest crashkernel= that works: ${b.smallestOk}; largest that fails: ${b.largestFail} (${r.probes.length} probes, ${r.seconds.toFixed(1)} s)`,
      );
    else if (b.verdict === "works-at-lo")
      lines.push(
        `crashkernel=${b.smallestOk} (the low end) already works: nothing below it was probed (${r.probes.length} probes, ${r.seconds.toFixed(1)} s)`,
      );
    else
      lines.push(
        `crashkernel=${b.hi} (the high end) fails: no size in the range works (${r.seconds.toFixed(1)} s)`,
      );
  } else {
    const p = r.probes[0]!;
    lines.push(`crashkernel=${p.crashkernel}: ${p.ok ? "works" : "FAILS"} (${r.seconds.toFixed(1)} s)`);
  }
  lines.push(
    `note: ${r.crashInitrd === "test initrd" ? "works = the crash kernel copied all of /proc/vmcore onto its dump disk (QEMU NVMe, dd bs=1M) and the host found an ELF core file there; busybox dd stands for the dump tool (no makedumpfile)" : "works = the crash kernel booted (with your initrd kexec-lab cannot see whether the dump was saved)"}`,
  );
  if (r.arch === "arm64")
    lines.push(
      `note: kexec-tools needs _text in /proc/kallsyms for the kernel text PT_LOAD of the ELF core header; ${r.kallsymsText === "auto" ? "where the kernel lacks it, it is supplied as _stext minus the Image's .text offset (docs/kdump.md)" : "not supplied (--kallsyms-text off)"}`,
    );
  return `${lines.join("\n")}\n`;
}
