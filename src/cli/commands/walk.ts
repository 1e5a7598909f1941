import type { Command } from "commander";
import { describeWalk } from "../../mmu/dump.js";
import { buildSingleRange } from "../../mmu/single.js";
import { renderWalkText } from "../../report/mmu-text.js";
import { type MappingOptions, mappingSpec, parseVa } from "../../request/mapping.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import { addMappingOptions } from "./overhead.js";
import { strategyTablesFor } from "./tables.js";

export function registerWalk(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command("walk")
    .description("translate one VA through the tables of one mapped range, level by level")
    .argument("<va>", "the VA to translate, full 64-bit (decimal or 0x hex)");
  addMappingOptions(cmd, "2M")
    .option("--json", "print the walk as JSON")
    .option("--strategy <name>", "walk this strategy's tables for the default scenario instead of one range")
    .option(
      "--load-strategy <file>",
      "import a strategy module first (docs/strategies.md); repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--linear-map <kind>",
      "with --strategy linear-map-copy: block, page, or the largest block (2M, 1G)",
      "block",
    )
    .addHelpText(
      "after",
      `
Builds the tables as 'kexec-lab tables' would, then walks <va> by reading descriptors from the simulated
RAM: each level's index, the descriptor's address and value, and its decoded fields. Exit code 0 when the
VA translates, 1 when the walk faults (the fault and its level are printed), 2 on bad input.

Examples:
  $ kexec-lab walk 0x1234
  $ kexec-lab walk 0xffff000000201008 --va-base 0xffff000000000000 --map block --size 1G
  $ kexec-lab walk 0x400000 --arch x86_64 --size 2M --json
  $ kexec-lab walk 0xffff000000000000 --strategy va-copy   (va-copy's first source page)`,
    )
    .action(async (vaText: string, opts: WalkOptions, command: Command) => {
      if (opts.strategy !== undefined) {
        const t = await strategyTablesFor(opts, command, ctx);
        const parts = parseVa(vaText, t.format.vaBits, "<va>");
        const root = parts.half === 1 ? t.ttbr1 : t.ttbr0;
        const w = describeWalk(t.mem, t.format, root, parts.half, parts.va);
        if (opts.json) printJson(ctx.io, { format: t.format.name, strategy: t.strategy, ...w });
        else ctx.io.stdout(renderWalkText(`${t.format.name}, ${t.strategy}'s tables`, w));
        ctx.exitCode = w.result.ok ? EXIT_OK : EXIT_REFUSED;
        return;
      }
      const built = buildSingleRange(mappingSpec(opts));
      const { format, mem, builder } = built;
      const parts = parseVa(vaText, format.vaBits, "<va>");
      const root = builder.hasRoot(parts.half) ? builder.root(parts.half) : -1;
      const w = describeWalk(mem, format, root, parts.half, parts.va);
      if (opts.json) printJson(ctx.io, { format: format.name, ...w });
      else ctx.io.stdout(renderWalkText(format.name, w));
      ctx.exitCode = w.result.ok ? EXIT_OK : EXIT_REFUSED;
    });
  return cmd;
}

interface WalkOptions extends MappingOptions {
  json?: boolean;
  strategy?: string;
  loadStrategy?: string[];
  linearMap: string;
}
