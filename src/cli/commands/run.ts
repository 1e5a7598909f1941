import { basename, dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { readPlanFiles } from "../../formats/node/plan-files.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import { LOADERS, type LoaderKind, type PlanInput, planLoad } from "../../loader/plan.js";
import type { FreePagePolicy } from "../../machine/freepages.js";
import {
  kernelPayloadOf,
  scenarioKernelPayload,
  syntheticKernelPayload,
} from "../../model/kernel-payload.js";
import { traceModeler } from "../../model/model.js";
import type { KernelPayload, LoadCall } from "../../model/phases.js";
import { defaultProfileName, type Profile, resolveProfileRefs } from "../../model/profiles.js";
import { type RebootReport, rebootReport } from "../../model/reboot.js";
import { registerStrategy, strategyNames } from "../../reloc/registry.js";
import type { RunResult } from "../../reloc/result.js";
import {
  machineFor,
  type RelocScenario,
  type RunOutcome,
  type RunScenarioOptions,
  runScenario,
} from "../../reloc/run.js";
import type { RelocationStrategy } from "../../reloc/strategy.js";
import { formatBytes, formatCount, formatSeconds, renderTable } from "../../report/format.js";
import { formatLegend, RUN_LEGEND } from "../../report/legend.js";
import { scenarioPageMap } from "../../report/pagemap.js";
import { defaultScenario } from "../../scenario/default.js";
import { loadScenario, runLoadedScenario } from "../../scenario/load.js";
import { parseJson } from "../../scenario/validate-input.js";
import { parseGranule } from "../../sweep/grid.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { checkOutputPath, readInputFile, readTextFile } from "../files.js";
import { paint, printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { scenarioProgress, startProgress } from "../progress.js";
import { resolveProfile } from "./calibrate.js";
import { writeHtmlReport } from "./report.js";

interface RunOptions {
  arch: Arch;
  explain?: boolean;
  strategy?: string;
  linearMap: "block" | "page";
  granule: string;
  vaBits?: string;
  x86Swap?: boolean;
  gbpages?: boolean;
  content: "exact" | "shared" | "synthetic";
  freePages?: string;
  seed: string;
  json?: boolean;
  timings?: boolean;
  loadStrategy?: string[];
  profile?: string;
  scenario?: string;
  kernel?: string;
  initrd?: string;
  dtb?: string;
  iomem?: string;
  append?: string;
  loader: LoaderKind;
  wipeKaslrSeed?: boolean;
  html?: string;
  force?: boolean;
  /** commander's --no-checks: false when given. */
  checks: boolean;
  cma?: boolean;
}

/** What the reboot model needs that the RunResult does not say (src/model/reboot.ts). */
interface RebootContext {
  profiles: Profile[];
  call: LoadCall;
  kernel?: KernelPayload;
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
With --scenario FILE: a scenario file (docs/scenario.md). With --kernel (and --initrd, --dtb,
--iomem, --append, --loader): real files, placed as kexec-tools or kexec_file_load places them.

Modeled time: each strategy's access stream through a machine profile's timing model (default
profile neoverse-n1-server on arm64, x86_64-server on x86_64; --profile none turns it off).

Strategies: mmu-off, va-copy, linear-map-copy (arm64); x86-ident (x86_64); in-place (both).

Exit status: 0 every strategy verified, 1 the load is refused or a verification failed, 2 bad input.

Examples:
  $ kexec-lab run
  $ kexec-lab run --json
  $ kexec-lab run --strategy linear-map-copy --linear-map page --granule 16K
  $ kexec-lab run --arch x86_64 --x86-swap --gbpages
  $ kexec-lab run --content synthetic --free-pages random:7 --timings
  $ kexec-lab run --profile thunderx2-server,cortex-a72-board
  $ kexec-lab run --scenario examples/published-25mb.json --json
  $ kexec-lab run --kernel Image --initrd initrd.img --dtb virt.dtb --wipe-kaslr-seed --html report.html
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
      "running kernel's free-page order: lowest, highest, random[:seed], fragmented[:fraction] (default random)",
    )
    .option("--seed <n>", "seed of the scenario's contents and random policies", "1")
    .option(
      "--load-strategy <file>",
      "import a strategy module (see docs/strategies.md) before running; repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--profile <names>",
      "timing model: comma-separated builtin profile names or profile JSON files, or none",
    )
    .option("--scenario <file>", "run a scenario file (JSON, see docs/scenario.md) instead of the default")
    .option("--kernel <file>", "real kernel: arm64 Image (or Image.gz), x86_64 bzImage, or ELF64 vmlinux")
    .option("--initrd <file>", "initial ramdisk (with --kernel)")
    .option("--dtb <file>", "device tree (with --kernel; arm64)")
    .option("--iomem <file>", "/proc/iomem of the running machine (with --kernel)")
    .option("--append <cmdline>", "kernel command line (with --kernel)")
    .addOption(
      new Option("--loader <loader>", "placement rules (with --kernel)")
        .choices(LOADERS)
        .default("kexec-tools"),
    )
    .option("--wipe-kaslr-seed", "treat a non-zero /chosen/kaslr-seed as wiped (a running kernel's DTB)")
    .option("--no-checks", "reboot model: kexec-tools --no-checks (purgatory skips its SHA-256)")
    .option(
      "--cma",
      "reboot model: kexec_file_load with CMA placement (Linux 6.17+), nothing relocated at reboot",
    )
    .option("--html <file>", "also write the self-contained HTML report")
    .option("--force", "overwrite the --html file if it exists")
    .option("--json", "print one JSON document")
    .option("--explain", "after the tables, what their terms mean (x limit, parked, swaps, (sampled), ...)")
    .option("--timings", "include wall-clock seconds of each relocation (breaks byte-identical output)")
    .addHelpText("after", HELP)
    .action(async (opts: RunOptions) => {
      if (opts.html !== undefined) checkOutputPath(opts.html, opts.force === true);
      for (const f of opts.loadStrategy ?? []) await loadStrategyFile(f, ctx.io.cwd);
      // The kernel is read (and unwrapped: zboot, UKI, compressed) before the run starts.
      const files =
        opts.kernel !== undefined && opts.scenario === undefined
          ? await readPlanFiles({
              kernel: opts.kernel,
              ...(opts.initrd !== undefined ? { initrd: opts.initrd } : {}),
              ...(opts.dtb !== undefined ? { dtb: opts.dtb } : {}),
              ...(opts.iomem !== undefined ? { iomem: opts.iomem } : {}),
            })
          : undefined;
      const progress = startProgress(ctx.io, "run");
      let outcome: RunOutcome;
      let reboot: RebootContext;
      try {
        ({ outcome, reboot } = runFromOptions(opts, ctx, scenarioProgress(progress), files));
      } finally {
        progress.stop();
      }
      if (!outcome.ok) {
        if (opts.json) printJson(ctx.io, { refused: outcome.verdict });
        else ctx.io.stdout(`refused with ${outcome.verdict.errno}: ${outcome.verdict.reason}\n`);
        ctx.exitCode = EXIT_REFUSED;
        return;
      }
      const result = outcome.result;
      const profile = reboot.profiles[0];
      if (profile !== undefined) {
        result.reboot = rebootReport(result, profile, {
          call: opts.cma === true ? "kexec_file_load" : reboot.call,
          purgatoryChecks: opts.checks,
          cma: opts.cma === true,
          ...(reboot.kernel !== undefined ? { kernel: reboot.kernel } : {}),
        });
      }
      if (opts.html !== undefined) {
        const bytes = await writeHtmlReport(ctx, result, opts.html, { force: opts.force === true });
        if (!opts.json) ctx.io.stderr(`wrote ${opts.html} (${formatBytes(bytes)})\n`);
      }
      if (opts.json) printJson(ctx.io, result);
      else ctx.io.stdout(renderRun(result, ctx) + (opts.explain ? `\n${formatLegend(RUN_LEGEND)}` : ""));
      ctx.exitCode = result.strategies.every((s) => s.verified) ? EXIT_OK : EXIT_REFUSED;
    });
}

/** The profiles to model: --profile (or none), else the scenario's, else the arch's default. */
function profilesFor(opts: RunOptions, arch: Arch, fromScenario: Profile[]): Profile[] {
  if (opts.profile !== undefined) {
    const names = opts.profile
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p.length > 0);
    if (names.length === 1 && names[0] === "none") return [];
    return names.map(resolveProfile);
  }
  if (fromScenario.length > 0) return fromScenario;
  return [resolveProfile(defaultProfileName(arch))];
}

