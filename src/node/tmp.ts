/**
 * Temporary directories of kexec-lab (the tool and its tests). Node only.
 *
 * Every directory is made under os.tmpdir() as `<prefix>-<pid>-XXXXXX`, prefix starting with
 * "kexec-" (kexec-qemu, kexec-lab-cli, ...). It is removed by its owner (`dispose`), and, on any exit
 * path that runs JavaScript (normal end, process.exit, an uncaught exception, the CLI's SIGINT/SIGTERM
 * handlers in src/cli/signals.ts), by the exit hook below. What a SIGKILL or the OOM killer leaves
 * behind is swept by the next start (`sweepStaleTempDirs`): a directory of ours whose owner pid is no
 * longer alive and that is older than a minute, or one named without an owner pid (older code) and older
 * than an hour.
 */

import { mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isMainThread } from "node:worker_threads";

const live = new Set<string>();

/** The part of a temporary directory's name every kexec-lab directory starts with. */
export const TEMP_PREFIX = "kexec-";

export interface TempDir {
  path: string;
  /** Remove the directory and everything in it (idempotent). */
  dispose(): void;
}

/** mkdtemp `<tmpdir>/<prefix>-<pid>-XXXXXX`, removed at exit if its owner does not remove it first. */
export function makeTempDir(prefix: string): TempDir {
  if (!prefix.startsWith(TEMP_PREFIX))
    throw new Error(`temporary directory prefix ${prefix} must start with ${TEMP_PREFIX}`);
  const path = mkdtempSync(join(tmpdir(), `${prefix}-${process.pid}-`));
  live.add(path);
  return {
    path,
    dispose() {
      removeTempDir(path);
    },
  };
}

/**
 * Remove a directory made by makeTempDir (idempotent; errors are ignored: the sweep at the next start
 * catches what remains). The directory is first renamed (atomically, within its parent) so that a
 * thread still writing into it (a fuzz worker, while the main thread handles a signal) gets ENOENT
 * instead of refilling it under the recursive removal.
 */
export function removeTempDir(path: string): void {
  live.delete(path);
  let target = path;
  try {
    const suffix = Math.random().toString(36).slice(2, 8).padEnd(6, "0");
    target = join(dirname(path), `${TEMP_PREFIX}removing-${process.pid}-${suffix}`);
    renameSync(path, target);
  } catch {
    target = path;
  }
  try {
    rmSync(target, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort
  }
}

/** The directories made by this process and not yet removed. */
export function liveTempDirs(): string[] {
  return [...live];
}

/**
 * Remove every live directory of this thread (synchronous; used by exit and signal handlers); with
 * `allThreads`, also every `kexec-*-<this pid>-XXXXXX` directory in os.tmpdir() (those of worker
 * threads, whose own exit hooks do not run when the process exits under them).
 */
export function removeLiveTempDirs(opts: { allThreads?: boolean } = {}): void {
  for (const p of [...live]) removeTempDir(p);
  if (opts.allThreads !== true) return;
  const mine = new RegExp(`^${TEMP_PREFIX}.*-${process.pid}-[A-Za-z0-9]{6}$`);
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) if (mine.test(name)) removeTempDir(join(tmpdir(), name));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface SweepOptions {
  /** Directory to sweep (default os.tmpdir()). */
  dir?: string;
  /** A directory of a dead owner is removed once older than this (default 60 s). */
  deadOwnerAgeMs?: number;
  /** A directory without an owner pid in its name (made before this module) once older than this (default 1 h). */
  legacyAgeMs?: number;
  now?: number;
}

/**
 * Remove kexec-lab's temporary directories left by earlier runs that crashed or were killed: names
 * `kexec-<word>[-<word>...]-<pid>-XXXXXX` whose owner pid is dead and that are older than
 * deadOwnerAgeMs, and `kexec-*` directories without an owner pid older than legacyAgeMs. Only
 * directories owned by this user. Returns the removed paths.
 */
export function sweepStaleTempDirs(opts: SweepOptions = {}): string[] {
  const dir = opts.dir ?? tmpdir();
  const now = opts.now ?? Date.now();
  const deadAge = opts.deadOwnerAgeMs ?? 60_000;
  const legacyAge = opts.legacyAgeMs ?? 3600_000;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const path = join(dir, name);
    if (live.has(path)) continue;
    let age: number;
    try {
      const st = statSync(path);
      if (!st.isDirectory()) continue;
      if (typeof process.getuid === "function" && st.uid !== process.getuid()) continue;
      age = now - st.mtimeMs;
    } catch {
      continue;
    }
    const m = /-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
    const owner = m !== null ? Number(m[1]) : null;
    const stale =
      owner === null ? age > legacyAge : owner !== process.pid && age > deadAge && !pidAlive(owner);
    if (stale) {
      try {
        rmSync(path, { recursive: true, force: true });
        removed.push(path);
      } catch {
        // another sweeper, or not ours to remove
      }
    }
  }
  return removed;
}

process.once("exit", () => {
  removeLiveTempDirs({ allThreads: isMainThread });
});
