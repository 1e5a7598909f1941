import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { findStrategy } from "../src/reloc/registry.js";
import type { RunResult } from "../src/reloc/result.js";
import { runScenario, runStrategy } from "../src/reloc/run.js";
import { tableCostCurves } from "../src/report/curves.js";
import { escapeHtml, jsonForScript } from "../src/report/escape.js";
import { focusRange, ramBanks, renderHtmlReport, renderMemoryMapSvg } from "../src/report/html.js";
import {
  bucketBytesFor,
  buildPageMap,
  parseFreePagesDescription,
  reconstructPageMap,
} from "../src/report/pagemap.js";
import { loadRunResult } from "../src/report/result-schema.js";
import { defaultScenario } from "../src/scenario/default.js";

const HOSTILE = `</script><script>alert(1)</script><img src=x onerror="alert('x')"> & \`\u2028<!--`;

/** A small RunResult built by hand (the report's input contract), with hostile strings everywhere. */
function sampleResult(name = HOSTILE): RunResult {
  return {
    tool: { name: "kexec-lab", version: "0.1.0" },
    scenario: { name, seed: 1, contentMode: "exact", freePages: "lowest" },
    machine: {
      arch: "arm64",
      pageSize: 4096,
      vaBits: 48,
      ramBytes: 2 ** 31,
      memoryMap: [
        { start: "0x40000000", end: "0x80000000", type: "ram", name: "System RAM" },
        { start: "0x40200000", end: "0x40400000", type: "reserved", name: HOSTILE },
        { start: "0x880000000", end: "0x8c0000000", type: "ram", name: "System RAM" },
      ],
    },
    kimage: {
      type: "normal",
      head: "0x42300002",
      segments: [
        { label: HOSTILE, mem: "0x41000000", memsz: 0x200000, bufsz: 0x1ff000 },
        { label: "initrd", mem: "0x41200000", memsz: 0x400000, bufsz: 0x400000 },
      ],
      sourcePages: 1536,
      entries: 1538,
      destinationEntries: 2,
      indirectionPages: 4,
      inPlacePages: 0,
      parkedPages: 0,
      parkedReused: 0,
      swaps: 0,
      unusablePages: 0,
      controlPages: 2,
      controlRejected: 0,
      pagesAllocated: 1542,
      controlCodePage: "0x40000000",
      swapPage: "0x40001000",
    },
    strategies: [
      {
        name: HOSTILE,
        description: HOSTILE,
        verified: false,
        failures: [{ kind: "content", message: HOSTILE }],
        pageTables: { pages: 3, bytes: 12288, byLevel: { "0": 1, "1": 1, "2": 1 } },
        controlPages: ["0x40002000", "0x40003000", "0x40004000"],
        counters: {
          bytesCopied: 6 * 2 ** 20,
          pagesCopied: 1536,
          entriesRead: 1538,
          indirectionPagesFollowed: 4,
          tlbHits: 0,
          tlbMisses: 3,
          walks: 3,
          descriptorReadsByLevel: {},
          cacheLinesCleaned: 0,
          cacheLinesInvalidated: 0,
          controlPages: 3,
        },
        model: [
          {
            profile: "cortex-a72-board",
            seconds: 0.01,
            breakdown: { copy: 0.01 },
            limitSeconds: 0.001,
            ratioToLimit: 10,
            sampled: false,
          },
        ],
      },
    ],
    pageMap: {
      bucketBytes: 0x100000,
      pageSize: 4096,
      source: [
        ["0x42000000", 256],
        ["0x42100000", 200],
      ],
      inPlace: [],
      indirection: [["0x42300000", 4]],
      control: [["0x40000000", 2]],
    },
  };
}

