import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { CacheHierarchy, CacheLevel } from "../src/model/cache.js";
import { COMPONENTS, modelTrace, modelTraceDetailed, physicalLimitSeconds } from "../src/model/model.js";
import { BUILTIN_PROFILES, builtinProfile, loadProfile, type Profile } from "../src/model/profiles.js";
import { SHAPE_STRATEGIES, shapeTrace } from "../src/model/shapes.js";
import { runScenario } from "../src/reloc/run.js";
import {
  ACC_ENTRY,
  ACC_UNCACHED,
  BARRIER_DSB,
  BARRIER_MMU_OFF,
  CMO_DC_CIVAC,
  CMO_DC_IVAC,
  COPY_LINEAR_LOOP,
  COPY_UNCACHED,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_DESC_READ,
  EV_LOAD,
  EV_STORE,
  EV_TLB_MISS,
  TraceBuffer,
} from "../src/reloc/trace.js";
import { defaultScenario } from "../src/scenario/default.js";

const MiB = 1024 * 1024;

/** The N1 profile with small caches (so a copy's output leaves them) and overrides. */
function profile(
  over: {
    pf?: Partial<Profile["prefetcher"]>;
    dram?: Partial<Profile["dram"]>;
    uncached?: Partial<Profile["uncached"]>;
  } = {},
): Profile {
  const p = structuredClone(builtinProfile("neoverse-n1-server"));
  // these tests set inputs far outside the shipped ranges (src/model/ranges.ts): no ranges here
  delete p.ranges;
  p.caches = [
    { name: "L1D", bytes: 32768, ways: 4, latencyCycles: 4 },
    { name: "L2", bytes: 262144, ways: 8, latencyCycles: 11 },
  ];
  Object.assign(p.prefetcher, over.pf ?? {});
  Object.assign(p.dram, over.dram ?? {});
  Object.assign(p.uncached, over.uncached ?? {});
  return loadProfile(p);
}

/** Page copies of contiguous sources to contiguous destinations. */
function streamCopy(bytes: number, flags = 0, pageSize = 4096, srcStride = pageSize): Float64Array {
  const t = new TraceBuffer();
  for (let i = 0; i < bytes / pageSize; i++) {
    t.event(EV_COPY, 0x40000000 + i * pageSize, 0x100000000 + i * srcStride, pageSize, flags);
  }
  return t.raw();
}

describe("caches", () => {
  it("LRU: the least recently used way of a set is the victim", () => {
    const c = new CacheLevel({ name: "t", bytes: 4 * 64 * 2, ways: 2, latencyCycles: 1 }, 64);
    expect(c.sets).toBe(4);
    c.insert(0, false);
    c.insert(4, true); // same set (line % 4 == 0)
    expect(c.lookup(0)).toBeGreaterThanOrEqual(0); // 0 is now the most recent
    c.insert(8, false);
    expect(c.victimLine).toBe(4);
    expect(c.victimDirty).toBe(true);
    expect(c.find(0)).toBeGreaterThanOrEqual(0);
    expect(c.find(4)).toBe(-1);
  });

  it("write-back: dirty lines reach memory once, on eviction or clean", () => {
    const h = new CacheHierarchy(
      [
        { name: "L1", bytes: 1024, ways: 2, latencyCycles: 1 },
        { name: "L2", bytes: 4096, ways: 4, latencyCycles: 5 },
      ],
      64,
    );
    for (let l = 0; l < 64; l++) h.access(l, true); // 64 dirty lines, 64 + 16 fit
    expect(h.takeWritebacks()).toBe(0);
    for (let l = 1000; l < 1200; l++) h.access(l, false); // clean lines push the dirty ones out
    expect(h.takeWritebacks()).toBe(64);
    h.access(5000, true);
    expect(h.maintain(5000, true, true)).toBe(true);
    expect(h.takeWritebacks()).toBe(1);
    expect(h.access(5000, false)).toBe(2); // invalidated: from memory again
  });

  it("property: occupancy never exceeds capacity and write-backs never exceed stores", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(300), fc.boolean()), { maxLength: 400 }), (ops) => {
        const h = new CacheHierarchy(
          [
            { name: "L1", bytes: 512, ways: 2, latencyCycles: 1 },
            { name: "L2", bytes: 2048, ways: 4, latencyCycles: 5 },
          ],
          64,
        );
        let stores = 0;
        let wb = 0;
        for (const [line, store] of ops) {
          const level = h.access(line, store);
          expect(level).toBeGreaterThanOrEqual(0);
          expect(level).toBeLessThanOrEqual(2);
          if (store) stores++;
          wb += h.takeWritebacks();
        }
        for (let l = 0; l <= 300; l++) h.maintain(l, true, true);
        wb += h.takeWritebacks();
        expect(h.levels[0]!.occupancy()).toBe(0);
        expect(wb).toBeLessThanOrEqual(stores);
        // every stored line was written back at least once by the final clean
        const distinct = new Set(ops.filter(([, s]) => s).map(([l]) => l)).size;
        expect(wb).toBeGreaterThanOrEqual(distinct);
      }),
      { numRuns: 200 },
    );
  });
});

