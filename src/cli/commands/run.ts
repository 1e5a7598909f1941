import { type Command, Option } from "commander";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import { kexecLoad } from "../../kimage/load.js";
import { summarizeKimage } from "../../kimage/summary.js";
import { Machine } from "../../machine/machine.js";
import { formatBytes, formatCount, renderTable } from "../../report/format.js";
import { defaultScenario } from "../../scenario/default.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";

interface RunOptions {
  arch: Arch;
  json?: boolean;
  content: "exact" | "shared" | "synthetic";
}

export function registerRun(program: Command, ctx: CliContext): Command {
  return program
    .command("run")
    .description("load a kexec image on the simulated machine (default: the embedded QEMU virt scenario)")
    .addOption(
      new Option("--arch <arch>", "architecture of the default scenario").choices(ARCHES).default("arm64"),
    )
    .addOption(
      new Option("--content <mode>", "page contents: exact bytes, shared frames, or synthetic")
        .choices(["exact", "shared", "synthetic"])
        .default("exact"),
    )
    .option("--json", "print one JSON document")
    .addHelpText("after", "\nExamples:\n  $ kexec-lab run\n  $ kexec-lab run --arch x86_64 --json")
    .action((opts: RunOptions) => {
      const sc = defaultScenario(opts.arch, opts.content);
      const machine = new Machine({
        arch: sc.arch,
        pageSize: sc.pageSize,
        memoryMap: sc.memoryMap,
        contentMode: sc.contentMode,
      });
      const result = kexecLoad(machine, sc.segments);
      if (!result.ok) {
        if (opts.json)
          printJson(ctx.io, { machine: { ramBytes: machine.ramBytes }, verdict: result.verdict });
        else ctx.io.stdout(`refused with ${result.verdict.errno}: ${result.verdict.reason}\n`);
        ctx.exitCode = EXIT_REFUSED;
        return;
      }
      const k = summarizeKimage(result.image);
      if (opts.json) {
        printJson(ctx.io, {
          machine: { arch: machine.arch, pageSize: machine.pageSize, ramBytes: machine.ramBytes },
          kimage: k,
        });
      } else {
        ctx.io.stdout(`machine: ${machine.describe()}, ${formatBytes(machine.ramBytes)} RAM\n\n`);
        ctx.io.stdout(
          `${renderTable(
            ["segment", "mem", "memsz", "bufsz"],
            k.segments.map((s) => [s.label, s.mem, formatBytes(s.memsz), formatBytes(s.bufsz)]),
          )}\n\n`,
        );
        ctx.io.stdout(
          `${renderTable(
            ["kimage", "count"],
            [
              ["source pages", formatCount(k.sourcePages)],
              ["entries", formatCount(k.entries)],
              ["indirection pages", formatCount(k.indirectionPages)],
              ["in-place pages", formatCount(k.inPlacePages)],
              ["parked pages", formatCount(k.parkedPages)],
              ["swaps", formatCount(k.swaps)],
              ["control pages", formatCount(k.controlPages)],
            ],
          )}\n`,
        );
      }
      ctx.exitCode = EXIT_OK;
    });
}
