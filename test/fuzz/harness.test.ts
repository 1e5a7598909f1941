/** The fuzz harness itself: deterministic cases, exact undo of in-place mutations, classification. */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../../src/errors.js";
import { type FuzzTarget, fuzzTarget, makeCase, runCase } from "../../src/fuzz/harness.js";
import { mutateBytes, mutateJson, serializeMutatedJson } from "../../src/fuzz/mutate.js";
import { FuzzRng } from "../../src/fuzz/rng.js";

const bytesTarget = (run: FuzzTarget["run"]): FuzzTarget => ({
  name: "t",
  description: "test",
  seeds: () => [{ name: "s", bytes: new Uint8Array(300).map((_, i) => i) }],
  hints: { fieldOffsets: [0, 8, 16] },
  run,
});

describe("mutation", () => {
  it("a case is a pure function of (run seed, index)", () => {
    const t = bytesTarget(() => {});
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 100_000 }), (seed, index) => {
        const a = makeCase(t, seed, index);
        const b = makeCase(t, seed, index);
        expect(Buffer.from(b.input.bytes).equals(Buffer.from(a.input.bytes))).toBe(true);
        expect(b.input.ops).toEqual(a.input.ops);
      }),
      { numRuns: 300 },
    );
  });

  it("in-place mutation of a big input is undone exactly by restore()", () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const big = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
        const copy = big.slice();
        const m = mutateBytes(big, new FuzzRng(seed), { inPlaceAbove: 1024, fieldOffsets: [0, 4000, 5000] });
        m.restore();
        expect(Buffer.from(big).equals(Buffer.from(copy))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("copy mutation never changes the seed", () => {
    fc.assert(
      fc.property(fc.nat(), fc.uint8Array({ maxLength: 200 }), (seed, data) => {
        const copy = data.slice();
        mutateBytes(data, new FuzzRng(seed), { fieldOffsets: [0, 250] });
        expect(Buffer.from(data).equals(Buffer.from(copy))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("JSON mutation leaves its input alone and stays serializable and bounded", () => {
    const doc = { a: [1, 2, { b: "x" }], c: { d: null, e: "0x1000" } };
    const before = JSON.stringify(doc);
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const m = mutateJson(doc, new FuzzRng(seed));
        expect(serializeMutatedJson(m.value).length).toBeLessThan(4_000_000);
        expect(JSON.stringify(doc)).toBe(before);
      }),
      { numRuns: 500 },
    );
  });
});

describe("classification", () => {
  it("returns: accepted; KexecLabError: rejected; anything else: crash", async () => {
    const ok = await runCase(
      bytesTarget(() => 1),
      new Uint8Array(1),
      "s",
    );
    expect(ok.verdict).toBe("accepted");
    const rejected = await runCase(
      bytesTarget(() => {
        throw new KexecLabError("E_FORMAT_CORRUPT", "bad");
      }),
      new Uint8Array(1),
      "s",
    );
    expect(rejected).toMatchObject({ verdict: "rejected", code: "E_FORMAT_CORRUPT" });
    const crash = await runCase(
      bytesTarget((b) => (b as unknown as { x: { y: number } }).x.y),
      new Uint8Array(1),
      "s",
    );
    expect(crash.verdict).toBe("crash");
    expect(crash.message).toMatch(/TypeError/);
  });

  it("a case over its time bound or memory bound fails", async () => {
    let t = 0;
    const slow = await runCase(
      bytesTarget(() => {}),
      new Uint8Array(1),
      "s",
      {
        now: () => (t += 3000),
        caseTimeMs: 2000,
      },
    );
    expect(slow.verdict).toBe("slow");
    let mem = 0;
    const hog = await runCase(
      bytesTarget(() => {}),
      new Uint8Array(1),
      "s",
      {
        memoryProbe: () => (mem += 2 ** 30),
      },
    );
    expect(hog.verdict).toBe("memory");
  });

  it("fuzzTarget counts every case and reports the failing ones with their index", async () => {
    const t = bytesTarget((b) => {
      if (b.length > 0 && b[0] === 0xff) throw new RangeError("boom");
      if (b.length < 100) throw new KexecLabError("E_FORMAT_TRUNCATED", "short");
    });
    const stats = await fuzzTarget(t, { cases: 2000, runSeed: 3 });
    expect(stats.cases).toBe(2000);
    expect(stats.accepted + stats.rejected + stats.failures.length).toBeLessThanOrEqual(2000);
    expect(stats.failures.length).toBeGreaterThan(0);
    const f = stats.failures[0]!;
    const again = makeCase(t, 3, f.index);
    expect(Buffer.from(again.input.bytes).equals(Buffer.from(f.bytes))).toBe(true);
    expect(f.outcome.message).toMatch(/RangeError: boom/);
  });
});
