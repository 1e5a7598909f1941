import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../src/cli/io.js";
import { scenarioProgress, startProgress } from "../src/cli/progress.js";

function io(stderrTTY: boolean, env: Record<string, string> = {}): CliIo {
  return { stdout() {}, stderr() {}, isTTY: false, stderrTTY, env, cwd: "/" };
}

function sink(): { stream: NodeJS.WritableStream; text: () => string } {
  let out = "";
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  }) as Writable & {
    isTTY?: boolean;
    columns?: number;
    cursorTo?: unknown;
    clearLine?: unknown;
    moveCursor?: unknown;
  };
  stream.isTTY = true;
  stream.columns = 100;
  stream.cursorTo = (_x: number, _y?: number, cb?: () => void) => cb?.();
  stream.clearLine = (_d: number, cb?: () => void) => cb?.();
  stream.moveCursor = (_x: number, _y: number, cb?: () => void) => cb?.();
  return { stream, text: () => out };
}

describe("progress bar", () => {
  it("stays silent when stderr is not a terminal", () => {
    const s = sink();
    let t = 0;
    const p = startProgress(io(false), "x", { now: () => t, stream: s.stream });
    t = 5000;
    p.update(1, 10);
    p.stop();
    expect(p.shown).toBe(false);
    expect(s.text()).toBe("");
  });

  it("stays silent for work that finishes within the delay", () => {
    const s = sink();
    let t = 0;
    const p = startProgress(io(true), "x", { now: () => t, stream: s.stream });
    t = 500;
    p.update(5, 10);
    t = 900;
    p.update(10, 10);
    p.stop();
    expect(p.shown).toBe(false);
    expect(s.text()).toBe("");
  });

  it("appears after the delay on a terminal, and KEXEC_LAB_NO_PROGRESS turns it off", () => {
    const s = sink();
    let t = 0;
    const p = startProgress(io(true), "sweep", { now: () => t, stream: s.stream });
    p.update(1, 10);
    expect(p.shown).toBe(false);
    t = 1500;
    p.update(2, 10, "sweep 2/10");
    expect(p.shown).toBe(true);
    p.stop();
    expect(s.text()).toContain("sweep 2/10");
    const off = startProgress(io(true, { KEXEC_LAB_NO_PROGRESS: "1" }), "x", {
      now: () => t + 5000,
      stream: s.stream,
    });
    off.update(1, 10);
    expect(off.shown).toBe(false);
  });

  it("maps runScenario's per-strategy page progress onto one bar", () => {
    const seen: [number, number, string | undefined][] = [];
    const cb = scenarioProgress({ update: (d, t, l) => seen.push([d, t, l]), stop() {}, shown: false });
    cb.onStrategy("mmu-off", 0, 2);
    cb.onProgress(50, 100);
    cb.onStrategy("va-copy", 1, 2);
    cb.onProgress(100, 100);
    expect(seen).toEqual([
      [50, 200, "run mmu-off"],
      [200, 200, "run va-copy"],
    ]);
  });
});
