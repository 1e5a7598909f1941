import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { schemaText } from "../scripts/gen-schema.js";
import { KexecLabError } from "../src/errors.js";
import { defaultScenario } from "../src/scenario/default.js";
import {
  fieldPath,
  loadScenario,
  resolvePath,
  runLoadedScenario,
  scenarioMemoryMap,
  toRelocScenario,
} from "../src/scenario/load.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const EXAMPLES = join(ROOT, "examples");
const readFile = (p: string) => new Uint8Array(readFileSync(p));

function errorOf(json: unknown): KexecLabError {
  try {
    loadScenario(json);
  } catch (e) {
    if (e instanceof KexecLabError) return e;
    throw e;
  }
  throw new Error("expected loadScenario to throw");
}

const minimal = () => ({
  machine: { arch: "arm64", ram: [{ start: "0x40000000", size: "1G" }] },
  segments: [{ mem: "0x40200000", memsz: "2M" }],
});

describe("scenario schema", () => {
  it("the committed schema/scenario.schema.json is generated from the zod definitions", () => {
    expect(readFileSync(join(ROOT, "schema", "scenario.schema.json"), "utf8")).toBe(schemaText());
  });

  it("every example scenario loads (and reads its files when it has a memory file)", () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".json") && f !== "published-25mb.json");
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const json = JSON.parse(readFileSync(join(EXAMPLES, f), "utf8"));
      if (json.machine === undefined) continue; // not a scenario (e.g. a model data file)
      const sc = loadScenario(json, EXAMPLES, f.replace(/\.json$/, ""));
      expect(sc.name).toBe(json.name);
      const map = scenarioMemoryMap(sc, readFile);
      expect(map.ramBytes).toBeGreaterThan(0);
    }
  });

  it("examples/qemu-virt-4g.json is exactly the embedded default scenario", () => {
    const json = JSON.parse(readFileSync(join(EXAMPLES, "qemu-virt-4g.json"), "utf8"));
    const sc = toRelocScenario(loadScenario(json, EXAMPLES));
    const def = defaultScenario("arm64", "exact", 1);
    expect(sc.segments).toEqual(def.segments);
    expect(sc.memoryMap.regions).toEqual(def.memoryMap.regions);
    expect([sc.pageSize, sc.vaBits, sc.seed]).toEqual([def.pageSize, def.vaBits, def.seed]);
    expect(sc.freePages).toEqual(def.freePages);
  });

  it("applies defaults", () => {
    const sc = loadScenario(minimal());
    expect(sc).toMatchObject({
      name: "scenario",
      pageSize: 4096,
      vaBits: 48,
      seed: 1,
      contentMode: "exact",
      freePages: { kind: "random", seed: 1 },
      strategies: [],
      profiles: [],
    });
    expect(sc.segments[0]).toEqual({
      label: "segment0",
      mem: 0x40200000,
      memsz: 2 * 1024 * 1024,
      bufsz: undefined,
      content: { kind: "synthetic", seed: 7920 },
    });
  });

  it("resolves strategies and free-page policies", () => {
    const sc = loadScenario({
      ...minimal(),
      seed: 9,
      strategies: ["mmu-off", { name: "linear-map-copy", linearMap: "page" }],
      freePages: "random",
    });
    expect(sc.strategies).toEqual([
      { name: "mmu-off", options: {} },
      { name: "linear-map-copy", options: { linearMap: "page" } },
    ]);
    expect(sc.freePages).toEqual({ kind: "random", seed: 9 });
    expect(
      loadScenario({ ...minimal(), freePages: { kind: "fragmented", fraction: 0.25 } }).freePages,
    ).toEqual({
      kind: "fragmented",
      seed: 1,
      fraction: 0.25,
    });
  });

  it("resolves relative paths against the scenario's directory", () => {
    expect(resolvePath("/a/b", "c.dtb")).toBe("/a/b/c.dtb");
    expect(resolvePath("/a/b/", "../c.dtb")).toBe("/a/b/../c.dtb");
    expect(resolvePath("/a/b", "/abs.dtb")).toBe("/abs.dtb");
    expect(resolvePath("", "c.dtb")).toBe("c.dtb");
  });
});

