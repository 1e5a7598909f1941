import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { PhysMem } from "../src/machine/physmem.js";
import { RangeSet } from "../src/machine/ranges.js";
import { bumpAllocator, TableBuilder } from "../src/mmu/builder.js";
import { countTablePages, decompose } from "../src/mmu/count.js";
import { createFormat, type FormatSpec } from "../src/mmu/formats.js";
import type { MapAttributes, MapOptions, TranslationFormat, VaHalf } from "../src/mmu/types.js";
import { Tlb, walk } from "../src/mmu/walker.js";

const POOL = 0x4000_0000;
const POOL_BYTES = 2 ** 30;

function setup(spec: FormatSpec) {
  const format = createFormat(spec);
  const mem = new PhysMem({
    pageSize: format.granule,
    ram: RangeSet.of({ start: POOL, end: POOL + POOL_BYTES }),
  });
  const builder = new TableBuilder(mem, format, bumpAllocator(mem, POOL, POOL + POOL_BYTES, format.granule));
  return { format, mem, builder };
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e.code;
    throw e;
  }
  return "none";
}

const RW: MapAttributes = { memType: "normal", writable: true, executable: false };

interface Mapping {
  half: VaHalf;
  va: number;
  pa: number;
  size: number;
  attrs: MapAttributes;
}

/** Every spec the property runs on: all arm64 granule/VA combinations and both x86_64 depths. */
const SPECS: FormatSpec[] = [
  ...([39, 42, 47, 48, 52] as const).map((vaBits) => ({
    arch: "arm64" as const,
    granule: 4096 as const,
    vaBits,
  })),
  ...([39, 42, 47, 48, 52] as const).map((vaBits) => ({
    arch: "arm64" as const,
    granule: 16384 as const,
    vaBits,
  })),
  ...([42, 47, 48, 52] as const).map((vaBits) => ({
    arch: "arm64" as const,
    granule: 65536 as const,
    vaBits,
  })),
  { arch: "x86_64", levels: 4 },
  { arch: "x86_64", levels: 5 },
];

/** Random mappings in a format: sizes of a few smallest blocks plus pages, aligned or not, in both halves. */
function mappingsArb(format: TranslationFormat) {
  const g = format.granule;
  const block = format.leafSizes[format.leafSizes.length - 2]!; // smallest block
  const biggest = format.leafSizes[0]!;
  const span = 2 ** format.vaBits;
  const x86 = format.arch === "x86_64";
  const regionSize = Math.min(span / 2, block * 64);
  const regions = (x86 ? span / 2 : span) / regionSize;
  const one = fc.record({
    half: fc.constantFrom<VaHalf>(0, 1),
    region: fc.integer({ min: 0, max: Math.min(regions - 1, 2 ** 30) }),
    highRegion: fc.boolean(),
    blockIdx: fc.integer({ min: 0, max: 40 }),
    pageOff: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: block / g - 1 })),
    blocks: fc.integer({ min: 0, max: 2 }),
    pages: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })),
    paBlock: fc.integer({ min: 0, max: 2 ** 10 }),
    paSkew: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 7 })),
    big: fc.integer({ min: 0, max: 9 }),
    attrs: fc.record({
      memType: fc.constantFrom("normal" as const, "device" as const, "normal-nc" as const),
      writable: fc.boolean(),
      executable: fc.boolean(),
      notGlobal: fc.boolean(),
    }),
  });
  return fc.array(one, { minLength: 1, maxLength: 6 }).map((raw) => {
    const out: Mapping[] = [];
    for (const r of raw) {
      let m: Mapping;
      const region = r.highRegion ? regions - 1 - (r.region % regions) : r.region % regions;
      let base = region * regionSize;
      if (x86 && r.half === 1) base += span / 2;
      if (r.big === 0 && biggest > block && biggest <= span / 4) {
        // one whole largest block (1G on 4K, 64G/4T/512G with 52-bit): VA and PA aligned
        const va =
          (r.half === 1 && x86 ? span / 2 : 0) + Math.floor(region / (biggest / regionSize) || 0) * biggest;
        m = { half: r.half, va, pa: biggest * (r.paBlock % 4), size: biggest, attrs: r.attrs };
      } else {
        const va = base + r.blockIdx * block + r.pageOff * g;
        const size = r.blocks * block + (r.pages + (r.blocks === 0 && r.pages === 0 ? 1 : 0)) * g;
        const pa = r.paBlock * block + (((va % block) + r.paSkew * g) % block);
        if (va + size > base + regionSize) continue;
        m = { half: r.half, va, pa, size, attrs: r.attrs };
      }
      if (m.pa + m.size > 2 ** format.paBits) continue;
      const overlaps = out.some(
        (o) => (x86 || o.half === m.half) && m.va < o.va + o.size && o.va < m.va + m.size,
      );
      if (!overlaps) out.push(m);
    }
    return out;
  });
}

