/**
 * src/node/hygiene.ts: what the CLI's command thread owns reaches the main thread, and once the main
 * thread cleans up (a signal), the worker creates no new temporary file: the gate.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { announcedChildren, announcedOutputs, closeGate, listenTo, openGate } from "../src/node/hygiene.js";
import { waitUntil } from "./helpers/procs.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("hygiene");
const hygiene = new URL("../src/node/hygiene.ts", import.meta.url).href;

/** A worker that announces `path`, then creates it through the gate when told to ("go"). */
function startWorker(
  port: MessagePort | import("node:worker_threads").MessagePort,
  gate: SharedArrayBuffer,
  path: string,
) {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    import("tsx/esm/api").then(async (api) => {
      api.register();
      const h = await import(${JSON.stringify(hygiene)});
      const { writeFileSync } = await import("node:fs");
      h.announceTo(workerData.port);
      h.useGate(workerData.gate);
      h.announceChild(4242, true);
      h.announceOutput(workerData.path, true);
      parentPort.postMessage("announced");
      parentPort.once("message", () => {
        h.creating(() => writeFileSync(workerData.path, "x"));
        parentPort.postMessage("created");
      });
    });`;
  return new Worker(code, { eval: true, workerData: { port, gate, path }, transferList: [port as never] });
}

describe("hygiene", () => {
  it("announcements are read synchronously; after closeGate the worker creates nothing", async () => {
    const { port1, port2 } = new MessageChannel();
    listenTo(port1);
    const gate = openGate();
    const path = join(dir, ".out.tmp");
    const w = startWorker(port2, gate, path);
    const messages: string[] = [];
    w.on("message", (m: string) => messages.push(m));
    try {
      expect(await waitUntil(() => messages.includes("announced"), 60_000)).toBe(true);
      expect(announcedChildren()).toEqual([4242]);
      closeGate();
      w.postMessage("go");
      await new Promise((r) => setTimeout(r, 500));
      expect(messages).not.toContain("created");
      expect(existsSync(path)).toBe(false);
      expect(announcedOutputs()).toEqual([path]);
    } finally {
      await w.terminate();
    }
  });
});
