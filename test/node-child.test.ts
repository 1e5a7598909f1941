/**
 * src/node/child.ts: children die with their parent whatever ends it. Each case starts a Node process
 * (test/helpers/child-fixture.ts) that starts `sleep 300` through the helper, then ends that Node
 * process (or its thread) and checks the sleep is gone within seconds.
 */

import { describe, expect, it } from "vitest";
import { killOwnedChildren, PDEATHSIG_MECHANISM, spawnOwned } from "../src/node/child.js";
import { childrenOf, isAlive, startTsNode, waitUntil } from "./helpers/procs.js";

const FIXTURE = "test/helpers/child-fixture.ts";

async function firstLine(c: { out: string }): Promise<Record<string, number | boolean>> {
  expect(await waitUntil(() => c.out.includes("\n"), 30_000)).toBe(true);
  return JSON.parse(c.out.split("\n")[0]!) as Record<string, number | boolean>;
}

describe.skipIf(PDEATHSIG_MECHANISM === "none")(
  `children die with their parent (${PDEATHSIG_MECHANISM})`,
  () => {
    it("spawnOwned from the main thread: the child dies when its parent is SIGKILLed", async () => {
      const c = startTsNode(FIXTURE, ["spawn"]);
      const { sleep } = await firstLine(c);
      expect(isAlive(sleep as number)).toBe(true);
      c.child.kill("SIGKILL");
      await c.done;
      expect(await waitUntil(() => !isAlive(sleep as number), 5000)).toBe(true);
    });

    it("spawnSyncOwned: the blocked parent SIGKILLed, its child dies too", async () => {
      const c = startTsNode(FIXTURE, ["spawnSync"]);
      const { node } = await firstLine(c);
      let sleep = -1;
      expect(
        await waitUntil(() => {
          sleep = childrenOf(node as number).find((p) => p.name === "sleep")?.pid ?? -1;
          return sleep > 0;
        }, 10_000),
      ).toBe(true);
      c.child.kill("SIGKILL");
      await c.done;
      expect(await waitUntil(() => !isAlive(sleep), 5000)).toBe(true);
    });

    it("from a worker thread: the death signal follows the thread, so the child dies when the worker ends", async () => {
      const c = startTsNode(FIXTURE, ["worker"]);
      const { sleep } = await firstLine(c);
      expect(isAlive(sleep as number)).toBe(true);
      c.child.stdin!.write("end\n");
      expect(await waitUntil(() => c.out.includes("workerEnded"), 10_000)).toBe(true);
      // the Node process lives on; the thread that forked the sleep is gone, and so is the sleep
      expect(isAlive(c.child.pid!)).toBe(true);
      expect(await waitUntil(() => !isAlive(sleep as number), 5000)).toBe(true);
      c.child.kill("SIGKILL");
      await c.done;
    });

    it("killOwnedChildren kills the child's whole process group", async () => {
      const sh = spawnOwned("sh", ["-c", "sleep 300 & echo $!; wait"], {
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      sh.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
      });
      expect(await waitUntil(() => out.includes("\n"), 10_000)).toBe(true);
      const grandchild = Number(out.trim());
      expect(isAlive(grandchild)).toBe(true);
      expect(killOwnedChildren()).toBeGreaterThanOrEqual(1);
      expect(await waitUntil(() => !isAlive(grandchild) && !isAlive(sh.pid!), 5000)).toBe(true);
    });
  },
);
