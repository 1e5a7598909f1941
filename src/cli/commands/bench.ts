import { type Command, Option } from "commander";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import type { ContentMode } from "../../machine/machine.js";
import { renderBenchText } from "../../report/bench-text.js";
import { type BenchRow, benchScenario } from "../../request/bench.js";
import { splitList } from "../../request/run.js";
import { defaultScenario } from "../../scenario/default.js";
import { parseInteger } from "../../sweep/grid.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { printJson } from "../io.js";
import { startProgress } from "../progress.js";

interface BenchOptions {
  arch: Arch;
  content: ContentMode;
  repeat: string;
  strategy?: string;
  json?: boolean;
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
      const repeat = parseInteger(opts.repeat, "--repeat");
      const sc = { ...defaultScenario(opts.arch, opts.content, 1), maxBytes: ctx.maxMemory };
      const strategies = splitList(opts.strategy);
      const progress = startProgress(ctx.io, "bench");
      let rows: BenchRow[];
      try {
        rows = benchScenario(sc, {
          repeat,
          ...(strategies !== undefined ? { strategies } : {}),
          onProgress: (d, t) => progress.update(d, t),
        });
      } finally {
        progress.stop();
      }
      if (opts.json) printJson(ctx.io, { scenario: sc.name, content: opts.content, repeat, rows });
      else ctx.io.stdout(renderBenchText(sc.name, opts.content, repeat, rows));
      ctx.exitCode = EXIT_OK;
    });
}
