/**
 * SIGINT and SIGTERM for the command line (Node only). A shell expects a command stopped by a signal
 * to end with 128 + the signal number (130 for SIGINT, 143 for SIGTERM), and kexec-lab must leave
 * nothing behind: on either signal it SIGKILLs its children (QEMU; src/node/child.ts), removes its
 * temporary directories (src/node/tmp.ts) and the temporary files of writes in progress
 * (src/formats/node/files.ts: outputs are written into the target's directory and renamed, so an
 * output file is either complete or absent), prints one line on stderr and exits.
 *
 * Node runs a signal handler only between two pieces of JavaScript of the thread that installed it.
 * The CLI therefore runs each command on a worker thread (src/cli/thread.ts) and keeps the main
 * thread idle: the handler runs at once, even while the command is in a long synchronous step (the
 * simulation of `run`), and the children and temporary files of the worker reach it through
 * src/node/hygiene.ts. Exiting ends the worker wherever it is (it does no native call long enough to
 * delay that: big files are read in chunks). Where a command runs on the main thread itself (`npm run
 * fuzz`, in-process callers of main()), `signalCheckpoint()` before an output is written lets a signal
 * that arrived during a synchronous step stop the command there. A second signal while the first is
 * handled exits at once.
 */

import { killOwnedChildren } from "../node/child.js";
import { closeGate } from "../node/hygiene.js";
import { removeLiveTempDirs } from "../node/tmp.js";
import { removePartialOutputs } from "./files.js";

export const EXIT_SIGINT = 130;
export const EXIT_SIGTERM = 143;

const CODES = { SIGINT: EXIT_SIGINT, SIGTERM: EXIT_SIGTERM } as const;

let installed = false;
let handling = false;

/** Stop everything this process started and exit with 128 + the signal number. */
export function stopOnSignal(signal: keyof typeof CODES, write: (s: string) => void): never {
  const code = CODES[signal];
  if (handling) process.exit(code);
  handling = true;
  closeGate();
  const children = killOwnedChildren();
  removeLiveTempDirs({ allThreads: true });
  removePartialOutputs();
  // A worker thread may have been inside removeTempDir (renamed to kexec-removing-<pid>-*, not yet
  // removed) while the first pass listed the directory; process.exit ends it there. A second pass
  // takes what it renamed.
  removeLiveTempDirs({ allThreads: true });
  const what = children > 0 ? `stopped ${children} child process${children === 1 ? "" : "es"}, ` : "";
  write(
    `kexec-lab: interrupted by ${signal}: ${what}removed temporary files and unfinished output (exit ${code})\n`,
  );
  process.exit(code);
}

/** Install the SIGINT/SIGTERM handlers (once per process). `write` defaults to stderr. */
export function installSignalHandlers(write: (s: string) => void = (s) => process.stderr.write(s)): void {
  if (installed) return;
  installed = true;
  for (const signal of Object.keys(CODES) as (keyof typeof CODES)[]) {
    process.on(signal, () => stopOnSignal(signal, write));
  }
}

const nextCheckPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Let pending signal handlers run. Call before writing an output after a synchronous step. libuv reads
 * its signal pipe in the poll phase; a first setImmediate may still run in the current loop turn (when
 * we are called after that turn's poll), the second one runs only after the next poll.
 */
export async function signalCheckpoint(): Promise<void> {
  await nextCheckPhase();
  await nextCheckPhase();
}
