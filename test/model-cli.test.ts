import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfile } from "../src/model/profiles.js";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("calibrate");
let n = 0;
function file(content: string): string {
  const p = join(dir, `f${n++}.json`);
  writeFileSync(p, content);
  return p;
}

const cli = runCli;

const points = JSON.stringify({
  pageSize: 4096,
  points: [
    { bytes: "1M", strategy: "mmu-off", seconds: 0.02 },
    { bytes: "1M", strategy: "linear-map-copy", seconds: 0.001 },
  ],
});

describe("kexec-lab calibrate", () => {
  it("fits the free parameters and prints the profile and residuals as JSON", async () => {
    const r = await cli(["calibrate", "--profile", "cortex-a72-board", "--points", file(points), "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.fitted).toEqual(["uncached.loadNs", "dram.bandwidthGBps"]);
    expect(doc.profile.name).toBe("cortex-a72-board-calibrated");
    expect(loadProfile(doc.profile).dram.bandwidthGBps).toBe(doc.profile.dram.bandwidthGBps);
    expect(doc.residuals).toHaveLength(2);
    for (const res of doc.residuals) expect(Math.abs(res.relativeError)).toBeLessThan(0.01);
    // deterministic
    const again = await cli([
      "calibrate",
      "--profile",
      "cortex-a72-board",
      "--points",
      file(points),
      "--json",
    ]);
    expect(again.out).toBe(r.out);
  });

  it("writes --out, refuses to overwrite without --force, and reads a profile file", async () => {
    const out = join(dir, "cal.json");
    const r = await cli([
      "calibrate",
      "--profile",
      "neoverse-n1-server",
      "--points",
      file(points),
      "--fit",
      "uncached.loadNs",
      "--name",
      "mine",
      "-o",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("uncached.loadNs");
    expect(r.out).toMatch(/mmu-off\s+1 MiB/);
    expect(existsSync(out)).toBe(true);
    const p = loadProfile(JSON.parse(readFileSync(out, "utf8")));
    expect(p.name).toBe("mine");
    const again = await cli([
      "calibrate",
      "--profile",
      "neoverse-n1-server",
      "--points",
      file(points),
      "-o",
      out,
    ]);
    expect(again.code).toBe(2);
    expect(again.err).toContain("E_FILE_EXISTS");
    const fromFile = await cli([
      "calibrate",
      "--profile",
      out,
      "--points",
      file(points),
      "--json",
      "--sample",
      "64",
    ]);
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.out).profile.name).toBe("mine-calibrated");
  });

  it("bad input exits 2 with a catalogued error naming the field", async () => {
    const bad = await cli([
      "calibrate",
      "--profile",
      "cortex-a72-board",
      "--points",
      file(JSON.stringify({ points: [{ bytes: 4096, strategy: "warp-drive", seconds: 1 }] })),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("E_FIELD_VALUE");
    expect(bad.err).toContain("points[0].strategy");
    const unknown = await cli(["calibrate", "--profile", "no-such", "--points", file(points)]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("neoverse-n1-server");
    const broken = await cli(["calibrate", "--profile", file("{ nope"), "--points", file(points)]);
    expect(broken.code).toBe(2);
    expect(broken.err).toContain("E_JSON_PARSE");
    const badProfile = await cli(["calibrate", "--profile", file('{"name": "x"}'), "--points", file(points)]);
    expect(badProfile.code).toBe(2);
    expect(badProfile.err).toContain("E_FIELD_MISSING");
    const fit = await cli([
      "calibrate",
      "--profile",
      "cortex-a72-board",
      "--points",
      file(points),
      "--fit",
      "lineBytes",
    ]);
    expect(fit.code).toBe(2);
    expect(fit.err).toContain("cannot be fitted");
  });

  it("with a scenario, fits to the traces of the real relocation", async () => {
    const scenario = join(process.cwd(), "examples/published-25mb.json");
    const pts = file(
      JSON.stringify({
        scenario,
        points: [
          { strategy: "mmu-off", seconds: 0.440510736 },
          { strategy: "linear-map-copy", seconds: 0.022158152 },
        ],
      }),
    );
    const r = await cli(["calibrate", "--profile", "cortex-a72-board", "--points", pts, "--json"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.residuals.map((x: { bytes: number }) => x.bytes)).toEqual([
      25 * 1024 * 1024,
      25 * 1024 * 1024,
    ]);
    for (const res of doc.residuals) expect(Math.abs(res.relativeError)).toBeLessThan(0.01);
    // close to the shipped calibration, which was fitted to the shapes
    expect(doc.profile.uncached.loadNs / 129.3).toBeGreaterThan(0.95);
    expect(doc.profile.uncached.loadNs / 129.3).toBeLessThan(1.05);
    const shapeless = await cli([
      "calibrate",
      "--profile",
      "cortex-a72-board",
      "--points",
      file(JSON.stringify({ points: [{ strategy: "x86-ident", seconds: 1, bytes: 4096 }] })),
    ]);
    expect(shapeless.code).toBe(2);
    expect(shapeless.err).toContain("points[0].strategy");
    const noBytes = await cli([
      "calibrate",
      "--profile",
      "cortex-a72-board",
      "--points",
      file(JSON.stringify({ points: [{ strategy: "mmu-off", seconds: 1 }] })),
    ]);
    expect(noBytes.code).toBe(2);
    expect(noBytes.err).toContain("E_FIELD_MISSING");
  });

  it("has help with examples", async () => {
    const r = await cli(["calibrate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("Examples:");
    expect(r.out).toContain("--points");
  });
});
