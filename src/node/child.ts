/**
 * Every child process kexec-lab starts (QEMU, Chromium, dtc/fdtget, assemblers; in the tool and in the
 * tests) goes through this module, so that it dies with its parent whatever ends the parent, SIGKILL
 * and the kernel's OOM killer included. Node only.
 *
 * Mechanism: util-linux's `setpriv --pdeathsig KILL -- CMD ARGS` (Debian package util-linux, which is
 * essential: present on every Debian). setpriv sets PR_SET_PDEATHSIG (prctl(2)) and execs CMD, so the
 * child is SIGKILLed by the kernel as soon as its parent dies. The kernel sends the signal when the
 * *thread* that forked the child exits: Node forks from the JS thread that calls spawn (libuv's
 * uv_spawn runs on the caller's thread), so a child started from the main thread lives until the process
 * ends, and one started from a worker thread (vitest's `threads` pool, a `new Worker`) is killed when
 * that worker thread ends. vitest's `forks` pool (vitest.config.ts) runs every test file on the main
 * thread of a child process, so the children of a test die with that process.
 *
 * Asynchronous children also get their own process group (`detached`), so a terminal's Ctrl-C reaches
 * only kexec-lab, which then stops them itself (src/cli/signals.ts) instead of racing them; and
 * `killOwnedChildren()` kills each group (the child and anything it started).
 *
 * Where setpriv is missing (not Debian), children start without the death signal, and
 * `PDEATHSIG_MECHANISM` says so; the CLI's signal handlers and the tests' cleanup still run.
 */

import {
  type ChildProcess,
  type SpawnOptions,
  type SpawnSyncOptions,
  type SpawnSyncReturns,
  spawn,
  spawnSync,
} from "node:child_process";
import { accessSync, constants } from "node:fs";
import { announceChild, announcedChildren } from "./hygiene.js";

const SETPRIV = "/usr/bin/setpriv";

function findSetpriv(): string | null {
  if (process.env.KEXEC_LAB_NO_PDEATHSIG === "1") return null;
  try {
    accessSync(SETPRIV, constants.X_OK);
    return SETPRIV;
  } catch {
    return null;
  }
}

const setpriv = findSetpriv();

/** How children are tied to their parent on this host: "setpriv --pdeathsig KILL" or "none". */
export const PDEATHSIG_MECHANISM = setpriv !== null ? "setpriv --pdeathsig KILL" : "none";

/** The command line that runs `cmd args` with the parent-death signal set (identity without setpriv). */
export function withPdeathsig(cmd: string, args: readonly string[]): { cmd: string; args: string[] } {
  if (setpriv === null) return { cmd, args: [...args] };
  return { cmd: setpriv, args: ["--pdeathsig", "KILL", "--", cmd, ...args] };
}

const owned = new Set<ChildProcess>();

/**
 * spawn(2) a child that dies with this process (see the module comment). Options as Node's spawn;
 * `detached` defaults to true (own process group). The child is tracked until it exits.
 */
export function spawnOwned(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const w = withPdeathsig(cmd, args);
  const child = spawn(w.cmd, w.args, { detached: true, ...opts });
  owned.add(child);
  if (child.pid !== undefined) announceChild(child.pid, true);
  const gone = () => {
    if (owned.delete(child) && child.pid !== undefined) announceChild(child.pid, false);
  };
  child.once("exit", gone);
  // A spawn failure (ENOENT) ends the child too.
  child.once("error", gone);
  return child;
}

/** spawnSync with the parent-death signal: a child that outlives a SIGKILLed caller is killed too. */
export function spawnSyncOwned(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions & { encoding: BufferEncoding },
): SpawnSyncReturns<string>;
export function spawnSyncOwned(
  cmd: string,
  args: readonly string[],
  opts?: SpawnSyncOptions,
): SpawnSyncReturns<Buffer>;
export function spawnSyncOwned(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions = {},
): SpawnSyncReturns<string | Buffer> {
  const w = withPdeathsig(cmd, args);
  const r = spawnSync(w.cmd, w.args, opts);
  // Report a missing command as Node does for the command itself (setpriv exits 127 then).
  if (setpriv !== null && r.error === undefined && r.status === 127 && !commandExists(cmd)) {
    return { ...r, error: Object.assign(new Error(`spawnSync ${cmd} ENOENT`), { code: "ENOENT" }) };
  }
  return r;
}

/**
 * execFileSync's contract on top of spawnSyncOwned: the child's stdout (a string when `encoding` is
 * given); throws when the command is missing, is killed or exits non-zero (the error carries status
 * and stderr).
 */
export function execFileSyncOwned(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions & { encoding: BufferEncoding },
): string;
export function execFileSyncOwned(cmd: string, args: readonly string[], opts?: SpawnSyncOptions): Buffer;
export function execFileSyncOwned(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions = {},
): string | Buffer {
  const r = spawnSyncOwned(cmd, args, opts);
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) {
    const why = r.signal !== null ? `killed by ${r.signal}` : `exit status ${r.status}`;
    const stderr = r.stderr === null ? "" : String(r.stderr);
    throw Object.assign(new Error(`${cmd} ${args.join(" ")}: ${why}\n${stderr}`), {
      status: r.status,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
    });
  }
  return r.stdout;
}

const PATH_CACHE = new Map<string, boolean>();

/** Whether `cmd` can be found (a path, or a name on $PATH). */
export function commandExists(cmd: string): boolean {
  const key = `${cmd}\0${process.env.PATH ?? ""}`;
  let ok = PATH_CACHE.get(key);
  if (ok === undefined) {
    const dirs = cmd.includes("/") ? [""] : (process.env.PATH ?? "").split(":").filter((d) => d !== "");
    ok = dirs.some((d) => {
      try {
        accessSync(d === "" ? cmd : `${d}/${cmd}`, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    PATH_CACHE.set(key, ok);
  }
  return ok;
}

/** The children started by spawnOwned that have not exited yet. */
export function ownedChildren(): ChildProcess[] {
  return [...owned];
}

/**
 * SIGKILL every owned child's process group (synchronous; safe in a signal handler or at exit), and on
 * the main thread those a worker thread announced (src/node/hygiene.ts). Returns how many were running.
 */
export function killOwnedChildren(): number {
  let n = 0;
  for (const pid of announcedChildren()) {
    try {
      process.kill(-pid, "SIGKILL");
      n++;
    } catch {
      try {
        process.kill(pid, "SIGKILL");
        n++;
      } catch {
        // already gone
      }
    }
  }
  for (const c of owned) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid, "SIGKILL");
    } catch {
      try {
        c.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    n++;
  }
  return n;
}

// A normal exit (process.exit, the end of the event loop, an uncaught exception) kills them too;
// SIGKILL and the OOM killer are covered by the death signal.
process.once("exit", () => {
  killOwnedChildren();
});
