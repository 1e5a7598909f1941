/**
 * A test worker that dies (SIGKILL, the OOM killer) is named with the file and test it was running:
 * a child vitest runs test/fixtures/vitest/worker-death.fixture.ts, whose second test SIGKILLs its own
 * worker; the child's output must name that file and test (test/setup.ts + test/global-setup.ts).
 * A file that throws while it is imported does not kill its worker: vitest reports it as failed to
 * load, no dead-worker banner blames a worker for it, and the temporary directory it made before
 * throwing is removed by the teardown (test/fixtures/vitest/import-failure.fixture.ts).
 */

import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, startNode } from "./helpers/procs.js";

describe("a dead vitest worker", () => {
  it("is reported with its test file and test", { timeout: 180_000 }, async () => {
    const c = startNode([join(ROOT, "node_modules/vitest/vitest.mjs"), "run"], {
      KEXEC_LAB_FIXTURE_TESTS: "test/fixtures/vitest/worker-death.fixture.ts",
      NO_COLOR: "1",
    });
    const end = await c.done;
    const all = c.out + c.err;
    expect(end.code, all).not.toBe(0);
    expect(all).toMatch(
      /vitest worker \d+ died while running test\/fixtures\/vitest\/worker-death\.fixture\.ts > a worker that dies > is killed by SIGKILL in the middle of this test/,
    );
  });

  it("is not claimed for a test file that fails at import", { timeout: 180_000 }, async () => {
    const c = startNode([join(ROOT, "node_modules/vitest/vitest.mjs"), "run"], {
      KEXEC_LAB_FIXTURE_TESTS: "test/fixtures/vitest/import-failure.fixture.ts",
      NO_COLOR: "1",
    });
    const end = await c.done;
    const all = c.out + c.err;
    expect(end.code, all).not.toBe(0);
    expect(all).toContain("import-failure fixture: thrown at the top level of the test file");
    expect(all).not.toMatch(/vitest worker \d+ died/);
    // the directory it made before throwing is gone: removed when its worker exits (src/node/tmp.ts), or
    // else by the teardown, which then names it
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith("kexec-lab-import-failure-fixture-"))).toEqual(
      [],
    );
  });
});
