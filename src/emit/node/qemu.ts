/**
 * Runs an emitted image (src/emit) under QEMU and dumps memory afterwards. Node only: used by the
 * `emit --run` command and by test/qemu.
 *
 * QEMU is driven over QMP on its stdin/stdout (-qmp stdio): capabilities, then wait for the SHUTDOWN
 * event the routine causes (PSCI SYSTEM_OFF on arm64, ACPI S5 on x86_64; -no-shutdown keeps the VM
 * around, paused, so its memory can still be read), then `pmemsave` of the parameter block and of every
 * range to check, then `quit`. Every run has a hard timeout after which QEMU is killed (by its pid).
 */

import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmittedImage, qemuArm64Args } from "../arm64.js";
import { qemuX86Args } from "../x86.js";

export const QEMU_ARM64 = "qemu-system-aarch64";
export const QEMU_X86 = "qemu-system-x86_64";

const available = new Map<string, boolean>();

export function haveTool(bin: string): boolean {
  const key = `${bin}\0${process.env.PATH ?? ""}`;
  let ok = available.get(key);
  if (ok === undefined) {
    try {
      execFileSync(bin, ["--version"], { stdio: "ignore" });
      ok = true;
    } catch {
      ok = false;
    }
    available.set(key, ok);
  }
  return ok;
}

export interface QemuResult {
  /** "shutdown": the guest powered off; "timeout": killed after the hard timeout; "exit": QEMU exited early. */
  outcome: "shutdown" | "timeout" | "exit";
  /** The SHUTDOWN event's reason ("guest-shutdown", "guest-reset" for a triple fault, ...). */
  reason: string;
  /** The parameter block after the run; on a timeout, read after stopping the guest (empty if QMP did not answer). */
  params: Uint8Array;
  /** One per image.checks entry (empty when the run did not reach shutdown). */
  dumps: Uint8Array[];
  stderr: string;
  seconds: number;
  args: string[];
}

export interface RunOptions {
  timeoutMs?: number;
  /** Extra ranges to dump after the checks. */
  extraDumps?: { addr: number; size: number }[];
  keepDir?: boolean;
}

class Qmp {
  private buffer = "";
  private readonly waiters: {
    test: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  readonly events: Record<string, unknown>[] = [];

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
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
    this.child.stdin.write(
      `${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`,
    );
    const r = await reply;
    if ("error" in r) throw new Error(`QMP ${execute}: ${JSON.stringify(r.error)}`);
    return r;
  }
}

/** Write the blobs, run QEMU, dump memory. */
export async function runEmitted(img: EmittedImage, opts: RunOptions = {}): Promise<QemuResult> {
  const dir = mkdtempSync(join(tmpdir(), "kexec-qemu-"));
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  try {
    const blobFiles = img.blobs.map((b, i) => {
      const f = join(dir, `blob${i}-0x${b.addr.toString(16)}.bin`);
      writeFileSync(f, b.bytes);
      return f;
    });
    let bin: string;
    let args: string[];
    if (img.target === "qemu-virt-arm64") {
      bin = QEMU_ARM64;
      args = qemuArm64Args(img, blobFiles);
    } else {
      bin = QEMU_X86;
      const kernel = join(dir, "boot.elf");
      writeFileSync(kernel, img.kernelElf!);
      args = qemuX86Args(img, blobFiles, kernel);
    }
    // Start paused (-S) and continue only once QMP is in command mode: a guest that powers off
    // before capabilities negotiation would otherwise lose its SHUTDOWN event.
    args.push("-S", "-qmp", "stdio");
    const child = spawn(bin, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      stderr += s;
    });
    const exited = new Promise<"exit">((resolve) => child.on("exit", () => resolve("exit")));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const qmp = new Qmp(child);
    const kill = () => {
      if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
    };
    try {
      const session = (async () => {
        await qmp.wait((m) => "QMP" in m);
        await qmp.command("qmp_capabilities");
        await qmp.command("cont");
        const ev = await qmp.wait((m) => m.event === "SHUTDOWN");
        const reason = String((ev.data as Record<string, unknown> | undefined)?.reason ?? "");
        const ranges = [
          { addr: img.paramsAddr, size: img.paramsSize },
          ...img.checks,
          ...(opts.extraDumps ?? []),
        ];
        const files: string[] = [];
        for (const [i, r] of ranges.entries()) {
          const f = join(dir, `dump${i}.bin`);
          files.push(f);
          await qmp.command("pmemsave", { val: r.addr, size: r.size, filename: f });
        }
        const data = files.map((f) => new Uint8Array(readFileSync(f)));
        child.stdin.write(`${JSON.stringify({ execute: "quit" })}\n`);
        return { reason, data };
      })();
      const first = await Promise.race([session, exited, timedOut]);
      if (first === "timeout" || first === "exit") {
        // On a timeout, stop the guest and read its parameter block (status, counters, fault
        // registers) for the diagnosis, giving QMP two seconds at most.
        let params: Uint8Array = new Uint8Array(0);
        if (first === "timeout" && child.exitCode === null) {
          const f = join(dir, "params-at-timeout.bin");
          const diag = (async () => {
            await qmp.command("stop");
            await qmp.command("pmemsave", { val: img.paramsAddr, size: img.paramsSize, filename: f });
            return new Uint8Array(readFileSync(f));
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
          stderr,
          seconds: (Date.now() - started) / 1000,
          args,
        };
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      kill();
      const params = first.data[0]!;
      return {
        outcome: "shutdown",
        reason: first.reason,
        params,
        dumps: first.data.slice(1),
        stderr,
        seconds: (Date.now() - started) / 1000,
        args,
      };
    } finally {
      clearTimeout(timer);
      kill();
    }
  } finally {
    if (!opts.keepDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The first differing byte of two arrays, or -1 when equal (length differences count). */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
