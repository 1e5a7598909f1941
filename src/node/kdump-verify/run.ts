/**
 * `crashkernel --verify` on the host (Node only): fetch Debian's kexec-tools and busybox into the
 * download cache (src/node/guest/debs.ts, as the recorder does), build the two guests
 * (./guest.ts) in a temporary directory, and run one QEMU (TCG, the kernel's architecture) per
 * crashkernel= value through src/node/child.ts spawnOwned: QEMU dies with this process, whatever ends
 * it. The temporary directory is removed after each probe (and by src/node/tmp.ts on any exit).
 */

import { closeSync, existsSync, openSync, readSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProbeResult } from "../../crash/verify.js";
import { readProbeConsole } from "../../crash/verify.js";
import { KexecLabError } from "../../errors.js";
import { findSection, isPe, parsePe } from "../../formats/pe.js";
import type { Arch } from "../../kimage/constants.js";
import { crashkernelCmdline } from "../../request/crashkernel.js";
import { commandExists, spawnOwned } from "../child.js";
import { AptError } from "../guest/debian-apt.js";
import {
  type DebArch,
  debVersion,
  ensureDebs,
  interpreter,
  libClosure,
  type Suite,
  unpack,
} from "../guest/debs.js";
import type { GuestKexec } from "../guest/initramfs.js";
import { makeTempDir } from "../tmp.js";
import { firstKernelInitramfs, testInitrd } from "./guest.js";

/** The QEMU machine of each architecture (TCG), and the Debian package with its binary. */
export const VERIFY_MACHINES: Record<
  Arch,
  { qemu: string; package: string; machine: string[]; console: string; description: string }
> = {
  x86_64: {
    qemu: "qemu-system-x86_64",
    package: "qemu-system-x86",
    machine: ["-machine", "q35", "-cpu", "qemu64"],
    console: "ttyS0",
    description: "QEMU TCG, -machine q35 -cpu qemu64",
  },
  arm64: {
    qemu: "qemu-system-aarch64",
    package: "qemu-system-arm",
    machine: ["-machine", "virt", "-cpu", "cortex-a57"],
    console: "ttyAMA0",
    description: "QEMU TCG, -machine virt -cpu cortex-a57",
  },
};

/** kexec-tools releases the command can use: the Debian suite whose build it takes. */
export const VERIFY_KEXEC_TOOLS: Record<string, Suite> = {
  "2.0.25": "bookworm",
  "2.0.29": "trixie",
  "2.0.32": "forky",
};

/** Host tools the preparation runs, with the Debian package of each. */
const HOST_TOOLS: [string, string][] = [
  ["dpkg", "dpkg"],
  ["dpkg-deb", "dpkg"],
  ["readelf", "binutils"],
  ["apt-get", "apt"],
];

export interface VerifyTools {
  arch: Arch;
  busybox: string;
  kexec: GuestKexec;
  /** The Debian version of the kexec-tools package used, e.g. 1:2.0.25-3+deb12u3. */
  kexecToolsPackage: string;
  kexecToolsVersion: string;
  busyboxPackage: string;
  cache: string;
}

/** E_TOOL_MISSING when QEMU for the architecture (or a host tool the download needs) is not installed. */
export function checkVerifyHost(arch: Arch): void {
  const m = VERIFY_MACHINES[arch];
  if (!commandExists(m.qemu))
    throw new KexecLabError(
      "E_TOOL_MISSING",
      `${m.qemu} is not installed: --verify boots the kernel under it (Debian package ${m.package}: apt-get install ${m.package})`,
      { field: "--verify" },
    );
  for (const [tool, pkg] of HOST_TOOLS)
    if (!commandExists(tool))
      throw new KexecLabError(
        "E_TOOL_MISSING",
        `${tool} is not installed: --verify fetches and unpacks Debian's kexec-tools with it (Debian package ${pkg})`,
        { field: "--verify" },
      );
}

/**
 * Download (once, into `cache`) and unpack Debian's kexec-tools of the release asked for and
 * bookworm's busybox-static for the architecture. E_DOWNLOAD when apt cannot fetch them.
 */
