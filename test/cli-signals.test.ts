/**
 * Whatever ends a command, it leaves no child process, no temporary directory and no partial output.
 * Each case starts the CLI (TypeScript sources through tsx) in a child Node process, waits until it
 * is working, signals it, and looks at what remains:
 *
 * - `emit --run` SIGKILLed while QEMU runs: QEMU dies with it (setpriv --pdeathsig KILL) and the RAM
 *   image's directory was already gone (QEMU got it as an open descriptor);
 * - SIGINT / SIGTERM during `emit --run`, `run --html`, `sweep -o` and `npm run fuzz`: exit 130 / 143
 *   with one line on stderr, no child (QEMU; the others start none: sweep and fuzz use worker threads,
 *   which end with the process), no output file, no temporary file or directory;
 * - `run` with a 1 GiB initrd, signalled 3 s after its start while it simulates: it ends within 2 s
 *   (the command runs on a worker thread, the main thread acts on the signal: src/cli/thread.ts).
 */

import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { haveTool, QEMU_ARM64 } from "../src/emit/node/qemu.js";
import { bigRunFiles } from "./helpers/big-run.js";
import { childrenOf, cpuSeconds, isAlive, startTsNode, waitUntil } from "./helpers/procs.js";
import { testTempDir } from "./helpers/tmp.js";

const CLI = "src/cli/main.ts";
const work = testTempDir("signals");

/** Temporary directories (src/node/tmp.ts names them kexec-...-<pid>-XXXXXX) a process left. */
function tempDirsOf(pid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith("kexec-") && n.includes(`-${pid}-`));
}

/** Files in `work` whose name contains `stem` (the output and its .stem.RANDOM.tmp). */
function outputsLike(stem: string): string[] {
  return readdirSync(work).filter((n) => n.includes(stem));
}

/** A QEMU child of `pid` that is still running half a second after it was first seen. */
async function runningQemu(pid: number, timeoutMs: number): Promise<number> {
  // On an idle machine the emitted program runs in QEMU for under a second, so it is looked for every
  // 50 ms and taken at its first sighting (a slower poll that wanted to see it twice could miss it).
  let found = -1;
  const ok = await waitUntil(
    () => {
      found = childrenOf(pid).find((p) => p.name.startsWith("qemu-system"))?.pid ?? -1;
      return found !== -1;
    },
    timeoutMs,
    50,
  );
  expect(ok, "QEMU did not start").toBe(true);
  return found;
}

const EMIT_4G = ["emit", "--scenario", "examples/qemu-virt-4g.json", "--strategy", "va-copy", "--run"];

describe.skipIf(!haveTool(QEMU_ARM64))("emit --run", () => {
  it("SIGKILLed while QEMU runs: no QEMU and no temporary directory remain", {
    timeout: 240_000,
  }, async () => {
    const c = startTsNode(CLI, EMIT_4G);
    const pid = c.child.pid!;
    const qemu = await runningQemu(pid, 180_000);
    c.child.kill("SIGKILL");
    expect((await c.done).signal).toBe("SIGKILL");
    expect(await waitUntil(() => !isAlive(qemu), 5000), "QEMU outlived its parent").toBe(true);
    expect(tempDirsOf(pid)).toEqual([]);
  });

  it("SIGTERM while QEMU runs: exit 143, a message, QEMU stopped, nothing left", {
    timeout: 240_000,
  }, async () => {
    const c = startTsNode(CLI, [...EMIT_4G, "--json"]);
    const pid = c.child.pid!;
    const qemu = await runningQemu(pid, 180_000);
    // the worker reports its child to the main thread just after the spawn: give that message 200 ms, well
    // inside the program's run, so the interruption names the child it stopped
    await new Promise((r) => setTimeout(r, 200));
    c.child.kill("SIGTERM");
    const end = await c.done;
    expect(end.code).toBe(143);
    expect(c.err).toMatch(/kexec-lab: interrupted by SIGTERM: stopped 1 child process/);
    expect(c.out).toBe("");
    expect(await waitUntil(() => !isAlive(qemu), 5000)).toBe(true);
    expect(tempDirsOf(pid)).toEqual([]);
  });
});

