/**
 * vitest globalSetup (runs once, in vitest's main process).
 *
 * - Sweeps temporary directories that earlier runs left when something killed them outright
 *   (src/node/tmp.ts: only kexec-* directories of this user, by owner pid and age).
 * - Names the test a dead worker was running. vitest reports a worker killed by a signal (the OOM
 *   killer, SIGKILL) only as "Worker exited unexpectedly"; test/setup.ts records the current test file
 *   and test of each worker in a small state file per worker pid under KEXEC_LAB_TEST_STATE and removes
 *   it when the file's tests are done. Whatever is left at the end belongs to a worker that died, and
 *   the teardown prints it - unless vitest reports that file as failed to load (it threw while being
 *   imported: a file-level error and no test collected), where the worker did not die and vitest's own
 *   report already names the file and the error.
 * - Removes the temporary directories (src/node/tmp.ts names them kexec-*-<pid>-XXXXXX) that a worker of
 *   this run left behind once it has ended: a test file that throws while it is imported never runs its
 *   afterAll hooks, and vitest ends such a worker without its exit hooks. Each one is named, so the
 *   test that leaks can be found.
 * - Fetches the real files the tests read (test/helpers/data.ts: the pinned Debian kernels, DTBs and
 *   kexec binaries) into the data cache when they are missing; a failure stops the run, naming the
 *   file and the package.
 * - With CI set, prints the test files that raised their worker's peak RSS the most (where to look
 *   when the suite's memory grows).
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { makeTempDir, removeTempDir, sweepStaleTempDirs, TEMP_PREFIX } from "../src/node/tmp.js";
import { ensureData } from "./helpers/data.js";

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

/** What the teardown reads of vitest's TestProject (the argument vitest passes to a globalSetup). */
interface ProjectState {
  vitest?: {
    state?: {
      getFiles(): { filepath: string; tasks: unknown[]; result?: { state?: string; errors?: unknown[] } }[];
    };
  };
}

/**
 * The test files vitest reports as failed to load: a file-level error, no test collected. A worker
 * killed while importing leaves no result at all, so it is not taken for one of these.
 */
export function filesFailedToLoad(project: ProjectState | undefined): Set<string> {
  const out = new Set<string>();
  for (const f of project?.vitest?.state?.getFiles() ?? []) {
    if (f.result?.state === "fail" && (f.result.errors?.length ?? 0) > 0 && f.tasks.length === 0) {
      out.add(resolve(f.filepath));
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove kexec-*-<pid>-XXXXXX directories of the workers in `pids` that have ended; returns their names. */
export function removeWorkerTempDirs(pids: number[], dir = tmpdir()): string[] {
  const ended = new Set(pids.filter((p) => p !== process.pid && !alive(p)));
  if (ended.size === 0) return [];
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = /-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
    if (!name.startsWith(TEMP_PREFIX) || m === null || !ended.has(Number(m[1]))) continue;
    removeTempDir(join(dir, name));
    removed.push(name);
  }
  return removed;
}

export default async function setup(project?: ProjectState): Promise<() => void> {
  const data = await ensureData();
  if (data.downloaded.length > 0) {
    process.stderr.write(
      `test setup: test data in ${data.cache}: ${data.downloaded.length} files downloaded from Debian, ${data.cached.length} already cached (${data.seconds.toFixed(1)} s)\n`,
    );
  }
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
    const failedToLoad = filesFailedToLoad(project);
    for (const d of dead) {
      if (failedToLoad.has(resolve(d.file))) continue;
      process.stderr.write(
        `\n*** vitest worker ${d.pid} died while running ${d.file}${d.test !== null ? ` > ${d.test}` : " (loading the file or in a hook)"}${d.since !== "" ? ` (started ${d.since})` : ""} ***\n`,
      );
    }
    reportMemory(join(state.path, "memory.tsv"));
    const pidsFile = join(state.path, "pids");
    const pids = existsSync(pidsFile)
      ? readFileSync(pidsFile, "utf8").split("\n").filter(Boolean).map(Number)
      : [];
    const left = removeWorkerTempDirs(pids);
    if (left.length > 0) {
      process.stderr.write(
        `\ntest teardown: removed ${left.length} temporary directories that ended test workers left: ${left.join(", ")}\n`,
      );
    }
    state.dispose();
  };
}