export function prepareVerifyTools(arch: Arch, kexecTools: string, cache: string): VerifyTools {
  const suite = VERIFY_KEXEC_TOOLS[kexecTools];
  if (suite === undefined)
    throw new KexecLabError(
      "E_USAGE",
      `--kexec-tools ${kexecTools}: the verify runs Debian's builds ${Object.keys(VERIFY_KEXEC_TOOLS).join(", ")}`,
      { field: "--kexec-tools" },
    );
  const deb: DebArch = arch === "x86_64" ? "amd64" : "arm64";
  try {
    const debs = ensureDebs(suite, deb, cache);
    const root = unpack(suite, deb, debs, cache);
    const bbDebs = suite === "bookworm" ? debs : ensureDebs("bookworm", deb, cache);
    const bbRoot = suite === "bookworm" ? root : unpack("bookworm", deb, bbDebs, cache);
    // bookworm ships sbin/kexec, trixie (merged /usr) usr/sbin/kexec
    const binary = [join(root, "sbin", "kexec"), join(root, "usr", "sbin", "kexec")].find((f) =>
      existsSync(f),
    );
    if (binary === undefined)
      throw new KexecLabError(
        "E_DOWNLOAD",
        `the kexec-tools package unpacked into ${root} has no sbin/kexec`,
        {
          field: "--cache",
        },
      );
    const pkg = debVersion(debs.get("kexec-tools")!);
    return {
      arch,
      busybox: join(bbRoot, "bin", "busybox"),
      kexec: { name: suite, binary, libs: libClosure(root, deb, binary), interp: interpreter(binary) },
      kexecToolsPackage: pkg,
      kexecToolsVersion: kexecTools,
      busyboxPackage: debVersion(bbDebs.get("busybox-static")!),
      cache,
    };
  } catch (e) {
    if (e instanceof AptError)
      throw new KexecLabError(
        "E_DOWNLOAD",
        `fetching Debian's kexec-tools (${suite}, ${deb}) into ${cache} failed: ${oneLine(e.message)}`,
        { field: "--cache" },
      );
    throw e;
  }
}

/** apt's multi-line report as one line: what ran, and its first error. */
function oneLine(message: string): string {
  const lines = message
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const first = lines[0]?.replace(/:$/, "") ?? "apt-get failed";
  const err = lines.find((l) => l.startsWith("E: "));
  return err !== undefined && err !== lines[0] ? `${first}: ${err.slice(3)}` : first;
}

/**
 * arm64: `_stext - _text` of an Image, the VirtualAddress of its PE ".text" section (efi-header.S
 * puts .text at efi_header_end, which the linker script aligns to where _stext starts). undefined for
 * an Image without the EFI stub.
 */
export function arm64TextOffset(kernel: Uint8Array): number | undefined {
  if (!isPe(kernel)) return undefined;
  const text = findSection(parsePe(kernel), ".text");
  return text?.virtualAddress;
}

export interface ProbeOptions {
  tools: VerifyTools;
  kernelFile: string;
  /** The crash kernel's initrd: undefined for the project's test initrd. */
  initrd?: Uint8Array;
  crashkernel: string;
  /** QEMU -m and -smp. */
  memory: string;
  cpus: number;
  /** The crash kernel's command line (kexec -p --append). */
  append: string;
  kallsymsTextOffset?: number;
  /** Stop after this many seconds, and after this many seconds without console output. */
  timeoutSec: number;
  idleSec: number;
  /** Write the console here when given. */
  consoleFile?: string;
}

export interface ProbeRun {
  result: ProbeResult;
  console: string;
  /** The first kernel's "Linux version" banner. */
  banner?: string;
}

/** The QEMU command line of a probe (without the binary); `crashkernel` is a --crashkernel value (several options space-separated). */
export function qemuArgs(
  arch: Arch,
  o: {
    kernel: string;
    initramfs: string;
    memory: string;
    cpus: number;
    crashkernel: string;
    dumpDisk: string;
  },
): string[] {
  const m = VERIFY_MACHINES[arch];
  return [
    ...m.machine,
    ...["-drive", `file=${o.dumpDisk},format=raw,if=none,id=kxldump,discard=unmap,detect-zeroes=unmap`],
    ...["-device", "nvme,serial=kxl-dump,drive=kxldump"],
    ...["-m", o.memory, "-smp", String(o.cpus), "-nographic", "-no-reboot", "-nic", "none", "-accel", "tcg"],
    ...["-kernel", o.kernel, "-initrd", o.initramfs],
    ...["-append", `console=${m.console} panic=0 ${crashkernelCmdline(o.crashkernel)}`],
  ];
}

