import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gridFrom, SWEEP_COLUMNS, type SweepRow, toCsv } from "../src/sweep/grid.js";
import { runGrid } from "../src/sweep/node/pool.js";
import { runCli } from "./helpers/cli.js";

async function cli(args: string[]) {
  const r = await runCli(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

const base = {
  arch: "arm64" as const,
  granule: "4K,16K",
  vaBits: "48",
  initrd: "4M",
  strategy: "mmu-off,linear-map-copy",
  linearMap: "block,page",
  freePages: "lowest",
  seed: "1",
  content: "synthetic" as const,
  format: "csv" as const,
};

/** A tiny CSV reader (quoted cells, doubled quotes) to check toCsv against. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  return rows;
}

describe("sweep", () => {
  it("builds the grid as a cartesian product in a fixed order", () => {
    const points = gridFrom({ ...base, granule: "4K,16K,64K", initrd: "4M,8M", seed: "1,2" });
    expect(points.length).toBe(12);
    expect(points.map((p) => [p.granule, p.initrdBytes, p.seed]).slice(0, 3)).toEqual([
      [4096, 4 * 2 ** 20, 1],
      [4096, 4 * 2 ** 20, 2],
      [4096, 8 * 2 ** 20, 1],
    ]);
  });

  it("gives the same rows on worker threads as in-process", async () => {
    const points = gridFrom(base);
    const inProcess = await runGrid(points, 1);
    const progress: number[] = [];
    const workers = await runGrid(points, 2, (d) => progress.push(d));
    expect(workers).toEqual(inProcess);
    expect(progress).toEqual([1, 2]);
    // mmu-off once, linear-map-copy block and page: 3 rows per point.
    expect(inProcess.length).toBe(6);
    for (const r of inProcess) expect(r.outcome).toBe("verified");
    const lm = inProcess.filter((r) => r.strategy === "linear-map-copy" && r.granule === 4096);
    expect(lm.map((r) => r.linearMap)).toEqual(["block", "page"]);
    // A page-granular linear map copies every PTE table of 4 GiB: far more table pages than blocks.
    expect(lm[1]!.tablePages).toBeGreaterThan(lm[0]!.tablePages * 100);
  });

  it("writes CSV that reads back to the same cells (property)", () => {
    const cell = fc.string({ unit: "grapheme-ascii" });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell), { maxLength: 5 }), (pairs) => {
        const rows = pairs.map(
          ([a, b]) =>
            Object.fromEntries(
              SWEEP_COLUMNS.map((c) => [
                c,
                c === "strategy" ? a : c === "freePages" ? b : c === "modelSeconds" ? null : 1,
              ]),
            ) as unknown as SweepRow,
        );
        const back = parseCsv(toCsv(rows));
        expect(back[0]).toEqual([...SWEEP_COLUMNS]);
        back.slice(1).forEach((r, i) => {
          expect(r[SWEEP_COLUMNS.indexOf("strategy")]).toBe(pairs[i]![0]);
          expect(r[SWEEP_COLUMNS.indexOf("freePages")]).toBe(pairs[i]![1]);
          expect(r[SWEEP_COLUMNS.indexOf("modelSeconds")]).toBe("");
        });
      }),
    );
  });

  it("prints JSON with --json, and refuses bad parameters with exit 2", async () => {
    const r = await cli(["sweep", "--initrd", "4M", "--strategy", "mmu-off", "--jobs", "1", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.columns).toEqual([...SWEEP_COLUMNS]);
    expect(doc.rows).toHaveLength(1);
    expect(doc.rows[0]).toMatchObject({ strategy: "mmu-off", outcome: "verified", granule: 4096 });
    // Modeled with run's default profile unless --profile none.
    expect(doc.rows[0].modelSeconds).toBeGreaterThan(0);
    const bad = await cli(["sweep", "--granule", "8K"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("E_PAGE_SIZE");
    expect(bad.stderr).toContain("--granule");
    const badStrategy = await cli(["sweep", "--arch", "x86_64", "--strategy", "va-copy"]);
    expect(badStrategy.code).toBe(2);
    expect(badStrategy.stderr).toContain("known: x86-ident, in-place");
  });

  it("sweeps a scenario file: its parameters unless overridden, the initrd resized, segments above moved", async () => {
    const r = await cli([
      "sweep",
      "--scenario",
      "examples/qemu-virt-4g.json",
      "--initrd",
      "8M,256M",
      "--strategy",
      "linear-map-copy",
      "--jobs",
      "1",
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout).rows;
    expect(rows.map((x: SweepRow) => [x.initrdBytes, x.outcome, x.strategy])).toEqual([
      [8 * 2 ** 20, "verified", "linear-map-copy"],
      [256 * 2 ** 20, "verified", "linear-map-copy"],
    ]);
    // 28 MiB kernel + initrd + 4 KiB DTB (packed by kexec-tools) + 16 KiB purgatory.
    expect(rows[1].relocatedBytes).toBe((28 + 256) * 2 ** 20 + 4096 + 16384);
    const files = await cli(["sweep", "--scenario", "examples/debian-arm64-files.json", "--initrd", "8M"]);
    expect(files.code).toBe(2);
    expect(files.stderr).toContain("places files");
  });
});
