import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { builtinProfile } from "../src/model/profiles.js";
import { pagePairs, SHAPE_STRATEGIES, strategyTrace } from "../src/model/shapes.js";
import { modelSweep, renderModelTable, sweepChartSvg } from "../src/model/sweep.js";
import {
  ACC_ENTRY,
  ACC_UNCACHED,
  BARRIER_MMU_OFF,
  CMO_DC_CIVAC,
  CMO_DC_CVAU,
  CMO_DC_IVAC,
  COPY_LINEAR_LOOP,
  COPY_UNCACHED,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_DESC_READ,
  EV_LOAD,
  EV_TLB_MISS,
} from "../src/reloc/trace.js";

function events(raw: Float64Array) {
  const out: { kind: number; a: number; b: number; n: number; flags: number }[] = [];
  for (let i = 0; i < raw.length; i += 5) {
    out.push({ kind: raw[i]!, a: raw[i + 1]!, b: raw[i + 2]!, n: raw[i + 3]!, flags: raw[i + 4]! });
  }
  return out;
}

describe("strategy shapes", () => {
  it("pagePairs: contiguous destinations; sources contiguous or a permutation without repeats", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom(4096, 16384, 65536),
        fc.nat(1000),
        (pages, pageSize, seed) => {
          const c = pagePairs(pages * pageSize, { pageSize });
          const s = pagePairs(pages * pageSize, { pageSize, layout: "scattered", seed });
          expect(c.length).toBe(2 * pages);
          const srcs = new Set<number>();
          for (let i = 0; i < pages; i++) {
            expect(c[2 * i]).toBe(0x40200000 + i * pageSize);
            expect(s[2 * i]).toBe(c[2 * i]);
            expect(c[2 * i + 1]).toBe(0x100000000 + i * pageSize);
            expect((s[2 * i + 1]! - 0x100000000) % pageSize).toBe(0);
            srcs.add(s[2 * i + 1]!);
          }
          expect(srcs.size).toBe(pages);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("property: each strategy's stream has the loop shape of docs/model.md", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1200 }),
        fc.constantFrom(...SHAPE_STRATEGIES),
        (pages, strategy) => {
          const pairs = pagePairs(pages * 4096, { layout: "scattered", seed: pages });
          const ev = events(strategyTrace(strategy, pairs).raw());
          const copies = ev.filter((e) => e.kind === EV_COPY);
          expect(copies.length).toBe(strategy === "x86-swap" ? 3 * pages : pages);
          const entryLoads = ev.filter((e) => e.kind === EV_LOAD && (e.flags & ACC_ENTRY) !== 0);
          const links = Math.floor((pages + 1) / 511);
          if (strategy === "va-copy") {
            expect(entryLoads.length).toBe(0);
            expect(copies.every((c) => c.flags === COPY_LINEAR_LOOP)).toBe(true);
            expect(ev.filter((e) => e.kind === EV_TLB_MISS).length).toBe(2 * pages);
            const cvau = ev.filter((e) => e.kind === EV_CMO && e.flags === CMO_DC_CVAU);
            expect(cvau.length).toBe(pages);
          } else {
            // destination + one per page + done, plus indirection links
            expect(entryLoads.length).toBeGreaterThanOrEqual(pages + 2);
            expect(entryLoads.length).toBeLessThanOrEqual(pages + 2 + links + 1);
          }
          if (strategy === "mmu-off") {
            const off = ev.findIndex((e) => e.kind === EV_BARRIER && e.flags === BARRIER_MMU_OFF);
            const first = ev.findIndex((e) => e.kind === EV_COPY);
            expect(off).toBeGreaterThanOrEqual(0);
            expect(off).toBeLessThan(first);
            expect(copies.every((c) => c.flags === COPY_UNCACHED)).toBe(true);
            expect(entryLoads.every((e) => (e.flags & ACC_UNCACHED) !== 0)).toBe(true);
            expect(ev.filter((e) => e.kind === EV_CMO && e.flags === CMO_DC_IVAC).length).toBe(pages);
          }
          if (strategy === "linear-map-copy") {
            const civac = ev.filter((e) => e.kind === EV_CMO && e.flags === CMO_DC_CIVAC);
            expect(civac.map((e) => e.a)).toEqual(copies.map((c) => c.a));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("the x86 swap page's copies are scratch: the limit counts the image once", async () => {
    const { modelTrace } = await import("../src/model/model.js");
    const p = builtinProfile("x86_64-server");
    const bytes = 256 * 4096;
    const swap = modelTrace(strategyTrace("x86-swap", pagePairs(bytes)).raw(), p);
    const copy = modelTrace(strategyTrace("x86-copy", pagePairs(bytes)).raw(), p);
    expect(swap.limitSeconds).toBeCloseTo((2 * bytes) / 14e9, 12);
    expect(swap.limitSeconds).toBe(copy.limitSeconds);
    expect(swap.seconds / copy.seconds).toBeGreaterThan(1.5);
  });

  it("a 5-level walk (4K with 52-bit VA, x86 LA57) reads levels -1..3 and models", async () => {
    const { modelTrace } = await import("../src/model/model.js");
    const levelsOf = (levels?: number) => {
      const raw = strategyTrace(
        "va-copy",
        pagePairs(64 * 4096),
        levels !== undefined ? { levels } : {},
      ).raw();
      const seen = new Set<number>();
      for (const e of events(raw)) if (e.kind === EV_DESC_READ) seen.add(e.b);
      return { seen: [...seen].sort((a, b) => a - b), raw };
    };
    expect(levelsOf().seen).toEqual([0, 1, 2, 3]);
    expect(levelsOf(3).seen).toEqual([1, 2, 3]);
    const five = levelsOf(5);
    expect(five.seen).toEqual([-1, 0, 1, 2, 3]);
    const p = builtinProfile("cortex-a72-board");
    expect(modelTrace(five.raw, p).breakdown.tableWalk!).toBeGreaterThan(
      modelTrace(levelsOf().raw, p).breakdown.tableWalk!,
    );
    expect(() => strategyTrace("va-copy", pagePairs(4096), { levels: 6 })).toThrow(/1 to 5 levels/);
  });

  it("refuses bad page sizes and strategies", () => {
    expect(() => pagePairs(4096, { pageSize: 8192 })).toThrow(KexecLabError);
    expect(() => strategyTrace("warp" as never, pagePairs(4096))).toThrow(/unknown strategy/);
  });
});

describe("sweep and renderings", () => {
  const points = modelSweep({
    profiles: [builtinProfile("cortex-a72-board")],
    strategies: ["mmu-off", "linear-map-copy"],
    sizes: [256 * 1024, 1024 * 1024],
  });

  it("sweeps sizes x strategies x profiles; time grows with size", () => {
    expect(points).toHaveLength(4);
    const off = points.filter((p) => p.strategy === "mmu-off");
    expect(off[1]!.seconds).toBeGreaterThan(3 * off[0]!.seconds);
    expect(off[0]!.limitSeconds).toBeCloseTo((2 * 256 * 1024) / 4.5e9, 12);
  });

  it("renders an aligned table with units and an SVG chart", () => {
    const table = renderModelTable(
      points.map((p) => ({
        strategy: p.strategy,
        model: {
          profile: p.profile,
          seconds: p.seconds,
          breakdown: { copy: p.seconds },
          limitSeconds: p.limitSeconds,
          ratioToLimit: p.ratioToLimit,
          sampled: p.sampled,
        },
      })),
    );
    const lines = table.split("\n");
    expect(lines[0]).toMatch(/^strategy\s+profile\s+time\s+limit\s+x limit\s+copy/);
    expect(new Set(lines.map((l) => l.length)).size).toBeLessThanOrEqual(2);
    expect(table).toMatch(/ms/);
    const svg = sweepChartSvg(points);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("mmu-off @ cortex-a72-board");
    expect(svg).toContain("limit @ cortex-a72-board");
    expect((svg.match(/<path /g) ?? []).length).toBe(3);
    expect(sweepChartSvg([])).toContain("<svg");
  });
});
