import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { calibrate } from "../src/model/calibrate.js";
import { modelTrace } from "../src/model/model.js";
import { builtinProfile, getParam, withParam } from "../src/model/profiles.js";
import { shapeTrace } from "../src/model/shapes.js";
import { renderCalibrationText } from "../src/report/calibrate-text.js";

const MiB = 1024 * 1024;

describe("calibrate", () => {
  it("recovers the parameters that produced the measurements", () => {
    const start = builtinProfile("cortex-a72-board");
    const truth = withParam(withParam(start, "uncached.loadNs", 333), "dram.bandwidthGBps", 3.1);
    const bytes = 2 * MiB;
    const points = (["mmu-off", "linear-map-copy"] as const).map((strategy) => {
      const trace = shapeTrace(strategy, bytes).raw();
      return { bytes, strategy, seconds: modelTrace(trace, truth).seconds, trace };
    });
    const { profile, residuals } = calibrate(start, points, { name: "fitted" });
    expect(profile.name).toBe("fitted");
    expect(getParam(profile, "uncached.loadNs") / 333).toBeCloseTo(1, 2);
    expect(getParam(profile, "dram.bandwidthGBps") / 3.1).toBeCloseTo(1, 2);
    for (const r of residuals) expect(Math.abs(r.relativeError)).toBeLessThan(1e-3);
    // the starting profile is not modified
    expect(getParam(start, "uncached.loadNs")).toBe(builtinProfile("cortex-a72-board").uncached.loadNs);
  });

  it("the shipped published-25mb profile reproduces both published 25 MB times within 10%", () => {
    const p = builtinProfile("published-25mb");
    const bytes = 25 * MiB;
    const off = modelTrace(shapeTrace("mmu-off", bytes).raw(), p);
    const on = modelTrace(shapeTrace("linear-map-copy", bytes).raw(), p);
    expect(off.sampled).toBe(false);
    expect(Math.abs(off.seconds / 0.440510736 - 1)).toBeLessThan(0.1);
    expect(Math.abs(on.seconds / 0.022158152 - 1)).toBeLessThan(0.1);
    // in fact the fit is exact to well under 1%
    expect(Math.abs(off.seconds / 0.440510736 - 1)).toBeLessThan(0.01);
    expect(Math.abs(on.seconds / 0.022158152 - 1)).toBeLessThan(0.01);
  });

  it("property: calibration never makes the fit worse than the starting profile", () => {
    const start = builtinProfile("thunderx2-server");
    const bytes = 64 * 1024;
    const traces = {
      "mmu-off": shapeTrace("mmu-off", bytes).raw(),
      "linear-map-copy": shapeTrace("linear-map-copy", bytes).raw(),
    };
    const err = (p: typeof start, pts: { seconds: number; trace: Float64Array }[]) =>
      pts.reduce((s, pt) => s + Math.log(modelTrace(pt.trace, p).seconds / pt.seconds) ** 2, 0);
    fc.assert(
      fc.property(
        fc.double({ min: 1e-4, max: 1, noNaN: true }),
        fc.double({ min: 1e-6, max: 0.1, noNaN: true }),
        (off, on) => {
          const pts = [
            { bytes, strategy: "mmu-off", seconds: off, trace: traces["mmu-off"] },
            { bytes, strategy: "linear-map-copy", seconds: on, trace: traces["linear-map-copy"] },
          ];
          const r = calibrate(start, pts, { maxIterations: 4 });
          expect(err(r.profile, pts)).toBeLessThanOrEqual(err(start, pts) + 1e-12);
          for (const res of r.residuals) expect(Number.isFinite(res.modeledSeconds)).toBe(true);
        },
      ),
      { numRuns: 8 },
    );
  });

  it("refuses what it cannot fit", () => {
    const p = builtinProfile("neoverse-n1-server");
    const trace = shapeTrace("mmu-off", 64 * 1024).raw();
    const pt = { bytes: 65536, strategy: "mmu-off", seconds: 0.01, trace };
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof KexecLabError ? `${e.code} ${e.where.field}` : String(e);
      }
      return "no error";
    };
    expect(code(() => calibrate(p, []))).toBe("E_FIELD_MISSING points");
    expect(code(() => calibrate(p, [{ ...pt, seconds: 0 }]))).toBe("E_FIELD_VALUE points[0].seconds");
    expect(code(() => calibrate(p, [pt], { free: ["dram.outstandingMisses"] }))).toBe(
      "E_FIELD_VALUE free[0]",
    );
    expect(code(() => calibrate(p, [pt], { free: ["caches.9.latencyCycles"] }))).toBe(
      "E_FIELD_VALUE caches.9.latencyCycles",
    );
  });

  it("prints a residual that rounds to zero as 0.00%, never -0.00%", () => {
    const p = builtinProfile("published-25mb");
    const residual = (relativeError: number) => ({
      bytes: 25 * 1024 * 1024,
      strategy: "mmu-off",
      measuredSeconds: 1,
      modeledSeconds: 1 + relativeError,
      relativeError,
    });
    const text = renderCalibrationText(
      p,
      { profile: p, residuals: [residual(-1e-6), residual(-0.0123)] },
      [],
    );
    expect(text).not.toContain("-0.00%");
    expect(text).toMatch(/\s0\.00%/);
    expect(text).toContain("-1.23%");
  });
});