describe("memory system", () => {
  it("a pure streaming copy approaches the bandwidth limit (2 x bytes / bandwidth)", () => {
    const p = profile();
    const s = modelTrace(streamCopy(16 * MiB), p);
    expect(s.limitSeconds).toBeCloseTo(physicalLimitSeconds(16 * MiB, p), 15);
    expect(s.limitSeconds).toBeCloseTo((2 * 16 * MiB) / 25e9, 12);
    expect(s.ratioToLimit).toBeGreaterThan(0.95);
    expect(s.ratioToLimit).toBeLessThan(1.1);
    expect(s.breakdown.copy! / s.seconds).toBeGreaterThan(0.99);
  });

  it("property: Device-nGnRnE copies cost accesses x 2 round trips (a store waits like a load)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.double({ min: 10, max: 1000, noNaN: true }),
        fc.constantFrom(8, 16, 64),
        (pages, loadNs, accessBytes) => {
          const p = profile({ uncached: { loadNs, accessBytes, fetchBytes: 16 } });
          const s = modelTrace(streamCopy(pages * 4096, COPY_UNCACHED), p);
          const expected = ((pages * 4096) / accessBytes) * 2 * loadNs * 1e-9;
          expect(s.seconds).toBeCloseTo(expected, 12);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("a Device-nGnRnE store costs a full round trip, like a load, and none overlaps the next", () => {
    const p = profile();
    const run = (kind: number, n: number) => {
      const t = new TraceBuffer();
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_MMU_OFF);
      for (let i = 0; i < n; i++) t.event(kind, 0x40000000 + i * 16, 0, 16, 0);
      const off = modelTrace(t.raw(), p).seconds;
      const base = new TraceBuffer();
      base.event(EV_BARRIER, 0, 0, 0, BARRIER_MMU_OFF);
      return off - modelTrace(base.raw(), p).seconds;
    };
    expect(run(EV_STORE, 1) * 1e9).toBeCloseTo(p.uncached.loadNs, 6);
    expect(run(EV_LOAD, 1) * 1e9).toBeCloseTo(p.uncached.loadNs, 6);
    // 100 stores: 100 serialized round trips (no write buffer, no gathering)
    expect(run(EV_STORE, 100) * 1e9).toBeCloseTo(100 * p.uncached.loadNs, 4);
    // the same stores cached would be far cheaper: the difference is the physics
    const cached = new TraceBuffer();
    for (let i = 0; i < 100; i++) cached.event(EV_STORE, 0x40000000 + i * 16, 0, 16, 0);
    expect(modelTrace(cached.raw(), p).seconds).toBeLessThan(run(EV_STORE, 100) / 5);
  });

  it("with the MMU off, a copy without the uncached flag is uncached too", () => {
    const t = new TraceBuffer();
    t.event(EV_BARRIER, 0, 0, 0, BARRIER_MMU_OFF);
    t.event(EV_COPY, 0x40000000, 0x50000000, 4096, 0);
    const p = profile();
    const d = modelTraceDetailed(t.raw(), p);
    expect(d.stats.uncachedAccesses).toBe((2 * 4096) / 16);
    expect(d.stats.demandLines).toBe(0);
  });

  it("prefetch off: demand misses alone run at outstandingMisses x line / latency", () => {
    const p = profile({ pf: { enabled: false }, dram: { bandwidthGBps: 1000 } });
    const bytes = 4 * MiB;
    const d = modelTraceDetailed(streamCopy(bytes), p);
    const expected = ((bytes / 64) * p.dram.latencyNs) / p.dram.outstandingMisses;
    expect(d.stats.prefetchLines).toBe(0);
    expect(d.stats.demandLines).toBe(bytes / 64);
    expect(d.summary.seconds / (expected * 1e-9)).toBeCloseTo(1, 2);
  });

  it("prefetch on vs off: the prefetcher hides latency when bandwidth allows", () => {
    const on = modelTraceDetailed(streamCopy(4 * MiB), profile({ dram: { bandwidthGBps: 1000 } }));
    const off = modelTraceDetailed(
      streamCopy(4 * MiB),
      profile({ pf: { enabled: false }, dram: { bandwidthGBps: 1000 } }),
    );
    expect(on.stats.prefetchHits).toBeGreaterThan(0.9 * ((4 * MiB) / 64));
    expect(off.summary.seconds / on.summary.seconds).toBeGreaterThan(1.5);
    // and on a bandwidth-bound machine both meet the same wall
    const onBw = modelTrace(streamCopy(4 * MiB), profile({ dram: { bandwidthGBps: 2 } }));
    const offBw = modelTrace(
      streamCopy(4 * MiB),
      profile({ pf: { enabled: false }, dram: { bandwidthGBps: 2 } }),
    );
    expect(offBw.seconds / onBw.seconds).toBeCloseTo(1, 1);
  });

  it("a prefetcher that stops at 4 KiB trains again on every page; a page-crossing one does not", () => {
    const trace = streamCopy(2 * MiB);
    const stops = modelTraceDetailed(trace, profile());
    const crosses = modelTraceDetailed(trace, profile({ pf: { crossesPages: true } }));
    const pages = (2 * MiB) / 4096;
    expect(stops.stats.demandLines).toBe(pages * 2); // trainLines = 2 per page
    expect(crosses.stats.demandLines).toBeLessThan(10);
    // Sources scattered in PA: a crossing prefetcher following PAs overshoots into the wrong pages
    // (wasted bandwidth); following the VAs of a linear loop it stays right.
    const scattered = streamCopy(2 * MiB, 0, 4096, 3 * 4096);
    const overshoot = modelTraceDetailed(scattered, profile({ pf: { crossesPages: true } }));
    expect(overshoot.stats.prefetchLines).toBeGreaterThan(1.3 * ((2 * MiB) / 64));
    const linear = modelTraceDetailed(
      streamCopy(2 * MiB, COPY_LINEAR_LOOP, 4096, 3 * 4096),
      profile({ pf: { crossesPages: true } }),
    );
    expect(linear.stats.prefetchLines).toBeLessThan(1.01 * ((2 * MiB) / 64));
    expect(linear.stats.demandLines).toBeLessThan(10);
  });

  it("an entry load that misses stalls the core for the memory latency", () => {
    const p = profile();
    const t = new TraceBuffer();
    t.event(EV_LOAD, 0x80000000, 0, 8, ACC_ENTRY);
    const s = modelTrace(t.raw(), p);
    const expected = p.dram.latencyNs + p.cpu.entryCycles / p.cpu.ghz;
    expect(s.breakdown.entryWalk! * 1e9).toBeCloseTo(expected, 6);
    const u = new TraceBuffer();
    u.event(EV_LOAD, 0x80000000, 0, 8, ACC_ENTRY | ACC_UNCACHED);
    expect(modelTrace(u.raw(), p).breakdown.entryWalk! * 1e9).toBeCloseTo(p.uncached.loadNs + 4 / 3, 6);
  });

  it("dc civac writes dirty lines back; dc ivac discards them", () => {
    const p = profile({ dram: { bandwidthGBps: 1 } });
    const mk = (op: number) => {
      const t = new TraceBuffer();
      t.event(EV_STORE, 0x40000000, 0, 4096, 0);
      t.event(EV_CMO, 0x40000000, 0, 4096, op);
      t.event(EV_BARRIER, 0, 0, 0, BARRIER_DSB);
      return modelTraceDetailed(t.raw(), p);
    };
    const civac = mk(CMO_DC_CIVAC);
    const ivac = mk(CMO_DC_IVAC);
    expect(civac.stats.writebackLines).toBe(64);
    expect(ivac.stats.writebackLines).toBe(0);
    expect(civac.stats.maintenanceLines).toBe(64);
    expect(civac.summary.breakdown.cacheMaintenance!).toBeGreaterThan(
      ivac.summary.breakdown.cacheMaintenance!,
    );
  });

  it("property: the breakdown sums to the total, every part non-negative, deterministic", () => {
    const ev = fc.oneof(
      fc.tuple(fc.constant(EV_COPY), fc.nat(64), fc.nat(64), fc.constantFrom(0, 1, 2)),
      fc.tuple(fc.constant(EV_LOAD), fc.nat(64), fc.constant(0), fc.constantFrom(0, 1, 2, 3)),
      fc.tuple(fc.constant(EV_STORE), fc.nat(64), fc.constant(0), fc.constant(0)),
      fc.tuple(fc.constant(4), fc.nat(64), fc.nat(3), fc.constant(0)),
      fc.tuple(fc.constant(5), fc.nat(64), fc.constant(0), fc.constant(0)),
      fc.tuple(fc.constant(EV_CMO), fc.nat(64), fc.constant(0), fc.integer({ min: 1, max: 6 })),
      fc.tuple(fc.constant(EV_BARRIER), fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 5 })),
    );
    const p = profile();
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 60 }), (events) => {
        const t = new TraceBuffer();
        for (const [k, a, b, f] of events) {
          const n = k === EV_COPY || k === EV_CMO ? 4096 : k === EV_BARRIER ? 0 : 8;
          t.event(k, 0x40000000 + a * 4096, k === EV_COPY ? 0x80000000 + b * 4096 : b, n, f);
        }
        const s = modelTrace(t.raw(), p);
        let sum = 0;
        for (const c of COMPONENTS) {
          expect(s.breakdown[c]!).toBeGreaterThanOrEqual(0);
          sum += s.breakdown[c]!;
        }
        expect(sum).toBeCloseTo(s.seconds, 12);
        expect(JSON.stringify(modelTrace(t.raw(), p))).toBe(JSON.stringify(s));
      }),
      { numRuns: 150 },
    );
  });

  it("one huge event is partly simulated and extrapolated, and says so", () => {
    const p = profile();
    const one = new TraceBuffer();
    one.event(EV_COPY, 0x40000000, 0x100000000, 16 * MiB, 0);
    const big = modelTrace(one.raw(), p, { maxEventLines: 1 << 16 });
    expect(modelTrace(one.raw(), p).sampled).toBe(false); // 262144 lines: exact by default
    const pages = modelTrace(streamCopy(16 * MiB), p);
    expect(big.sampled).toBe(true);
    expect(pages.sampled).toBe(false);
    expect(Math.abs(big.seconds / pages.seconds - 1)).toBeLessThan(0.1);
    const cmo = new TraceBuffer();
    cmo.event(EV_CMO, 0, 0, 2 ** 40, CMO_DC_CIVAC); // 1 TiB of maintenance finishes
    const m = modelTrace(cmo.raw(), p);
    expect(m.sampled).toBe(true);
    expect(m.seconds).toBeGreaterThan(0);
  });

  it("malformed traces are refused with a catalogued error; any well-formed one gives finite times", () => {
    const p = profile();
    const bad = (values: number[]) => {
      try {
        modelTrace(Float64Array.from(values), p);
        return "accepted";
      } catch (e) {
        return e instanceof KexecLabError ? e.code : String(e);
      }
    };
    expect(bad([1, 0, 0, 4096])).toBe("E_FIELD_VALUE");
    expect(bad([9, 0, 0, 0, 0])).toBe("E_FIELD_VALUE");
    expect(bad([1, Number.NaN, 0, 4096, 0])).toBe("E_FIELD_VALUE");
    expect(bad([2, -64, 0, 8, 0])).toBe("E_FIELD_VALUE");
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 64, 4096, 1e6, 2 ** 40, 2 ** 52, -1, Number.NaN, 0.5),
          { maxLength: 60 },
        ),
        (values) => {
          const t = Float64Array.from(values.slice(0, values.length - (values.length % 5)));
          try {
            const s = modelTrace(t, p);
            expect(Number.isFinite(s.seconds)).toBe(true);
            expect(s.seconds).toBeGreaterThanOrEqual(0);
          } catch (e) {
            expect(e).toBeInstanceOf(KexecLabError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a walk from level -1 (4K granule, 52-bit VA / x86 PML5) is accepted and costs one more dependent read", () => {
    const p = profile();
    const walkTrace = (levels: number[]) => {
      const t = new TraceBuffer();
      // 64 TLB misses, each a cold walk: every descriptor in a table page of its own.
      for (let i = 0; i < 64; i++) {
        t.event(EV_TLB_MISS, i * 2 * MiB, 0, 2 * MiB, 0);
        for (const lv of levels) t.event(EV_DESC_READ, 0x80000000 + (lv + 1) * 0x100000 + i * 4096, lv, 8, 0);
      }
      return t.raw();
    };
    const four = modelTraceDetailed(walkTrace([0, 1, 2, 3]), p);
    const five = modelTraceDetailed(walkTrace([-1, 0, 1, 2, 3]), p);
    expect(five.stats.demandLines).toBe(5 * 64);
    expect(four.stats.demandLines).toBe(4 * 64);
    // each level is one dependent miss: five levels cost 5/4 of the walk time of four
    expect(five.summary.breakdown.tableWalk! / four.summary.breakdown.tableWalk!).toBeCloseTo(5 / 4, 2);
    const bad = (lv: number) => () => modelTrace(walkTrace([lv]), p);
    expect(bad(-2)).toThrow(/field 2 is -2 \(a table level: -1..3\)/);
    expect(bad(4)).toThrow(/field 2 is 4/);
    expect(bad(0.5)).toThrow(KexecLabError);
    // an x86 LA57 VA page (57 bits, above 2^53 but page-aligned, so exact) is a valid TLB-miss field
    const miss = (va: number) => () => modelTrace(Float64Array.from([EV_TLB_MISS, va, 1, 4096, 0]), p);
    expect(miss(2 ** 57 - 4096)).not.toThrow();
    expect(miss(2 ** 57)).toThrow(/field 1/);
  });

  it("arm64 4K 52-bit VA and x86_64 LA57 runs model every strategy (their walks start at level -1)", () => {
    const p = profile();
    for (const sc of [
      defaultScenario("arm64", "synthetic", 2, { pageSize: 4096, vaBits: 52 }),
      defaultScenario("x86_64", "synthetic", 2, { vaBits: 57 }),
    ]) {
      const out = runScenario(sc, { model: (t) => [modelTrace(t.raw(), p)] });
      if (!out.ok) throw new Error(out.verdict.reason);
      let walked = 0;
      for (const s of out.result.strategies) {
        expect(s.verified || s.reference !== undefined, s.name).toBe(true);
        if (s.name !== "in-place") expect(s.model![0]!.seconds, s.name).toBeGreaterThan(0);
        walked += s.model![0]!.breakdown.tableWalk!;
      }
      expect(walked).toBeGreaterThan(0);
    }
  });

  it("property: no strategy is modeled faster than its physical limit (exact or sampled)", () => {
    const profiles = Object.keys(BUILTIN_PROFILES).map((n) => builtinProfile(n));
    fc.assert(
      fc.property(
        fc.constantFrom(...SHAPE_STRATEGIES),
        fc.constantFrom(256 * 1024, 3 * MiB, 24 * MiB, 72 * MiB),
        fc.constantFrom("contiguous", "scattered"),
        fc.constantFrom(...profiles),
        fc.constantFrom(undefined, 256, 2048),
        (strategy, bytes, layout, p, sample) => {
          const trace = shapeTrace(strategy, bytes, { layout }).raw();
          const m = modelTrace(trace, p, sample !== undefined ? { sample } : {});
          expect(m.limitSeconds).toBeGreaterThan(0);
          expect(m.ratioToLimit, `${strategy} ${bytes} ${layout} ${p.name} ${sample}`).toBeGreaterThanOrEqual(
            1,
          );
        },
      ),
      { seed: 20261130, numRuns: 24 },
    );
  });

  it("the output left dirty in a large last-level cache is written back before the relocation is done", () => {
    const p = builtinProfile("x86_64-server"); // 48 MiB L3
    const d = modelTraceDetailed(streamCopy(16 * MiB), p);
    // every relocated line is read once and written back once, none left in the caches
    expect(d.stats.writebackLines).toBe((16 * MiB) / 64);
    expect(d.summary.seconds).toBeGreaterThanOrEqual(d.summary.limitSeconds);
  });

  it("sampling: a sampled run says so and stays within 5% of the exact simulation", () => {
    const p = builtinProfile("cortex-a72-board");
    for (const strategy of ["linear-map-copy", "va-copy", "mmu-off"] as const) {
      const trace = shapeTrace(strategy, 48 * MiB, { layout: "scattered" }).raw();
      const exact = modelTrace(trace, p, { sample: 1e9 });
      const sampled = modelTrace(trace, p, { sample: 2048 });
      expect(exact.sampled).toBe(false);
      expect(sampled.sampled).toBe(true);
      expect(Math.abs(sampled.seconds / exact.seconds - 1), strategy).toBeLessThan(0.05);
    }
  });

  it("the seed's strategies order as expected on a server: mmu-off >> linear-map-copy > va-copy", () => {
    const p = builtinProfile("neoverse-n1-server");
    const t = (s: "mmu-off" | "linear-map-copy" | "va-copy") => modelTrace(shapeTrace(s, 8 * MiB).raw(), p);
    const off = t("mmu-off");
    const lin = t("linear-map-copy");
    const va = t("va-copy");
    expect(off.seconds / lin.seconds).toBeGreaterThan(10);
    expect(lin.seconds).toBeGreaterThan(va.seconds);
    expect(va.ratioToLimit).toBeGreaterThan(0.5);
  });
});
