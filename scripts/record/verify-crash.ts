/**
 * crashkernel= verified, not estimated (issue #24 item 4, first step; outside CI): boot a real kernel under
 * QEMU (TCG) with crashkernel=SIZE, load the same kernel as crash kernel with Debian's real `kexec -p`
 * (bookworm's kexec-tools from the recording cache), force a panic (sysrq c), and report whether the crash
 * kernel came up and read all of /proc/vmcore. With --bisect LO:HI it searches the smallest size (in
 * 32 MiB steps) at which the dump is read.
 *
 *   npx tsx scripts/record/verify-crash.ts --kernel K --crashkernel 256M [--memory 1G] [--timeout 600]
 *   npx tsx scripts/record/verify-crash.ts --kernel K --bisect 64M:512M
 *
 * --arch x86_64 (q35, qemu64) or arm64 (virt, cortex-a57); each console is kept in record-logs/. The crash kernel's initrd is a busybox initramfs whose /init reads /proc/vmcore with
 * dd and prints a marker; it stands for a dump tool that copies the dump (makedumpfile is not in it).
 * QEMU runs through src/node/child.ts spawnOwned: it dies with this process.
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnOwned } from "../../src/node/child.js";
import { writeNewc } from "./cpio.js";
import { CACHE, ensureDebs, interpreter, libClosure, unpack } from "./debs.js";
import { buildInitramfs, type GuestPlan } from "./guest.js";

const MiB = 2 ** 20;

/** --extra: more of the running kernel's command line (e.g. nokaslr). */
const EXTRA = process.argv.includes("--extra")
  ? process.argv[process.argv.indexOf("--extra") + 1]
  : undefined;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function size(t: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(t);
  if (!m) throw new Error(`not a size: ${t}`);
  return (
    Number(m[1]) * { "": 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"]
  );
}

const CRASH_INIT = `#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox --install -s
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "@@KXL-CRASH-UP@@"
grep MemTotal /proc/meminfo
if [ -e /proc/vmcore ]; then
  s=$(stat -c %s /proc/vmcore)
  dd if=/proc/vmcore of=/dev/null bs=1M > /tmp/dd.out 2>&1
  echo "@@KXL-VMCORE size=$s rc=$? $(tail -n 1 /tmp/dd.out)@@"
else
  echo "@@KXL-NO-VMCORE@@"
fi
poweroff -f
`;

function crashInitramfs(busybox: string): Uint8Array {
  return writeNewc([
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/busybox", data: readFileSync(busybox), mode: 0o755 },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    { kind: "dir", path: "tmp" },
    { kind: "file", path: "init", data: new TextEncoder().encode(CRASH_INIT), mode: 0o755 },
  ]);
}

interface Verdict {
  crashkernel: string;
  reserved: boolean;
  loaded: boolean;
  crashKernelUp: boolean;
  vmcoreRead: boolean;
  detail: string;
  seconds: number;
}

async function verify(
  arch: "x86_64" | "arm64",
  kernel: string,
  crashkernel: string,
  memory: string,
  timeoutSec: number,
): Promise<Verdict> {
  const deb = arch === "x86_64" ? "amd64" : "arm64";
  const tty = arch === "x86_64" ? "ttyS0" : "ttyAMA0";
  const debs = ensureDebs("bookworm", deb);
  const root = unpack("bookworm", deb, debs);
  const binary = join(root, "sbin", "kexec");
  const busybox = join(root, "bin", "busybox");
  const plan: GuestPlan = {
    busybox,
    kexecs: [{ name: "bookworm", binary, libs: libClosure(root, deb, binary), interp: interpreter(binary) }],
    files: new Map([["/k/kernel", kernel]]),
    blobs: new Map([["/k/crash.cpio", crashInitramfs(busybox)]]),
    kexecName: "bookworm",
    args: [
      "-p",
      "/k/kernel",
      "--initrd=/k/crash.cpio",
      `--append=console=${tty} reset_devices nr_cpus=1 irqpoll panic=0`,
    ],
    crash: true,
    confirm: true,
  };
  const dir = join(CACHE, "initramfs");
  mkdirSync(dir, { recursive: true });
  const initramfs = join(dir, `verify-crash-${process.pid}.cpio`);
  writeFileSync(initramfs, buildInitramfs(plan));
  const machine =
    arch === "x86_64"
      ? ["qemu-system-x86_64", "-machine", "q35", "-cpu", "qemu64"]
      : ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a57"];
  const args = [
    ...machine.slice(1),
    ...["-m", memory, "-smp", "2", "-nographic", "-no-reboot", "-accel", "tcg"],
    ...[
      "-kernel",
      kernel,
      "-initrd",
      initramfs,
      "-append",
      `console=${tty} panic=0 crashkernel=${crashkernel}${EXTRA ? ` ${EXTRA}` : ""}`,
    ],
  ];
  const logDir = join(CACHE, "..", "record-logs");
  mkdirSync(logDir, { recursive: true });
  const log = join(logDir, `verify-crash-${arch}-${crashkernel}.console.txt`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawnOwned(machine[0]!, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const finish = (v: Omit<Verdict, "crashkernel" | "seconds">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill("SIGKILL");
      rmSync(initramfs, { force: true });
      writeFileSync(log, out);
      resolve({ crashkernel, ...v, seconds: (Date.now() - t0) / 1000 });
    };
    const judge = (why: string) => {
      const reserved = /Crash kernel/.test(out.split("@@KXL-BEGIN iomem@@")[1] ?? "");
      const loaded = /@@KXL-BEGIN exit-code@@\s*0\s/.test(out);
      const up = out.includes("@@KXL-CRASH-UP@@");
      const vm = /@@KXL-VMCORE size=(\d+) rc=0 [^@]*@@/.exec(out);
      finish({
        reserved,
        loaded,
        crashKernelUp: up,
        vmcoreRead: vm !== null,
        detail: vm ? `read /proc/vmcore (${vm[1]} bytes)` : why,
      });
    };
    const timer = setTimeout(() => judge(`timeout after ${timeoutSec} s`), timeoutSec * 1000);
    const onData = (b: Buffer) => {
      out += b.toString("latin1");
      if (/@@KXL-VMCORE [^\n]*@@|@@KXL-NO-VMCORE@@/.test(out)) judge("the crash kernel finished");
      else if (out.includes("@@KXL-CRASH-UP@@") === false && /@@KXL-DONE@@/.test(out))
        judge("the load failed");
      else if (
        /Kernel panic[^\n]*\n[\s\S]*Kernel panic/.test(out) ||
        /Out of memory/.test(out.split("@@KXL-EXEC@@")[1] ?? "")
      )
        judge("the crash kernel panicked or ran out of memory");
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", () => judge("QEMU exited"));
  });
}

const kernel = arg("--kernel");
if (kernel === undefined)
  throw new Error("--kernel FILE (an x86_64 bzImage or arm64 Image with CONFIG_CRASH_DUMP)");
const archArg = arg("--arch") ?? "x86_64";
if (archArg !== "x86_64" && archArg !== "arm64") throw new Error("--arch x86_64|arm64");
const arch: "x86_64" | "arm64" = archArg;
const memory = arg("--memory") ?? "1G";
const timeout = Number(arg("--timeout") ?? "600");
const bisect = arg("--bisect");
if (bisect !== undefined) {
  const [lo, hi] = bisect.split(":").map(size) as [number, number];
  let bad = lo - 32 * MiB;
  let good = hi;
  const first = await verify(arch, kernel, `${hi / MiB}M`, memory, timeout);
  console.log(JSON.stringify(first));
  if (!first.vmcoreRead) throw new Error(`the dump fails even at ${hi / MiB}M`);
  while (good - bad > 32 * MiB) {
    const mid = bad + Math.floor((good - bad) / 2 / (32 * MiB)) * 32 * MiB;
    const v = await verify(arch, kernel, `${mid / MiB}M`, memory, timeout);
    console.log(JSON.stringify(v));
    if (v.vmcoreRead) good = mid;
    else bad = mid;
  }
  console.log(`smallest crashkernel= that dumps: ${good / MiB}M; ${bad / MiB}M fails`);
} else {
  console.log(JSON.stringify(await verify(arch, kernel, arg("--crashkernel") ?? "256M", memory, timeout)));
}
process.exit(0);
