/** The plan as JSON and as kexec-tools' --debug segment list. */

import { hex } from "../formats/bytes.js";
import type { Segment } from "../kimage/kimage.js";
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
 * kexec-tools' print_segments format (what --debug prints just before the syscall). The buf
 * pointers of a real run are user-space addresses that change every run; here they are offsets in a
 * notional buffer arena starting at 0x10000000, so only buf lines differ in a diff against a real run.
 */
export function formatPrintSegments(plan: Plan): string {
  const lines = [`nr_segments = ${plan.segments.length}`];
  let buf = 0x10000000;
  plan.segments.forEach((s, i) => {
    const bufsz = segmentBufszOf(s);
    lines.push(`segment[${i}].buf   = ${hex(buf)}`);
    lines.push(`segment[${i}].bufsz = ${hex(bufsz)}`);
    lines.push(`segment[${i}].mem   = ${hex(s.mem)}`);
    lines.push(`segment[${i}].memsz = ${hex(s.memsz)}`);
    buf += Math.ceil(Math.max(bufsz, 1) / 4096) * 4096;
  });
  return `${lines.join("\n")}\n`;
}

/** One line per segment saying why it is there, for the text output. */
export function formatPlacement(p: Placement): string {
  const max = Number.isFinite(p.window.max) ? hex(p.window.max) : "ULONG_MAX";
  const skipped = p.skipped.length ? `; skipped: ${p.skipped.join("; ")}` : "";
  return `${p.source}: ${p.direction}, align ${hex(p.align)}, window [${hex(p.window.min)}, ${max}), over ${p.walk}${skipped}${p.relocated ? "" : "; already in place (not copied at reboot)"}`;
}
