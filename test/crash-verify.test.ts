/**
 * `crashkernel --verify` / `--bisect` without QEMU: the console reader (src/crash/verify.ts
 * readProbeConsole) on the markers the guests print, the bisection over a fake probe runner (the
 * smallest working size and the largest failing one, every probe kept), the text and JSON report over a
 * fake runner, and the command's input errors (no QEMU names the Debian package, exit 2).
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  bisectCrashkernel,
  bisectProbeCount,
  VERIFY_MARK as M,
  type ProbeResult,
  readProbeConsole,
} from "../src/crash/verify.js";
import { type VerifySetup, verifyBisect, verifyOnce } from "../src/crash/verify-report.js";
import { bzImageHeader } from "../src/formats/synth.js";
import { firstKernelInit } from "../src/node/kdump-verify/guest.js";
import { qemuArgs } from "../src/node/kdump-verify/run.js";
import { renderCrashkernelVerifyText } from "../src/report/crashkernel-verify-text.js";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const MiB = 2 ** 20;
const dir = testTempDir("crash-verify");
const BZ = join(dir, "bzImage");
writeFileSync(BZ, bzImageHeader({ initSize: 40 * MiB }, 8 * MiB));

/** A console as the two guests print it, up to a given stage. */
function consoleOf(o: {
  reserved?: boolean;
  kexecRc?: number;
  crashBoots?: boolean;
  crashLog?: string;
  up?: boolean;
  vmcore?: number;
  records?: string;
  dumpRc?: string;
}): string {
  const lines = [
    "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)",
    M.iomem,
  ];
  if (o.reserved !== false) lines.push("  2e000000-3dffffff : Crash kernel");
  lines.push(M.iomemEnd, `${M.crashSize}${o.reserved !== false ? 268435456 : 0}@@`, `${M.kallsyms}present@@`);
  lines.push(M.kexecOut, ...(o.kexecRc ? ["kexec: Memory for crashkernel is not reserved"] : []), "");
  lines.push(`${M.kexecRc}${o.kexecRc ?? 0}@@`);
  if ((o.kexecRc ?? 0) !== 0) return lines.join("\r\n");
  lines.push(
    M.panic,
    "[   30.1] sysrq: Trigger a crash",
    "[   30.2] Kernel panic - not syncing: sysrq triggered crash",
  );
  if (o.crashBoots === false) return lines.join("\r\n");
  lines.push("[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)");
  if (o.crashLog !== undefined) lines.push(o.crashLog);
  if (!o.up) return lines.join("\r\n");
  lines.push(M.up, `${M.mem}total=220036 free=191868@@`);
  const size = o.vmcore ?? 846888960;
  const rec = o.records ?? `${Math.floor(size / MiB)}+1`;
  lines.push(`${M.vmcore}size=${size} records=${rec} rc=0@@`);
  lines.push(`${M.dump}records=${rec} rc=${o.dumpRc ?? "0"} free=192208 t0=20.5 t1=33.2@@`, M.done);
  return lines.join("\r\n");
}

describe("readProbeConsole", () => {
  test("a dump copied whole: every stage, the sizes, the copy time", () => {
    const r = readProbeConsole(consoleOf({ up: true }), "256M", 34.56, true);
    expect(r).toMatchObject({
      crashkernel: "256M",
      reservedLines: ["2e000000-3dffffff : Crash kernel"],
      reservedBytes: 256 * MiB,
      loaded: true,
      crashKernelBooted: true,
      userSpace: true,
      memTotal: 220036 * 1024,
      vmcoreBytes: 846888960,
      vmcoreReadBytes: 846888960,
      vmcoreRead: true,
      dumpBytes: 846888960,
      dumpWritten: true,
      dumpSeconds: 12.7,
      ok: true,
      seconds: 34.6,
    });
    expect(r.failure).toBeUndefined();
  });

  test("the crash kernel out of memory: its own line is the failure", () => {
    const r = readProbeConsole(
      consoleOf({ crashLog: "[    2.2] Out of memory and no killable processes..." }),
      "64M",
      45,
      true,
    );
    expect(r.ok).toBe(false);
    expect(r.crashKernelBooted).toBe(true);
    expect(r.failure).toBe("the crash kernel stopped: Out of memory and no killable processes...");
  });

  test("the first kernel's own panic line is not taken for the crash kernel's", () => {
    const r = readProbeConsole(
      consoleOf({ crashBoots: false }),
      "64M",
      45,
      true,
      "no console output for 120 s",
    );
    expect(r.crashKernelBooted).toBe(false);
    expect(r.failure).toBe("no console output for 120 s");
  });

  test("nothing reserved, kexec -p refused: both said", () => {
    const r = readProbeConsole(consoleOf({ reserved: false, kexecRc: 255 }), "8G", 20, true);
    expect(r.loaded).toBe(false);
    expect(r.kexecExit).toBe(255);
    expect(r.failure).toMatch(/reserved no crash kernel memory/);
  });

  test("a short copy (dd's records do not add up to the vmcore) is not a dump", () => {
    const r = readProbeConsole(consoleOf({ up: true, records: "100+0" }), "96M", 50, true);
    expect(r.vmcoreRead).toBe(false);
    expect(r.dumpWritten).toBe(false);
    expect(r.failure).toMatch(/reading \/proc\/vmcore failed \(104857600 of 846888960 bytes\)/);
  });

  test("no dump disk: read, not written", () => {
    const r = readProbeConsole(consoleOf({ up: true, dumpRc: "nodisk" }), "256M", 50, true);
    expect(r.vmcoreRead).toBe(true);
    expect(r.dumpWritten).toBe(false);
    expect(r.failure).toMatch(/no dump disk/);
  });

  test("with the user's initrd the banner is what counts", () => {
    expect(readProbeConsole(consoleOf({}), "256M", 40, false).ok).toBe(true);
  });
});

