/** `kexec-lab plan`'s text output for a Plan (src/loader/plan.ts). Browser-safe. */

import { formatPlacement, type Plan, segmentBufszOf } from "../loader/plan.js";
import { formatBytes, hexAddr, renderTable } from "./format.js";

/** The kernel's sanity_check_segment_list checks and the source of each (kernel/kexec.c, kernel/kexec_core.c). */
const CHECK_SOURCE: Record<string, string> = {
  permission: "kernel/kexec.c kexec_load_check (kexec_load_permitted)",
  flags: "kernel/kexec.c kexec_load_check",
  nr_segments: "kernel/kexec.c kexec_load_check",
  arch: "kernel/kexec.c kexec_load",
  crash_entry: "kernel/kexec.c kimage_alloc_init",
  segment_alignment: "kernel/kexec_core.c sanity_check_segment_list",
  segment_overlap: "kernel/kexec_core.c sanity_check_segment_list",
  segment_bufsz: "kernel/kexec_core.c sanity_check_segment_list",
  segment_pages: "kernel/kexec_core.c sanity_check_segment_list",
  crash_region: "kernel/kexec_core.c sanity_check_segment_list",
};

/** "refused: ..." leading a plan the kernel would refuse: the errno, the check and its source. */
export function planRefusalLine(plan: Plan): string {
  const v = plan.verdict;
  const syscall = plan.loader === "kexec-file" ? "kexec_file_load" : "kexec_load";
  return `refused: ${syscall} would fail with ${v.errno}: ${v.reason} (${CHECK_SOURCE[v.check] ?? v.check}; totalram ${formatBytes(plan.totalRam.bytes)} from ${plan.totalRam.source})`;
}

/**
 * The load line: arch, syscall, kernel-version rules, where the memory map came from and its RAM,
 * what the hole search read when that differs, and where totalram came from.
 */
export function planHeadLine(plan: Plan): string {
  const placement =
    plan.placementSource !== plan.memoryMapSource ? `, holes searched in ${plan.placementSource}` : "";
  return `${plan.arch} ${plan.loader === "kexec-file" ? "kexec_file_load" : "kexec_load"}${plan.kernelVersion !== undefined ? ` (kernel ${plan.kernelVersion} rules)` : ""}, memory map from ${plan.memoryMapSource} (${formatBytes(plan.memoryMap.ramBytes)} RAM)${placement}, totalram ${formatBytes(plan.totalRam.bytes)} from ${plan.totalRam.source}`;
}

/**
 * A refusal first (planRefusalLine), then the load line (arch, syscall, kernel-version rules, where the memory map came from and its RAM),
 * the syscall choice, the segment table (index, label, mem and end hex, memsz and bufsz as sizes),
 * why each segment landed where it did (formatPlacement), the entry points, and the plan's notes.
 * Ends with a newline.
 */
export function renderPlanText(plan: Plan): string {
  const rows = plan.segments.map((s, i) => [
    String(i),
    s.label ?? "",
    hexAddr(s.mem),
    hexAddr(s.mem + s.memsz),
    formatBytes(s.memsz),
    formatBytes(segmentBufszOf(s)),
  ]);
  let out = "";
  if (!plan.verdict.ok) out += `${planRefusalLine(plan)}\n\n`;
  // accepted by the kernel, but the new kernel damages a segment before it reads it (boot-hazards.ts)
  for (const h of plan.bootHazards ?? [])
    out += `fails at boot: the loaded kernel overwrites ${h.segment} [${hexAddr(h.start)}, ${hexAddr(h.end)}) before reading it: ${h.mechanism} (${h.source})\n\n`;
  out += `${planHeadLine(plan)}\n`;
  out += `syscall: ${plan.selection}\n\n`;
  out += `${renderTable(["#", "segment", "mem", "end", "memsz", "bufsz"], rows, ["right", "left", "left", "left", "right", "right"])}\n\n`;
  plan.segments.forEach((s, i) => {
    out += `${i} ${s.label}: ${formatPlacement(s.placement)}\n`;
  });
  out += "\n";
  out += `entry ${hexAddr(plan.entry)}, kernel entry ${hexAddr(plan.kernelEntry)}${plan.dtbAddress !== undefined ? `, dtb ${hexAddr(plan.dtbAddress)}` : ""}\n`;
  for (const n of plan.notes) out += `note: ${n}\n`;
  return out;
}
