import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import type { FormatSpec } from "../../mmu/formats.js";
import {
  buildSingleRange,
  MAX_BUILT_LEAVES,
  planSingleRange,
  type SingleRangeSpec,
} from "../../mmu/single.js";
import { formatVa, toVaParts } from "../../mmu/types.js";
import { formatBytes, formatCount, renderTable } from "../../report/format.js";
import { parseSize, parseU64, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK } from "../exit.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";

/** The options `overhead`, `tables` and `walk` share: one format and one mapped range. */
export interface MappingOptions {
  arch: "arm64" | "x86_64";
  granule: string;
  vaBits?: string;
  paBits?: string;
  levels: string;
  map: "page" | "block";
  gbpages?: boolean;
  contiguous?: boolean;
  size: string;
  vaBase: string;
  pa?: string;
}

export function addMappingOptions(cmd: Command, sizeDefault?: string): Command {
  return cmd
    .addOption(new Option("--arch <arch>", "architecture").choices(["arm64", "x86_64"]).default("arm64"))
    .addOption(new Option("--granule <size>", "arm64 granule").choices(["4k", "16k", "64k"]).default("4k"))
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

function intOption(value: string, name: string): number {
  if (!/^[0-9]+$/.test(value))
    throw new KexecLabError("E_USAGE", `${name} takes a number, got "${value}"`, { field: name });
  return Number(value);
}

export function mappingSpec(o: MappingOptions): SingleRangeSpec {
  let format: FormatSpec;
  if (o.arch === "arm64") {
    const granule = o.granule === "16k" ? 16384 : o.granule === "64k" ? 65536 : 4096;
    const vaBits = intOption(o.vaBits ?? "48", "--va-bits") as 39 | 42 | 47 | 48 | 52;
    format = { arch: "arm64", granule, vaBits };
    if (o.paBits !== undefined) format.paBits = intOption(o.paBits, "--pa-bits");
  } else {
    let levels: 4 | 5 = o.levels === "5" ? 5 : 4;
    if (o.vaBits !== undefined) {
      const v = intOption(o.vaBits, "--va-bits");
      if (v !== 48 && v !== 57) {
        throw new KexecLabError("E_USAGE", `x86_64 has 48-bit (4-level) or 57-bit (5-level) VAs, not ${v}`, {
          field: "--va-bits",
        });
      }
      levels = v === 57 ? 5 : 4;
    }
    format = { arch: "x86_64", levels };
    if (o.paBits !== undefined) format.paBits = intOption(o.paBits, "--pa-bits");
  }
  const vaBits = format.arch === "arm64" ? format.vaBits : format.levels === 5 ? 57 : 48;
  const full = parseU64(o.vaBase, "--va-base");
  const parts = toVaParts(full, vaBits);
  if (parts === undefined) {
    throw new KexecLabError(
      "E_MAP_RANGE",
      `0x${full.toString(16)} is in neither VA half of a ${vaBits}-bit address space`,
      { field: "--va-base" },
    );
  }
  const size = toSafeNumber(parseSize(o.size, "--size"), "--size");
  const spec: SingleRangeSpec = {
    format,
    half: parts.half,
    va: parts.va,
    size,
    options: {
      pageGranular: o.map === "page",
      largestBlocks: o.arch === "arm64" ? true : o.gbpages === true,
      contiguous: o.contiguous === true,
    },
  };
  if (o.pa !== undefined) spec.pa = toSafeNumber(parseU64(o.pa, "--pa"), "--pa");
  return spec;
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
  $ kexec-lab overhead --arch arm64 --granule 4k --map page --size 64M
  $ kexec-lab overhead --arch arm64 --granule 64k --map page --size 512M --json
  $ kexec-lab overhead --arch x86_64 --map block --size 1G
  $ kexec-lab overhead --arch x86_64 --map block --gbpages --size 1T
  $ kexec-lab overhead --arch arm64 --va-bits 52 --map block --size 4T --va-base 0xfff0000000000000`,
    )
    .action((opts: MappingOptions & { json?: boolean }) => {
      const spec = mappingSpec(opts);
      const plan = planSingleRange(spec);
      // Small enough to build: build it, and let the builder's own accounting speak.
      let byLevel = plan.count.byLevel;
      let pages = plan.count.pages;
      if (plan.leaves <= MAX_BUILT_LEAVES / 4) {
        const cost = buildSingleRange(spec).builder.cost();
        byLevel = cost.byLevel;
        pages = cost.pages;
      }
      const bytes = pages * plan.format.granule;
      if (opts.json) {
        printJson(ctx.io, { tablePages: pages, tableBytes: bytes, byLevel });
        ctx.exitCode = EXIT_OK;
        return;
      }
      const f = plan.format;
      const r = plan.request;
      ctx.io.stdout(
        `${f.name}: ${formatBytes(r.size)} at VA ${formatVa(r.half, r.va, f.vaBits)} -> PA 0x${r.pa.toString(16)}, ${
          opts.map === "page" ? "page-granular" : "largest blocks"
        }\n\n`,
      );
      const rows = f.levels.map((l) => [
        `${f.levelName(l.level)} (level ${l.level})`,
        formatCount(byLevel[String(l.level)]!),
        formatBytes(byLevel[String(l.level)]! * f.granule),
      ]);
      rows.push(["total", formatCount(pages), formatBytes(bytes)]);
      ctx.io.stdout(`${renderTable(["tables", "pages", "bytes"], rows)}\n\n`);
      const leafRows = Object.entries(plan.count.leaves)
        .sort((a, b) => Number(b[0]) - Number(a[0]))
        .map(([size, n]) => [formatBytes(Number(size)), formatCount(n)]);
      ctx.io.stdout(`${renderTable(["leaf size", "leaves"], leafRows)}\n`);
      ctx.exitCode = EXIT_OK;
    });
  return cmd;
}
