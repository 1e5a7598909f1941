import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { KexecLabError } from "../../errors.js";
import { calibrate } from "../../model/calibrate.js";
import { builtinProfile, loadProfile, type Profile } from "../../model/profiles.js";
import { SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace } from "../../model/shapes.js";
import { runScenario } from "../../reloc/run.js";
import { COPY_SCRATCH, EV_COPY } from "../../reloc/trace.js";
import { formatBytes, formatSeconds, renderTable } from "../../report/format.js";
import { loadScenario, toRelocScenario } from "../../scenario/load.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK } from "../exit.js";
import { readInputFile, readTextFile, writeOutputFile } from "../files.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";

interface CalibrateOptions {
  profile: string;
  points: string;
  fit?: string;
  name?: string;
  out?: string;
  force?: boolean;
  json?: boolean;
  sample?: string;
}

const pointsSchema = z
  .object({
    pageSize: z.union([z.literal(4096), z.literal(16384), z.literal(65536)]).optional(),
    layout: z.enum(["contiguous", "scattered"]).optional(),
    /** A scenario file (relative to the points file): traces come from running it, not from shapes. */
    scenario: z.string().min(1).optional(),
    points: z
      .array(
        z
          .object({
            bytes: z.union([z.number(), z.string()]).optional(),
            strategy: z.string().min(1),
            seconds: z.number().positive(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/** Bytes relocated by a trace: its copies except scratch ones. */
function relocatedBytes(trace: Float64Array): number {
  let bytes = 0;
  for (let i = 0; i < trace.length; i += 5) {
    if (trace[i] === EV_COPY && (trace[i + 4]! & COPY_SCRATCH) === 0) bytes += trace[i + 3]!;
  }
  return bytes;
}

/** The access stream of `strategy` relocating the scenario in `file`. */
function scenarioTrace(file: string, strategy: string, field: string): Float64Array {
  const sc = loadScenario(parseJson(readTextFile(file), file), dirname(file));
  let trace: Float64Array | undefined;
  const out = runScenario(toRelocScenario(sc, readInputFile), {
    strategies: [strategy],
    model: (t) => {
      trace = t.raw().slice();
      return [];
    },
  });
  if (!out.ok) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `the kernel refuses the scenario's load: ${out.verdict.reason}`,
      {
        file,
        field,
      },
    );
  }
  return trace ?? new Float64Array(0);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KexecLabError("E_JSON_PARSE", (e as Error).message, { file });
  }
}

function fieldOf(path: readonly PropertyKey[]): string {
  return path
    .map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`))
    .join("")
    .replace(/^\./, "");
}

/** A builtin profile name, or a path to a profile JSON file. */
export function resolveProfile(arg: string): Profile {
  if (!arg.endsWith(".json")) return builtinProfile(arg);
  return loadProfile(parseJson(readTextFile(arg), arg), arg);
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
    .option("-o, --out <file>", "write the calibrated profile to this JSON file")
    .option("--force", "overwrite --out if it exists")
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
      const profile = resolveProfile(opts.profile);
      const raw = parseJson(readTextFile(opts.points), opts.points);
      const parsed = pointsSchema.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new KexecLabError("E_FIELD_VALUE", issue.message, {
          file: opts.points,
          field: fieldOf(issue.path) || "(points)",
        });
      }
      const spec = parsed.data;
      const pageSize = spec.pageSize ?? 4096;
      const scenarioFile =
        spec.scenario === undefined ? undefined : resolve(dirname(opts.points), spec.scenario);
      const points = spec.points.map((pt, i) => {
        if (scenarioFile !== undefined) {
          const trace = scenarioTrace(scenarioFile, pt.strategy, `points[${i}].strategy`);
          return { bytes: relocatedBytes(trace), strategy: pt.strategy, seconds: pt.seconds, trace };
        }
        const where = { file: opts.points, field: `points[${i}]` };
        if (!(SHAPE_STRATEGIES as readonly string[]).includes(pt.strategy)) {
          throw new KexecLabError(
            "E_FIELD_VALUE",
            `strategy "${pt.strategy}" has no loop shape (${SHAPE_STRATEGIES.join(", ")}); give a "scenario" to run real strategies`,
            { ...where, field: `points[${i}].strategy` },
          );
        }
        if (pt.bytes === undefined) {
          throw new KexecLabError("E_FIELD_MISSING", "bytes is required without a scenario", {
            ...where,
            field: `points[${i}].bytes`,
          });
        }
        const bytes = toSafeNumber(parseSize(pt.bytes, `points[${i}].bytes`), `points[${i}].bytes`);
        if (bytes < pageSize) {
          throw new KexecLabError("E_FIELD_VALUE", `${bytes} bytes is less than one page`, {
            ...where,
            field: `points[${i}].bytes`,
          });
        }
        const strategy = pt.strategy as ShapeStrategy;
        return {
          bytes,
          strategy,
          seconds: pt.seconds,
          trace: shapeTrace(strategy, bytes, { pageSize, layout: spec.layout ?? "contiguous" }).raw(),
        };
      });
      let sample: number | undefined;
      if (opts.sample !== undefined) {
        sample = Number(opts.sample);
        if (!Number.isInteger(sample) || sample < 1) {
          throw new KexecLabError("E_USAGE", `--sample must be a positive integer, got "${opts.sample}"`);
        }
      }
      const result = calibrate(profile, points, {
        ...(opts.fit !== undefined ? { free: opts.fit.split(",").map((s) => s.trim()) } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(sample !== undefined ? { sample } : {}),
      });
      if (opts.out !== undefined) {
        writeOutputFile(opts.out, `${JSON.stringify(result.profile, null, 2)}\n`, opts.force === true);
      }
      const fitted = opts.fit !== undefined ? opts.fit.split(",").map((s) => s.trim()) : profile.free;
      if (opts.json) {
        printJson(ctx.io, { profile: result.profile, fitted, residuals: result.residuals });
      } else {
        ctx.io.stdout(`calibrated ${result.profile.name} from ${profile.name}\n\n`);
        ctx.io.stdout(
          `${renderTable(
            ["parameter", "before", "after"],
            fitted.map((path) => {
              const get = (p: Profile) =>
                path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], p) as number;
              return [path, String(get(profile)), get(result.profile).toPrecision(6)];
            }),
          )}\n\n`,
        );
        ctx.io.stdout(
          `${renderTable(
            ["strategy", "size", "measured", "modeled", "error"],
            result.residuals.map((r) => [
              r.strategy,
              formatBytes(r.bytes),
              formatSeconds(r.measuredSeconds),
              formatSeconds(r.modeledSeconds),
              `${(r.relativeError * 100).toFixed(2)}%`,
            ]),
            ["left"],
          )}\n`,
        );
        if (opts.out !== undefined) ctx.io.stdout(`\nwrote ${opts.out}\n`);
      }
      ctx.exitCode = EXIT_OK;
    });
}
