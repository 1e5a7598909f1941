import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { modelTrace } from "../src/model/model.js";
import { builtinProfile, loadProfile, type Profile } from "../src/model/profiles.js";
import { runScenario } from "../src/reloc/run.js";
import { defaultScenario } from "../src/scenario/default.js";
import { loadScenario, toRelocScenario } from "../src/scenario/load.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function profileOf(ref: string | Record<string, unknown>): Profile {
  return typeof ref === "string" ? builtinProfile(ref) : loadProfile(ref);
}

describe("examples/published-25mb.json through the real relocation engine", () => {
  it("reproduces the published MMU-off and MMU-on times within 10%", () => {
    const file = join(root, "examples/published-25mb.json");
    const sc = loadScenario(JSON.parse(readFileSync(file, "utf8")), join(root, "examples"));
    expect(sc.profiles).toEqual(["published-25mb"]);
    const out = runScenario(toRelocScenario(sc), {
      strategies: sc.strategies.map((s) => s.name),
      model: (t) => sc.profiles.map((p) => modelTrace(t.raw(), profileOf(p))),
    });
    if (!out.ok) throw new Error(out.verdict.reason);
    const byName = Object.fromEntries(out.result.strategies.map((s) => [s.name, s]));
    expect(byName["mmu-off"]!.verified).toBe(true);
    const off = byName["mmu-off"]!.model![0]!;
    const on = byName["linear-map-copy"]!.model![0]!;
    expect(off.profile).toBe("published-25mb");
    expect(Math.abs(off.seconds / 0.440510736 - 1)).toBeLessThan(0.1);
    expect(Math.abs(on.seconds / 0.022158152 - 1)).toBeLessThan(0.1);
    expect(off.sampled).toBe(false);
    // 25 MiB: the limit is 2 x 25 MiB / bandwidth
    expect(off.limitSeconds).toBeCloseTo(
      (2 * 25 * 1024 * 1024) / (profileOf("published-25mb").dram.bandwidthGBps * 1e9),
      9,
    );
    const va = byName["va-copy"]!.model![0]!;
    expect(va.breakdown.tableWalk!).toBeGreaterThan(0);
    expect(va.breakdown.entryWalk).toBe(0);
  });

  it("models real x86_64 traces too, and an empty trace (in-place) costs nothing", () => {
    const sc = { ...defaultScenario("x86_64", "shared"), name: "pc" };
    const p = builtinProfile("x86_64-server");
    const out = runScenario(sc, { model: (t) => [modelTrace(t.raw(), p)] });
    if (!out.ok) throw new Error(out.verdict.reason);
    for (const s of out.result.strategies) {
      const m = s.model![0]!;
      if (s.name === "in-place") expect(m.seconds).toBe(0);
      else {
        expect(m.seconds).toBeGreaterThanOrEqual(m.limitSeconds); // never faster than the memory allows
        expect(m.breakdown.copy! / m.seconds).toBeGreaterThan(0.8);
      }
    }
  });
});
