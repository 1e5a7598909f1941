/**
 * The CI fuzz budget as a vitest suite: FUZZ_CASES (default 10,000) mutated inputs per target, each
 * bounded in time (10 s here, see CASE_MS) and in memory growth (512 MiB), zero crashes allowed. A failure prints the
 * case's run seed and index; `npm run fuzz -- --target NAME --seed S --replay INDEX --out FILE` rebuilds
 * it; save it under test/fuzz/regressions/ (the fuzz script does this itself) and regressions.test.ts
 * replays it on every run. Targets are split over three test files so vitest runs them in parallel.
 */

import { afterAll, describe, expect, it } from "vitest";
import { describeFailure, fuzzTarget } from "../../src/fuzz/harness.js";
import { disposeScratchDir, target } from "./targets.js";

export const CI_CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const RUN_SEED = Number(process.env.FUZZ_SEED ?? 1);
/**
 * Per-case bound in CI. Generous, because CI machines are shared and a timed test must not flake:
 * it catches blow-ups (quadratic loops over a mutated count), while `npm run fuzz` uses 2 s and a
 * watchdog that also catches true hangs.
 */
const CASE_MS = Number(process.env.FUZZ_CASE_MS ?? 10_000);

function memoryProbe(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

export function fuzzSuite(title: string, names: string[]): void {
  describe(`fuzz ${title}: ${CI_CASES} cases per target (run seed ${RUN_SEED})`, () => {
    afterAll(disposeScratchDir);
    for (const name of names) {
      const t = target(name);
      it(`${t.name}: ${t.description}`, { timeout: 900_000 }, async () => {
        const cases = Math.min(CI_CASES, t.ciCases ?? CI_CASES);
        const stats = await fuzzTarget(t, {
          cases,
          runSeed: RUN_SEED,
          caseTimeMs: t.ciCaseMs ?? CASE_MS,
          memoryProbe,
        });
        expect(stats.failures.map(describeFailure)).toEqual([]);
        expect(stats.cases).toBe(cases);
        // Not vacuous: both answers occur, so the mutations reach past the first check and the
        // seeds themselves are accepted.
        expect(stats.rejected).toBeGreaterThan(0);
        expect(stats.accepted).toBeGreaterThan(0);
      });
    }
  });
}
