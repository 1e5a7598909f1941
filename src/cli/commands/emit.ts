import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { qemuBinaryFor, runAndCompare, writeEmission } from "../../emit/node/directory.js";
import { haveTool } from "../../emit/node/qemu.js";
import { emitStrategy } from "../../emit/strategy.js";
import { KexecLabError } from "../../errors.js";
import { type EmitReport, emitJson, renderEmitText } from "../../report/emit-text.js";
import {
  defaultEmitStrategy,
  EMIT_TARGETS,
  type EmitTarget,
  emitScenario,
  emitTargetArch,
} from "../../request/emit.js";
import { loadStrategyFile } from "../../request/node/strategy-file.js";
import { readScenarioFile } from "../../scenario/node/read.js";
import { parseGranule, parseInteger } from "../../sweep/grid.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readInputFile } from "../files.js";
import { printJson } from "../io.js";

interface EmitOptions {
  target: EmitTarget;
  strategy?: string;
  loadStrategy?: string[];
  granule: string;
  seed: string;
  scenario?: string;
  linearMap: "block" | "page";
  x86Swap?: boolean;
  x86ClearNx?: boolean;
  output?: string;
  /** Deprecated spelling of --output. */
  out?: string;
  force?: boolean;
  run?: boolean;
  timeout: string;
  json?: boolean;
}

const HELP = `
Writes a bare-metal image of one relocation strategy for QEMU, built from a small seeded scenario
(kernel 4 MiB, initrd 2 MiB, DTB 2 MiB; pages handed out in random order) on a machine laid out like
QEMU's: every RAM page the kimage populated (indirection pages, source pages, control pages with the
strategy's translation tables), the project's relocation routine (asm/arm64/reloc.S in the control
code page; on x86_64 the Multiboot stub asm/x86_64/boot.S), and its parameter block.

-o/--output DIR writes: ram.img (QEMU's RAM as a sparse file: only the populated pages are written, at
PA - RAM base), boot.elf (x86_64), expected.img (the same layout holding the simulator's memory after its
own relocation in every checked range), manifest.json, and run-qemu.sh (QEMU with ram.img as its RAM and
the QMP monitor on stdio, stopped at the end by -no-shutdown so memory can be saved with pmemsave).
--run runs QEMU itself (qemu-system-aarch64 / qemu-system-x86_64), dumps the checked ranges and compares
them with the simulator's, byte for byte.

Exit status: 0 written (and, with --run, QEMU's memory equals the simulator's), 1 a difference or a
QEMU run that did not finish, 2 bad input or a missing tool.

Examples:
  $ kexec-lab emit --target qemu-virt-arm64 --strategy linear-map-copy --granule 16K --run
  $ kexec-lab emit --target qemu-virt-arm64 --strategy va-copy -o /tmp/va-copy-4k
  $ kexec-lab emit --target qemu-pc-x86_64 --x86-swap --x86-clear-nx --run --json
  $ kexec-lab emit --scenario examples/qemu-virt-4g.json --strategy va-copy --run
`;

export function registerEmit(program: Command, ctx: CliContext): Command {
  return program
    .command("emit")
    .description(
      "write a strategy's relocation as a bare-metal image for QEMU, and optionally run and check it",
    )
    .addOption(
      new Option("--target <target>", "QEMU machine").choices([...EMIT_TARGETS]).default("qemu-virt-arm64"),
    )
    .option(
      "--strategy <name>",
      "mmu-off, linear-map-copy, va-copy, in-place (arm64); x86-ident (x86_64; the default there)",
    )
    .option(
      "--load-strategy <file>",
      "import a strategy module (docs/strategies.md) and emit its strategy: the QEMU routine runs the list walk (MMU off, or through the strategy's tables when they hold the linear map) or va-copy's loop (when they hold its windows); anything else is refused saying why",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option("--granule <size>", "arm64 translation granule and page size: 4K, 16K or 64K", "4K")
    .option("--seed <n>", "seed of the built-in scenario's contents and free-page order", "1")
    .option(
      "--scenario <file>",
      "a scenario file with explicit segments (docs/scenario.md) instead of the built-in one; its RAM must lie where the target's is",
    )
    .addOption(
      new Option("--linear-map <kind>", "linear-map-copy: block-mapped or page-granular linear map")
        .choices(["block", "page"])
        .default("block"),
    )
    .option("--x86-swap", "x86-ident: pre-6.14 three-copy swap through the swap page")
    .option(
      "--x86-clear-nx",
      "x86_64: clear NX in the emitted copy of the tables (the kernel's identity map is executable)",
    )
    .option("-o, --output <dir>", "write the image files into this directory")
    .addOption(new Option("--out <dir>", "deprecated spelling of -o/--output").hideHelp())
    .option("--force", "overwrite files in the --output directory")
    .option("--run", "run the image on QEMU and compare its memory with the simulator's")
    .option("--timeout <seconds>", "hard limit for one QEMU run", "60")
    .option("--json", "print one JSON document")
    .addHelpText("after", HELP)
    .action(async (opts: EmitOptions) => {
      // --out is the old spelling of -o/--output (kept so existing scripts run).
      if (opts.out !== undefined && opts.output !== undefined && opts.out !== opts.output)
        throw new KexecLabError("E_USAGE", "give -o/--output once (--out is its old spelling)", {
          field: "--output",
        });
      const outDir = opts.output ?? opts.out;
      const loaded: string[] = [];
      for (const f of opts.loadStrategy ?? []) loaded.push(...(await loadStrategyFile(f, ctx.io.cwd)));
      const strategy = opts.strategy ?? loaded[0] ?? defaultEmitStrategy(emitTargetArch(opts.target));
      const granule = parseGranule(opts.granule, emitTargetArch(opts.target));
      const file = opts.scenario !== undefined ? resolve(ctx.io.cwd, opts.scenario) : undefined;
      const sc = emitScenario(
        opts.target,
        granule,
        parseInteger(opts.seed, "--seed"),
        file !== undefined ? { loaded: readScenarioFile(file), readFile: readInputFile, file } : undefined,
      );
      const { pageSize, seed } = sc;
      const timeout = parseInteger(opts.timeout, "--timeout");
      if (outDir === undefined && !opts.run) {
        throw new KexecLabError("E_USAGE", "give -o DIR, --run, or both", { field: "--output" });
      }
      const e = emitStrategy({ ...sc, maxBytes: ctx.maxMemory }, strategy, {
        linearMap: opts.linearMap,
        x86Swap: opts.x86Swap === true,
        x86ClearNx: opts.x86ClearNx === true,
        compareAllPages: true,
      });
      const report: EmitReport = { strategy, pageSize, seed };
      if (outDir !== undefined) {
        report.out = {
          dir: outDir,
          files: writeEmission(resolve(ctx.io.cwd, outDir), e, opts.force === true),
        };
      }
      if (opts.run) {
        const qemuBin = qemuBinaryFor(e);
        if (!haveTool(qemuBin)) {
          throw new KexecLabError("E_TOOL_MISSING", `${qemuBin} is not installed`, { field: "--run" });
        }
        report.run = await runAndCompare(e, timeout * 1000);
      }
      if (opts.json) printJson(ctx.io, emitJson(e, report));
      else ctx.io.stdout(renderEmitText(e, report));
      ctx.exitCode = report.run !== undefined && report.run.differences.length > 0 ? EXIT_REFUSED : EXIT_OK;
    });
}
