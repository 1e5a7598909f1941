/**
 * `kexec-lab crashkernel --verify` for real (QEMU TCG, about half a minute a probe on an idle machine):
 * Debian's x86_64 6.1 kernel boots with crashkernel=128M in a 1 GiB guest, Debian's kexec-tools 2.0.25
 * loads it as crash kernel, sysrq c panics it, and the crash kernel copies all of /proc/vmcore onto its
 * dump disk (docs/kdump.md section 4 measured 96M as the smallest size that works there). Then SIGINT
 * in the middle of a probe: exit 130, QEMU gone, no temporary directory left. Needs qemu-system-x86 and
 * the download cache of kexec-tools (RECORD_CACHE, as the recorder: docs/recording.md).
 */

import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { haveTool } from "../../src/emit/node/qemu.js";
import { runCli } from "../helpers/cli.js";
import { dataFile } from "../helpers/data.js";
import { childrenOf, isAlive, startTsNode, waitUntil } from "../helpers/procs.js";

const KERNEL = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");

function verifyDirs(pid: number): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith("kexec-kdump-verify-") && n.includes(`-${pid}-`));
}

describe.skipIf(!haveTool("qemu-system-x86_64"))("crashkernel --verify on QEMU", () => {
  it("x86_64 Debian 6.1, crashkernel=128M, 1 GiB: the crash kernel boots, reads /proc/vmcore and writes the dump", {
    timeout: 300_000,
  }, async () => {
    const r = await runCli([
      "crashkernel",
      "--verify",
      "--kernel",
      KERNEL,
      "--crashkernel",
      "128M",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.kernelVersion).toBe("6.1.0-56-cloud-amd64");
    expect(j.kexecTools.package).toMatch(/^1:2\.0\.25-/);
    const p = j.probes[0];
    expect(p).toMatchObject({
      crashkernel: "128M",
      reservedBytes: 128 * 2 ** 20,
      loaded: true,
      crashKernelBooted: true,
      userSpace: true,
      vmcoreRead: true,
      dumpWritten: true,
      dumpOnDisk: true,
      ok: true,
    });
    // the crash kernel's own memory is the reservation less what the kernel keeps for itself
    expect(p.memTotal).toBeLessThan(128 * 2 ** 20);
    expect(p.vmcoreBytes).toBeGreaterThan(768 * 2 ** 20);
    expect(verifyDirs(process.pid)).toEqual([]);
  });

  it("SIGINT while QEMU runs: exit 130, QEMU stopped, no temporary directory", {
    timeout: 300_000,
  }, async () => {
    const c = startTsNode("src/cli/main.ts", [
      "crashkernel",
      "--verify",
      "--kernel",
      KERNEL,
      "--crashkernel",
      "128M",
    ]);
    const pid = c.child.pid!;
    let qemu = -1;
    const started = await waitUntil(
      () => {
        const q = childrenOf(pid).find((p) => p.name.startsWith("qemu-system"));
        if (q !== undefined) qemu = q.pid;
        return q !== undefined && verifyDirs(pid).length === 1;
      },
      240_000,
      200,
    );
    expect(started, "QEMU did not start").toBe(true);
    c.child.kill("SIGINT");
    const end = await c.done;
    expect(end.code).toBe(130);
    expect(c.err).toMatch(/kexec-lab: interrupted by SIGINT: stopped 1 child process/);
    expect(await waitUntil(() => !isAlive(qemu), 5000), "QEMU outlived the command").toBe(true);
    expect(verifyDirs(pid)).toEqual([]);
  });
});
