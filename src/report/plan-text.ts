/** `kexec-lab plan`'s text output for a Plan (src/loader/plan.ts). Browser-safe. */

import { formatPlacement, type Plan, segmentBufszOf } from "../loader/plan.js";
import { formatBytes, hexAddr, renderTable } from "./format.js";

/**
 * The load line (arch, syscall, kernel-version rules, where the memory map came from and its RAM),
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
  let out = `${plan.arch} ${plan.loader === "kexec-file" ? "kexec_file_load" : "kexec_load"}${plan.kernelVersion !== undefined ? ` (kernel ${plan.kernelVersion} rules)` : ""}, memory map from ${plan.memoryMapSource} (${formatBytes(plan.memoryMap.ramBytes)} RAM)\n`;
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