function fakeProbe(threshold: number, log: number[] = []) {
  return async (bytes: number): Promise<ProbeResult> => {
    log.push(bytes);
    const ok = bytes >= threshold;
    return readProbeConsole(
      consoleOf(ok ? { up: true } : { crashLog: "[ 2.0] Out of memory and no killable processes..." }),
      `${bytes / MiB}M`,
      10 + bytes / MiB / 32,
      true,
    );
  };
}

describe("bisectCrashkernel", () => {
  test("any threshold on the grid: smallest working and largest failing are one step apart, within the probe bound", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 17 }), async (n, t) => {
        const lo = 64 * MiB;
        const step = 32 * MiB;
        const hi = lo + n * step;
        const threshold = lo + t * step - 5 * MiB;
        const b = await bisectCrashkernel(lo, hi, step, fakeProbe(threshold));
        expect(b.probes.length).toBeLessThanOrEqual(bisectProbeCount(lo, hi, step));
        if (threshold > hi) {
          expect(b.verdict).toBe("fails-at-hi");
          expect(b.probes).toHaveLength(1);
        } else if (threshold <= lo) {
          expect(b.verdict).toBe("works-at-lo");
          expect(b.smallestOk).toBe(lo);
        } else {
          expect(b.verdict).toBe("found");
          expect(b.smallestOk! - b.largestFail!).toBe(step);
          expect(b.smallestOk!).toBeGreaterThanOrEqual(threshold);
          expect(b.largestFail!).toBeLessThan(threshold);
        }
      }),
      { numRuns: 60 },
    );
  });

  test("probes hi, then lo, then halves", async () => {
    const log: number[] = [];
    await bisectCrashkernel(32 * MiB, 256 * MiB, 32 * MiB, fakeProbe(90 * MiB, log));
    expect(log.map((b) => b / MiB)).toEqual([256, 32, 128, 64, 96]);
  });
});

const SETUP: VerifySetup = {
  kernel: "vmlinuz",
  arch: "x86_64",
  machine: {
    qemu: "qemu-system-x86_64",
    description: "QEMU TCG, -machine q35 -cpu qemu64",
    memory: "1G",
    cpus: 2,
  },
  kexecTools: { version: "2.0.25", package: "1:2.0.25-3+deb12u3" },
  busybox: "1:1.35.0-4+deb12u1+b1",
  crashInitrd: "test initrd",
  crashCmdline: "console=ttyS0 reset_devices nr_cpus=1 irqpoll panic=0",
  kallsymsText: "auto",
  cache: "/cache",
};

