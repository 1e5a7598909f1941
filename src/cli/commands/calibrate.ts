import { dirname, resolve } from "node:path";
import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { calibrate } from "../../model/calibrate.js";
import { calibrationPoints, parseCalibrationSpec } from "../../model/calibrate-points.js";
import { resolveProfile } from "../../model/node/profile-file.js";
import { SHAPE_STRATEGIES } from "../../model/shapes.js";
import { renderCalibrationText } from "../../report/calibrate-text.js";
import { toRelocScenario } from "../../scenario/load.js";
import { readJsonFile, readScenarioFile } from "../../scenario/node/read.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { checkTextOutput, readInputFile, writeOutputFile } from "../files.js";
import { printJson } from "../io.js";

interface CalibrateOptions {
  profile: string;
  points: string;
  fit?: string;
  name?: string;
  output?: string;
  /** Deprecated spelling of --output. */
  out?: string;
  force?: boolean;
  json?: boolean;
  sample?: string;
}

export function registerCalibrate(program: Command, ctx: CliContext): Command {
  return program
    .command("calibrate")
    .description(
      "fit a machine profile's free parameters (timing model) to measured relocation times;\n" +
        "each point's access stream is the strategy's loop shape over `bytes` of page pairs, or,\n" +
        'with "scenario", the stream of the strategy really relocating that scenario',
    )
    .requiredOption("--profile <name|file.json>", "builtin profile name or profile JSON file to start from")
    .requiredOption(
      "--points <file.json>",
      'measured points: {"pageSize"?, "layout"?, "scenario"?, "points": [{"bytes", "strategy", "seconds"}]}',
    )
    .option("--fit <params>", "comma-separated dotted fields to fit (default: the profile's free list)")
    .option("--name <name>", "name of the calibrated profile (default: <profile>-calibrated)")
    .option("--sample <pages>", "pages simulated exactly per evaluation (default: 64 MiB worth)")
    .option("-o, --output <file>", "write the calibrated profile to this JSON file")
    .addOption(new Option("--out <file>", "deprecated spelling of -o/--output").hideHelp())
    .option("--force", "overwrite the --output file if it exists")
    .option("--json", "print one JSON document: the profile and the residuals")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  $ kexec-lab calibrate --profile cortex-a72-board --points measured.json\n" +
        "  $ kexec-lab calibrate --profile my-board.json --points measured.json --fit dram.bandwidthGBps -o cal.json\n" +
        "\nmeasured.json:\n" +
        '  {"pageSize": 4096, "points": [{"bytes": "25M", "strategy": "mmu-off", "seconds": 0.4405},\n' +
        '                                {"bytes": "25M", "strategy": "linear-map-copy", "seconds": 0.0222}]}\n' +
        `strategies (shapes): ${SHAPE_STRATEGIES.join(", ")}\n` +
        'with "scenario": "../examples/published-25mb.json" (relative to the points file), the\n' +
        "strategies are the scenario's (mmu-off, va-copy, linear-map-copy, x86-ident) and bytes is optional",
    )
    .action((opts: CalibrateOptions) => {
      if (opts.out !== undefined) checkTextOutput(opts.out, opts.force === true, "--out", false);
      const profile = resolveProfile(opts.profile);
      const spec = parseCalibrationSpec(readJsonFile(opts.points), opts.points);
      const scenarioFile =
        spec.scenario === undefined ? undefined : resolve(dirname(opts.points), spec.scenario);
      const points = calibrationPoints(
        spec,
        opts.points,
        scenarioFile !== undefined
          ? { sc: toRelocScenario(readScenarioFile(scenarioFile), readInputFile), file: scenarioFile }
          : undefined,
      );
      let sample: number | undefined;
      if (opts.sample !== undefined) {
        sample = Number(opts.sample);
        if (!Number.isInteger(sample) || sample < 1) {
          throw new KexecLabError("E_USAGE", `--sample must be a positive integer, got "${opts.sample}"`);
        }
      }
      const fit = opts.fit?.split(",").map((s) => s.trim());
      const result = calibrate(profile, points, {
        ...(fit !== undefined ? { free: fit } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(sample !== undefined ? { sample } : {}),
      });
      const out = opts.output ?? opts.out;
      if (out !== undefined) {
        writeOutputFile(out, `${JSON.stringify(result.profile, null, 2)}\n`, opts.force === true);
      }
      const fitted = fit ?? profile.free;
      if (opts.json) {
        printJson(ctx.io, { profile: result.profile, fitted, residuals: result.residuals });
      } else {
        ctx.io.stdout(renderCalibrationText(profile, result, fitted));
        if (out !== undefined) ctx.io.stdout(`\nwrote ${out}\n`);
      }
      ctx.exitCode = EXIT_OK;
    });
}
