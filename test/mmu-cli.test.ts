import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("tables");
const run = runCli;

const json = async (args: string[]) => {
  const r = await run([...args, "--json"]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
};

describe("kexec-lab overhead", () => {
  it("reproduces the seed thread's numbers", async () => {
    expect(
      await json(["overhead", "--arch", "arm64", "--granule", "4k", "--map", "page", "--size", "64M"]),
    ).toEqual({
      tablePages: 35,
      tableBytes: 35 * 4096,
      byLevel: { "0": 1, "1": 1, "2": 1, "3": 32 },
    });
    const big = await json(["overhead", "--arch", "arm64", "--map", "page", "--size", "512M"]);
    expect(big.byLevel["3"]).toBe(256);
    const k64 = await json([
      "overhead",
      "--arch",
      "arm64",
      "--granule",
      "64k",
      "--map",
      "page",
      "--size",
      "512M",
    ]);
    expect(k64.byLevel).toEqual({ "1": 1, "2": 1, "3": 1 });
    const x2m = await json(["overhead", "--arch", "x86_64", "--map", "block", "--size", "1G"]);
    expect(x2m.byLevel).toEqual({ "0": 1, "1": 1, "2": 1, "3": 0 });
    const x1g = await json(["overhead", "--arch", "x86_64", "--map", "block", "--gbpages", "--size", "1G"]);
    expect(x1g.byLevel["2"]).toBe(0);
  });

  it("counts analytically when the range is too big to build, in both halves and with 5 levels", async () => {
    // 1 TiB page-granular with 4K: 2^28 leaves -> 2^19 PTE tables, 1024 PMD tables, 2 PUD tables, 1 PGD.
    const t = await json(["overhead", "--map", "page", "--size", "1T", "--va-base", "0xffff000000000000"]);
    expect(t.byLevel).toEqual({ "0": 1, "1": 2, "2": 1024, "3": 524288 });
    const x5 = await json([
      "overhead",
      "--arch",
      "x86_64",
      "--levels",
      "5",
      "--map",
      "block",
      "--size",
      "3G",
      "--va-base",
      "0xff00000000000000",
    ]);
    expect(x5.byLevel).toEqual({ "-1": 1, "0": 1, "1": 1, "2": 3, "3": 0 });
  });

  it("prints a human table and refuses bad input with exit 2", async () => {
    const r = await run(["overhead", "--size", "64M"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/L3 \(level 3\)\s+32\s+128 KiB/);
    expect(r.out).toMatch(/total\s+35\s+140 KiB/);
    const bad = await run(["overhead", "--granule", "64k", "--va-bits", "39", "--size", "1M"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("E_NOT_MODELED");
    const odd = await run(["overhead", "--size", "1000"]);
    expect(odd.code).toBe(2);
    expect(odd.err).toContain("E_MAP_RANGE");
    const nc = await run(["overhead", "--size", "4K", "--va-base", "0x0001000000000000"]);
    expect(nc.err).toContain("E_MAP_RANGE");
    expect((await run(["overhead"])).code).toBe(2);
  });

  it("is deterministic", async () => {
    const a = await run(["overhead", "--granule", "16k", "--map", "block", "--size", "100M", "--json"]);
    const b = await run(["overhead", "--granule", "16k", "--map", "block", "--size", "100M", "--json"]);
    expect(a.out).toBe(b.out);
  });
});

describe("kexec-lab tables and walk", () => {
  it("dumps a folded tree and a raw image whose root points at the next table", async () => {
    const r = await run(["tables", "--size", "72K", "--va-base", "0xffff000000000000", "--contiguous"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("TTBR1: L0 table @ 0x40000000 (512 entries)");
    expect(r.out).toMatch(
      /\[0\.\.15\] 0xffff000000000000 -> 0x0\.\.0xffff 16 x page 4K: 0x0070000000000703 .*Contiguous/,
    );
    expect(r.out).toMatch(/\[16\.\.17\] 0xffff000000010000 -> 0x10000\.\.0x11fff 2 x page 4K/);
    const bin = join(dir, "t.bin");
    const j = await json(["tables", "--arch", "x86_64", "--map", "block", "--size", "4M", "--binary", bin]);
    expect(j.tablePages).toBe(3);
    expect(j.pages.map((p: { level: number }) => p.level)).toEqual([0, 1, 2]);
    const img = readFileSync(bin);
    expect(img.length).toBe(3 * 4096);
    expect(img.readUInt32LE(0)).toBe(0x40001063); // PML4[0] -> PDPT, _KERNPG_TABLE
    expect(img.readUInt32LE(2 * 4096 + 8)).toBe(0x002001e3); // PD[1]: 2M page at 0x200000
    // Refuses to overwrite the image without --force.
    const again = await run(["tables", "--size", "4K", "--binary", bin]);
    expect(again.code).toBe(2);
    expect(again.err).toContain("E_FILE_EXISTS");
  });

  it("walks a VA level by level, and exits 1 on a fault", async () => {
    const w = await json([
      "walk",
      "0xffff000000201008",
      "--va-base",
      "0xffff000000000000",
      "--map",
      "block",
      "--size",
      "1G",
    ]);
    expect(w.result).toEqual({ ok: true, pa: "0x201008", level: 1, size: 2 ** 30 });
    expect(w.steps.map((s: { levelName: string; kind: string }) => `${s.levelName}:${s.kind}`)).toEqual([
      "L0:table",
      "L1:block",
    ]);
    const miss = await run(["walk", "0x400000", "--arch", "x86_64", "--size", "2M"]);
    expect(miss.code).toBe(1);
    expect(miss.out).toContain("fault: translation at level 2");
    const lower = await run(["walk", "0x1000", "--va-base", "0xffff000000000000", "--size", "8K", "--json"]);
    expect(lower.code).toBe(1);
    expect(JSON.parse(lower.out).result).toEqual({ ok: false, fault: "translation", level: 0 });
    expect((await run(["walk", "0x0001000000000000"])).err).toContain("E_MAP_RANGE");
  });
});
