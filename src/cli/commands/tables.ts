import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { dumpTree, tableImage } from "../../mmu/dump.js";
import { buildSingleRange } from "../../mmu/single.js";
import { formatBytes } from "../../report/format.js";
import { tablesJson } from "../../report/mmu-text.js";
import { type MappingOptions, mappingSpec } from "../../request/mapping.js";
import { loadStrategyFile } from "../../request/node/strategy-file.js";
import { strategyTables } from "../../request/strategy-tables.js";
import { parseGranule, parseInteger, parseLinearMap } from "../../sweep/grid.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { checkBinaryOutput, writeOutputFile } from "../files.js";
import { printJson } from "../io.js";
import { addMappingOptions } from "./overhead.js";

export function registerTables(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command("tables")
    .description("build the translation tables for one range and dump them as a tree or a raw binary image");
  addMappingOptions(cmd, "2M")
    .option("--binary <file>", "write the table pages, concatenated in allocation order, to a file")
    .option("--force", "overwrite the --binary file if it exists")
    .option("--json", "print the table pages (PA, level, offset in the image) as JSON instead of the tree")
    .option(
      "--strategy <name>",
      "instead of one range: the tables this strategy builds for the default scenario",
    )
    .option(
      "--load-strategy <file>",
      "import a strategy module first (docs/strategies.md); repeatable",
      collect,
    )
    .option(
      "--linear-map <kind>",
      "with --strategy linear-map-copy: block, page, or the largest block (2M, 1G)",
      "block",
    )
    .addHelpText(
      "after",
      `
The tree shows every valid entry; runs of leaves with the same attributes and consecutive addresses are
folded into one line. The binary image holds one granule per table page, in the order the pages were
allocated (the root first); --json lists each page's PA and level with its offset in the image.

Examples:
  $ kexec-lab tables --size 64K
  $ kexec-lab tables --arch x86_64 --map block --size 4M --va-base 0xffffffff80000000
  $ kexec-lab tables --granule 16K --size 1M --contiguous --binary tables.bin --json
  $ kexec-lab tables --strategy linear-map-copy --linear-map 2M
  $ kexec-lab tables --load-strategy mine.js --strategy linear-map-2m`,
    )
    .action(async (opts: TablesOptions, command: Command) => {
      if (opts.binary !== undefined) checkBinaryOutput(opts.binary, opts.force === true, "--binary");
      if (opts.strategy !== undefined) {
        const t = await strategyTablesFor(opts, command, ctx);
        const roots = [
          { half: 0 as const, pa: t.ttbr0, label: t.format.arch === "x86_64" ? "CR3" : "TTBR0" },
          ...(t.format.arch === "arm64" ? [{ half: 1 as const, pa: t.ttbr1, label: "TTBR1" }] : []),
        ].filter((r) => r.pa >= 0);
        ctx.io.stdout(
          `${t.strategy} on the default ${t.format.name} scenario: ${t.pages} table pages (${formatBytes(t.bytes)})\n\n`,
        );
        ctx.io.stdout(dumpTree(t.mem, t.format, roots));
        ctx.exitCode = EXIT_OK;
        return;
      }
      const built = buildSingleRange(mappingSpec(opts));
      const { builder, mem, format, request } = built;
      const pages = builder.tablePages();
      if (opts.binary !== undefined)
        writeOutputFile(opts.binary, tableImage(mem, builder), opts.force === true);
      if (opts.json) {
        printJson(ctx.io, tablesJson(built));
      } else {
        const label = format.arch === "x86_64" ? "CR3" : request.half === 1 ? "TTBR1" : "TTBR0";
        ctx.io.stdout(dumpTree(mem, format, [{ half: request.half, pa: builder.root(request.half), label }]));
        if (opts.binary !== undefined) {
          ctx.io.stdout(
            `\nwrote ${pages.length} table pages (${formatBytes(pages.length * format.granule)}) to ${opts.binary}\n`,
          );
        }
      }
      ctx.exitCode = EXIT_OK;
    });
  return cmd;
}

interface TablesOptions extends MappingOptions {
  binary?: string;
  force?: boolean;
  json?: boolean;
  strategy?: string;
  loadStrategy?: string[];
  linearMap: string;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The options that describe one range: refused with --strategy, whose tables are its own. */
const RANGE_OPTIONS = ["size", "map", "vaBase", "pa", "contiguous", "gbpages", "levels", "paBits"];

/** tables/walk --strategy: load the modules, check the options, build the strategy's tables. */
export async function strategyTablesFor(
  opts: {
    strategy?: string;
    loadStrategy?: string[];
    arch: string;
    granule: string;
    vaBits?: string;
    linearMap: string;
  },
  command: Command,
  ctx: CliContext,
) {
  for (const f of opts.loadStrategy ?? []) await loadStrategyFile(f, ctx.io.cwd);
  const given = RANGE_OPTIONS.find((o) => command.getOptionValueSource(o) === "cli");
  if (given !== undefined) {
    throw new KexecLabError(
      "E_USAGE",
      `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} describes one range; with --strategy the tables are the strategy's own`,
      { field: "--strategy" },
    );
  }
  const arch = opts.arch === "x86_64" ? "x86_64" : "arm64";
  return strategyTables(arch, opts.strategy!, {
    pageSize: parseGranule(opts.granule, arch),
    ...(opts.vaBits !== undefined ? { vaBits: parseInteger(opts.vaBits, "--va-bits") } : {}),
    ...parseLinearMap(opts.linearMap),
  });
}
