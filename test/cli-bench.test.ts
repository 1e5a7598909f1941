import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

async function cli(args: string[]) {
  const r = await runCli(args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}

describe("bench command", () => {
  it("reports each strategy's simulated throughput as JSON", async () => {
    const r = await cli([
      "bench",
      "--content",
      "synthetic",
      "--repeat",
      "1",
      "--strategy",
      "mmu-off,in-place",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rows.map((x: { strategy: string }) => x.strategy)).toEqual(["mmu-off", "in-place"]);
    const mmuOff = doc.rows[0];
    expect(mmuOff.pages).toBe(23556); // the default scenario, its DTB packed to one page
    expect(mmuOff.bytes).toBe(23556 * 4096);
    expect(mmuOff.seconds).toBeGreaterThan(0);
    expect(mmuOff.pagesPerSecond).toBeCloseTo(mmuOff.pages / mmuOff.seconds, 3);
    expect(doc.rows[1].pages).toBe(0);
  });

  it("refuses a bad repeat count with exit 2", async () => {
    const r = await cli(["bench", "--repeat", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--repeat");
  });
});
