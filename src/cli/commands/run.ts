import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import type { FreePagePolicy } from "../../machine/freepages.js";
import type { PageSize } from "../../machine/physmem.js";
import { traceModeler } from "../../model/model.js";
import { registerStrategy, strategyNames } from "../../reloc/registry.js";
import type { RunResult } from "../../reloc/result.js";
import { runScenario } from "../../reloc/run.js";
import type { RelocationStrategy } from "../../reloc/strategy.js";
import { formatBytes, formatCount, formatSeconds, renderTable } from "../../report/format.js";
import { defaultScenario } from "../../scenario/default.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { paint, printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { resolveProfile } from "./calibrate.js";

interface RunOptions {
  arch: Arch;
  strategy?: string;
  linearMap: "block" | "page";
  granule: string;
  vaBits?: string;
  x86Swap?: boolean;
  gbpages?: boolean;
  content: "exact" | "shared" | "synthetic";
  freePages: string;
  seed: string;
  json?: boolean;
  timings?: boolean;
  loadStrategy?: string[];
  profile?: string;
}

function isStrategy(v: unknown): v is RelocationStrategy {
  const s = v as RelocationStrategy | null;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.name === "string" &&
    typeof s.prepare === "function" &&
    Array.isArray(s.arches)
  );
}

/** Import a user strategy file and register every strategy it exports. */
async function loadStrategyFile(file: string, cwd: string): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  } catch (e) {
    throw new KexecLabError("E_FILE_READ", `cannot load strategy module: ${(e as Error).message}`, { file });
  }
  const found = [...new Set(Object.values(mod).filter(isStrategy))];
  if (found.length === 0) {
    throw new KexecLabError("E_FIELD_VALUE", "the module exports no relocation strategy", { file });
  }
  for (const s of found) registerStrategy(s);
}

const GRANULES: Record<string, PageSize> = {
  "4k": 4096,
  "4096": 4096,
  "16k": 16384,
  "16384": 16384,
  "64k": 65536,
  "65536": 65536,
};

function parseGranule(text: string, arch: Arch): PageSize {
  const g = GRANULES[text.toLowerCase()];
  if (g === undefined) {
    throw new KexecLabError("E_PAGE_SIZE", `granule "${text}"`, { field: "--granule" });
  }
  if (arch === "x86_64" && g !== 4096) {
    throw new KexecLabError("E_PAGE_SIZE", "x86_64 has 4K pages only", { field: "--granule" });
  }
  return g;
}

function parseInteger(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new KexecLabError("E_FIELD_VALUE", `"${text}" is not a non-negative integer`, { field });
  }
  return n;
}

function parseFreePages(text: string, seed: number): FreePagePolicy {
  const [kind, arg] = text.split(":");
  switch (kind) {
    case "lowest":
    case "highest":
      return { kind };
    case "random":
      return { kind, seed: arg !== undefined ? parseInteger(arg, "--free-pages") : seed };
    case "fragmented": {
      const fraction = arg !== undefined ? Number(arg) : 0.5;
      if (!(fraction >= 0 && fraction < 1)) {
        throw new KexecLabError("E_FIELD_VALUE", `fragmented fraction "${arg}" is not in [0, 1)`, {
          field: "--free-pages",
        });
      }
      return { kind, seed, fraction };
    }
    default:
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `free-page policy "${text}" (use lowest, highest, random[:seed], fragmented[:fraction])`,
        { field: "--free-pages" },
      );
  }
}

