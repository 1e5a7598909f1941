/**
 * Runs in every test worker before each test file.
 *
 * Property tests run with a fixed fast-check seed, so CI checks the same cases every time and a
 * failure is reproducible. FC_SEED=<n> picks other cases; FC_SEED=random lets fast-check choose.
 *
 * The current test file and test go to a state file per worker pid (see test/global-setup.ts), so a
 * worker that dies is named at the end of the run; each file's effect on its worker's peak RSS goes to
 * memory.tsv beside it; each worker's pid goes to `pids` (the teardown removes the temporary
 * directories a worker of this run left, see test/global-setup.ts).
 */

import { appendFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import { afterAll, beforeEach, expect } from "vitest";

const seed = process.env.FC_SEED;
if (seed !== "random") fc.configureGlobal({ seed: seed === undefined ? 20261125 : Number(seed) });

const stateDir = process.env.KEXEC_LAB_TEST_STATE;
if (stateDir !== undefined) {
  const stateFile = join(stateDir, `${process.pid}.json`);
  const testPath = expect.getState().testPath;
  const file = testPath !== undefined ? relative(process.cwd(), testPath) : "(unknown file)";
  const record = (test: string | null) => {
    // written beside and renamed, so the teardown never reads half a record
    const tmp = `${stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ pid: process.pid, file, test, since: new Date().toISOString() }));
    renameSync(tmp, stateFile);
  };
  record(null);
  // every worker of the run, for the teardown's sweep of what a worker left in the temporary directory
  appendFileSync(join(stateDir, "pids"), `${process.pid}\n`);
  const peakAtStart = process.resourceUsage().maxRSS;
  beforeEach((ctx) => {
    const names: string[] = [];
    type Named = { name: string; suite?: Named };
    const fileTask: unknown = ctx.task.file;
    for (let t: Named | undefined = ctx.task; t !== undefined && t !== fileTask; t = t.suite) {
      if (t.name !== "") names.unshift(t.name);
    }
    record(names.join(" > "));
  });
  afterAll(() => {
    rmSync(stateFile, { force: true });
    // the worker's peak RSS (kB) before and after this file, for the memory summary of global-setup.ts
    const peak = process.resourceUsage().maxRSS;
    appendFileSync(join(stateDir, "memory.tsv"), `${file}\t${process.pid}\t${peakAtStart}\t${peak}\n`);
  });
}
