/** `kexec-lab diff`'s text output for a DiffReport (src/diagnose/diff.ts). Browser-safe. */

import type { DiffReport } from "../diagnose/diff.js";

/** How each finding is marked: "=" the same, "~" different or failed for a reason named, "!" not explained. */
export const DIFF_MARKS = { same: "=", explained: "~", unexplained: "!" } as const;

/** One line a finding ("MARK topic: text"), then the count of findings and of unexplained ones. */
export function renderDiffText(report: DiffReport): string {
  let out = "";
  for (const f of report.findings) out += `${DIFF_MARKS[f.status]} ${f.topic}: ${f.text}\n`;
  return `${out}${report.findings.length} findings, ${report.unexplained} not explained\n`;
}