const HELP = `
Runs the scenario through each relocation strategy on a fresh simulated machine: builds the kimage,
the strategy's page tables (from control pages), executes the relocation on the simulated CPU (entry
list and descriptors read from simulated RAM through a TLB), and verifies every destination byte.
With no arguments: the embedded default scenario (QEMU virt, 4 GiB RAM at 0x40000000, 4K granule,
48-bit VA, a 28 MiB kernel, a 64 MiB initrd, a 64 KiB DTB) through every arm64 strategy.

Strategies: mmu-off, va-copy, linear-map-copy (arm64); x86-ident (x86_64); in-place (both).

Exit status: 0 every strategy verified, 1 the load is refused or a verification failed, 2 bad input.

Examples:
  $ kexec-lab run
  $ kexec-lab run --json
  $ kexec-lab run --strategy linear-map-copy --linear-map page --granule 16K
  $ kexec-lab run --arch x86_64 --x86-swap --gbpages
  $ kexec-lab run --content synthetic --free-pages random:7 --timings
  $ kexec-lab run --profile PROFILE_NAME   (timing model; see docs/model.md for the builtin profiles)
  $ kexec-lab run --load-strategy examples/strategies/source-window.ts --strategy source-window,va-copy
`;

export function registerRun(program: Command, ctx: CliContext): Command {
  return program
    .command("run")
    .description("relocate a kexec image with each strategy on the simulated machine and verify it")
    .addOption(
      new Option("--arch <arch>", "architecture of the default scenario").choices(ARCHES).default("arm64"),
    )
    .option("--strategy <names>", "comma-separated strategies (default: every one for the arch)")
    .addOption(
      new Option(
        "--linear-map <kind>",
        "linear-map-copy: the live linear map is block-mapped or page-granular",
      )
        .choices(["block", "page"])
        .default("block"),
    )
    .option("--granule <size>", "arm64 translation granule: 4K, 16K or 64K", "4K")
    .option("--va-bits <bits>", "VA bits (arm64 39, 42, 47, 48, 52; x86_64 48 or 57)")
    .option("--x86-swap", "x86-ident: pre-6.14 three-copy swap through the swap page")
    .option("--gbpages", "x86-ident: 1G pages where whole-GiB aligned")
    .addOption(
      new Option("--content <mode>", "page contents: exact bytes, shared frames, or synthetic")
        .choices(["exact", "shared", "synthetic"])
        .default("exact"),
    )
    .option(
      "--free-pages <policy>",
      "running kernel's free-page order: lowest, highest, random[:seed], fragmented[:fraction]",
      "lowest",
    )
    .option("--seed <n>", "seed of the scenario's contents and random policies", "1")
    .option(
      "--load-strategy <file>",
      "import a strategy module (see docs/strategies.md) before running; repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--profile <names>",
      "timing model: comma-separated builtin profile names or profile JSON files; adds `model` to each strategy",
    )
    .option("--json", "print one JSON document")
    .option("--timings", "include wall-clock seconds of each relocation (breaks byte-identical output)")
    .addHelpText("after", HELP)
    .action(async (opts: RunOptions) => {
      for (const f of opts.loadStrategy ?? []) await loadStrategyFile(f, ctx.io.cwd);
      const seed = parseInteger(opts.seed, "--seed");
      const pageSize = parseGranule(opts.granule, opts.arch);
      const vaBits = opts.vaBits !== undefined ? parseInteger(opts.vaBits, "--va-bits") : undefined;
      const sc = {
        ...defaultScenario(opts.arch, opts.content, seed, {
          pageSize,
          ...(vaBits !== undefined ? { vaBits } : {}),
        }),
        freePages: parseFreePages(opts.freePages, seed),
        maxBytes: ctx.maxMemory,
      };
      const strategies = opts.strategy
        ?.split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const outcome = runScenario(sc, {
        ...(strategies !== undefined ? { strategies } : {}),
        linearMap: opts.linearMap,
        x86Swap: opts.x86Swap === true,
        gbpages: opts.gbpages === true,
        timings: opts.timings === true,
        ...(opts.profile !== undefined
          ? {
              model: traceModeler(
                opts.profile
                  .split(",")
                  .map((p) => p.trim())
                  .filter((p) => p.length > 0)
                  .map(resolveProfile),
              ),
            }
          : {}),
      });
      if (!outcome.ok) {
        if (opts.json) printJson(ctx.io, { refused: outcome.verdict });
        else ctx.io.stdout(`refused with ${outcome.verdict.errno}: ${outcome.verdict.reason}\n`);
        ctx.exitCode = EXIT_REFUSED;
        return;
      }
      const result = outcome.result;
      if (opts.json) printJson(ctx.io, result);
      else ctx.io.stdout(renderRun(result, ctx));
      ctx.exitCode = result.strategies.every((s) => s.verified) ? EXIT_OK : EXIT_REFUSED;
    });
}

