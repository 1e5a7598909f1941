/**
 * The command runs on a worker thread; the main thread only waits for it and acts on signals. Node only.
 *
 * Node runs a signal handler only between two pieces of JavaScript on the thread that installed it, so
 * a command computing on the main thread (the simulation of `run` with a 1 GiB initrd: tens of seconds
 * in one synchronous call) would see Ctrl-C only when it is done. With the command on a worker, the
 * main thread's event loop is idle and its SIGINT/SIGTERM handler (src/cli/signals.ts) runs at once:
 * it kills the children the worker announced, removes the temporary files of its unfinished outputs
 * (src/node/hygiene.ts) and its temporary directories, and exits 130 / 143, which ends the worker
 * wherever it is.
 *
 * The worker writes stdout and stderr itself, synchronously to file descriptors 1 and 2 (in order, and
 * all of it before it reports its exit code); a reader that went away (EPIPE: `kexec-lab run | head`)
 * ends the command quietly. Colour and progress bars follow whether those descriptors are terminals.
 */

import { writeSync } from "node:fs";
import { isatty, WriteStream } from "node:tty";
import { MessageChannel, type MessagePort, parentPort, Worker } from "node:worker_threads";
import { KexecLabError } from "../errors.js";
import { listenTo, openGate } from "../node/hygiene.js";
import type { CliIo } from "./io.js";

/** What the main thread hands the command's thread. */
export interface CommandData {
  kexecLabCommand: true;
  args: string[];
  port: MessagePort;
  /** src/node/hygiene.ts's gate: no temporary file is created once the main thread cleans up. */
  gate: SharedArrayBuffer;
}

/** The worker's report: its exit code, once everything is written. */
export interface CommandDone {
  exitCode: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** A reader that went away (EPIPE) is not an error: the command's thread ends quietly with exit 0. */
function brokenPipe(): never {
  parentPort?.postMessage({ exitCode: 0 } satisfies CommandDone);
  process.exit(0);
}

/** Write all of `text` to `fd`, waiting out a full non-blocking pipe (EAGAIN); EPIPE ends the thread. */
function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") Atomics.wait(sleepCell, 0, 0, 2);
      else if (code === "EPIPE") brokenPipe();
      else
        throw new KexecLabError(
          "E_FILE_WRITE",
          code === "ENOSPC" ? "no space left on the device" : (code ?? String(e)),
          { file: fd === 1 ? "standard output" : "standard error" },
        );
    }
  }
}

/** The CliIo of the command's thread: descriptors 1 and 2 written synchronously. */
export function threadIo(): CliIo {
  const stderrTTY = isatty(2);
  let progress: WriteStream | undefined;
  return {
    stdout: (t) => writeAll(1, t),
    stderr: (t) => writeAll(2, t),
    isTTY: isatty(1),
    stderrTTY,
    env: process.env,
    cwd: process.cwd(),
    get progressStream() {
      if (!stderrTTY) return undefined;
      progress ??= new WriteStream(2);
      return progress;
    },
  };
}

/**
 * On the main thread: run `kexec-lab ARGS` on a worker thread and resolve with its exit code. The
 * worker's announcements (children, temporary output files) go to src/node/hygiene.ts.
 */
export function runOnThread(args: string[]): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  listenTo(port1);
  const isTs = import.meta.url.endsWith(".ts");
  const url = new URL(isTs ? "./command-thread.ts" : "./command-thread.js", import.meta.url);
  const data: CommandData = { kexecLabCommand: true, args, port: port2, gate: openGate() };
  const options = { workerData: data, transferList: [port2] };
  // From TypeScript sources (tsx) the worker registers tsx's loader before importing itself.
  const worker = isTs
    ? new Worker(
        `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`,
        { ...options, eval: true },
      )
    : new Worker(url, options);
  let code: number | undefined;
  worker.on("message", (m: CommandDone) => {
    if (typeof m.exitCode === "number") code = m.exitCode;
  });
  worker.on("error", (e) => {
    try {
      writeAll(2, `kexec-lab: internal error: ${String(e)}\n`);
    } catch {
      // stderr is gone
    }
    code = 2;
  });
  return new Promise((resolve) => worker.on("exit", (c) => resolve(code ?? (c === 0 ? 0 : 2))));
}
