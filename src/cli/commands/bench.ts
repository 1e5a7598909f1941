import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import type { ContentMode } from "../../machine/machine.js";
import { runScenario } from "../../reloc/run.js";
import { formatBytes, formatCount, formatSeconds, renderTable } from "../../report/format.js";
import { defaultScenario } from "../../scenario/default.js";
import { EXIT_OK } from "../exit.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { startProgress } from "../progress.js";

interface BenchOptions {
  arch: Arch;
  content: ContentMode;
  repeat: string;
  strategy?: string;
  json?: boolean;
}

export interface BenchRow {
  strategy: string;
  /** Pages relocated by the strategy per run. */
  pages: number;
  bytes: number;
  /** Best wall-clock seconds of the simulated relocation (execute) over the repeats. */
  seconds: number;
  pagesPerSecond: number;
  /** Simulated bytes relocated per wall-clock second. */
  bytesPerSecond: number;
  /** Wall-clock seconds of the whole best run (load, prepare, execute, verify) divided by its strategies. */
  totalSeconds: number;
}

export function registerBench(program: Command, ctx: CliContext): Command {
  return program
    .command("bench")
    .description("measure how fast this machine simulates the default scenario, per strategy (wall-clock)")
    .addOption(
      new Option("--arch <arch>", "architecture of the default scenario").choices(ARCHES).default("arm64"),
    )
    .addOption(
      new Option("--content <mode>", "page contents: exact bytes, shared frames, or synthetic")
        .choices(["exact", "shared", "synthetic"])
        .default("exact"),
    )
    .option("--repeat <n>", "runs per strategy; the best is reported", "3")
    .option("--strategy <names>", "comma-separated strategies (default: every one for the arch)")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Wall-clock figures of the simulator itself (not modeled kernel time: see \`run\` with profiles for that).
They vary from run to run, so this is the one command whose --json output is not byte-identical.
The project's full benchmark suite is \`npm run bench\` (bench/*.bench.ts).

Examples:
  $ kexec-lab bench
  $ kexec-lab bench --content shared --repeat 5
  $ kexec-lab bench --arch x86_64 --json`,
    )
    .action((opts: BenchOptions) => {
      const repeat = Number(opts.repeat);
      if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) {
        throw new KexecLabError("E_FIELD_VALUE", `"${opts.repeat}" is not a count from 1 to 100`, {
          field: "--repeat",
        });
      }
      const sc = { ...defaultScenario(opts.arch, opts.content, 1), maxBytes: ctx.maxMemory };
      const strategies = opts.strategy?.split(",").map((s) => s.trim());
      const progress = startProgress(ctx.io, "bench");
      const best = new Map<string, BenchRow>();
      try {
        for (let i = 0; i < repeat; i++) {
          const t0 = performance.now();
          const out = runScenario(sc, {
            timings: true,
            ...(strategies !== undefined ? { strategies } : {}),
            onStrategy: (_n, k, total) => progress.update(i * total + k, repeat * total),
          });
          const total = (performance.now() - t0) / 1000;
          if (!out.ok) {
            throw new KexecLabError(
              "E_NOT_MODELED",
              `the default scenario was refused: ${out.verdict.reason}`,
            );
          }
          for (const s of out.result.strategies) {
            const seconds = s.wallSeconds ?? 0;
            const pages = s.counters.pagesCopied;
            const row: BenchRow = {
              strategy: s.name,
              pages,
              bytes: s.counters.bytesCopied,
              seconds,
              pagesPerSecond: seconds > 0 ? pages / seconds : 0,
              bytesPerSecond: seconds > 0 ? s.counters.bytesCopied / seconds : 0,
              totalSeconds: total / out.result.strategies.length,
            };
            const prev = best.get(s.name);
            if (prev === undefined || row.seconds < prev.seconds) best.set(s.name, row);
          }
        }
      } finally {
        progress.stop();
      }
      const rows = [...best.values()];
      if (opts.json) {
        printJson(ctx.io, { scenario: sc.name, content: opts.content, repeat, rows });
      } else {
        ctx.io.stdout(`${sc.name}, ${opts.content} contents, best of ${repeat}\n\n`);
        ctx.io.stdout(
          `${renderTable(
            ["strategy", "pages copied", "relocated", "execute", "pages/s", "simulated/s"],
            rows.map((r) => [
              r.strategy,
              formatCount(r.pages),
              formatBytes(r.bytes),
              formatSeconds(r.seconds),
              formatCount(Math.round(r.pagesPerSecond)),
              `${formatBytes(Math.round(r.bytesPerSecond))}/s`,
            ]),
          )}\n`,
        );
      }
      ctx.exitCode = EXIT_OK;
    });
}