function renderRun(r: RunResult, ctx: CliContext): string {
  const k = r.kimage;
  const lines: string[] = [];
  lines.push(
    `machine: ${r.machine.arch}, ${r.machine.pageSize / 1024}K pages, ${r.machine.vaBits}-bit VA, ` +
      `${formatBytes(r.machine.ramBytes)} RAM, free pages ${r.scenario.freePages}, ${r.scenario.contentMode} contents`,
  );
  lines.push("");
  lines.push(
    renderTable(
      ["segment", "mem", "memsz", "bufsz"],
      k.segments.map((s) => [s.label, s.mem, formatBytes(s.memsz), formatBytes(s.bufsz)]),
    ),
  );
  lines.push("");
  lines.push(
    `kimage: ${formatCount(k.sourcePages)} source pages, ${formatCount(k.entries)} entries, ` +
      `${formatCount(k.indirectionPages)} indirection pages, ${formatCount(k.inPlacePages)} in place, ` +
      `${formatCount(k.swaps)} swaps`,
  );
  lines.push("");
  const timed = r.strategies.some((s) => s.wallSeconds !== undefined);
  const header = [
    "strategy",
    "verified",
    "table pages",
    "table bytes",
    "copied",
    "entries read",
    "TLB hits",
    "TLB misses",
    "desc reads",
    "lines cleaned",
    "lines inval",
  ];
  if (timed) header.push("wall time");
  const rows = r.strategies.map((s) => {
    const c = s.counters;
    const descReads = Object.values(c.descriptorReadsByLevel).reduce((a, b) => a + b, 0);
    const row = [
      s.name,
      s.verified ? paint(ctx.io, "green", "yes") : paint(ctx.io, "red", "NO"),
      formatCount(s.pageTables.pages),
      formatBytes(s.pageTables.bytes),
      formatBytes(c.bytesCopied),
      formatCount(c.entriesRead),
      formatCount(c.tlbHits),
      formatCount(c.tlbMisses),
      formatCount(descReads),
      formatCount(c.cacheLinesCleaned),
      formatCount(c.cacheLinesInvalidated),
    ];
    if (timed) row.push(s.wallSeconds !== undefined ? formatSeconds(s.wallSeconds) : "-");
    return row;
  });
  lines.push(renderTable(header, rows));
  lines.push("");
  lines.push(
    renderTable(
      ["strategy", "tables by level (pages)"],
      r.strategies.map((s) => [
        s.name,
        Object.entries(s.pageTables.byLevel)
          .filter(([, n]) => n > 0)
          .map(([l, n]) => `L${l}: ${n}`)
          .join(", ") || "none",
      ]),
      ["left", "left"],
    ),
  );
  const modeled = r.strategies.filter((s) => s.model !== undefined && s.model.length > 0);
  if (modeled.length > 0) {
    lines.push("");
    lines.push(
      renderTable(
        ["strategy", "profile", "modeled time", "copy limit", "x limit"],
        modeled.flatMap((s) =>
          s.model!.map((m) => [
            s.name,
            m.profile,
            formatSeconds(m.seconds),
            formatSeconds(m.limitSeconds),
            `${m.ratioToLimit.toFixed(2)}x`,
          ]),
        ),
        ["left", "left"],
      ),
    );
  }
  for (const s of r.strategies) {
    for (const f of s.failures) lines.push(`${s.name}: ${f.kind}: ${f.message}`);
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
}

export { strategyNames };
