import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { describeWalk, fieldsText } from "../../mmu/dump.js";
import { buildSingleRange } from "../../mmu/single.js";
import { toVaParts } from "../../mmu/types.js";
import { renderTable } from "../../report/format.js";
import { parseU64 } from "../../scenario/numbers.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { addMappingOptions, type MappingOptions, mappingSpec } from "./overhead.js";

export function registerWalk(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command("walk")
    .description("translate one VA through the tables of one mapped range, level by level")
    .argument("<va>", "the VA to translate, full 64-bit (decimal or 0x hex)");
  addMappingOptions(cmd, "2M")
    .option("--json", "print the walk as JSON")
    .addHelpText(
      "after",
      `
Builds the tables as 'kexec-lab tables' would, then walks <va> by reading descriptors from the simulated
RAM: each level's index, the descriptor's address and value, and its decoded fields. Exit code 0 when the
VA translates, 1 when the walk faults (the fault and its level are printed), 2 on bad input.

Examples:
  $ kexec-lab walk 0x1234
  $ kexec-lab walk 0xffff000000201008 --va-base 0xffff000000000000 --map block --size 1G
  $ kexec-lab walk 0x400000 --arch x86_64 --size 2M --json`,
    )
    .action((vaText: string, opts: MappingOptions & { json?: boolean }) => {
      const built = buildSingleRange(mappingSpec(opts));
      const { format, mem, builder } = built;
      const full = parseU64(vaText, "<va>");
      const parts = toVaParts(full, format.vaBits);
      if (parts === undefined) {
        throw new KexecLabError(
          "E_MAP_RANGE",
          `0x${full.toString(16)} is in neither VA half of a ${format.vaBits}-bit address space`,
          { field: "<va>" },
        );
      }
      const root = builder.hasRoot(parts.half) ? builder.root(parts.half) : -1;
      const w = describeWalk(mem, format, root, parts.half, parts.va);
      if (opts.json) {
        printJson(ctx.io, { format: format.name, ...w });
      } else {
        ctx.io.stdout(`${format.name}: walk of VA ${w.va}\n\n`);
        ctx.io.stdout(
          `${renderTable(
            ["level", "index", "descriptor @", "descriptor", "kind", "address", "fields"],
            w.steps.map((s) => [
              s.levelName,
              String(s.index),
              s.descriptorPa,
              s.descriptor,
              s.kind,
              s.address,
              fieldsText(s.fields),
            ]),
            ["left", "right", "right", "right", "left", "right", "left"],
          )}\n\n`,
        );
        const r = w.result;
        ctx.io.stdout(
          r.ok
            ? `PA ${r.pa} (level ${r.level} leaf of ${r.size} bytes)\n`
            : `fault: ${r.fault} at level ${r.level}${r.pa !== undefined ? ` reading ${r.pa}` : ""}\n`,
        );
      }
      ctx.exitCode = w.result.ok ? EXIT_OK : EXIT_REFUSED;
    });
  return cmd;
}
