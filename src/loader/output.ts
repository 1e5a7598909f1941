/** The plan as JSON and as kexec-tools' --debug segment list. */

import { hex } from "../formats/bytes.js";
import { formatKexecLoad, kexecLoadFlags } from "../kexectools/debug.js";
import type { Segment } from "../kimage/kimage.js";
import { atLeast, KERNEL_RULES, parseKernelVersion } from "./kexec-file/version.js";
import type { Placement, Plan } from "./types.js";

export function segmentBufszOf(s: Segment): number {
  return s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz;
}

function placementJson(p: Placement): Record<string, unknown> {
  return {
    syscall: p.syscall,
    source: p.source,
    window: { min: hex(p.window.min), max: Number.isFinite(p.window.max) ? hex(p.window.max) : "ULONG_MAX" },
    align: hex(p.align),
    direction: p.direction,
    walk: p.walk,
    skipped: p.skipped,
    relocated: p.relocated,
  };
}

/** The plan as one JSON-ready object: addresses "0x...", sizes numbers. */
export function planToJson(plan: Plan): Record<string, unknown> {
  const out: Record<string, unknown> = {
    arch: plan.arch,
    loader: plan.loader,
    syscall: plan.loader === "kexec-file" ? "kexec_file_load" : "kexec_load",
    selection: plan.selection,
    ...(plan.kernelVersion !== undefined ? { kernelVersion: plan.kernelVersion } : {}),
    memoryMapSource: plan.memoryMapSource,
    placementSource: plan.placementSource,
    totalRam: plan.totalRam,
    segments: plan.segments.map((s) => ({
      kind: s.label ?? "segment",
      mem: hex(s.mem),
      memsz: s.memsz,
      bufsz: segmentBufszOf(s),
      placement: placementJson(s.placement),
    })),
    entry: hex(plan.entry),
    kernelEntry: hex(plan.kernelEntry),
  };
  if (plan.dtbAddress !== undefined) out.dtb = hex(plan.dtbAddress);
  if (plan.initrd) out.initrd = { start: hex(plan.initrd.start), end: hex(plan.initrd.end) };
  if (plan.crashRegion)
    out.crashRegion = { start: hex(plan.crashRegion.start), end: hex(plan.crashRegion.end) };
  if (plan.cmdline !== undefined) out.cmdline = plan.cmdline;
  out.kernelCheck = {
    ok: plan.verdict.ok,
    errno: plan.verdict.errno,
    check: plan.verdict.check,
    reason: plan.verdict.reason,
  };
  out.notes = plan.notes;
  return out;
}

/**
 * The segment lines the chosen syscall path prints for this plan, to diff against a real run:
 *
 * - kexec_load (plan.loader "kexec-tools", also after a fallback): `kexec -d`'s "kexec_load: entry = ...
 *   flags = ..." line and print_segments' table (kexec/kexec.c my_load), as formatKexecLoad writes them.
 *   A real run's buf pointers are addresses in the kexec process that change every run; here they
 *   count up from 0x10000000, so only the buf lines differ.
 * - kexec_file_load (plan.loader "kexec-file"): the kernel's pr_debug line per segment in the order it
 *   added them, "kexec_file: Loading segment N: buf=0x%p bufsz=0x%zx mem=0x%lx memsz=0x%zx"
 *   (kernel/kexec_file.c kexec_file_load, Linux 6.1, seen with dynamic debug on for that file). buf is a
 *   kernel pointer printed with %p, which the kernel hashes and prints as "(____ptrval____)" until its
 *   hash key is ready (so in every recorded run); kexec-lab has no such pointer and prints that text.
 *   From Linux 6.8 (KERNEL_RULES.fileDebugFlag) the kernel prints instead, and only when kexec passed
 *   KEXEC_FILE_DEBUG (kexec-tools 2.0.29+ with -d), "kexec_file: nr_segments = N" and one
 *   "kexec_file: segment[N]: buf=0x%p bufsz=0x%zx mem=0x%lx memsz=0x%zx" per segment (recorded on Debian
 *   6.12 and 7.3). Its closing "kexec_file_load: type:..., start:... head:0x..." line is not printed
 *   here: head is the address of the first indirection page, which the running kernel's page allocator
 *   picks at load time.
 */
export function formatPrintSegments(plan: Plan): string {
  const segs = plan.segments.map((s) => ({ mem: s.mem, memsz: s.memsz, bufsz: segmentBufszOf(s) }));
  const dprintk =
    plan.kernelVersion !== undefined &&
    atLeast(parseKernelVersion(plan.kernelVersion), ...KERNEL_RULES.fileDebugFlag.since);
  const fileLine = (s: { mem: number; memsz: number; bufsz: number }, i: number) =>
    `kexec_file: ${dprintk ? `segment[${i}]:` : `Loading segment ${i}:`} buf=0x(____ptrval____) bufsz=${hex(s.bufsz)} mem=${hex(s.mem)} memsz=${hex(s.memsz)}`;
  const lines =
    plan.loader === "kexec-file"
      ? [...(dprintk ? [`kexec_file: nr_segments = ${segs.length}`] : []), ...segs.map(fileLine)]
      : formatKexecLoad(plan.entry, kexecLoadFlags(plan.arch, plan.crashRegion !== undefined), segs);
  return `${lines.join("\n")}\n`;
}

/** One line per segment saying why it is there, for the text output. */
export function formatPlacement(p: Placement): string {
  const max = Number.isFinite(p.window.max) ? hex(p.window.max) : "ULONG_MAX";
  const skipped = p.skipped.length ? `; skipped: ${p.skipped.join("; ")}` : "";
  return `${p.source}: ${p.direction}, align ${hex(p.align)}, window [${hex(p.window.min)}, ${max}), over ${p.walk}${skipped}${p.relocated ? "" : "; already in place (not copied at reboot)"}`;
}
