/** The "what the crash kernel is given" block of `plan -p` (src/crash/given.ts). Browser-safe. */

import type { CrashKernelGiven } from "../crash/given.js";
import { hex } from "../scenario/numbers.js";
import { formatBytes } from "./format.js";

const span = (r: { start: number; end: number }) => `[${hex(r.start)}, ${hex(r.end)})`;

/** The regions, the load's region and crashk_res, the memory map, the appended command line, the ELF core header. */
export function renderCrashGiven(g: CrashKernelGiven): string {
  const out: string[] = ["", "crash kernel:"];
  out.push(
    `  "Crash kernel" regions: ${g.regions.map((r) => `${span(r)} ${formatBytes(r.end - r.start)}`).join(", ")}`,
  );
  out.push(
    `  the load is in ${span(g.loadRegion)}; the kernel checks it against crashk_res ${span(g.crashRes)}`,
  );
  out.push(`  memory map: ${g.memoryMap.how}`);
  for (const r of g.memoryMap.ranges) out.push(`    ${span(r)} ${r.type} (${formatBytes(r.end - r.start)})`);
  if (g.prepended !== "") out.push(`  command line prepended by the kernel: ${g.prepended.trim()}`);
  out.push(`  command line appended: ${g.appended.trim() === "" ? "(nothing)" : g.appended.trim()}`);
  const h = g.elfcorehdr;
  if (h !== undefined) {
    out.push(
      `  elfcorehdr at ${hex(h.start)} (${h.bufsz} bytes): ${h.notes} PT_NOTE (one per CPU + vmcoreinfo), PT_LOAD for the kernel text${h.loads.length ? ` and ${h.loads.length} RAM ranges:` : ""}`,
    );
    for (const r of h.loads) out.push(`    ${span(r)} ${formatBytes(r.end - r.start)}`);
  }
  return `${out.join("\n")}\n`;
}