describe("the report over a fake runner", () => {
  const runner = (threshold: number) => {
    const probe = fakeProbe(threshold);
    return async (ck: string) => ({
      result: await probe(Number.parseInt(ck, 10) * MiB),
      banner: "6.1.0-56-cloud-amd64",
    });
  };

  test("--bisect: every probe with its wall time, then the pair", async () => {
    const heard: string[] = [];
    const r = await verifyBisect(SETUP, 32 * MiB, 256 * MiB, 32 * MiB, runner(90 * MiB), (p) =>
      heard.push(p.crashkernel),
    );
    expect(heard).toEqual(["256M", "32M", "128M", "64M", "96M"]);
    expect(r.bisect).toEqual({
      lo: "32M",
      hi: "256M",
      step: "32M",
      smallestOk: "96M",
      largestFail: "64M",
      verdict: "found",
    });
    expect(r.ok).toBe(true);
    expect(r.seconds).toBe(Math.round((18 + 11 + 14 + 12 + 13) * 10) / 10);
    const text = renderCrashkernelVerifyText(r);
    expect(text).toContain("crashkernel --bisect 32M:256M: vmlinuz (x86_64, Linux 6.1.0-56-cloud-amd64)");
    expect(text).toContain("  crashkernel=96M      13.0 s  dump written: all 808 MiB of /proc/vmcore copied");
    expect(text).toContain("  crashkernel=64M      12.0 s  FAILS: the crash kernel stopped: Out of memory");
    expect(text).toContain(
      "smallest crashkernel= that works: 96M; largest that fails: 64M (5 probes, 68.0 s)",
    );
    expect(JSON.parse(JSON.stringify(r)).probes).toHaveLength(5);
  });

  test("--bisect whose high end fails: exit-worthy, said", async () => {
    const r = await verifyBisect(SETUP, 32 * MiB, 64 * MiB, 32 * MiB, runner(512 * MiB));
    expect(r.ok).toBe(false);
    expect(renderCrashkernelVerifyText(r)).toContain("crashkernel=64M (the high end) fails");
  });

  test("--verify: one probe", async () => {
    const r = await verifyOnce(SETUP, "256M", runner(90 * MiB));
    expect(r.ok).toBe(true);
    expect(renderCrashkernelVerifyText(r)).toContain("crashkernel=256M: works");
  });
});

describe("the guests", () => {
  test("QEMU: the kernel's machine, TCG, the dump disk, crashkernel= as given", () => {
    const a = qemuArgs("arm64", {
      kernel: "K",
      initramfs: "I",
      memory: "1G",
      cpus: 2,
      crashkernel: "512M,high 128M,low",
      dumpDisk: "D",
    });
    expect(a.join(" ")).toContain("-machine virt -cpu cortex-a57");
    expect(a).toContain("tcg");
    expect(a.join(" ")).toContain("-device nvme,serial=kxl-dump,drive=kxldump");
    expect(a.at(-1)).toBe("console=ttyAMA0 panic=0 crashkernel=512M,high crashkernel=128M,low");
  });

  test("the first kernel's /init supplies _text only when asked, as _stext minus the offset", () => {
    const withFix = firstKernelInit("bookworm", { append: "console=ttyAMA0", kallsymsTextOffset: 65536 });
    expect(withFix).toContain("l=$(( 0x$lo - 65536 ))");
    expect(withFix).toContain("mount -o bind /tmp/kallsyms /proc/kallsyms");
    expect(withFix).toContain(
      "'/bin/kexec-bookworm' '-p' '/k/kernel' '--initrd=/k/crash.cpio' '--append=console=ttyAMA0'",
    );
    const without = firstKernelInit("bookworm", { append: "console=ttyAMA0" });
    expect(without).not.toContain("mount -o bind");
  });
});

describe("kexec-lab crashkernel --verify: input errors", () => {
  test("no --kernel", async () => {
    const r = await runCli(["crashkernel", "--verify", "--crashkernel", "256M"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/error\[E_USAGE\].*give --kernel FILE/);
  });

  test("neither --host nor --verify", async () => {
    const r = await runCli(["crashkernel"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/give --host DIR .* or --verify --kernel FILE/);
  });

  test("--bisect off the grid", async () => {
    const r = await runCli(["crashkernel", "--verify", "--kernel", BZ, "--bisect", "64M:100M"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/HI - LO a multiple of --step 32M/);
  });

  test("a crashkernel= the kernel would not parse", async () => {
    const r = await runCli(["crashkernel", "--verify", "--kernel", BZ, "--crashkernel", "lots"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/E_FIELD_VALUE/);
  });

  test("no QEMU: E_TOOL_MISSING naming the Debian package, exit 2", async () => {
    const saved = process.env.PATH;
    process.env.PATH = dir;
    try {
      const r = await runCli(["crashkernel", "--verify", "--kernel", BZ, "--crashkernel", "256M"]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(
        /error\[E_TOOL_MISSING\].*qemu-system-x86_64 is not installed.*Debian package qemu-system-x86/,
      );
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      process.env.PATH = saved;
    }
  });
});
