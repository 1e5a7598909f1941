import { describe, expect, it } from "vitest";
import type { RunResult } from "../src/reloc/result.js";
import { runCli } from "./helpers/cli.js";

const cli = runCli;

describe("kexec-lab run", () => {
  it("with no arguments runs the default arm64 scenario through every arm64 strategy (--json)", async () => {
    const { code, out } = await cli(["run", "--json"]);
    expect(code).toBe(0);
    const r = JSON.parse(out) as RunResult;
    expect(r.machine.ramBytes).toBe(4 * 1024 ** 3);
    expect(r.machine.arch).toBe("arm64");
    // 28 MiB kernel + 0x3fff000 initrd + one page of packed DTB + 16 KiB purgatory, in 4 KiB pages.
    expect(r.kimage.sourcePages).toBe(23556);
    expect(r.strategies.map((s) => s.name)).toEqual([
      "mmu-off",
      "va-copy",
      "va-copy-series",
      "linear-map-copy",
      "in-place",
    ]);
    for (const s of r.strategies) {
      // the series as posted cleans to the PoU only: a reference that fails on this profile
      expect(s.verified).toBe(s.name !== "va-copy-series");
      if (s.name === "va-copy-series") expect(s.reference).toMatch(/PoU only/);
      expect(typeof s.pageTables.bytes).toBe("number");
      expect(typeof s.pageTables.pages).toBe("number");
      expect(typeof s.pageTables.byLevel).toBe("object");
      expect(typeof s.counters.pagesCopied).toBe("number");
      expect(s.wallSeconds).toBeUndefined();
      for (const pa of s.controlPages) expect(pa).toMatch(/^0x[0-9a-f]+$/);
    }
  }, 300_000);

  it("is byte-identical across runs; --timings adds wall-clock seconds", async () => {
    const a = await cli(["run", "--json", "--content", "synthetic", "--free-pages", "random:3"]);
    const b = await cli(["run", "--json", "--content", "synthetic", "--free-pages", "random:3"]);
    expect(a.out).toBe(b.out);
    const t = await cli(["run", "--json", "--content", "synthetic", "--timings", "--strategy", "mmu-off"]);
    const r = JSON.parse(t.out) as RunResult;
    expect(r.strategies[0]!.wallSeconds).toBeGreaterThanOrEqual(0);
  }, 300_000);

  it("x86_64 with --x86-swap and --gbpages", async () => {
    const { code, out } = await cli([
      "run",
      "--arch",
      "x86_64",
      "--x86-swap",
      "--gbpages",
      "--json",
      "--content",
      "synthetic",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(out) as RunResult;
    expect(r.strategies.map((s) => [s.name, s.verified])).toEqual([
      ["x86-ident", true],
      ["in-place", true],
    ]);
    expect(r.strategies[0]!.counters.pagesCopied).toBe(3 * r.kimage.sourcePages);
  });

  it("--strategy, --linear-map page and --granule select what runs", async () => {
    const { code, out } = await cli([
      "run",
      "--strategy",
      "linear-map-copy,va-copy",
      "--linear-map",
      "page",
      "--granule",
      "16K",
      "--content",
      "synthetic",
      "--json",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(out) as RunResult;
    expect(r.machine.pageSize).toBe(16384);
    expect(r.strategies.map((s) => s.name)).toEqual(["linear-map-copy", "va-copy"]);
    // page-granular copy of a 4 GiB linear map with 16K pages: about RAM / 2048 of PTE tables
    expect(r.strategies[0]!.pageTables.bytes).toBeGreaterThanOrEqual(r.machine.ramBytes / 2048);
  });

  it("prints aligned tables for humans", async () => {
    const { code, out } = await cli(["run", "--content", "synthetic"]);
    expect(code).toBe(0);
    expect(out).toMatch(
      /strategy\s+verified\s+page tables\s+control pages\s+entries walked\s+TLB misses\s+modeled \(neoverse-n1-server\)/,
    );
    expect(out).toMatch(/linear-map-copy\s+yes\s+24 KiB \(6\)\s+8\s+23,607/);
  }, 300_000);

  it("bad input exits 2 with a catalogued error", async () => {
    const a = await cli(["run", "--strategy", "nope"]);
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/E_FIELD_VALUE.*unknown strategy "nope"/);
    const b = await cli(["run", "--arch", "x86_64", "--strategy", "mmu-off"]);
    expect(b.code).toBe(2);
    const c = await cli(["run", "--granule", "8K"]);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/E_PAGE_SIZE/);
    const d = await cli(["run", "--free-pages", "sideways"]);
    expect(d.code).toBe(2);
  });

  it("--profile attaches the timing model to every strategy", async () => {
    const { code, out } = await cli([
      "run",
      "--content",
      "synthetic",
      "--strategy",
      "mmu-off,linear-map-copy",
      "--profile",
      "published-25mb",
      "--json",
    ]);
    expect(code).toBe(0);
    const r = JSON.parse(out) as RunResult;
    const [off, lm] = r.strategies;
    expect(off!.model![0]!.profile).toBe("published-25mb");
    // the MMU-off relocation is modeled much slower than the MMU-on one
    expect(off!.model![0]!.seconds).toBeGreaterThan(5 * lm!.model![0]!.seconds);
  });

  it("--help has examples", async () => {
    const { out } = await cli(["run", "--help"]);
    expect(out).toMatch(/Examples:/);
    expect(out).toMatch(/--linear-map/);
  });
});
