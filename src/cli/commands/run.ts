import { basename } from "node:path";
import { type Command, Option } from "commander";
import { DEFAULT_LOADER } from "../../defaults.js";
import { KexecLabError } from "../../errors.js";
import { readPlanFiles } from "../../formats/node/plan-files.js";
import { readHostDir } from "../../host/node/read.js";
import { hostPlanFields } from "../../host/plan.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import { LOADERS, type LoaderKind } from "../../loader/plan.js";
import { resolveProfileList } from "../../model/node/profile-file.js";
import type { RunOutcome } from "../../reloc/run.js";
import { formatBytes } from "../../report/format.js";
import { formatLegend, RUN_LEGEND } from "../../report/legend.js";
import { renderRunText } from "../../report/run-text.js";
import { type GateOptions, gateStateWithSignature } from "../../request/node/gate-state.js";
import { kernelArchEvidence } from "../../request/node/plan-input.js";
import { loadStrategyFile } from "../../request/node/strategy-file.js";
import { inferArch } from "../../request/plan.js";
import { type RunRequest, type RunSource, runRequest, splitList } from "../../request/run.js";
import { readScenarioFile } from "../../scenario/node/read.js";
import { parseFreePages, parseGranule, parseInteger, parseLinearMap } from "../../sweep/grid.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { checkTextOutput, readInputFile } from "../files.js";
import { addGateOptions } from "../gate-options.js";
import { paint, printJson } from "../io.js";
import { scenarioProgress, startProgress } from "../progress.js";
import { writeHtmlReport } from "./report.js";

interface RunOptions extends GateOptions {
  arch: Arch;
  explain?: boolean;
  strategy?: string;
  linearMap: string;
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
  host?: string;
  wipeKaslrSeed?: boolean;
  html?: string;
  force?: boolean;
  /** commander's --no-checks: false when given. */
  checks: boolean;
  cma?: boolean;
  cpus?: string;
  crash?: boolean;
}

const HELP = `
Runs the scenario through each relocation strategy on a fresh simulated machine: builds the kimage,
the strategy's page tables (from control pages), executes the relocation on the simulated CPU (entry
list and descriptors read from simulated RAM through a TLB), and verifies every destination byte.
With no arguments: the embedded default scenario (QEMU virt, 4 GiB RAM at 0x40000000, 4K granule,
48-bit VA, a 28 MiB kernel, an initrd 5,000 bytes short of 64 MiB, a 64 KiB DTB) through every arm64 strategy.
With --scenario FILE: a scenario file (docs/scenario.md). With --kernel (and --initrd, --dtb,
--iomem, --host, --append, --loader): real files, placed as plan places them (--loader auto by
default: kexec-tools' own choice of syscall), on the --host machine when one is given.

Modeled time: each strategy's access stream through a machine profile's timing model (default
profile neoverse-n1-server on arm64, x86_64-server on x86_64; --profile none turns it off).

Strategies: mmu-off, va-copy, linear-map-copy (arm64); x86-ident (x86_64); in-place (both); and
va-copy-series (arm64), the va-copy series as posted (clean to PoU only), a reference that fails
verification where the PoU is not the PoC (every arm64 profile shipped).

Verified: every destination byte, the write guard, and the architectural cache state at the jump
(arm64: MMU and D-cache off, every segment at the PoC, no stale I-cache lines for the kernel),
against the first profile's PoU and PoC (docs/strategies.md).

Exit status: 0 every strategy verified (references aside), 1 the load is refused or a verification
failed, 2 bad input.

Examples:
  $ kexec-lab run
  $ kexec-lab run --json
  $ kexec-lab run --strategy linear-map-copy --linear-map page --granule 16K
  $ kexec-lab run --strategy linear-map-copy,va-copy --linear-map 2M
  $ kexec-lab run --arch x86_64 --x86-swap --gbpages
  $ kexec-lab run --content synthetic --free-pages random:7 --timings
  $ kexec-lab run --profile thunderx2-server,cortex-a72-board
  $ kexec-lab run --profile ampere-altra --cpus 128
  $ kexec-lab run --scenario examples/published-25mb.json --json
  $ kexec-lab run --kernel Image --initrd initrd.img --dtb virt.dtb --wipe-kaslr-seed --html report.html
  $ kexec-lab run --load-strategy examples/strategies/source-window.ts --strategy source-window,va-copy
`;