describe("scenario errors name the field", () => {
  const cases: [string, unknown, string, string][] = [
    ["not an object", [], "E_FIELD_TYPE", "(root)"],
    ["no machine", { segments: [] }, "E_FIELD_MISSING", "machine"],
    ["bad arch", { ...minimal(), machine: { arch: "riscv", ram: [] } }, "E_FIELD_VALUE", "machine.arch"],
    [
      "bad size string",
      { ...minimal(), segments: [{ mem: 0, memsz: "lots" }] },
      "E_FIELD_VALUE",
      "segments[0].memsz",
    ],
    ["missing mem", { ...minimal(), segments: [{ memsz: 4096 }] }, "E_FIELD_MISSING", "segments[0].mem"],
    [
      "unknown key",
      { ...minimal(), segments: [{ mem: 0, memsz: 4096, colour: 1 }] },
      "E_FIELD_VALUE",
      "segments[0].colour",
    ],
    [
      "wrong type",
      { ...minimal(), machine: { arch: "arm64", ram: [{ start: true, size: 1 }] } },
      "E_FIELD_TYPE",
      "machine.ram[0].start",
    ],
    [
      "two memory sources",
      { ...minimal(), machine: { arch: "arm64", ram: [{ start: 0, size: 4096 }], iomem: "x" } },
      "E_FIELD_VALUE",
      "machine",
    ],
    ["no memory", { ...minimal(), machine: { arch: "arm64" } }, "E_FIELD_MISSING", "machine"],
    [
      "size and end",
      { ...minimal(), machine: { arch: "arm64", ram: [{ start: 0, size: 4096, end: 4096 }] } },
      "E_FIELD_VALUE",
      "machine.ram[0]",
    ],
    [
      "overlapping banks",
      {
        ...minimal(),
        machine: {
          arch: "arm64",
          ram: [
            { start: 0, size: "1G" },
            { start: "0x20000000", size: "1G" },
          ],
        },
      },
      "E_RAM_LAYOUT",
      "machine.ram",
    ],
    [
      "x86 16K",
      { ...minimal(), machine: { arch: "x86_64", pageSize: 16384, ram: [{ start: 0, size: "1G" }] } },
      "E_PAGE_SIZE",
      "machine.pageSize",
    ],
    [
      "huge address",
      { ...minimal(), segments: [{ mem: "0xffffffffffffffff", memsz: 4096 }] },
      "E_NUMBER_RANGE",
      "segments[0].mem",
    ],
    ["negative seed", { ...minimal(), seed: -1 }, "E_NUMBER_RANGE", "seed"],
    ["segments and files", { ...minimal(), files: { kernel: "k" } }, "E_FIELD_VALUE", "(root)"],
    ["bad policy", { ...minimal(), freePages: "newest" }, "E_FIELD_VALUE", "freePages"],
    [
      "bad fraction",
      { ...minimal(), freePages: { kind: "fragmented", fraction: 2 } },
      "E_NUMBER_RANGE",
      "freePages.fraction",
    ],
  ];
  for (const [what, json, code, field] of cases) {
    it(what, () => {
      const e = errorOf(json);
      expect(e.code).toBe(code);
      expect(e.where.field).toBe(field);
    });
  }

  it("formats zod paths as the docs write them", () => {
    expect(fieldPath(["machine", "ram", 1, "size"])).toBe("machine.ram[1].size");
    expect(fieldPath([])).toBe("(root)");
  });
});

