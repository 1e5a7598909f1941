/**
 * What a worker thread owns that must not outlive the process: its child processes and the temporary
 * files of its unfinished outputs. Node only.
 *
 * The CLI runs each command on a worker thread (src/cli/thread.ts) so that its main thread stays free
 * to act on SIGINT/SIGTERM at once, whatever the command computes. The signal handler then ends the
 * process under the worker, whose own cleanup (finally blocks, exit hooks) never runs. So the worker
 * announces each child it starts (src/node/child.ts) and each temporary output file it creates
 * (src/formats/node/files.ts) over a MessagePort, and withdraws it when it is gone; the main thread's
 * handler reads every announcement still queued (receiveMessageOnPort: synchronously, even when its
 * event loop has not yet delivered them) and kills or removes what is left.
 *
 * On the main thread (or a worker without a port) announcing does nothing: its own registries
 * (killOwnedChildren, removePartialOutputs) are used directly.
 */

import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";

/** One announcement: a child's pid or a temporary file's path, live (true) or gone (false). */
export interface Announcement {
  kind: "child" | "output";
  pid?: number;
  path?: string;
  live: boolean;
}

let toMain: MessagePort | undefined;

/** In a worker: send announcements to the main thread over `port`. */
export function announceTo(port: MessagePort): void {
  toMain = port;
}

/** Announce a child process (its pid; killed as a process group) started or ended. */
export function announceChild(pid: number, live: boolean): void {
  toMain?.postMessage({ kind: "child", pid, live } satisfies Announcement);
}

/** Announce a temporary output file created or gone (renamed or removed). */
export function announceOutput(path: string, live: boolean): void {
  toMain?.postMessage({ kind: "output", path, live } satisfies Announcement);
}

const listened: MessagePort[] = [];
const children = new Set<number>();
const outputs = new Set<string>();

function apply(a: Announcement): void {
  if (a.kind === "child" && a.pid !== undefined) {
    if (a.live) children.add(a.pid);
    else children.delete(a.pid);
  } else if (a.kind === "output" && a.path !== undefined) {
    if (a.live) outputs.add(a.path);
    else outputs.delete(a.path);
  }
}

/** On the main thread: take announcements from a worker's port (the port does not keep the process alive). */
export function listenTo(port: MessagePort): void {
  listened.push(port);
  port.on("message", apply);
  port.unref();
}

/** Apply every announcement still queued on the ports, synchronously. */
function drain(): void {
  for (const port of listened) {
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (m === undefined) break;
      apply(m.message as Announcement);
    }
  }
}

/** The pids of workers' children still running, by their announcements. */
export function announcedChildren(): number[] {
  drain();
  return [...children];
}

/** The temporary files of workers' unfinished outputs, by their announcements. */
export function announcedOutputs(): string[] {
  drain();
  const list = [...outputs];
  outputs.clear();
  return list;
}

// ---- the gate: no new temporary file while the main thread cleans up -----------------------------------

/**
 * [0]: 1 once the process is stopping; [1]: creations in progress. The same memory on both sides: the
 * main thread closes it (mainGate), the worker passes through it (workerGate).
 */
let mainGate: Int32Array | undefined;
let workerGate: Int32Array | undefined;

/** On the main thread: the gate's memory, to hand to the command's worker (useGate). */
export function openGate(): SharedArrayBuffer {
  const buf = new SharedArrayBuffer(8);
  mainGate = new Int32Array(buf);
  return buf;
}

/** In the worker: use the main thread's gate. */
export function useGate(buf: SharedArrayBuffer): void {
  workerGate = new Int32Array(buf);
}

/**
 * Create a file that must not outlive the process (a temporary output, announced first): `create`
 * runs unless the process is stopping, in which case the thread waits for the end instead. Without a
 * worker gate (the main thread, a library caller) it just runs.
 */
export function creating<T>(create: () => T): T {
  const g = workerGate;
  if (g === undefined) return create();
  Atomics.add(g, 1, 1);
  if (Atomics.load(g, 0) === 1) {
    Atomics.sub(g, 1, 1);
    // The main thread is cleaning up and about to exit: nothing more may be created.
    for (;;) Atomics.wait(g, 0, 1);
  }
  try {
    return create();
  } finally {
    Atomics.sub(g, 1, 1);
  }
}

/**
 * On the main thread, first thing when a signal ends the process: no new file from now on, and wait
 * (at most 200 ms) for creations in progress, so that every temporary file that exists was announced
 * before the announcements are read.
 */
export function closeGate(): void {
  const g = mainGate;
  if (g === undefined) return;
  Atomics.store(g, 0, 1);
  const end = Date.now() + 200;
  for (;;) {
    const busy = Atomics.load(g, 1);
    if (busy <= 0 || Date.now() > end) return;
    Atomics.wait(g, 1, busy, 5);
  }
}
