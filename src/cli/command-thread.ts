/**
 * The worker thread a CLI command runs on (started by runOnThread in src/cli/thread.ts): announce
 * children and temporary outputs to the main thread, run the command with descriptors 1 and 2 as its
 * io, report the exit code. Node only.
 */

import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { announceTo, useGate } from "../node/hygiene.js";
import { main } from "./main.js";
import { type CommandData, type CommandDone, threadIo } from "./thread.js";

async function commandThread(data: CommandData): Promise<void> {
  announceTo(data.port);
  useGate(data.gate);
  const exitCode = await main(data.args, threadIo());
  parentPort!.postMessage({ exitCode } satisfies CommandDone);
}

if (!isMainThread && (workerData as Partial<CommandData> | null)?.kexecLabCommand === true) {
  void commandThread(workerData as CommandData);
}
