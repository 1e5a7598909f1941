import { availableParallelism } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { ARCHES } from "../../kimage/constants.js";
import { formatBytes } from "../../report/format.js";
import { loadStrategyFile } from "../../request/node/strategy-file.js";
import { readJsonFile } from "../../scenario/node/read.js";
import { gridFrom, SWEEP_COLUMNS, type SweepGridOptions, type SweepRow, toCsv } from "../../sweep/grid.js";
import { runGrid } from "../../sweep/node/pool.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { checkTextOutput, STDOUT_PATH, writeOutputFile } from "../files.js";
import { startProgress } from "../progress.js";
import { signalCheckpoint } from "../signals.js";

interface SweepOptions extends SweepGridOptions {
  scenario?: string;
  loadStrategy?: string[];
  format: "csv" | "json";
  output?: string;
  force?: boolean;
  jobs?: string;
  json?: boolean;
}

export function registerSweep(program: Command, ctx: CliContext): Command {
  return program
    .command("sweep")
    .description(
      "run the default machine over a grid of parameters (granule, VA bits, initrd size, policy, seed) to CSV or JSON",
    )
    .addOption(new Option("--arch <arch>", "architecture").choices(ARCHES).default("arm64"))
    .option(
      "--scenario <file>",
      "a scenario file as the base instead of the default machine (docs/scenario.md)",
    )
    .option("--granule <list>", "granules: 4K,16K,64K (default: 4K, or the scenario's)")
    .option("--va-bits <list>", "VA bits: e.g. 39,48,52 (default: 48, or the scenario's)")
    .option("--initrd <list>", "initrd sizes: e.g. 16M,64M,256M (default: 64M, or the scenario's initrd)")
    .option("--strategy <list>", "strategies (default: every one for the arch, or the --load-strategy ones)")
    .option(
      "--load-strategy <file>",
      "import a strategy module (docs/strategies.md) and sweep its strategies (with --strategy: the list given); repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--linear-map <list>", "linear-map-copy variants: block,page", "block")
    .option(
      "--free-pages <list>",
      "free-page policies: lowest,highest,random[:seed],fragmented[:fraction] (default: random, seeded by each point's seed, as run; or the scenario's)",
    )
    .option("--seed <list>", "seeds (default: 1, or the scenario's)")
    .option("--content <mode>", "page contents: synthetic (fast), shared or exact", "synthetic")
    .option(
      "--profile <name>",
      "timing-model profile for modelSeconds, or none (default: the one run uses, neoverse-n1-server on arm64, x86_64-server on x86_64)",
    )
    .option("--format <format>", "csv or json", "csv")
    .option("-o, --output <file>", "write to a file instead of stdout (- is stdout)")
    .option("--force", "overwrite the output file")
    .option("--jobs <n>", "worker threads (default: all cores, at most the number of points)")
    .option("--json", "the same as --format json")
    .addHelpText(
      "after",
      `
Every grid point is the default machine (QEMU virt 4 GiB for arm64, a 4 GiB PC for x86_64) with its
28 MiB kernel and 64 KiB DTB and an initrd of the given size, or the --scenario file's machine and
image (--initrd resizes its segment labelled "initrd"; segments above it move up), run through each
strategy on a fresh simulated machine and verified. The points run in parallel on worker threads.
Rows: one per point and strategy (and linear-map variant), in grid order, so the output is the same
whatever --jobs is.

Columns: ${SWEEP_COLUMNS.join(", ")}.

Examples:
  $ kexec-lab sweep --granule 4K,16K,64K --initrd 16M,64M,256M
  $ kexec-lab sweep --strategy linear-map-copy --linear-map block,page --initrd 64M,1G -o lm.csv
  $ kexec-lab sweep --free-pages lowest,random,fragmented --seed 1,2,3 --json
  $ kexec-lab sweep --load-strategy mine.js --strategy mine,linear-map-copy --initrd 16M,64M
  $ kexec-lab sweep --arch x86_64 --initrd 64M,512M --profile x86_64-server
  $ kexec-lab sweep --scenario examples/juno-16k-random.json --granule 4K,16K,64K --seed 1,2,3`,
    )
    .action(async (opts: SweepOptions) => {
      if (opts.output !== undefined) checkTextOutput(opts.output, opts.force === true, "--output");
      if (opts.format !== "csv" && opts.format !== "json") {
        throw new KexecLabError("E_FIELD_VALUE", `format "${opts.format}" (csv or json)`, {
          field: "--format",
        });
      }
      if (opts.content !== undefined && !["synthetic", "shared", "exact"].includes(opts.content)) {
        throw new KexecLabError("E_FIELD_VALUE", `content "${opts.content}"`, { field: "--content" });
      }
      const files = (opts.loadStrategy ?? []).map((f) => resolve(ctx.io.cwd, f));
      const loaded: string[] = [];
      for (const f of files) loaded.push(...(await loadStrategyFile(f, ctx.io.cwd)));
      if (opts.strategy === undefined && loaded.length > 0) opts.strategy = loaded.join(",");
      const points = gridFrom(
        opts,
        opts.scenario !== undefined
          ? {
              json: readJsonFile(opts.scenario),
              dir: dirname(opts.scenario),
              name: basename(opts.scenario, ".json"),
            }
          : undefined,
      );
      const jobs =
        opts.jobs !== undefined
          ? Math.max(1, Math.floor(Number(opts.jobs)) || 1)
          : Math.max(1, availableParallelism());
      const progress = startProgress(ctx.io, "sweep");
      let rows: SweepRow[];
      try {
        rows = await runGrid(
          points,
          Math.min(jobs, points.length),
          (d, t) => progress.update(d, t, `sweep ${d}/${t}`),
          files,
        );
      } finally {
        progress.stop();
      }
      const json = opts.json === true || opts.format === "json";
      const text = json ? `${JSON.stringify({ columns: SWEEP_COLUMNS, rows }, null, 2)}\n` : toCsv(rows);
      if (opts.output !== undefined && opts.output !== STDOUT_PATH) {
        await signalCheckpoint(); // after a synchronous grid (--jobs 1), a pending signal stops here
        writeOutputFile(opts.output, text, opts.force === true);
        ctx.io.stderr(`wrote ${opts.output}: ${rows.length} rows (${formatBytes(text.length)})\n`);
      } else {
        ctx.io.stdout(text);
      }
      ctx.exitCode = EXIT_OK;
    });
}