/** Expected leaf level for a VA inside mapping m, from the analytical decomposition. */
function expectedLeaf(format: TranslationFormat, m: Mapping, opts: MapOptions, va: number): number {
  let level = Number.NaN;
  decompose(format, m, opts, (li, a, b) => {
    if (va >= a && va < b) level = format.levels[li]!.level;
  });
  return level;
}

/** Expected fault level of an unmapped VA: the first level whose next table was never created. */
function expectedFaultLevel(
  format: TranslationFormat,
  ms: Mapping[],
  opts: MapOptions,
  half: VaHalf,
  va: number,
): number {
  const x86 = format.arch === "x86_64";
  const rootExists = ms.some((m) => x86 || m.half === half);
  if (!rootExists) return x86 ? format.startLevel : 0;
  const n = format.levels.length;
  for (let i = 1; i < n; i++) {
    const span = 2 ** format.levels[i - 1]!.shift;
    const want = Math.floor(va / span);
    let exists = false;
    for (const m of ms) {
      if (!x86 && m.half !== half) continue;
      decompose(format, m, opts, (f, a, b) => {
        if (f >= i && want >= Math.floor(a / span) && want <= Math.ceil(b / span) - 1) exists = true;
      });
    }
    if (!exists) return format.levels[i - 1]!.level;
  }
  return format.levels[n - 1]!.level;
}

