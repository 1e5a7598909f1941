import { describe, expect, it } from "vitest";
import { MemoryMap } from "../src/machine/memmap.js";
import { type PageSize, PhysMem } from "../src/machine/physmem.js";
import { PageGuard } from "../src/reloc/guard.js";
import { walkEntryList } from "../src/reloc/list.js";
import { findStrategy, strategiesFor } from "../src/reloc/registry.js";
import type { RunResult, StrategyResult } from "../src/reloc/result.js";
import { type RelocScenario, runScenario, runStrategy } from "../src/reloc/run.js";
import { EV_COPY, EV_LOAD, EV_TLB_MISS, TraceBuffer } from "../src/reloc/trace.js";
import { verifySegments } from "../src/reloc/verify.js";
import { defaultScenario } from "../src/scenario/default.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

function run(sc: RelocScenario, opts: Parameters<typeof runScenario>[1] = {}): RunResult {
  const o = runScenario(sc, opts);
  if (!o.ok) throw new Error(`refused: ${o.verdict.reason}`);
  return o.result;
}

function byName(r: RunResult, name: string): StrategyResult {
  const s = r.strategies.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no ${name}`);
  return s;
}

const relocatedBytes = (r: RunResult) => r.kimage.sourcePages * r.machine.pageSize;

describe("default scenarios", () => {
  it("arm64: every strategy verifies, in exact and synthetic modes", () => {
    for (const mode of ["exact", "synthetic"] as const) {
      const r = run(defaultScenario("arm64", mode));
      expect(r.strategies.map((s) => s.name)).toEqual([
        "mmu-off",
        "va-copy",
        "va-copy-series",
        "linear-map-copy",
        "in-place",
      ]);
      for (const s of r.strategies) {
        if (s.reference !== undefined) continue; // the series as posted: tested in reloc-coherence.test.ts
        expect(s.failures, `${s.name} ${mode}`).toEqual([]);
        expect(s.verified).toBe(true);
      }
      expect(r.machine.ramBytes).toBe(4 * GiB);
      // kernel, 64 MiB - 5000 bytes of initrd (0x3fff000 with 4K pages), the DTB packed to one page
      // (kexec-tools' dtb_set_property packs it), 16 KiB purgatory
      expect(r.kimage.sourcePages).toBe((28 * MiB + 0x3fff000 + 4 * KiB + 16 * KiB) / 4096);
    }
  });

  it("x86_64: x86-ident (copy and swap) and in-place verify", () => {
    const r = run(defaultScenario("x86_64", "synthetic"));
    expect(r.strategies.map((s) => s.name)).toEqual(["x86-ident", "in-place"]);
    for (const s of r.strategies) expect(s.verified, s.name).toBe(true);
    const swap = run(defaultScenario("x86_64", "synthetic"), { x86Swap: true, strategies: ["x86-ident"] });
    const plain = byName(r, "x86-ident");
    const swapped = byName(swap, "x86-ident");
    expect(swapped.verified).toBe(true);
    expect(swapped.counters.pagesCopied).toBe(3 * plain.counters.pagesCopied);
  });

  it("page-table costs match the analysis (4K granule)", () => {
    const r = run(defaultScenario("arm64", "synthetic"));
    const size = relocatedBytes(r);
    const va = byName(r, "va-copy").pageTables.bytes;
    expect(va).toBeGreaterThanOrEqual(size / 512);
    expect(va).toBeLessThanOrEqual((3 * size) / 512 + 64 * KiB);
    expect(byName(r, "linear-map-copy").pageTables.bytes).toBeLessThan(64 * KiB);
    expect(byName(r, "mmu-off").pageTables.pages).toBe(0);
    expect(byName(r, "in-place").pageTables.pages).toBe(0);

    const page = run(defaultScenario("arm64", "synthetic"), {
      linearMap: "page",
      strategies: ["linear-map-copy"],
    });
    const bytes = byName(page, "linear-map-copy").pageTables.bytes;
    const ram = page.machine.ramBytes;
    expect(bytes).toBeGreaterThanOrEqual(ram / 512);
    expect(bytes).toBeLessThan(ram / 512 + 64 * KiB);
    expect(byName(page, "linear-map-copy").verified).toBe(true);

    // x86_64: about one 4 KiB table page per mapped GiB (plus the root, PDPTs and the transition map)
    const x = run(defaultScenario("x86_64", "synthetic"), { strategies: ["x86-ident"] });
    const mappedGiB = 4; // [0, 3 GiB) and [4 GiB, 5 GiB), 2M-rounded
    const xt = byName(x, "x86-ident").pageTables;
    expect(xt.byLevel["2"]).toBe(mappedGiB + 1); // + the transition map's PD
    expect(xt.bytes).toBeLessThanOrEqual((mappedGiB + 6) * 4 * KiB);
    const gb = run(defaultScenario("x86_64", "synthetic"), { strategies: ["x86-ident"], gbpages: true });
    expect(byName(gb, "x86-ident").pageTables.pages).toBeLessThan(xt.pages);
    expect(byName(gb, "x86-ident").verified).toBe(true);
  });

  it("16K and 64K granules: every arm64 strategy verifies; the idmap costs 4 / 3 table pages", () => {
    for (const pageSize of [16384, 65536] as const) {
      const sc = defaultScenario("arm64", "synthetic", 3, { pageSize });
      const r = run({ ...sc, freePages: { kind: "random", seed: 9 } });
      for (const s of r.strategies)
        expect(s.verified || s.reference !== undefined, `${s.name} ${pageSize}`).toBe(true);
      const lm = byName(r, "linear-map-copy").pageTables.byLevel;
      // TTBR0 holds only the identity map of the code page: one table per level from the start level
      const idmapTables = pageSize === 65536 ? 3 : 4;
      const startLevel = pageSize === 65536 ? "1" : "0";
      expect(lm[startLevel]).toBe(2); // one root per TTBR
      expect(Object.values(lm).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(idmapTables + 1);
    }
  });

  it("other VA sizes and x86_64 5-level paging verify", () => {
    const combos: [PageSize, number][] = [
      [4096, 39],
      [4096, 52],
      [16384, 47],
      [65536, 42],
      [65536, 52],
    ];
    for (const [pageSize, vaBits] of combos) {
      const r = run(defaultScenario("arm64", "synthetic", 2, { pageSize, vaBits }));
      for (const s of r.strategies)
        expect(s.verified || s.reference !== undefined, `${s.name} ${pageSize} ${vaBits}`).toBe(true);
    }
    const x = run(defaultScenario("x86_64", "synthetic", 2, { vaBits: 57 }));
    const t = byName(x, "x86-ident");
    expect(t.verified).toBe(true);
    expect(t.pageTables.byLevel["-1"]).toBe(1); // the PML5 root
  });

  it("x86_64 builds its tables before the segments are loaded, arm64 after (lowest-first free pages)", () => {
    for (const [arch, name] of [
      ["x86_64", "x86-ident"],
      ["arm64", "linear-map-copy"],
    ] as const) {
      const r = runStrategy(
        { ...defaultScenario(arch, "synthetic"), freePages: { kind: "lowest" } },
        findStrategy(name),
      );
      const tables = r.result.controlPages.map((h) => Number(h));
      let minSource = Infinity;
      let maxSource = 0;
      walkEntryList(r.machine.mem, r.image.head, {
        source(dest, src) {
          if (dest === src) return;
          minSource = Math.min(minSource, src);
          maxSource = Math.max(maxSource, src);
        },
      });
      if (arch === "x86_64") expect(Math.max(...tables)).toBeLessThan(minSource);
      else expect(Math.min(...tables)).toBeGreaterThan(maxSource);
    }
  });

  it("is deterministic: the same scenario gives byte-identical results", () => {
    const a = JSON.stringify(run(defaultScenario("arm64", "exact", 5)));
    const b = JSON.stringify(run(defaultScenario("arm64", "exact", 5)));
    expect(a).toBe(b);
    expect(a).not.toContain("wallSeconds");
  });

  it("counts what the CPU did", () => {
    const r = run({ ...defaultScenario("arm64", "synthetic"), freePages: { kind: "random", seed: 2 } });
    const k = r.kimage;
    const off = byName(r, "mmu-off").counters;
    // every slot read once: all entries, the links to the next indirection pages, and IND_DONE
    expect(off.entriesRead).toBe(k.entries + k.indirectionPages);
    expect(off.indirectionPagesFollowed).toBe(k.indirectionPages);
    expect(off.pagesCopied).toBe(k.sourcePages);
    expect(off.bytesCopied).toBe(k.sourcePages * 4096);
    expect(off.tlbHits + off.tlbMisses).toBe(0);
    const lm = byName(r, "linear-map-copy").counters;
    expect(lm.entriesRead).toBe(off.entriesRead);
    // 1 GiB blocks: a handful of walks for the whole relocation
    expect(lm.walks).toBeLessThan(16);
    // every destination line, and the relocation code page (machine_kexec_post_load's dc civac)
    expect(lm.cacheLinesInvalidated).toBe((k.sourcePages * 4096) / 64 + 4096 / 64);
    const va = byName(r, "va-copy").counters;
    expect(va.entriesRead).toBe(0);
    expect(va.loadTimeEntriesRead).toBe(off.entriesRead);
    // page-granular: every source and destination page is a new translation
    expect(va.tlbMisses).toBeGreaterThanOrEqual(2 * k.sourcePages);
    expect(Object.keys(va.descriptorReadsByLevel).sort()).toEqual(["0", "1", "2", "3"]);
    const ip = byName(r, "in-place").counters;
    expect(ip.pagesCopied).toBe(0);
  });

  it("attaches a sink: the access stream has one copy per page and one load per entry", () => {
    const sc = defaultScenario("arm64", "synthetic");
    const trace = new TraceBuffer();
    const res = runStrategy(sc, findStrategy("linear-map-copy"), { sink: trace }).result;
    const raw = trace.raw();
    let copies = 0;
    let loads = 0;
    let misses = 0;
    for (let i = 0; i < raw.length; i += 5) {
      if (raw[i] === EV_COPY) copies++;
      else if (raw[i] === EV_LOAD) loads++;
      else if (raw[i] === EV_TLB_MISS) misses++;
    }
    expect(copies).toBe(res.counters.pagesCopied);
    expect(loads).toBe(res.counters.entriesRead);
    expect(misses).toBe(res.counters.tlbMisses);
  });

  it("strategiesFor lists the applicable strategies; unknown or foreign ones are errors", () => {
    expect(strategiesFor("x86_64").map((s) => s.name)).toEqual(["x86-ident", "in-place"]);
    expect(() => findStrategy("nope")).toThrow(/unknown strategy/);
    expect(() => runStrategy(defaultScenario("x86_64"), findStrategy("mmu-off"))).toThrow(/not on x86_64/);
  });
});

describe("guard and verification", () => {
  it("the guard tracks live pages: sources are released when read, tables stay live", () => {
    const mem = new PhysMem({ pageSize: 4096, ram: [{ start: 0x40000000, end: 0x40100000 }] });
    const g = new PageGuard(mem);
    g.protect(0x40001000, "source");
    g.protect(0x40002000, "table");
    expect(g.count()).toBe(2);
    expect(g.passCopy(0x40003000, 0x40001000)).toBe(true);
    expect(g.isLive(0x40001000)).toBe(false);
    expect(g.passCopy(0x40002000, 0x40005000)).toBe(false);
    expect(g.kindOf(0x40002123)).toBe("table");
    g.release(0x40002000);
    expect(g.isLive(0x40002000)).toBe(true);
    // in place: the page is read, then written
    g.protect(0x40006000, "source");
    expect(g.passCopy(0x40006000, 0x40006000)).toBe(true);
    // outside RAM: never live
    expect(g.isLive(0x1000)).toBe(false);
  });

  it("names the first wrong byte: segment, address, expected, found", () => {
    const sc = defaultScenario("arm64", "exact");
    const r = runStrategy(sc, findStrategy("linear-map-copy"));
    expect(r.result.verified).toBe(true);
    // The initrd (segment 3): the packed DTB (segment 1) is a single page now.
    const seg = sc.segments[3]!;
    const addr = seg.mem + 5 * 4096 + 123;
    const buf = new Uint8Array(1);
    r.machine.mem.readBytes(addr, buf);
    const wrong = buf[0]! ^ 0x5a;
    r.machine.mem.writeBytes(addr, new Uint8Array([wrong]));
    const v = verifySegments(r.machine.mem, sc.segments);
    expect(v.badPages).toBe(1);
    expect(v.failures).toHaveLength(1);
    expect(v.failures[0]).toMatchObject({
      kind: "content",
      segment: 3,
      address: `0x${addr.toString(16)}`,
      expected: buf[0],
      found: wrong,
    });
  });

  it("checks the zero padding past bufsz", () => {
    const sc = defaultScenario("arm64", "synthetic");
    const r = runStrategy(sc, findStrategy("mmu-off"));
    const seg = sc.segments[0]!; // bufsz = memsz - 123 KiB: the last pages are zero
    const last = seg.mem + seg.memsz - 4096;
    r.machine.mem.writeBytes(last + 10, new Uint8Array([1]));
    const v = verifySegments(r.machine.mem, sc.segments);
    expect(v.failures[0]).toMatchObject({
      segment: 0,
      address: `0x${(last + 10).toString(16)}`,
      expected: 0,
      found: 1,
    });
  });

  it("bytes content in shared mode verifies", () => {
    const data = new Uint8Array(3 * 4096 + 100).map((_, i) => (i * 7) & 0xff);
    const sc: RelocScenario = {
      name: "bytes",
      arch: "arm64",
      pageSize: 4096,
      vaBits: 48,
      memoryMap: MemoryMap.fromRam([{ start: 0x40000000, end: 0x40000000 + 64 * MiB }]),
      segments: [{ mem: 0x40000000 + 32 * MiB, memsz: 5 * 4096, content: { kind: "bytes", data } }],
      contentMode: "shared",
      seed: 1,
      freePages: { kind: "highest" },
    };
    const r = run(sc);
    for (const s of r.strategies) expect(s.verified || s.reference !== undefined, s.name).toBe(true);
  });
});
