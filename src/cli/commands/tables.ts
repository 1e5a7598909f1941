import type { Command } from "commander";
import { dumpTree, tableImage } from "../../mmu/dump.js";
import { buildSingleRange } from "../../mmu/single.js";
import { formatBytes } from "../../report/format.js";
import { tablesJson } from "../../report/mmu-text.js";
import { type MappingOptions, mappingSpec } from "../../request/mapping.js";
import { EXIT_OK } from "../exit.js";
import { writeOutputFile } from "../files.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { addMappingOptions } from "./overhead.js";

export function registerTables(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command("tables")
    .description("build the translation tables for one range and dump them as a tree or a raw binary image");
  addMappingOptions(cmd, "2M")
    .option("--binary <file>", "write the table pages, concatenated in allocation order, to a file")
    .option("--force", "overwrite the --binary file if it exists")
    .option("--json", "print the table pages (PA, level, offset in the image) as JSON instead of the tree")
    .addHelpText(
      "after",
      `
The tree shows every valid entry; runs of leaves with the same attributes and consecutive addresses are
folded into one line. The binary image holds one granule per table page, in the order the pages were
allocated (the root first); --json lists each page's PA and level with its offset in the image.

Examples:
  $ kexec-lab tables --size 64K
  $ kexec-lab tables --arch x86_64 --map block --size 4M --va-base 0xffffffff80000000
  $ kexec-lab tables --granule 16K --size 1M --contiguous --binary tables.bin --json`,
    )
    .action((opts: MappingOptions & { binary?: string; force?: boolean; json?: boolean }) => {
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
