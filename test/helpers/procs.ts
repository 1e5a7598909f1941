/**
 * Looking at processes from tests (Linux /proc): is a pid alive, which processes are a pid's children,
 * wait for a condition. A process killed while its parent is gone can linger as a zombie until the
 * container's init reaps it; a zombie counts as dead here (it holds no memory and runs nothing).
 */

import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnOwned } from "../../src/node/child.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** R, S, D, Z, ... (the third field of /proc/PID/stat) */
  state: string;
  /** comm: the executable's name, at most 15 characters */
  name: string;
}

export function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const name = stat.slice(stat.indexOf("(") + 1, close);
    const rest = stat.slice(close + 2).split(" ");
    return { pid, ppid: Number(rest[1]), state: rest[0]!, name };
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  const p = procInfo(pid);
  return p !== null && p.state !== "Z" && p.state !== "X";
}

export function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const p = procInfo(Number(d));
    if (p !== null) out.push(p);
  }
  return out;
}

/** Live processes whose parent is `pid`. */
export function childrenOf(pid: number): ProcInfo[] {
  return allProcs().filter((p) => p.ppid === pid && p.state !== "Z" && p.state !== "X");
}

/** Poll `cond` every `stepMs` until it holds (true) or `timeoutMs` passed (false). */
export async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** CPU seconds (user + system) a process has used so far, or -1 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return -1;
  }
}

export interface Collected {
  child: ChildProcess;
  out: string;
  err: string;
  /** Resolves with (exit code, signal) when the process ends. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `node ARGS` through spawnOwned, in the repository root, collecting its output. */
export function startNode(args: string[], env: Record<string, string> = {}): Collected {
  const child = spawnOwned(process.execPath, args, {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, KEXEC_LAB_NO_PROGRESS: "1", ...env },
  });
  const c: Collected = {
    child,
    out: "",
    err: "",
    done: new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal }))),
  };
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (s: string) => {
    c.out += s;
  });
  child.stderr!.on("data", (s: string) => {
    c.err += s;
  });
  return c;
}

/** Start `node --import tsx SCRIPT ARGS` (TypeScript sources, no build needed); see startNode. */
export function startTsNode(script: string, args: string[], env: Record<string, string> = {}): Collected {
  return startNode(["--import", "tsx", join(ROOT, script), ...args], env);
}
