/**
 * The measured points of `kexec-lab calibrate` (docs/model.md): a points document parsed and turned
 * into CalibrationPoints, each with the access stream the model is fitted on: a strategy's loop shape
 * over `bytes` of page pairs (src/model/shapes.ts), or the stream of the strategy really relocating a
 * scenario (runScenario). Browser-safe: the scenario comes in loaded.
 */

import { z } from "zod";
import { KexecLabError } from "../errors.js";
import { type RelocScenario, runScenario } from "../reloc/run.js";
import { COPY_SCRATCH, EV_COPY } from "../reloc/trace.js";
import { fieldPath } from "../scenario/load.js";
import { parseSize, toSafeNumber } from "../scenario/numbers.js";
import type { CalibrationPoint } from "./calibrate.js";
import { SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace } from "./shapes.js";

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

/**
 * A points document: {"pageSize"?: 4096 | 16384 | 65536, "layout"?: "contiguous" | "scattered",
 * "scenario"?: path relative to the points file, "points": [{"bytes"?, "strategy", "seconds"}]}.
 */
export type CalibrationSpec = z.infer<typeof pointsSchema>;

/** The parsed points document; E_FIELD_VALUE naming `file` and the first bad field otherwise. */
export function parseCalibrationSpec(json: unknown, file: string): CalibrationSpec {
  const parsed = pointsSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KexecLabError("E_FIELD_VALUE", issue.message, {
      file,
      field: issue.path.length > 0 ? fieldPath(issue.path) : "(points)",
    });
  }
  return parsed.data;
}

/** Bytes relocated by a trace (src/reloc/trace.ts records): its copies except scratch ones. */
export function relocatedBytes(trace: Float64Array): number {
  let bytes = 0;
  for (let i = 0; i < trace.length; i += 5) {
    if (trace[i] === EV_COPY && (trace[i + 4]! & COPY_SCRATCH) === 0) bytes += trace[i + 3]!;
  }
  return bytes;
}

/**
 * The access stream of `strategy` relocating `sc`. E_FIELD_VALUE naming `file` and `field` when the
 * kernel refuses the load (kimage validation, kernel/kexec_core.c sanity_check_segment_list).
 */
export function scenarioTrace(
  sc: RelocScenario,
  strategy: string,
  file: string,
  field: string,
): Float64Array {
  let trace: Float64Array | undefined;
  const out = runScenario(sc, {
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

/**
 * The spec's points with their traces. With `scenario` (the spec's scenario, loaded; `scenarioFile`
 * names it in errors) each point's trace is the strategy relocating it and `bytes` what it relocated;
 * otherwise each point needs a strategy with a loop shape (SHAPE_STRATEGIES) and `bytes` (a size:
 * number or "25M") of at least one page. Errors name `file` and `points[i].field`.
 */
export function calibrationPoints(
  spec: CalibrationSpec,
  file: string,
  scenario?: { sc: RelocScenario; file: string },
): CalibrationPoint[] {
  const pageSize = spec.pageSize ?? 4096;
  return spec.points.map((pt, i) => {
    if (scenario !== undefined) {
      const trace = scenarioTrace(scenario.sc, pt.strategy, scenario.file, `points[${i}].strategy`);
      return { bytes: relocatedBytes(trace), strategy: pt.strategy, seconds: pt.seconds, trace };
    }
    const where = { file, field: `points[${i}]` };
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
}
