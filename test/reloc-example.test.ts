import { describe, expect, it } from "vitest";
import { sourceWindow } from "../examples/strategies/source-window.js";
import type { CliIo } from "../src/cli/io.js";
import { main } from "../src/cli/main.js";
import type { RunResult } from "../src/reloc/result.js";
import { runStrategy } from "../src/reloc/run.js";
import { defaultScenario } from "../src/scenario/default.js";

describe("the example user strategy (examples/strategies/source-window.ts)", () => {
  it("verifies on the default scenario and costs about size / 512 of tables", () => {
    for (const policy of [{ kind: "lowest" }, { kind: "random", seed: 5 }] as const) {
      const sc = { ...defaultScenario("arm64", "synthetic"), freePages: policy };
      const r = runStrategy(sc, sourceWindow).result;
      expect(r.failures).toEqual([]);
      expect(r.verified).toBe(true);
      const size = r.counters.pagesCopied * 4096;
      expect(r.pageTables.bytes).toBeGreaterThanOrEqual(size / 512);
      expect(r.pageTables.bytes).toBeLessThan(size / 512 + 64 * 1024);
    }
  });

  it("loads from a file with run --load-strategy", async () => {
    const io: CliIo & { out: string; err: string } = {
      out: "",
      err: "",
      stdout(t) {
        io.out += t;
      },
      stderr(t) {
        io.err += t;
      },
      isTTY: false,
      stderrTTY: false,
      env: {},
      cwd: process.cwd(),
    };
    const code = await main(
      [
        "run",
        "--load-strategy",
        "examples/strategies/source-window.ts",
        "--strategy",
        "source-window,va-copy",
        "--content",
        "synthetic",
        "--json",
      ],
      io,
    );
    expect(io.err).toBe("");
    expect(code).toBe(0);
    const r = JSON.parse(io.out) as RunResult;
    expect(r.strategies.map((s) => [s.name, s.verified])).toEqual([
      ["source-window", true],
      ["va-copy", true],
    ]);
    // half of va-copy's last level
    expect(r.strategies[0]!.pageTables.bytes).toBeLessThan(r.strategies[1]!.pageTables.bytes);
  });
});
