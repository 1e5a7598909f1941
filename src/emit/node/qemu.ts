/**
 * Runs an emitted image (src/emit) under QEMU and reads its memory afterwards. Node only: used by the
 * `emit --run` command and by test/qemu.
 *
 * The guest's RAM is a sparse RAM image file (memory-backend-file, share=on) holding only the pages
 * the image populated: the runner writes it into a temporary directory, opens it, removes the
 * directory, and hands QEMU the open file as /dev/fd/3 (the x86 boot stub likewise as /dev/fd/4).
 * So nothing is left on disk whatever kills the runner, QEMU maps only populated and touched pages,
 * and after the run the guest's memory is read back from the same file, range by range.
 *
 * QEMU is driven over QMP on its stdin/stdout (-qmp stdio): capabilities, then wait for the SHUTDOWN
 * event the routine causes (PSCI SYSTEM_OFF on arm64, ACPI S5 on x86_64; -no-shutdown keeps the VM
 * around, paused), then read memory, then `quit`. Every run has a hard timeout after which QEMU is
 * killed. QEMU is started through src/node/child.ts (it dies with this process, SIGKILL included).
 */

import type { ChildProcess } from "node:child_process";
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { spawnOwned, spawnSyncOwned } from "../../node/child.js";
import { makeTempDir } from "../../node/tmp.js";
import { type EmittedImage, qemuArm64Args, qemuRamBase, qemuRamMiB } from "../arm64.js";
import type { MemoryReader } from "../compare.js";
import { qemuX86Args } from "../x86.js";

export const QEMU_ARM64 = "qemu-system-aarch64";
export const QEMU_X86 = "qemu-system-x86_64";

const available = new Map<string, boolean>();

export function haveTool(bin: string): boolean {
  const key = `${bin}\0${process.env.PATH ?? ""}`;
  let ok = available.get(key);
  if (ok === undefined) {
    const r = spawnSyncOwned(bin, ["--version"], { stdio: "ignore" });
    ok = r.error === undefined && r.status === 0;
    available.set(key, ok);
  }
  return ok;
}

export interface QemuResult<T = undefined> {
  /** "shutdown": the guest powered off; "timeout": killed after the hard timeout; "exit": QEMU exited early. */
  outcome: "shutdown" | "timeout" | "exit";
  /** The SHUTDOWN event's reason ("guest-shutdown", "guest-reset" for a triple fault, ...). */
  reason: string;
  /** The parameter block after the run (on a timeout, read after stopping the guest). */
  params: Uint8Array;
  /** One per image.checks entry, then one per extraDumps entry (empty when the run did not reach shutdown or `dumps: false`). */
  dumps: Uint8Array[];
  /** What `inspect` returned (undefined when the run did not reach shutdown). */
  inspected: T | undefined;
  stderr: string;
  seconds: number;
  args: string[];
}

export interface RunOptions<T = undefined> {
  timeoutMs?: number;
  /** Extra ranges to dump after the checks. */
  extraDumps?: { addr: number; size: number }[];
  /**
   * Copy every checked range into `dumps` (default true). A caller comparing big ranges passes false
   * and streams through `inspect` instead.
   */
  dumps?: boolean;
  /** Called after the guest's SHUTDOWN, with a reader over the guest's RAM, before QEMU quits. */
  inspect?: (mem: MemoryReader) => T | Promise<T>;
}

class Qmp {
  private buffer = "";
  private readonly waiters: {
    test: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  readonly events: Record<string, unknown>[] = [];

  constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      this.buffer += chunk;
      let nl = this.buffer.indexOf("\n");
      while (nl >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (line !== "") this.dispatch(JSON.parse(line) as Record<string, unknown>);
        nl = this.buffer.indexOf("\n");
      }
    });
  }

  private dispatch(m: Record<string, unknown>): void {
    if ("event" in m) this.events.push(m);
    const i = this.waiters.findIndex((w) => w.test(m));
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
  }

  wait(test: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.events.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  async command(execute: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = this.wait((m) => "return" in m || "error" in m);
    this.child.stdin!.write(
      `${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`,
    );
    const r = await reply;
    if ("error" in r) throw new Error(`QMP ${execute}: ${JSON.stringify(r.error)}`);
    return r;
  }
}

/**
 * Write the image's RAM file: a sparse file of exactly -m bytes with every blob at PA - RAM base.
 * `fd` must be open for writing. Streams blob by blob (nothing is assembled in memory).
 */
export function writeRamImage(fd: number, img: EmittedImage): void {
  const base = qemuRamBase(img);
  const size = qemuRamMiB(img) * 1024 * 1024;
  ftruncateSync(fd, size);
  for (const b of img.blobs) {
    const at = b.addr - base;
    if (at < 0 || at + b.bytes.length > size) {
      throw new RangeError(`${b.label} at 0x${b.addr.toString(16)} lies outside QEMU's RAM`);
    }
    let done = 0;
    while (done < b.bytes.length) done += writeSync(fd, b.bytes, done, b.bytes.length - done, at + done);
  }
}

