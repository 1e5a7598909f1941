/**
 * Replays every input saved under test/fuzz/regressions/ (by `npm run fuzz` when it found a failure,
 * or by hand). A file named TARGET-*.bin (or .json, .dtb, ...) is fed to that target and must be
 * answered: returned, or refused with a catalogued KexecLabError.
 */

import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCase } from "../../src/fuzz/harness.js";
import { disposeScratchDir, TARGETS } from "./targets.js";

const DIR = fileURLToPath(new URL("./regressions/", import.meta.url));

const files = readdirSync(DIR).filter((f) => !f.startsWith(".") && !f.endsWith(".md"));

/** The target a saved file belongs to: the longest target name that prefixes "NAME-". */
function targetOf(file: string) {
  const matches = TARGETS.filter((t) => file.startsWith(`${t.name}-`));
  matches.sort((a, b) => b.name.length - a.name.length);
  return matches[0];
}

describe("fuzz regressions", () => {
  afterAll(disposeScratchDir);
  it("every saved input names a known target", () => {
    expect(files.filter((f) => targetOf(f) === undefined)).toEqual([]);
  });

  for (const f of files) {
    const t = targetOf(f);
    if (t === undefined) continue;
    it(`${f} is answered by ${t.name}`, async () => {
      const bytes = new Uint8Array(readFileSync(`${DIR}${f}`));
      // No time bound here (no timed tests): a saved "slow" input must still be answered.
      const outcome = await runCase(t, bytes, f, { caseTimeMs: Number.POSITIVE_INFINITY });
      expect({ verdict: outcome.verdict, message: outcome.message }).toMatchObject({
        verdict: expect.stringMatching(/^(accepted|rejected)$/),
      });
    });
  }
});
