/** `kexec-lab bench`'s text output (src/request/bench.ts). Browser-safe. */

import type { BenchRow } from "../request/bench.js";
import { formatBytes, formatCount, formatSeconds, renderTable } from "./format.js";

/** The scenario line and one row a strategy: pages, bytes relocated, execute seconds, rates. Ends with a newline. */
export function renderBenchText(
  scenario: string,
  content: string,
  repeat: number,
  rows: readonly BenchRow[],
): string {
  const table = renderTable(
    ["strategy", "pages copied", "relocated", "execute", "pages/s", "simulated/s"],
    rows.map((r) => [
      r.strategy,
      formatCount(r.pages),
      formatBytes(r.bytes),
      formatSeconds(r.seconds),
      formatCount(Math.round(r.pagesPerSecond)),
      `${formatBytes(Math.round(r.bytesPerSecond))}/s`,
    ]),
  );
  return `${scenario}, ${content} contents, best of ${repeat}\n\n${table}\n`;
}
