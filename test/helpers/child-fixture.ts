/**
 * A process for test/node-child.test.ts to kill: starts `sleep 300` through src/node/child.ts in the
 * way named by argv[2], prints one line of JSON, and waits.
 *
 *   spawn       spawnOwned from the main thread; prints {"sleep": PID}
 *   spawnSync   spawnSyncOwned from the main thread (blocks; the test finds the sleep by its parent)
 *   worker      spawnOwned from a worker thread; prints {"sleep": PID}, then ends the worker when a
 *               line arrives on stdin and prints {"workerEnded": true}
 *   tmp-exit    makes a temporary directory (src/node/tmp.ts), prints {"dir": PATH}, process.exit(0)
 *   tmp-throw   the same, then dies of an uncaught exception
 */

import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { spawnOwned, spawnSyncOwned } from "../../src/node/child.js";
import { makeTempDir } from "../../src/node/tmp.js";

const mode = process.argv[2];

if (!isMainThread) {
  const c = spawnOwned("sleep", ["300"], { stdio: "ignore" });
  parentPort!.postMessage(c.pid);
  setInterval(() => {}, 1000);
} else if (mode === "spawn") {
  const c = spawnOwned("sleep", ["300"], { stdio: "ignore" });
  process.stdout.write(`${JSON.stringify({ sleep: c.pid })}\n`);
  setInterval(() => {}, 1000);
} else if (mode === "spawnSync") {
  process.stdout.write(`${JSON.stringify({ node: process.pid })}\n`);
  spawnSyncOwned("sleep", ["300"], { stdio: "ignore" });
} else if (mode === "worker") {
  const w = new Worker(
    `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); });`,
    { eval: true, argv: ["worker"] },
  );
  w.on("message", (pid: number) => {
    process.stdout.write(`${JSON.stringify({ sleep: pid })}\n`);
    process.stdin.once("data", async () => {
      await w.terminate();
      process.stdout.write(`${JSON.stringify({ workerEnded: true })}\n`);
    });
  });
  process.stdin.resume();
} else if (mode === "tmp-exit" || mode === "tmp-throw") {
  const dir = makeTempDir("kexec-lab-fixture");
  process.stdout.write(`${JSON.stringify({ dir: dir.path })}\n`, () => {
    if (mode === "tmp-exit") process.exit(0);
    throw new Error("fixture: uncaught on purpose");
  });
} else {
  throw new Error(`mode ${mode}`);
}