/** Resident memory of a process, bytes (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

describe("run with a 1 GiB initrd: a signal is acted on within 2 s, in the middle of the simulation", () => {
  const dir = testTempDir("signals-1g");
  const files = bigRunFiles(dir);
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal} 3 s after the start: exit ${code} within 2 s, no child, no file left`, {
      timeout: 240_000,
    }, async () => {
      const html = join(dir, `report-${signal}.html`);
      const started = Date.now();
      const c = startTsNode(CLI, [...files.args, "--html", html]);
      const pid = c.child.pid!;
      // 3 s after the start, and (on a loaded machine, where tsx's start-up alone can take longer)
      // once the run is under way: the initrd read and its pages being loaded and relocated.
      await new Promise((r) => setTimeout(r, 3000));
      expect(await waitUntil(() => rssOf(pid) > 768 * 2 ** 20, 120_000, 50), "the run never got going").toBe(
        true,
      );
      const sent = Date.now();
      c.child.kill(signal);
      const end = await c.done;
      const took = Date.now() - sent;
      expect(end.code, c.err).toBe(code);
      expect(took, `exit ${took} ms after ${signal} (${sent - started} ms after the start)`).toBeLessThan(
        2000,
      );
      expect(c.err).toContain(`kexec-lab: interrupted by ${signal}`);
      expect(c.out).toBe("");
      expect(childrenOf(pid)).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(["Image", "initrd-1g.img", "virt-4g.dtb"]);
      expect(tempDirsOf(pid)).toEqual([]);
    });
  }
});

describe("SIGINT and SIGTERM in the other long commands", () => {
  it("run --html: SIGINT during the simulation exits 130 before anything is written", {
    timeout: 240_000,
  }, async () => {
    const html = join(work, "report.html");
    const c = startTsNode(CLI, ["run", "--html", html]);
    const pid = c.child.pid!;
    // working: past tsx's start-up, inside the simulation (the whole run takes several CPU seconds)
    expect(await waitUntil(() => cpuSeconds(pid) > 3, 120_000, 100)).toBe(true);
    expect(outputsLike("report.html")).toEqual([]);
    c.child.kill("SIGINT");
    const end = await c.done;
    expect(end.code, c.err).toBe(130);
    expect(c.err).toContain("kexec-lab: interrupted by SIGINT");
    expect(outputsLike("report.html")).toEqual([]);
    expect(tempDirsOf(pid)).toEqual([]);
  });

  it("sweep -o: SIGINT while the worker threads compute exits 130, no output file", {
    timeout: 240_000,
  }, async () => {
    const csv = join(work, "sweep.csv");
    const c = startTsNode(CLI, ["sweep", "--initrd", "64M,256M,1G", "--jobs", "2", "-o", csv]);
    const pid = c.child.pid!;
    expect(await waitUntil(() => cpuSeconds(pid) > 4, 120_000, 100)).toBe(true);
    c.child.kill("SIGINT");
    const end = await c.done;
    expect(end.code, c.err).toBe(130);
    expect(c.err).toContain("kexec-lab: interrupted by SIGINT");
    expect(outputsLike("sweep.csv")).toEqual([]);
    expect(tempDirsOf(pid)).toEqual([]);
  });

  it("npm run fuzz: SIGTERM exits 143, its workers' scratch directories removed", {
    timeout: 240_000,
  }, async () => {
    const c = startTsNode("scripts/fuzz.ts", [
      "--cases",
      "100000000",
      "--no-save",
      "--jobs",
      "1",
      "--target",
      "cli-validate",
    ]);
    const pid = c.child.pid!;
    expect(await waitUntil(() => c.err.includes("fuzz: seed") && cpuSeconds(pid) > 4, 120_000, 100)).toBe(
      true,
    );
    c.child.kill("SIGTERM");
    const end = await c.done;
    expect(end.code, c.err).toBe(143);
    expect(c.err).toContain("kexec-lab: interrupted by SIGTERM");
    expect(tempDirsOf(pid)).toEqual([]);
  });
});
