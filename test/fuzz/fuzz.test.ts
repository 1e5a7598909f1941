/**
 * The CI fuzz budget: FUZZ_CASES (default 10,000) mutated inputs per target, each bounded in time
 * (2 s) and in memory growth (512 MiB), zero crashes allowed. A failure prints the case's run seed and
 * index; `npm run fuzz -- --target NAME --replay INDEX` rebuilds it, and the fuzz script saves it under
 * test/fuzz/regressions/ where regressions.test.ts replays it forever after.
 */

import { describe, expect, it } from "vitest";
import { describeFailure, fuzzTarget } from "../../src/fuzz/harness.js";
import { TARGETS } from "./targets.js";

const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const RUN_SEED = Number(process.env.FUZZ_SEED ?? 1);

function memoryProbe(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

describe(`fuzz: ${CASES} cases per target (run seed ${RUN_SEED})`, () => {
  for (const t of TARGETS) {
    it(`${t.name}: ${t.description}`, { timeout: 600_000 }, async () => {
      const stats = await fuzzTarget(t, { cases: CASES, runSeed: RUN_SEED, memoryProbe });
      expect(stats.cases).toBe(CASES);
      expect(stats.failures.map(describeFailure)).toEqual([]);
      // Not vacuous: the seeds themselves are answered, and most mutations are rejected with a
      // catalogued error rather than slipping through.
      expect(stats.accepted + stats.rejected).toBe(CASES);
      expect(stats.rejected).toBeGreaterThan(0);
    });
  }
});
