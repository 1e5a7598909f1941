import { type Command, Option } from "commander";
import { renderOverheadText } from "../../report/mmu-text.js";
import { type MappingOptions, mappingSpec, tableOverhead } from "../../request/mapping.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { printJson } from "../io.js";

export function addMappingOptions(cmd: Command, sizeDefault?: string): Command {
  return cmd
    .addOption(new Option("--arch <arch>", "architecture").choices(["arm64", "x86_64"]).default("arm64"))
    .option(
      "--granule <size>",
      "arm64 translation granule: 4K, 16K or 64K (any case; as run and sweep take it)",
      "4K",
    )
    .option("--va-bits <n>", "arm64 VA bits: 39, 42, 47, 48 or 52 (default 48); x86_64: 48 or 57")
    .option("--pa-bits <n>", "PA bits (arm64 default 48, 52 with 52-bit VA; x86_64 MAXPHYADDR default 52)")
    .addOption(new Option("--levels <n>", "x86_64 paging levels").choices(["4", "5"]).default("4"))
    .addOption(
      new Option("--map <kind>", "page: last-level pages only; block: largest leaves alignment allows")
        .choices(["page", "block"])
        .default("page"),
    )
    .option("--gbpages", "x86_64: allow 1G pages with --map block (arm64 always uses level-1 blocks)")
    .option("--contiguous", "arm64: set the contiguous hint on aligned runs")
    .addOption(
      sizeDefault === undefined
        ? new Option("--size <size>", "bytes to map (K/M/G/T suffixes)").makeOptionMandatory()
        : new Option("--size <size>", "bytes to map (K/M/G/T suffixes)").default(sizeDefault),
    )
    .option("--va-base <va>", "first VA, full 64-bit (e.g. 0xffff000000000000)", "0")
    .option("--pa <pa>", "first PA (default: VA mod 2^42, as aligned as the VA)");
}

export function registerOverhead(program: Command, ctx: CliContext): Command {
  const cmd = program
    .command("overhead")
    .description("translation-table cost of mapping one range: table pages per level, bytes, leaves");
  addMappingOptions(cmd)
    .option("--json", 'print {"tablePages","tableBytes","byLevel"} (levels numbered as on arm64)')
    .addHelpText(
      "after",
      `
Levels are numbered as on arm64 (the last level is 3); x86_64: PML5 = -1, PML4 = 0, PDPT = 1, PD = 2, PT = 3.
The PA is the VA modulo 2^42 unless --pa says otherwise, so it is as aligned as the VA.

Examples:
  $ kexec-lab overhead --arch arm64 --granule 4K --map page --size 64M
  $ kexec-lab overhead --arch arm64 --granule 64K --map page --size 512M --json
  $ kexec-lab overhead --arch x86_64 --map block --size 1G
  $ kexec-lab overhead --arch x86_64 --map block --gbpages --size 1T
  $ kexec-lab overhead --arch arm64 --va-bits 52 --map block --size 4T --va-base 0xfff0000000000000`,
    )
    .action((opts: MappingOptions & { json?: boolean }) => {
      const o = tableOverhead(mappingSpec(opts));
      if (opts.json) printJson(ctx.io, { tablePages: o.pages, tableBytes: o.bytes, byLevel: o.byLevel });
      else ctx.io.stdout(renderOverheadText(o, opts.map === "page"));
      ctx.exitCode = EXIT_OK;
    });
  return cmd;
}
