/** src/node/tmp.ts: temporary directories removed on every exit path JavaScript sees; stale ones swept. */

import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnSyncOwned } from "../src/node/child.js";
import { makeTempDir, sweepStaleTempDirs } from "../src/node/tmp.js";
import { startTsNode } from "./helpers/procs.js";
import { testTempDir } from "./helpers/tmp.js";

const FIXTURE = "test/helpers/child-fixture.ts";
const area = testTempDir("tmp-sweep");

/** A pid that is certainly dead: a process that has already exited. */
function deadPid(): number {
  const r = spawnSyncOwned("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

function dirAged(name: string, ageMs: number): string {
  const p = join(area, name);
  mkdirSync(p);
  writeFileSync(join(p, "f"), "x");
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(p, t, t);
  return p;
}

describe("makeTempDir", () => {
  it("names the directory with its owner's pid and removes it on dispose", () => {
    const d = makeTempDir("kexec-lab-unit");
    expect(basename(d.path)).toMatch(new RegExp(`^kexec-lab-unit-${process.pid}-[A-Za-z0-9]{6}$`));
    writeFileSync(join(d.path, "x"), "1");
    d.dispose();
    expect(existsSync(d.path)).toBe(false);
    expect(() => makeTempDir("other")).toThrow(/must start with kexec-/);
  });

  for (const mode of ["tmp-exit", "tmp-throw"]) {
    it(`is removed when its process ends (${mode === "tmp-exit" ? "process.exit" : "an uncaught exception"})`, async () => {
      const c = startTsNode(FIXTURE, [mode]);
      const end = await c.done;
      expect(end.code).toBe(mode === "tmp-exit" ? 0 : 1);
      const { dir } = JSON.parse(c.out.split("\n")[0]!) as { dir: string };
      expect(dir).toContain("kexec-lab-fixture-");
      expect(existsSync(dir)).toBe(false);
    });
  }
});

describe("sweepStaleTempDirs", () => {
  it("removes ours of dead owners and old legacy ones; keeps live owners, young ones and others", () => {
    const dead = deadPid();
    const hour = 3600_000;
    const gone = [
      dirAged(`kexec-qemu-${dead}-AbC123`, 5 * 60_000),
      dirAged(`kexec-lab-cli-${dead}-xYz789`, 5 * 60_000),
      dirAged("kexec-lab-plan-Qw3rTy", 2 * hour),
    ];
    const kept = [
      dirAged(`kexec-qemu-${dead}-young1`, 5_000), // owner dead, but just made: maybe mid-creation
      dirAged(`kexec-qemu-${process.pid}-mine01`, 5 * hour), // our own
      dirAged("kexec-qemu-1-init01", 5 * hour), // owner alive (pid 1)
      dirAged("kexec-lab-cli-Legacy", 10 * 60_000), // legacy name, younger than an hour
      dirAged(`other-${dead}-AbC123`, 5 * hour), // not ours
    ];
    writeFileSync(join(area, `kexec-file-${dead}-AbC123`), "a file, not a directory");
    const removed = sweepStaleTempDirs({ dir: area });
    expect(removed.sort()).toEqual(gone.sort());
    for (const p of gone) expect(existsSync(p), p).toBe(false);
    for (const p of kept) expect(existsSync(p), p).toBe(true);
    expect(existsSync(join(area, `kexec-file-${dead}-AbC123`))).toBe(true);
  });
});