export function registerRun(program: Command, ctx: CliContext): Command {
  const cmd = program.command("run");
  addGateOptions(cmd);
  return cmd
    .description("relocate a kexec image with each strategy on the simulated machine and verify it")
    .addOption(
      new Option("--arch <arch>", "architecture of the default scenario").choices(ARCHES).default("arm64"),
    )
    .option("--strategy <names>", "comma-separated strategies (default: every one for the arch)")
    .option(
      "--linear-map <kind>",
      "linear-map-copy: the live linear map is block-mapped (block), page-granular (page), or in blocks of at most SIZE (2M, 1G)",
      "block",
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
      "import a strategy module (see docs/strategies.md) and run its strategies (with --strategy: the list given); repeatable",
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
    .option(
      "--host <dir>",
      "with --kernel: the machine as kexec-lab-collect saw it (memory map, fdt, MemTotal, kexec-tools and kernel versions); --iomem/--dtb override its files",
    )
    .addOption(
      new Option(
        "--loader <loader>",
        "placement rules (with --kernel): auto as kexec-tools chooses (kexec_file_load first from 2.0.27), kexec-tools (kexec_load), kexec-file (kexec_file_load)",
      )
        .choices(LOADERS)
        .default(DEFAULT_LOADER),
    )
    .option("--wipe-kaslr-seed", "treat a non-zero /chosen/kaslr-seed as wiped (a running kernel's DTB)")
    .option("--no-checks", "reboot model: kexec-tools --no-checks (purgatory skips its SHA-256)")
    .option(
      "--cma",
      "reboot model: kexec_file_load with CMA placement (Linux 6.17+), nothing relocated at reboot",
    )
    .option(
      "--cpus <n>",
      "reboot model: online CPUs at kexec -e (the other CPUs are stopped before the jump)",
    )
    .option(
      "--crash",
      "reboot model: the crash path (panic into a kexec -p kernel); with --cma, crashkernel=,cma (10 s DMA wait)",
    )
    .option("--html <file>", "also write the self-contained HTML report")
    .option("--force", "overwrite the --html file if it exists")
    .option("--json", "print one JSON document")
    .option("--explain", "after the tables, what their terms mean (x limit, parked, swaps, (sampled), ...)")
    .option("--timings", "include wall-clock seconds of each relocation (breaks byte-identical output)")
    .addHelpText("after", HELP)
    .action(async (opts: RunOptions, cmd: Command) => {
      if (opts.html !== undefined) checkTextOutput(opts.html, opts.force === true, "--html", false);
      if (
        opts.cma === true &&
        opts.crash !== true &&
        opts.kernel !== undefined &&
        opts.loader === "kexec-tools"
      )
        throw new KexecLabError(
          "E_USAGE",
          "--cma models kexec_file_load's CMA placement (Linux 6.17); --loader kexec-tools places for kexec_load, which has none: give --loader kexec-file",
          { field: "--cma" },
        );
      const loaded: string[] = [];
      for (const f of opts.loadStrategy ?? []) loaded.push(...(await loadStrategyFile(f, ctx.io.cwd)));
      if (opts.host !== undefined && opts.kernel === undefined)
        throw new KexecLabError(
          "E_USAGE",
          "--host describes the machine real files are loaded on: give --kernel too",
          {
            field: "--host",
          },
        );
      if (opts.scenario !== undefined && opts.kernel !== undefined) {
        throw new KexecLabError("E_USAGE", "give either --scenario or --kernel, not both", {
          field: "--kernel",
        });
      }
      // The scenario or the kernel is read (and unwrapped: zboot, UKI, compressed) before the run starts.
      const source: RunSource =
        opts.scenario !== undefined
          ? {
              kind: "scenario",
              scenario: readScenarioFile(opts.scenario),
              readFile: readInputFile,
              file: opts.scenario,
            }
          : opts.kernel !== undefined
            ? {
                kind: "files",
                name: basename(opts.kernel),
                files: await readPlanFiles({
                  kernel: opts.kernel,
                  ...(opts.initrd !== undefined ? { initrd: opts.initrd } : {}),
                  ...(opts.dtb !== undefined ? { dtb: opts.dtb } : {}),
                  ...(opts.iomem !== undefined ? { iomem: opts.iomem } : {}),
                }),
                loader: opts.loader,
                gates: await gateStateWithSignature(opts),
                ...(opts.append !== undefined ? { append: opts.append } : {}),
                ...(opts.wipeKaslrSeed === true ? { wipeKaslrSeed: true } : {}),
              }
            : { kind: "default" };
      // Real files say their architecture (a bzImage is x86_64), as for plan; --arch still wins, and
      // a --host of another architecture is refused (inferArch).
      const host = opts.host !== undefined ? readHostDir(opts.host) : undefined;
      const arch: Arch =
        source.kind === "files"
          ? inferArch({
              ...(cmd.getOptionValueSource("arch") === "cli"
                ? { arch: opts.arch }
                : kernelArchEvidence(source.files, opts.kernel!)),
              ...(host?.arch !== undefined ? { hostArch: host.arch } : {}),
            })
          : opts.arch;
      if (source.kind === "files" && host !== undefined)
        source.host = hostPlanFields(host, arch, opts.loader);
      // --load-strategy alone runs what it loaded; with --strategy, the list given
      const strategies = splitList(opts.strategy) ?? (loaded.length > 0 ? loaded : undefined);
      const profiles = resolveProfileList(opts.profile);
      const progress = startProgress(ctx.io, "run");
      let outcome: RunOutcome;
      try {
        outcome = runRequest(source, {
          arch,
          ...parseLinearMap(opts.linearMap),
          content: opts.content,
          ...(source.kind !== "scenario" ? machineOptions(opts, arch) : {}),
          ...(strategies !== undefined ? { strategies } : {}),
          ...(profiles !== undefined ? { profiles } : {}),
          x86Swap: opts.x86Swap === true,
          gbpages: opts.gbpages === true,
          timings: opts.timings === true,
          pageMap: opts.html !== undefined,
          maxBytes: ctx.maxMemory,
          purgatoryChecks: opts.checks,
          cma: opts.cma === true,
          ...(opts.cpus !== undefined ? { cpus: parseCpus(opts.cpus) } : {}),
          ...(opts.crash === true ? { crash: true } : {}),
          ...scenarioProgress(progress),
        });
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
      if (opts.html !== undefined) {
        const bytes = await writeHtmlReport(ctx, result, opts.html, { force: opts.force === true });
        if (!opts.json) ctx.io.stderr(`wrote ${opts.html} (${formatBytes(bytes)})\n`);
      }
      if (opts.json) printJson(ctx.io, result);
      else
        ctx.io.stdout(
          renderRunText(result, (style, text) => paint(ctx.io, style, text)) +
            (opts.explain ? `\n${formatLegend(RUN_LEGEND)}` : ""),
        );
      // a reference design (the va-copy series as posted) is shown failing; it does not fail the run
      ctx.exitCode = result.strategies.every((s) => s.verified || s.reference !== undefined)
        ? EXIT_OK
        : EXIT_REFUSED;
    });
}

/** The default scenario's or the real files' machine knobs (a scenario file names its own). */
function machineOptions(opts: RunOptions, arch: Arch): Partial<RunRequest> {
  const seed = parseInteger(opts.seed, "--seed");
  return {
    seed,
    pageSize: parseGranule(opts.granule, arch),
    ...(opts.vaBits !== undefined ? { vaBits: parseInteger(opts.vaBits, "--va-bits") } : {}),
    ...(opts.freePages !== undefined ? { freePages: parseFreePages(opts.freePages, seed) } : {}),
  };
}

/** --cpus: 1 .. 8192 online CPUs (the kernel's NR_CPUS ceiling on arm64 and x86_64 is 8192 or less). */
function parseCpus(text: string): number {
  const n = parseInteger(text, "--cpus");
  if (n < 1 || n > 8192) {
    throw new KexecLabError("E_FIELD_VALUE", `--cpus ${text}: give 1 to 8192 online CPUs`, {
      field: "--cpus",
    });
  }
  return n;
}
