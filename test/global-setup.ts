/**
 * vitest globalSetup (runs once, in vitest's main process).
 *
 * - Sweeps temporary directories that earlier runs left when something killed them outright
 *   (src/node/tmp.ts: only kexec-* directories of this user, by owner pid and age).
 * - Names the test a dead worker was running. vitest reports a worker killed by a signal (the OOM
 *   killer, SIGKILL) only as "Worker exited unexpectedly"; test/setup.ts records the current test file
 *   and test of each worker in a small state file per worker pid under KEXEC_LAB_TEST_STATE and removes
 *   it when the file's tests are done. Whatever is left at the end belongs to a worker that died, and
 *   the teardown prints it.
 * - With CI set, prints the test files that raised their worker's peak RSS the most (where to look
 *   when the suite's memory grows).
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, sweepStaleTempDirs } from "../src/node/tmp.js";

export interface WorkerState {
  pid: number;
  file: string;
  test: string | null;
  since: string;
}

function reportMemory(tsv: string): void {
  if (process.env.CI === undefined || !existsSync(tsv)) return;
  const rows = readFileSync(tsv, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split("\t"))
    .map(([file, pid, before, after]) => ({
      file: file!,
      pid: pid!,
      before: Number(before),
      after: Number(after),
    }))
    .filter((r) => r.after > r.before)
    .sort((a, b) => b.after - a.after)
    .slice(0, 8);
  if (rows.length === 0) return;
  process.stderr.write("\ntest files that raised their worker's peak RSS (highest first):\n");
  for (const r of rows) {
    process.stderr.write(
      `  ${r.file}: worker ${r.pid} peak ${Math.round(r.after / 1024)} MiB (+${Math.round((r.after - r.before) / 1024)} MiB)\n`,
    );
  }
}

export default function setup(): () => void {
  const swept = sweepStaleTempDirs();
  if (swept.length > 0) {
    process.stderr.write(`test setup: removed ${swept.length} stale temporary directories of earlier runs\n`);
  }
  const state = makeTempDir("kexec-lab-vitest");
  process.env.KEXEC_LAB_TEST_STATE = state.path;
  return () => {
    const dead: WorkerState[] = [];
    for (const name of readdirSync(state.path)) {
      if (!/^\d+\.json$/.test(name)) continue;
      try {
        dead.push(JSON.parse(readFileSync(join(state.path, name), "utf8")) as WorkerState);
      } catch {
        // a state file caught half-written by the worker's death: name the pid at least
        dead.push({ pid: Number(name.split(".")[0]), file: "(unknown)", test: null, since: "" });
      }
    }
    for (const d of dead) {
      process.stderr.write(
        `\n*** vitest worker ${d.pid} died while running ${d.file}${d.test !== null ? ` > ${d.test}` : " (loading the file or in a hook)"}${d.since !== "" ? ` (started ${d.since})` : ""} ***\n`,
      );
    }
    reportMemory(join(state.path, "memory.tsv"));
    state.dispose();
  };
}
