/**
 * Ranges through the model (src/model/ranges.ts): every range holds its most likely value, widening an
 * input's range widens (never narrows) the output's, every modeled time is monotone in each ranged input
 * (the premise of the vertex method), and the CPU teardown scales with the CPU count.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { modelTraceRange } from "../src/model/model.js";
import {
  ARM64_SERIAL_TEARDOWN_PER_CPU,
  cpuTeardown,
  phasesRange,
  phasesTotal,
  type RebootInput,
  rebootPhases,
} from "../src/model/phases.js";
import { BUILTIN_PROFILES, builtinProfile, loadProfile, withParam } from "../src/model/profiles.js";
import { directionOf, profileBound, rangeVerdict, widenRange } from "../src/model/ranges.js";
import { shapeTrace } from "../src/model/shapes.js";

const MiB = 1024 * 1024;
const SHAPES = ["mmu-off", "linear-map-copy", "va-copy"] as const;
const ARM64 = Object.values(BUILTIN_PROFILES).filter((p) => p.arch === "arm64");

function reboot(over: Partial<RebootInput> = {}): RebootInput {
  return {
    arch: "arm64",
    call: "kexec_load",
    purgatoryChecks: true,
    segments: [
      { label: "kernel", bytes: 28 * MiB, relocated: true },
      { label: "initrd", bytes: 8 * MiB, relocated: true },
    ],
    relocation: {
      strategy: "linear-map-copy",
      seconds: 0.01,
      bytes: 36 * MiB,
      sampled: false,
      range: [0.005, 0.02],
    },
    ...over,
  };
}

describe("ranges", () => {
  it("every shipped profile's ranges hold its values and name a direction the model knows", () => {
    for (const p of Object.values(BUILTIN_PROFILES)) {
      for (const path of Object.keys(p.ranges ?? {}))
        expect(directionOf(path), `${p.name} ${path}`).toBeDefined();
      // loadProfile re-checks containment and validity of both ends
      expect(() => loadProfile(structuredClone(p))).not.toThrow();
    }
  });

  it("property: the modeled range contains the point estimate (profiles x shapes x sizes)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ARM64),
        fc.constantFrom(...SHAPES),
        fc.integer({ min: 1, max: 8 }),
        (profile, shape, mib) => {
          const m = modelTraceRange(shapeTrace(shape, mib * MiB).raw(), profile, { sample: 256 });
          expect(m.range![0]).toBeLessThanOrEqual(m.seconds);
          expect(m.seconds).toBeLessThanOrEqual(m.range![1]);
        },
      ),
      { numRuns: 12 },
    );
  });

  it("property: every phase's range and the total's contain their most likely value", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(BUILTIN_PROFILES)),
        fc.integer({ min: 1, max: 256 }),
        fc.boolean(),
        fc.constantFrom("reboot", "crash") as fc.Arbitrary<"reboot" | "crash">,
        (profile, cpus, checks, path) => {
          const phases = rebootPhases(
            reboot({ arch: profile.arch, cpus, purgatoryChecks: checks, path, crashCma: path === "crash" }),
            profile,
          );
          for (const p of phases) {
            expect(p.range[0], p.name).toBeLessThanOrEqual(p.seconds);
            expect(p.seconds, p.name).toBeLessThanOrEqual(p.range[1]);
          }
          const [lo, hi] = phasesRange(phases);
          const t = phasesTotal(phases);
          expect(lo).toBeLessThanOrEqual(t + 1e-12);
          expect(t).toBeLessThanOrEqual(hi + 1e-12);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("property: widening an input's range widens the output's (never narrows it)", () => {
    const paths = ["dram.latencyNs", "uncached.loadNs", "dram.bandwidthGBps", "cmo.pocNs", "cpu.ipc"];
    fc.assert(
      fc.property(
        fc.constantFrom(...ARM64),
        fc.constantFrom(...SHAPES),
        fc.constantFrom(...paths),
        fc.double({ min: 1.2, max: 4, noNaN: true }),
        (profile, shape, path, factor) => {
          const trace = shapeTrace(shape, 2 * MiB).raw();
          const a = modelTraceRange(trace, profile, { sample: 256 }).range!;
          const b = modelTraceRange(trace, widenRange(profile, path, factor), { sample: 256 }).range!;
          expect(b[0]).toBeLessThanOrEqual(a[0] * (1 + 1e-9));
          expect(b[1]).toBeGreaterThanOrEqual(a[1] * (1 - 1e-9));
        },
      ),
      { numRuns: 15 },
    );
  });

  it("widening the Device round trip strictly widens an MMU-off relocation and its purgatory", () => {
    const p = builtinProfile("thunderx2-server");
    const trace = shapeTrace("mmu-off", 4 * MiB).raw();
    const a = modelTraceRange(trace, p, { sample: 256 }).range!;
    const b = modelTraceRange(trace, widenRange(p, "uncached.loadNs", 3), { sample: 256 }).range!;
    expect(b[0]).toBeLessThan(a[0]);
    expect(b[1]).toBeGreaterThan(a[1]);
    const pa = rebootPhases(reboot(), p).find((x) => x.name === "purgatory")!.range;
    const pb = rebootPhases(reboot(), widenRange(p, "uncached.loadNs", 3)).find(
      (x) => x.name === "purgatory",
    )!.range;
    expect(pb[0]).toBeLessThan(pa[0]);
    expect(pb[1]).toBeGreaterThan(pa[1]);
  });

  it("property: the model is monotone in each ranged input (the vertex method's premise)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ARM64),
        fc.constantFrom(...SHAPES),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (profile, shape, t) => {
          const trace = shapeTrace(shape, 1 * MiB).raw();
          for (const [path, r] of Object.entries(profile.ranges ?? {})) {
            if (path.startsWith("publishedShutdown")) continue;
            const int = Number.isInteger(r.low) && Number.isInteger(r.high) && path !== "cpu.ipc";
            const at = (v: number) =>
              modelTraceRange(
                trace,
                { ...withParam(profile, path, int ? Math.round(v) : v), ranges: {} },
                { sample: 128 },
              ).seconds;
            const mid = r.low + t * (r.high - r.low);
            const dir = directionOf(path)!;
            const [x, y, z] = [at(r.low), at(mid), at(r.high)];
            const eps = 1e-9 * Math.max(x, z);
            if (dir > 0) expect(x <= y + eps && y <= z + eps, path).toBe(true);
            else expect(x + eps >= y && y + eps >= z, path).toBe(true);
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it("profileBound puts each input at its fast (low) or slow (high) end", () => {
    const p = builtinProfile("thunderx2-server");
    const lo = profileBound(p, "low");
    const hi = profileBound(p, "high");
    expect(lo.uncached.loadNs).toBe(103);
    expect(hi.uncached.loadNs).toBe(134);
    expect(lo.dram.bandwidthGBps).toBeGreaterThan(hi.dram.bandwidthGBps);
    expect(lo.uncached.accessBytes).toBe(16);
    expect(hi.uncached.accessBytes).toBe(8);
    expect(hi.uncached.loopFetches).toBe(12);
  });

  it("a range wider than x10 is unknown, with why", () => {
    expect(rangeVerdict([1, 9.9]).known).toBe(true);
    const v = rangeVerdict([1, 11]);
    expect(v.known).toBe(false);
    expect(!v.known && v.why).toContain("x11");
    expect(rangeVerdict([0, 1]).known).toBe(false);
  });

  it("refuses a profile whose range does not hold its value, naming the field", () => {
    const p = structuredClone(builtinProfile("thunderx2-server"));
    p.ranges!["dram.latencyNs"] = { low: 120, high: 140, why: "test" };
    expect(() => loadProfile(p, "x.json")).toThrow(/ranges\.dram\.latencyNs|does not contain/);
    const q = structuredClone(builtinProfile("thunderx2-server"));
    q.ranges!["dram.outstandingMisses"] = { low: 2.5, high: 15, why: "test" };
    expect(() => loadProfile(q)).toThrow(/not a valid value/);
  });
});

describe("CPU teardown", () => {
  it("scales with the CPU count on the arm64 reboot path (serial cpu_down)", () => {
    const at = (n: number) => cpuTeardown("arm64", n, "reboot", false);
    expect(at(1).seconds).toBe(0);
    expect(at(2).seconds).toBeCloseTo(ARM64_SERIAL_TEARDOWN_PER_CPU.seconds, 12);
    expect(at(129).seconds).toBeCloseTo(2 * at(65).seconds, 9);
    expect(at(128).range[0]).toBeCloseTo((127 * 15) / 79, 9);
    expect(at(128).range[1]).toBeCloseTo(127 * 0.25, 9);
    // over 30 s on 128 cores, as published
    expect(at(128).range[1]).toBeGreaterThan(30);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4095 }), (n) => {
        expect(at(n + 1).seconds).toBeGreaterThan(at(n).seconds);
      }),
    );
  });

  it("a machine with its own published shutdown (Stingray, 8 cores, 22-32 ms) does not count its CPUs twice", () => {
    const ps = rebootPhases(reboot({ cpus: 8 }), builtinProfile("broadcom-stingray"));
    const t = ps.find((p) => p.name === "cpu-teardown")!;
    expect(t.seconds).toBe(0);
    expect(t.how).toContain("included in this machine's published shutdown");
    // without that figure the server constant applies
    const server = rebootPhases(reboot({ cpus: 8 }), builtinProfile("ampere-altra"));
    expect(server.find((p) => p.name === "cpu-teardown")!.seconds).toBeGreaterThan(1);
  });

  it("the parallel-shutdown series is much faster; x86 and crash paths are unknown, not zero", () => {
    expect(cpuTeardown("arm64", 80, "reboot", true).seconds).toBeCloseTo(1, 9);
    expect(cpuTeardown("arm64", 80, "reboot", false).seconds).toBeGreaterThan(14);
    expect(cpuTeardown("x86_64", 64, "reboot", false).unknown).toBeDefined();
    expect(cpuTeardown("arm64", 64, "crash", false).unknown).toBeDefined();
  });

  it("is the largest phase of a kexec_file_load reboot on 128 arm64 cores, with its source", () => {
    const phases = rebootPhases(
      reboot({ cpus: 128, call: "kexec_file_load" }),
      builtinProfile("ampere-altra"),
    );
    const known = phases.filter((p) => p.unknown === undefined);
    const top = known.reduce((a, p) => (p.seconds > a.seconds ? p : a));
    expect(top.name).toBe("cpu-teardown");
    expect(top.source).toContain("openEuler");
  });

  it("the crash path: no device shutdown, nothing relocated by it, the 10 s CMA DMA wait with crashkernel=,cma", () => {
    const p = builtinProfile("broadcom-stingray");
    const crash = rebootPhases(reboot({ path: "crash", crashCma: true }), p);
    expect(crash.find((x) => x.name === "shutdown")!.seconds).toBe(0);
    expect(crash.find((x) => x.name === "cma-dma-wait")!.range).toEqual([10, 10]);
    const plain = rebootPhases(reboot(), p);
    expect(plain.find((x) => x.name === "shutdown")!.range).toEqual([0.022131328, 0.032066576]);
    expect(plain.some((x) => x.name === "cma-dma-wait")).toBe(false);
  });
});