describe("walk(build(m)) == m, on every format (property)", () => {
  it.each(SPECS.map((s) => [createFormat(s).name, s] as const))("%s", (_name, spec) => {
    const probe = createFormat(spec);
    fc.assert(
      fc.property(
        mappingsArb(probe),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 }),
        (all, pageGranular, largestBlocks, fracs) => {
          const { format, mem, builder } = setup(spec);
          // Keep page-granular runs small: a whole 1G/64G/4T block in 4K..64K pages is for the bench.
          const ms = pageGranular ? all.filter((m) => m.size / format.granule <= 1 << 16) : all;
          const opts: MapOptions = { pageGranular, largestBlocks };
          for (const m of ms) builder.map(m, opts);
          const g = format.granule;
          const tlb = new Tlb(mem, format, builder.rootsForTlb(), undefined, 64);

          // 1. Every probed address of every mapping translates to its PA, leaf size and attributes.
          for (const m of ms) {
            const pages = m.size / g;
            const probes = [
              0,
              pages - 1,
              Math.floor(pages / 2),
              ...fracs.map((x) => Math.min(pages - 1, Math.floor(x * pages))),
            ];
            for (const p of probes) {
              const va = m.va + p * g + (p % 8) * 8;
              const r = walk(mem, format, builder.root(m.half), m.half, va);
              expect(r.ok).toBe(true);
              if (!r.ok) continue;
              expect(r.pa).toBe(m.pa + (va - m.va));
              expect(r.level).toBe(expectedLeaf(format, m, opts, va));
              expect(format.leafAttributes(r.lo, r.hi, r.level)).toEqual(format.normalizeAttributes(m.attrs));
              expect(tlb.translate(m.half, va)).toBe(r.pa);
            }
          }

          // 2. Unmapped addresses (just outside each mapping, and random ones) fault at the right level.
          const span = 2 ** format.vaBits;
          const candidates: [VaHalf, number][] = [];
          for (const m of ms) candidates.push([m.half, m.va - g], [m.half, m.va + m.size]);
          for (const x of fracs) {
            const h: VaHalf = x < 0.5 ? 0 : 1;
            let va = Math.floor((x * span) / g) * g;
            if (format.arch === "x86_64")
              va = h === 0 ? va / 2 - ((va / 2) % g) : span / 2 + (va / 2 - ((va / 2) % g));
            candidates.push([h, va]);
          }
          for (const [h, va] of candidates) {
            if (va < 0 || va >= span) continue;
            if (format.arch === "x86_64" && (h === 0 ? va >= span / 2 : va < span / 2)) continue;
            if (
              ms.some((m) => (format.arch === "x86_64" || m.half === h) && va >= m.va && va < m.va + m.size)
            )
              continue;
            const root = builder.hasRoot(h) ? builder.root(h) : -1;
            const r = walk(mem, format, root, h, va);
            expect(r.ok).toBe(false);
            if (r.ok) continue;
            expect(r.fault).toEqual({
              kind: "translation",
              level: expectedFaultLevel(format, ms, opts, h, va),
            });
            expect(tlb.translate(h, va)).toBe(-1);
            expect(tlb.lastFault).toEqual(r.fault);
          }

          // 3. Table pages equal the analytical count, level by level.
          const counted = countTablePages(format, ms, opts);
          const cost = builder.cost();
          expect(cost.byLevel).toEqual(counted.byLevel);
          expect(cost.pages).toBe(counted.pages);
          expect(builder.tablePages().length).toBe(cost.pages);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("the seed's numbers", () => {
  const cost = (spec: FormatSpec, size: number, opts: MapOptions) => {
    const { builder } = setup(spec);
    builder.map({ half: 0, va: 0, pa: 0x8000_0000, size, attrs: RW }, opts);
    return builder.cost();
  };
  const arm4k: FormatSpec = { arch: "arm64", granule: 4096, vaBits: 48 };
  it("64 MiB page-granular with 4K pages: 32 last-level tables (128 KiB), 35 pages with the upper levels", () => {
    const c = cost(arm4k, 64 * 2 ** 20, { pageGranular: true });
    expect(c.byLevel).toEqual({ "0": 1, "1": 1, "2": 1, "3": 32 });
    expect(c.byLevel["3"]! * 4096).toBe(128 * 1024);
    expect(c.pages).toBe(35);
  });
  it("512 MiB page-granular: 256 last-level tables with 4K, 1 with 64K", () => {
    expect(cost(arm4k, 512 * 2 ** 20, { pageGranular: true }).byLevel["3"]).toBe(256);
    const c64 = cost({ arch: "arm64", granule: 65536, vaBits: 48 }, 512 * 2 ** 20, { pageGranular: true });
    expect(c64.byLevel).toEqual({ "1": 1, "2": 1, "3": 1 });
  });
  it("x86_64 1 GiB: one PD page with 2M pages, none with 1G pages", () => {
    const x86: FormatSpec = { arch: "x86_64", levels: 4 };
    expect(cost(x86, 2 ** 30, {}).byLevel).toEqual({ "0": 1, "1": 1, "2": 1, "3": 0 });
    expect(cost(x86, 2 ** 30, { largestBlocks: true }).byLevel).toEqual({ "0": 1, "1": 1, "2": 0, "3": 0 });
  });
});

describe("builder behaviour", () => {
  it("refuses to overwrite unless asked, and then splits a block keeping the rest of it", () => {
    const { format, mem, builder } = setup({ arch: "arm64", granule: 4096, vaBits: 48 });
    builder.map({ half: 1, va: 0x20_0000, pa: 0x8020_0000, size: 0x20_0000, attrs: RW });
    expect(builder.cost().byLevel["3"]).toBe(0);
    const again = { half: 1 as const, va: 0x30_0000, pa: 0x1234_5000, size: 0x1000, attrs: RW };
    expect(code(() => builder.map(again))).toBe("E_MAP_OVERLAP");
    builder.map(again, { overwrite: true });
    expect(builder.cost().byLevel["3"]).toBe(1);
    const root = builder.root(1);
    const at = (va: number) => walk(mem, format, root, 1, va);
    expect(at(0x30_0008)).toMatchObject({ ok: true, pa: 0x1234_5008, level: 3 });
    expect(at(0x2f_f000)).toMatchObject({ ok: true, pa: 0x802f_f000, level: 3 });
    expect(at(0x30_1000)).toMatchObject({ ok: true, pa: 0x8030_1000, level: 3 });
    // The TTBR0 half was never touched.
    expect(builder.hasRoot(0)).toBe(false);
    // Overwriting a table's whole span with a block maps through the table (no orphaned tables).
    builder.map({ half: 1, va: 0x20_0000, pa: 0x9000_0000, size: 0x20_0000, attrs: RW }, { overwrite: true });
    expect(at(0x30_0000)).toMatchObject({ ok: true, pa: 0x9010_0000, level: 3 });
    expect(builder.cost().pages).toBe(4);
  });

  it("sets the contiguous hint on whole aligned groups only", () => {
    const { format, mem, builder } = setup({ arch: "arm64", granule: 4096, vaBits: 48 });
    // 16 PTEs (64K) per group: [0x10000, 0x31000) holds two whole groups and one page of a third.
    builder.map({ half: 0, va: 0x1_0000, pa: 0x5001_0000, size: 0x2_1000, attrs: RW }, { contiguous: true });
    const cont = (va: number) => {
      const r = walk(mem, format, builder.root(0), 0, va);
      return r.ok && format.isContiguous(r.lo, r.hi);
    };
    expect(cont(0x1_0000)).toBe(true);
    expect(cont(0x2_f000)).toBe(true);
    expect(cont(0x3_0000)).toBe(false);
    // PA not aligned to the group: no hint.
    builder.map({ half: 0, va: 0x10_0000, pa: 0x5101_1000, size: 0x2_0000, attrs: RW }, { contiguous: true });
    expect(cont(0x10_0000)).toBe(false);
  });

  it("reports access-flag, address-size and external-abort faults as values", () => {
    const { format, mem, builder } = setup({ arch: "arm64", granule: 4096, vaBits: 48, paBits: 40 });
    builder.map({ half: 0, va: 0, pa: 0x1000, size: 0x1000, attrs: { ...RW, accessed: false } });
    const root = builder.root(0);
    expect(walk(mem, format, root, 0, 0x10)).toEqual({ ok: false, fault: { kind: "access-flag", level: 3 } });
    // A table descriptor pointing beyond 2^40: address size fault at the level that holds it.
    const l1 = builder.tablePages().find((p) => p.level === 1)!.pa;
    const h = { lo: 0, hi: 0 };
    format.encodeTable(2 ** 41, 1, h);
    mem.write32(l1 + 8, h.lo);
    mem.write32(l1 + 12, h.hi);
    expect(walk(mem, format, root, 0, 2 ** 30)).toEqual({
      ok: false,
      fault: { kind: "address-size", level: 1 },
    });
    // A table descriptor pointing at an address without RAM: external abort on the next read.
    format.encodeTable(0x1000_0000, 1, h);
    mem.write32(l1 + 16, h.lo);
    mem.write32(l1 + 20, h.hi);
    const steps: { level: number; index: number }[] = [];
    expect(walk(mem, format, root, 0, 2 * 2 ** 30, steps as never)).toEqual({
      ok: false,
      fault: { kind: "external-abort", level: 2, pa: 0x1000_0000 },
    });
    expect(steps.map((s) => [s.level, s.index])).toEqual([
      [0, 0],
      [1, 2],
    ]);
    // Out of the TTBR range: translation fault at level 0.
    expect(walk(mem, format, root, 0, 2 ** 48)).toEqual({
      ok: false,
      fault: { kind: "translation", level: 0 },
    });
  });

  it("x86_64: non-canonical VAs fault; the upper half shares the root", () => {
    const { format, mem, builder } = setup({ arch: "x86_64", levels: 4 });
    const top = 2 ** 48 - 2 ** 31; // 0xffffffff80000000, where the kernel image lives
    builder.map({ half: 1, va: top, pa: 0x100_0000, size: 0x40_0000, attrs: RW });
    expect(builder.root(0)).toBe(builder.root(1));
    expect(walk(mem, format, builder.root(1), 1, top + 0x20_0123)).toMatchObject({
      ok: true,
      pa: 0x120_0123,
      level: 2,
    });
    expect(walk(mem, format, builder.root(0), 0, 2 ** 47)).toEqual({
      ok: false,
      fault: { kind: "address-size", level: 0 },
    });
    expect(code(() => builder.map({ half: 0, va: 2 ** 47 - 0x1000, pa: 0, size: 0x2000, attrs: RW }))).toBe(
      "E_MAP_RANGE",
    );
  });

  it("rejects misaligned or out-of-range requests and a failing allocator", () => {
    const { builder } = setup({ arch: "arm64", granule: 16384, vaBits: 48 });
    expect(code(() => builder.map({ half: 0, va: 0x1000, pa: 0, size: 0x4000, attrs: RW }))).toBe(
      "E_MAP_RANGE",
    );
    expect(code(() => builder.map({ half: 0, va: 0, pa: 0, size: 0, attrs: RW }))).toBe("E_MAP_RANGE");
    expect(code(() => builder.map({ half: 0, va: 2 ** 48 - 0x4000, pa: 0, size: 0x8000, attrs: RW }))).toBe(
      "E_MAP_RANGE",
    );
    expect(code(() => builder.map({ half: 0, va: 0, pa: 2 ** 48, size: 0x4000, attrs: RW }))).toBe(
      "E_MAP_RANGE",
    );
    const format = createFormat({ arch: "arm64", granule: 4096, vaBits: 39 });
    const mem = new PhysMem({ pageSize: 4096, ram: [{ start: POOL, end: POOL + 0x2000 }] });
    const tiny = new TableBuilder(mem, format, bumpAllocator(mem, POOL, POOL + 0x2000, 4096));
    expect(code(() => tiny.map({ half: 0, va: 0, pa: 0, size: 0x1000, attrs: RW }))).toBe("E_OUT_OF_MEMORY");
    const odd = new TableBuilder(mem, format, () => POOL + 8);
    expect(code(() => odd.root(0))).toBe("E_MAP_RANGE");
  });

  it("works when PhysMem pages are smaller than the granule (64K tables over 4K frames)", () => {
    const format = createFormat({ arch: "arm64", granule: 65536, vaBits: 48 });
    const mem = new PhysMem({ pageSize: 4096, ram: [{ start: POOL, end: POOL + 2 ** 24 }] });
    const b = new TableBuilder(mem, format, bumpAllocator(mem, POOL, POOL + 2 ** 24, 65536));
    b.map(
      { half: 0, va: 0x7ff_0000_0000, pa: 0x8000_0000, size: 2 ** 29 + 0x1_0000, attrs: RW },
      { pageGranular: true },
    );
    const r = walk(mem, format, b.root(0), 0, 0x7ff_0000_0000 + 2 ** 29 + 0x8);
    expect(r).toMatchObject({ ok: true, pa: 0x8000_0000 + 2 ** 29 + 8, level: 3 });
  });
});

describe("contiguous hint (property)", () => {
  it.each([4096, 16384, 65536] as const)(
    "granule %i: hint exactly on whole VA- and PA-aligned groups",
    (granule) => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 400 }),
          fc.integer({ min: 1, max: 400 }),
          fc.integer({ min: 0, max: 300 }),
          fc.boolean(),
          (vaPage, pages, paPage, pageGranular) => {
            const { format, mem, builder } = setup({ arch: "arm64", granule, vaBits: 48 });
            const va = 2 ** 33 + vaPage * granule;
            const pa = 2 ** 32 + (pageGranular ? paPage : vaPage) * granule;
            const size = pages * granule;
            builder.map({ half: 0, va, pa, size, attrs: RW }, { contiguous: true, pageGranular });
            for (let p = 0; p < pages; p++) {
              const r = walk(mem, format, builder.root(0), 0, va + p * granule);
              expect(r.ok).toBe(true);
              if (!r.ok) continue;
              const group = format.contiguousEntries(r.level) * r.size;
              const at = va + p * granule;
              const g0 = at - (at % group);
              const want = g0 >= va && g0 + group <= va + size && (pa + (g0 - va)) % group === 0;
              expect(format.isContiguous(r.lo, r.hi)).toBe(want);
            }
          },
        ),
        { numRuns: 40 },
      );
    },
  );
});