describe("escapeHtml", () => {
  it("escapes hostile names so no tag, attribute or comment survives", () => {
    const out = escapeHtml(HOSTILE);
    expect(out).not.toMatch(/[<>"'`]/);
    expect(out).toContain("&lt;/script&gt;");
    expect(out).toContain("&quot;alert(&#39;x&#39;)&quot;");
  });

  it("round-trips through an HTML text decoder (property)", () => {
    const decode = (s: string) =>
      s
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&#96;/g, "`")
        .replace(/&amp;/g, "&");
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const out = escapeHtml(s);
        expect(out).not.toMatch(/[<>"'`]/);
        // Control characters become U+FFFD; everything else comes back exactly.
        const clean = s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "\ufffd");
        expect(decode(out)).toBe(clean);
      }),
    );
  });

  it("jsonForScript cannot close the script element and parses back to the value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (v, s) => {
        const value = { v, s: `${s}</script><!--${HOSTILE}` };
        const text = jsonForScript(value);
        expect(text.toLowerCase()).not.toContain("</script");
        expect(text).not.toContain("<!--");
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe("HTML report", () => {
  const chartJs = "/* chart.js stand-in */ window.Chart = undefined;";

  it("escapes every input string in the whole document", () => {
    const html = renderHtmlReport(sampleResult(), { chartJs, subtitle: HOSTILE });
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<!--");
    // Exactly the three script elements the report writes.
    expect(html.match(/<script[\s>]/g)?.length).toBe(3);
    expect(html.match(/<\/script>/g)?.length).toBe(3);
  });

  it("loads nothing from the network", () => {
    const html = renderHtmlReport(sampleResult("plain"), {
      chartJs,
      curves: { tableCost: tableCostCurves(), time: null },
    });
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/@import|url\(\s*["']?https?:/i);
    expect(html).toContain("Content-Security-Policy");
  });

  it("draws one row per RAM bank plus the detail row, with lanes for every kind of page", () => {
    const r = sampleResult("plain");
    expect(ramBanks(r)).toEqual([
      { start: 0x40000000, end: 0x80000000 },
      { start: 0x880000000, end: 0x8c0000000 },
    ]);
    const f = focusRange(r);
    expect(f).toBeDefined();
    expect(f!.start).toBeLessThanOrEqual(0x40000000);
    expect(f!.end).toBeGreaterThanOrEqual(0x42400000);
    const svg = renderMemoryMapSvg(r);
    expect(svg.match(/<svg class="track"/g)?.length).toBe(3);
    for (const cls of ["ram", "reserved", "segment", "source", "indirection", "control", "table"]) {
      expect(svg, cls).toMatch(new RegExp(`class="mark [^"]*\\b${cls}\\b`));
    }
  });

  it("without a page map still shows segments and control pages", () => {
    const r = sampleResult("plain");
    delete r.pageMap;
    const svg = renderMemoryMapSvg(r);
    expect(svg).toContain('class="mark segment"');
    expect(svg).not.toContain('class="mark source"');
    expect(svg).toContain("tick control");
  });

  it("is deterministic", () => {
    const a = renderHtmlReport(sampleResult(), { chartJs });
    const b = renderHtmlReport(sampleResult(), { chartJs });
    expect(a).toBe(b);
  });
});

describe("page map", () => {
  it("bucket size is the smallest power of two covering the span in maxBuckets", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 50 }), fc.constantFrom(4096, 16384, 65536), (span, ps) => {
        const b = bucketBytesFor(span, ps, 1024);
        expect(b).toBeGreaterThanOrEqual(ps);
        expect(b * 1024).toBeGreaterThanOrEqual(span);
        if (b > ps) expect((b / 2) * 1024).toBeLessThan(span);
      }),
    );
  });

  it("counts every source and indirection page of a real kimage", () => {
    const sc = { ...defaultScenario("arm64", "synthetic", 1) };
    const run = runStrategy(sc, findStrategy("mmu-off"));
    const pm = buildPageMap(run.image, run.machine.mem);
    const total = (l: [string, number][]) => l.reduce((a, [, n]) => a + n, 0);
    expect(total(pm.source)).toBe(run.image.counters.sourcePages);
    expect(total(pm.indirection)).toBe(run.image.counters.indirectionPages);
    expect(total(pm.inPlace)).toBe(run.image.counters.inPlacePages);
    expect(total(pm.control)).toBe(2);
    expect(pm.source.length).toBeLessThanOrEqual(1024);
    for (const [b, n] of pm.source) {
      expect(Number.parseInt(b, 16) % pm.bucketBytes).toBe(0);
      expect(n).toBeLessThanOrEqual(pm.bucketBytes / pm.pageSize);
    }
  });
});

describe("page map reconstruction", () => {
  for (const [arch, first, freePages] of [
    ["arm64", "mmu-off", { kind: "random", seed: 5 }],
    ["x86_64", "x86-ident", { kind: "lowest" }],
  ] as const) {
    it(`rebuilds exactly the page map of the run (${arch})`, () => {
      const sc = { ...defaultScenario(arch, "synthetic", 3), freePages };
      const out = runScenario(sc);
      if (!out.ok) throw new Error("refused");
      const run = runStrategy(sc, findStrategy(first));
      expect(reconstructPageMap(JSON.parse(JSON.stringify(out.result)))).toEqual(
        buildPageMap(run.image, run.machine.mem),
      );
    });
  }

  it("refuses to guess when the result's kimage does not match", () => {
    const out = runScenario(defaultScenario("arm64", "synthetic", 1));
    if (!out.ok) throw new Error("refused");
    const r = JSON.parse(JSON.stringify(out.result));
    r.kimage.swaps += 1;
    expect(reconstructPageMap(r)).toBeUndefined();
    r.kimage.swaps -= 1;
    r.scenario.freePages = "newest";
    expect(reconstructPageMap(r)).toBeUndefined();
  });

  it("reads back every free-page description", () => {
    expect(parseFreePagesDescription("random(seed=7)")).toEqual({ kind: "random", seed: 7 });
    expect(parseFreePagesDescription("fragmented(seed=3, fraction=0.25)")).toEqual({
      kind: "fragmented",
      seed: 3,
      fraction: 0.25,
    });
    expect(parseFreePagesDescription("fragmented(seed=3, 50% in use)")).toEqual({
      kind: "fragmented",
      seed: 3,
      fraction: 0.5,
    });
  });
});

describe("result file", () => {
  it("accepts a RunResult and names the bad field otherwise", () => {
    expect(loadRunResult(JSON.parse(JSON.stringify(sampleResult())))).toBeDefined();
    const bad = JSON.parse(JSON.stringify(sampleResult()));
    bad.strategies[0].pageTables.bytes = "many";
    try {
      loadRunResult(bad, "r.json");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(KexecLabError);
      expect((e as KexecLabError).where).toEqual({ file: "r.json", field: "strategies[0].pageTables.bytes" });
    }
  });
});