/** A MemoryReader over the RAM image file (reads at PA - base; bytes past the file read as zeros). */
function fileReader(fd: number, base: number): MemoryReader {
  return {
    read(addr, out) {
      out.fill(0);
      let done = 0;
      while (done < out.length) {
        const n = readSync(fd, out, done, out.length - done, addr - base + done);
        if (n === 0) break;
        done += n;
      }
    },
  };
}

/** Write the RAM file, run QEMU, read memory back. */
export async function runEmitted<T = undefined>(
  img: EmittedImage,
  opts: RunOptions<T> = {},
): Promise<QemuResult<T>> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // The files live in a temporary directory only until they are open: QEMU gets descriptors.
  const dir = makeTempDir("kexec-qemu");
  let ramFd = -1;
  let kernelFd = -1;
  try {
    ramFd = openSync(join(dir.path, "ram.img"), "w+", 0o600);
    writeRamImage(ramFd, img);
    if (img.kernelElf !== undefined) {
      kernelFd = openSync(join(dir.path, "boot.elf"), "w+", 0o600);
      writeSync(kernelFd, img.kernelElf, 0, img.kernelElf.length, 0);
    }
  } catch (e) {
    if (ramFd >= 0) closeSync(ramFd);
    if (kernelFd >= 0) closeSync(kernelFd);
    throw e;
  } finally {
    dir.dispose();
  }
  const reader = fileReader(ramFd, qemuRamBase(img));
  try {
    let bin: string;
    let args: string[];
    const ram = { path: "/dev/fd/3", share: true };
    if (img.target === "qemu-virt-arm64") {
      bin = QEMU_ARM64;
      args = qemuArm64Args(img, ram);
    } else {
      bin = QEMU_X86;
      args = qemuX86Args(img, ram, "/dev/fd/4");
    }
    // Start paused (-S) and continue only once QMP is in command mode: a guest that powers off
    // before capabilities negotiation would otherwise lose its SHUTDOWN event.
    args.push("-S", "-qmp", "stdio");
    const stdio: ("pipe" | number)[] = ["pipe", "pipe", "pipe", ramFd];
    if (kernelFd >= 0) stdio.push(kernelFd);
    const child = spawnOwned(bin, args, { stdio });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (s: string) => {
      stderr += s;
    });
    // A QEMU that is gone takes its stdin with it: ignore EPIPE on late QMP writes.
    child.stdin!.on("error", () => {});
    const exited = new Promise<"exit">((resolve) => {
      child.on("exit", () => resolve("exit"));
      child.on("error", (e) => {
        stderr += String(e);
        resolve("exit");
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const qmp = new Qmp(child);
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }
    };
    const readParams = () => {
      const p = new Uint8Array(img.paramsSize);
      reader.read(img.paramsAddr, p);
      return p;
    };
    try {
      const session = (async () => {
        await qmp.wait((m) => "QMP" in m);
        await qmp.command("qmp_capabilities");
        await qmp.command("cont");
        const ev = await qmp.wait((m) => m.event === "SHUTDOWN");
        const reason = String((ev.data as Record<string, unknown> | undefined)?.reason ?? "");
        const ranges =
          opts.dumps === false ? (opts.extraDumps ?? []) : [...img.checks, ...(opts.extraDumps ?? [])];
        const data = ranges.map((r) => {
          const out = new Uint8Array(r.size);
          reader.read(r.addr, out);
          return out;
        });
        const inspected = opts.inspect !== undefined ? await opts.inspect(reader) : undefined;
        const params = readParams();
        child.stdin!.write(`${JSON.stringify({ execute: "quit" })}\n`);
        return { reason, data, inspected, params };
      })();
      const first = await Promise.race([session, exited, timedOut]);
      if (first === "timeout" || first === "exit") {
        // On a timeout, stop the guest and read its parameter block (status, counters, fault
        // registers) for the diagnosis, giving QMP two seconds at most.
        let params: Uint8Array = new Uint8Array(0);
        if (first === "timeout" && child.exitCode === null) {
          const diag = (async () => {
            await qmp.command("stop");
            return readParams();
          })().catch(() => new Uint8Array(0));
          params = await Promise.race([
            diag,
            new Promise<Uint8Array>((r) => setTimeout(() => r(new Uint8Array(0)), 2000)),
          ]);
        }
        kill();
        return {
          outcome: first,
          reason: "",
          params,
          dumps: [],
          inspected: undefined,
          stderr,
          seconds: (Date.now() - started) / 1000,
          args,
        };
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      kill();
      return {
        outcome: "shutdown",
        reason: first.reason,
        params: first.params,
        dumps: first.data,
        inspected: first.inspected,
        stderr,
        seconds: (Date.now() - started) / 1000,
        args,
      };
    } finally {
      clearTimeout(timer);
      kill();
    }
  } finally {
    closeSync(ramFd);
    if (kernelFd >= 0) closeSync(kernelFd);
  }
}

/** The first differing byte of two arrays, or -1 when equal (length differences count). */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