/** One probe: boot, load, panic, read the crash kernel's console. */
export async function runProbe(o: ProbeOptions): Promise<ProbeRun> {
  const { arch } = o.tools;
  const tmp = makeTempDir("kexec-kdump-verify");
  try {
    const crashInitrd = o.initrd ?? testInitrd(o.tools.busybox);
    const initramfs = join(tmp.path, "first.cpio");
    writeFileSync(
      initramfs,
      firstKernelInitramfs(o.tools.busybox, o.tools.kexec, o.kernelFile, crashInitrd, {
        append: o.append,
        ...(o.kallsymsTextOffset !== undefined ? { kallsymsTextOffset: o.kallsymsTextOffset } : {}),
      }),
    );
    // the dump disk: sparse, the size of the guest's RAM plus 64 MiB (the vmcore is a little larger than RAM)
    const dumpDisk = join(tmp.path, "dump.img");
    writeFileSync(dumpDisk, "");
    truncateSync(dumpDisk, memorySize(o.memory) + 64 * 2 ** 20);
    const args = qemuArgs(arch, {
      kernel: o.kernelFile,
      initramfs,
      dumpDisk,
      memory: o.memory,
      cpus: o.cpus,
      crashkernel: o.crashkernel,
    });
    const { text, seconds, stopped } = await runQemu(
      VERIFY_MACHINES[arch].qemu,
      args,
      o.timeoutSec,
      o.idleSec,
    );
    if (o.consoleFile !== undefined) writeFileSync(o.consoleFile, text);
    const result = readProbeConsole(text, o.crashkernel, seconds, o.initrd === undefined, stopped);
    if (result.dumpWritten) {
      result.dumpOnDisk = isElfCore(dumpDisk);
      if (!result.dumpOnDisk) {
        result.ok = false;
        result.failure = "the dump disk holds no ELF core file after the run";
      }
    }
    const banner = /Linux version (\S+)/.exec(text)?.[1];
    return { result, console: text, ...(banner !== undefined ? { banner } : {}) };
  } finally {
    tmp.dispose();
  }
}

/** QEMU's -m value as bytes: digits and an optional K/M/G/T suffix (E_USAGE otherwise). */
export function memorySize(text: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(text.trim());
  if (!m)
    throw new KexecLabError("E_USAGE", `--memory ${text}: give a size such as 1G or 1536M`, {
      field: "--memory",
    });
  const unit = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[
    m[2]!.toUpperCase() as "" | "K" | "M" | "G" | "T"
  ];
  return Number(m[1]) * unit;
}

/** The file starts with a 64-bit ELF header of type ET_CORE (what /proc/vmcore begins with). */
function isElfCore(file: string): boolean {
  const b = Buffer.alloc(18);
  const fd = openSync(file, "r");
  try {
    readSync(fd, b, 0, 18, 0);
  } finally {
    closeSync(fd);
  }
  const le = b[5] === 1;
  const type = le ? b.readUInt16LE(16) : b.readUInt16BE(16);
  return b[0] === 0x7f && b.toString("latin1", 1, 4) === "ELF" && b[4] === 2 && type === 4;
}

/** Markers after which nothing more will come: stop QEMU shortly after. */
function finished(out: string): boolean {
  const p = out.indexOf("@@KXL-V-PANIC@@");
  if (p < 0) {
    // the load failed (the guest powers off) or the first kernel itself panicked
    return /@@KXL-V-KEXEC-RC [1-9]\d*@@/.test(out) || out.includes("---[ end Kernel panic");
  }
  const after = out.slice(p);
  if (after.includes("@@KXL-V-DONE@@")) return true;
  const banner = after.search(/Linux version \d/);
  return banner >= 0 && after.indexOf("---[ end Kernel panic", banner) >= 0;
}

function runQemu(
  qemu: string,
  args: string[],
  timeoutSec: number,
  idleSec: number,
  bannerSec = Math.min(60, idleSec),
): Promise<{ text: string; seconds: number; stopped?: string }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawnOwned(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let stopped: string | undefined;
    let ending = false;
    const stop = (why?: string) => {
      if (why !== undefined && stopped === undefined) stopped = why;
      if (!ending) {
        ending = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }
    };
    const total = setTimeout(() => stop(`timeout after ${timeoutSec} s`), timeoutSec * 1000);
    let idle = setTimeout(() => stop(`no console output for ${idleSec} s`), idleSec * 1000);
    // the crash kernel prints its banner seconds after the panic once it runs at all; a reservation
    // too small for it to get that far leaves the console silent
    let bannerTimer: NodeJS.Timeout | undefined;
    const onData = (b: Buffer) => {
      out += b.toString("latin1");
      const p = out.indexOf("@@KXL-V-PANIC@@");
      if (p >= 0 && bannerTimer === undefined)
        bannerTimer = setTimeout(() => {
          if (!/Linux version \d/.test(out.slice(p)))
            stop(`no crash kernel banner within ${bannerSec} s of the panic`);
        }, bannerSec * 1000);
      clearTimeout(idle);
      idle = setTimeout(() => stop(`no console output for ${idleSec} s`), idleSec * 1000);
      if (!ending && finished(out)) setTimeout(() => stop(), 500);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("error", (e) => {
      clearTimeout(total);
      clearTimeout(idle);
      reject(e);
    });
    child.once("close", () => {
      clearTimeout(total);
      clearTimeout(idle);
      if (bannerTimer !== undefined) clearTimeout(bannerTimer);
      resolve({
        text: out,
        seconds: (Date.now() - t0) / 1000,
        ...(stopped !== undefined ? { stopped } : {}),
      });
    });
  });
}