describe("scenario properties", () => {
  it("a number, its decimal string and its hex string load to the same scenario", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 20 }),
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 0, max: 4096 }),
        (startPages, sizePages, memPage) => {
          const start = startPages * 4096;
          const size = sizePages * 4096;
          const mem = start + (memPage % sizePages) * 4096;
          const as = (f: (n: number) => number | string) => ({
            machine: { arch: "arm64", ram: [{ start: f(start), size: f(size) }] },
            segments: [{ mem: f(mem), memsz: f(4096) }],
          });
          const a = loadScenario(as((n) => n));
          expect(loadScenario(as((n) => String(n)))).toEqual(a);
          expect(loadScenario(as((n) => `0x${n.toString(16)}`))).toEqual(a);
          expect(a.memory).toEqual({
            kind: "map",
            regions: [{ start, end: start + size, type: "ram", name: "System RAM" }],
          });
        },
      ),
    );
  });

  it("any JSON value either loads or throws a catalogued error (never anything else)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          loadScenario(v);
        } catch (e) {
          expect(e).toBeInstanceOf(KexecLabError);
        }
      }),
    );
    fc.assert(
      fc.property(
        fc.record({
          machine: fc.record({ arch: fc.constantFrom("arm64", "x86_64"), ram: fc.jsonValue() }),
          segments: fc.jsonValue(),
        }),
        (v) => {
          try {
            loadScenario(v);
          } catch (e) {
            expect(e).toBeInstanceOf(KexecLabError);
            expect((e as KexecLabError).where.field).toBeDefined();
          }
        },
      ),
    );
  });
});

describe("running a scenario", () => {
  it("runs each strategy entry with its own options, and attaches the page map", () => {
    const sc = loadScenario({
      machine: { arch: "arm64", ram: [{ start: "0x40000000", size: "1G" }] },
      segments: [
        { label: "kernel", mem: "0x40200000", memsz: "2M" },
        { label: "initrd", mem: "0x40400000", memsz: "2M", bufsz: 5000 },
      ],
      strategies: ["linear-map-copy", { name: "linear-map-copy", linearMap: "page" }, "mmu-off"],
      contentMode: "synthetic",
      freePages: "random",
    });
    const out = runLoadedScenario(sc, undefined, { pageMap: true });
    if (!out.ok) throw new Error("refused");
    const r = out.result;
    expect(r.strategies.map((s) => s.name)).toEqual([
      "linear-map-copy",
      "linear-map-copy (linearMap=page)",
      "mmu-off",
    ]);
    expect(r.strategies.every((s) => s.verified)).toBe(true);
    // A page-granular linear map of 1 GiB copies its 512 PTE tables; the block map does not.
    expect(r.strategies[1]!.pageTables.pages).toBeGreaterThan(r.strategies[0]!.pageTables.pages + 500);
    const pages = r.pageMap!.source.reduce((a, [, n]) => a + n, 0);
    expect(pages).toBe(r.kimage.sourcePages);
    expect(r.scenario.freePages).toBe("random(seed=1)");
  });

  it("places real files with the loader (examples/debian-arm64-files.json)", () => {
    const json = JSON.parse(readFileSync(join(EXAMPLES, "debian-arm64-files.json"), "utf8"));
    const sc = loadScenario(json, EXAMPLES);
    const reloc = toRelocScenario(sc, readFile);
    expect(reloc.segments.map((s) => s.label)).toEqual(["kernel", "dtb", "purgatory"]);
    // kexec-tools: the kernel at the lowest 2 MiB-aligned hole of QEMU virt's RAM.
    expect(reloc.segments[0]!.mem).toBe(0x40000000);
  });

  it("a refused load is an outcome, not an exception", () => {
    const sc = loadScenario({
      machine: { arch: "arm64", ram: [{ start: "0x40000000", size: "64M" }] },
      segments: [{ mem: "0x40000000", memsz: "48M" }],
      contentMode: "synthetic",
      strategies: ["mmu-off"],
    });
    const out = runLoadedScenario(sc);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.verdict.errno).toBe("EINVAL");
  });
});
