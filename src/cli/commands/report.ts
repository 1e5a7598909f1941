import type { Command } from "commander";
import type { RunResult } from "../../reloc/result.js";
import type { ReportCurves } from "../../report/curves.js";
import { formatBytes } from "../../report/format.js";
import { renderHtmlReport } from "../../report/html.js";
import { chartJsSource } from "../../report/node/chart-source.js";
import { reconstructPageMap } from "../../report/pagemap.js";
import { loadRunResult } from "../../report/result-schema.js";
import { reportCurves } from "../../request/report.js";
import { readJsonFile } from "../../scenario/node/read.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { checkTextOutput, STDOUT_PATH, writeOutputFile } from "../files.js";
import { printJson } from "../io.js";
import { startProgress } from "../progress.js";
import { signalCheckpoint } from "../signals.js";

export interface HtmlReportCliOptions {
  /** Add the cost-vs-size charts (page tables analytically; modeled time on `profile`). Default true. */
  curves?: boolean;
  /** Timing-model profile for the time chart (default: the result's first, else one for the arch). */
  profile?: string;
  force?: boolean;
  subtitle?: string;
}

/**
 * Render `result` as the self-contained HTML report and write it to `path` (used by `report` and by
 * `run --html`). Returns the number of bytes written.
 */
export async function writeHtmlReport(
  ctx: CliContext,
  result: RunResult,
  path: string,
  opts: HtmlReportCliOptions = {},
): Promise<number> {
  let curves: ReportCurves | undefined;
  if (opts.curves !== false) {
    const progress = startProgress(ctx.io, "report: modeling time vs size");
    try {
      curves = reportCurves(result, opts.profile, (d, t) => progress.update(d, t));
    } finally {
      progress.stop();
    }
  }
  const html = renderHtmlReport(result, {
    chartJs: chartJsSource(),
    ...(curves !== undefined ? { curves } : {}),
    ...(opts.subtitle !== undefined ? { subtitle: opts.subtitle } : {}),
  });
  const bytes = new TextEncoder().encode(html);
  // The modeling and rendering above are synchronous: a SIGINT/SIGTERM that arrived meanwhile stops
  // the command here, before the file is written (src/cli/signals.ts).
  await signalCheckpoint();
  if (path === STDOUT_PATH) ctx.io.stdout(html);
  else writeOutputFile(path, bytes, opts.force === true);
  return bytes.length;
}

interface ReportOptions {
  output: string;
  force?: boolean;
  curves: boolean;
  pageMap: boolean;
  profile?: string;
  json?: boolean;
}

export function registerReport(program: Command, ctx: CliContext): Command {
  return program
    .command("report")
    .description(
      "write the self-contained HTML report (memory map, strategy comparison, charts) of a run result",
    )
    .argument("<result.json>", "the output of `kexec-lab run --json`")
    .requiredOption("-o, --output <file>", "HTML file to write (- prints it on stdout)")
    .option("--force", "overwrite the output file if it exists")
    .option("--no-curves", "leave out the cost-vs-size charts (they take a few seconds to model)")
    .option("--no-page-map", "do not rebuild the page map when the result has none")
    .option("--profile <name>", "timing-model profile for the time-vs-size chart (see kexec-lab calibrate)")
    .option("--json", "print what was written as JSON")
    .addHelpText(
      "after",
      `
The report is one HTML file that loads nothing from the network: an SVG physical memory map (RAM banks,
reservations, segments, density of source pages, indirection, control and table pages; wheel to zoom,
drag to pan, click for details), the per-strategy comparison, charts of page-table cost vs relocated
size per granule and of modeled time vs size per strategy (Chart.js, inlined), and the raw JSON.

Examples:
  $ kexec-lab run --json > result.json && kexec-lab report result.json -o report.html
  $ kexec-lab report result.json -o report.html --force --profile neoverse-n1-server`,
    )
    .action(async (file: string, opts: ReportOptions) => {
      checkTextOutput(opts.output, opts.force === true, "--output", opts.json !== true);
      const result = loadRunResult(readJsonFile(file), file);
      // A result without a page map: rebuild it by loading the same segments again (checked against
      // the result's kimage; left out when it does not match).
      if (result.pageMap === undefined && opts.pageMap) {
        const pm = reconstructPageMap(result);
        if (pm !== undefined) result.pageMap = pm;
      }
      const bytes = await writeHtmlReport(ctx, result, opts.output, {
        curves: opts.curves,
        ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
        ...(opts.force !== undefined ? { force: opts.force } : {}),
      });
      if (opts.json) printJson(ctx.io, { output: opts.output, bytes, scenario: result.scenario.name });
      else if (opts.output !== STDOUT_PATH) ctx.io.stdout(`wrote ${opts.output} (${formatBytes(bytes)})\n`);
      ctx.exitCode = EXIT_OK;
    });
}