function strategyList(opts: RunOptions): string[] | undefined {
  return opts.strategy
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Pick the input (scenario file, real files, or the default) and run it. */
function runFromOptions(
  opts: RunOptions,
  ctx: CliContext,
  progress: Pick<RunScenarioOptions, "onStrategy" | "onProgress">,
  files?: Awaited<ReturnType<typeof readPlanFiles>>,
): { outcome: RunOutcome; reboot: RebootContext } {
  const common: RunScenarioOptions = {
    linearMap: opts.linearMap,
    x86Swap: opts.x86Swap === true,
    gbpages: opts.gbpages === true,
    timings: opts.timings === true,
    ...progress,
  };
  const withModel = (profiles: Profile[]): RunScenarioOptions =>
    profiles.length > 0 ? { ...common, model: traceModeler(profiles) } : common;

  if (opts.scenario !== undefined) {
    if (opts.kernel !== undefined) {
      throw new KexecLabError("E_USAGE", "give either --scenario or --kernel, not both", {
        field: "--kernel",
      });
    }
    const file = opts.scenario;
    const sc = loadScenario(parseJson(readTextFile(file), file), dirname(file), basename(file, ".json"));
    const strategies = strategyList(opts);
    if (strategies !== undefined) sc.strategies = strategies.map((name) => ({ name, options: {} }));
    const profiles = profilesFor(opts, sc.arch, resolveProfileRefs(sc.profiles, "profiles", file));
    const outcome = runLoadedScenario(sc, readInputFile, {
      ...withModel(profiles),
      maxBytes: ctx.maxMemory,
      pageMap: opts.html !== undefined,
    });
    const kernel = scenarioKernelPayload(sc, readInputFile);
    return {
      outcome,
      reboot: { profiles, call: callOf(sc.arch, outcome), ...(kernel !== undefined ? { kernel } : {}) },
    };
  }

  const seed = parseInteger(opts.seed, "--seed");
  const pageSize = parseGranule(opts.granule, opts.arch);
  const vaBits = opts.vaBits !== undefined ? parseInteger(opts.vaBits, "--va-bits") : undefined;
  const base = defaultScenario(opts.arch, opts.content, seed, {
    pageSize,
    ...(vaBits !== undefined ? { vaBits } : {}),
  });
  let kernelBytes: Uint8Array | undefined;
  let sc: RelocScenario = {
    ...base,
    ...(opts.freePages !== undefined ? { freePages: parseFreePages(opts.freePages, seed) } : {}),
    maxBytes: ctx.maxMemory,
  };
  if (opts.kernel !== undefined) {
    const input: PlanInput = {
      arch: opts.arch,
      loader: opts.loader,
      pageSize,
      seed,
      ...files!,
      ...(opts.append !== undefined ? { append: opts.append } : {}),
      ...(opts.wipeKaslrSeed === true ? { wipeKaslrSeed: true } : {}),
    };
    // Without --iomem or --dtb the machine is the default scenario's.
    if (opts.iomem === undefined && opts.dtb === undefined) input.memoryMap = base.memoryMap;
    kernelBytes = input.kernel;
    const plan = planLoad(input);
    sc = {
      ...sc,
      name: basename(opts.kernel),
      memoryMap: plan.memoryMap,
      segments: plan.segments,
      contentMode: opts.content,
    };
  }
  const strategies = strategyList(opts);
  const profiles = profilesFor(opts, sc.arch, []);
  const outcome = runScenario(sc, {
    ...withModel(profiles),
    ...(strategies !== undefined ? { strategies } : {}),
  });
  if (outcome.ok && opts.html !== undefined) {
    const map = scenarioPageMap(machineFor(sc), sc.segments, sc.x86Levels);
    if (map !== undefined) outcome.result.pageMap = map;
  }
  let kernel: KernelPayload | undefined;
  if (kernelBytes !== undefined) kernel = kernelPayloadOf(kernelBytes);
  else {
    // the embedded default: synthetic contents behind a known header
    const k = sc.segments.find((s) => s.label === "kernel");
    if (k !== undefined) {
      kernel =
        k.content.kind === "bytes"
          ? kernelPayloadOf(k.content.data)
          : syntheticKernelPayload(sc.arch, k.content.bufsz);
    }
  }
  const call: LoadCall =
    opts.kernel !== undefined
      ? opts.loader === "kexec-file"
        ? "kexec_file_load"
        : "kexec_load"
      : callOf(sc.arch, outcome);
  return {
    outcome,
    reboot: { profiles, call, ...(kernel !== undefined ? { kernel } : {}) },
  };
}

/**
 * The load call a placed image implies: on arm64 only kexec-tools' kexec_load path loads a purgatory
 * segment (kexec_file_load jumps straight to the kernel); on x86_64 both do, so kexec_load is assumed.
 */
function callOf(arch: Arch, outcome: RunOutcome): LoadCall {
  if (arch === "x86_64" || !outcome.ok) return "kexec_load";
  return outcome.result.kimage.segments.some((s) => s.label === "purgatory")
    ? "kexec_load"
    : "kexec_file_load";
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
      `${formatCount(k.swaps)} swaps, ${formatCount(k.parkedPages)} parked`,
  );
  lines.push("");
  // The comparison: what each strategy costs and whether it is right.
  const firstModel = (s: RunResult["strategies"][number]) => s.model?.[0];
  const modeled = r.strategies.some((s) => firstModel(s) !== undefined);
  const timed = r.strategies.some((s) => s.wallSeconds !== undefined);
  const header = ["strategy", "verified", "page tables", "control pages", "entries walked", "TLB misses"];
  if (modeled)
    header.push(`modeled (${firstModel(r.strategies.find((s) => firstModel(s))!)!.profile})`, "x limit");
  if (timed) header.push("wall time");
  const rows = r.strategies.map((s) => {
    const c = s.counters;
    const row = [
      s.name,
      s.verified ? paint(ctx.io, "green", "yes") : paint(ctx.io, "red", "NO"),
      s.pageTables.pages > 0
        ? `${formatBytes(s.pageTables.bytes)} (${formatCount(s.pageTables.pages)})`
        : "none",
      formatCount(c.controlPages),
      formatCount(c.entriesRead),
      formatCount(c.tlbMisses),
    ];
    if (modeled) {
      const m = firstModel(s);
      row.push(
        m ? formatSeconds(m.seconds) : "-",
        m && m.limitSeconds > 0 ? `${m.ratioToLimit.toFixed(2)}x` : "-",
      );
    }
    if (timed) row.push(s.wallSeconds !== undefined ? formatSeconds(s.wallSeconds) : "-");
    return row;
  });
  lines.push(renderTable(header, rows));
  lines.push("");
  // The details behind it.
  lines.push(
    renderTable(
      [
        "strategy",
        "copied",
        "TLB hits",
        "desc reads",
        "lines cleaned",
        "lines inval",
        "tables by level (pages)",
      ],
      r.strategies.map((s) => {
        const c = s.counters;
        const descReads = Object.values(c.descriptorReadsByLevel).reduce((a, b) => a + b, 0);
        return [
          s.name,
          formatBytes(c.bytesCopied),
          formatCount(c.tlbHits),
          formatCount(descReads),
          formatCount(c.cacheLinesCleaned),
          formatCount(c.cacheLinesInvalidated),
          Object.entries(s.pageTables.byLevel)
            .filter(([, n]) => n > 0)
            .map(([l, n]) => `L${l}: ${n}`)
            .join(", ") || "none",
        ];
      }),
      ["left", "right", "right", "right", "right", "right", "left"],
    ),
  );
  if (modeled) {
    const parts = ["copy", "entryWalk", "tableWalk", "cacheMaintenance", "tlb"];
    lines.push("");
    lines.push(
      renderTable(
        [
          "strategy",
          "profile",
          "modeled",
          "copy",
          "list walk",
          "table walk",
          "cache maint",
          "TLB",
          "limit",
          "x limit",
        ],
        r.strategies.flatMap((s) =>
          (s.model ?? []).map((m) => [
            s.name,
            m.profile,
            formatSeconds(m.seconds),
            ...parts.map((p) => formatSeconds(m.breakdown[p] ?? 0)),
            formatSeconds(m.limitSeconds),
            m.limitSeconds > 0 ? `${m.ratioToLimit.toFixed(2)}x${m.sampled ? " (sampled)" : ""}` : "-",
          ]),
        ),
        ["left", "left"],
      ),
    );
  }
  if (r.reboot !== undefined) lines.push("", ...renderReboot(r.reboot));
  for (const s of r.strategies) {
    for (const f of s.failures) lines.push(`${s.name}: ${f.kind}: ${f.message}`);
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
}

function seconds(v: number): string {
  const sign = v < 0 ? "-" : "";
  const a = Math.abs(v);
  return sign + (a >= 60 ? `${(a / 60).toFixed(1)} min` : formatSeconds(a));
}

/** The per-phase breakdown from `kexec -e` to the new kernel, and what saves how much. */
function renderReboot(rb: RebootReport): string[] {
  const k = rb.kernel;
  const kernel =
    k === null
      ? "kernel format unknown"
      : `kernel ${k.format}${k.codec !== "none" ? ` (${k.codec}, ${formatBytes(k.compressedBytes)} -> ${formatBytes(k.uncompressedBytes)}${k.sizeFrom === "assumed" ? " assumed" : ""})` : ""}`;
  const out = [
    `kexec -e to the new kernel on ${rb.profile}: ${rb.call}${rb.cma ? " with CMA placement" : ""}, ` +
      `purgatory checks ${rb.purgatoryChecks ? "on" : "off"}, ${kernel}`,
  ];
  const names = rb.strategies[0]?.phases.map((p) => p.name) ?? [];
  out.push(
    renderTable(
      ["strategy", ...names, "total"],
      rb.strategies.map((s) => [
        s.strategy,
        ...s.phases.map((p) => seconds(p.seconds)),
        `${seconds(s.seconds)}${s.sampled ? " (sampled)" : ""}`,
      ]),
      ["left"],
    ),
  );
  const first = rb.strategies.find((s) => s.strategy === rb.baseline) ?? rb.strategies[0];
  if (first !== undefined) for (const p of first.phases) out.push(`  ${p.name}: ${p.how}`);
  if (rb.savings.length > 0) {
    out.push("", `what saves how much (baseline ${rb.baseline}, ${seconds(rb.baselineSeconds)}):`);
    out.push(
      renderTable(
        ["change", "total", "saved", "how"],
        rb.savings.map((v) => [
          v.change,
          seconds(v.seconds),
          `${seconds(v.saved)}${rb.baselineSeconds > 0 ? ` (${((100 * v.saved) / rb.baselineSeconds).toFixed(1)}%)` : ""}`,
          v.note,
        ]),
        ["left", "right", "right", "left"],
      ),
    );
  }
  return out;
}

export { strategyNames };
