/**
 * `kexec-lab crashkernel` and `plan -p --crashkernel VALUE --host` end to end (src/cli/commands/crashkernel.ts,
 * src/request/crashkernel.ts): the recorded machines' reservations, the JSON regions, the failure exit
 * code, bad syntax, and the crash load going where kexec-tools puts it.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { bzImageHeader } from "../src/formats/synth.js";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

const REC = join(import.meta.dirname, "fixtures/recordings");
const X86 = join(REC, "x86_64-q35-8g-crash-high-kexec_load");
const ARM = join(REC, "arm64-virt-4g-crash-kexec_load");
const dir = testTempDir("crash-cli");
const BZ = join(dir, "bzImage");
writeFileSync(BZ, bzImageHeader({ initSize: 40 * 2 ** 20 }, 8 * 2 ** 20));

describe("kexec-lab crashkernel", () => {
  test("the recorded crashkernel=512M,high on x86_64 6.1, with the boot's dmesg: the whole text", async () => {
    const r = await runCli([
      "crashkernel",
      "--host",
      join(X86, "collect"),
      "--dmesg",
      join(X86, "dmesg.txt"),
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("  6e000000-7dffffff : Crash kernel\n  25f000000-27effffff : Crash kernel\n");
    expect(r.out).toContain("(the same)");
    expect(r.out).toMatchSnapshot();
  });

  test("--json: regions as {start, end, kind}, kexec_crash_size, the log", async () => {
    const r = await runCli([
      "crashkernel",
      "--host",
      join(ARM, "collect"),
      "--crashkernel",
      "512M,high",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    // 6.1 arm64 has no default low part: one region (recorded: arm64-virt-4g-crash-kexec_load-high)
    expect(j.regions).toEqual([{ start: "0x11b000000", end: "0x13b000000", kind: "crash" }]);
    expect(j.kexecCrashSize).toBe(512 * 2 ** 20);
    expect(j.model).toBe("arm64-5.19");
    expect(j.log).toEqual(["crashkernel reserved: 0x000000011b000000 - 0x000000013b000000 (512 MB)"]);
    expect(j.crashLoad.start).toBe("0x11b000000");
  });

  test("the same machine with a 6.12 kernel: crashkernel=3G tries low memory, then high memory (generic), then fails", async () => {
    const r = await runCli([
      "crashkernel",
      "--host",
      join(ARM, "collect"),
      "--crashkernel",
      "3G",
      "--kernel-version",
      "6.12",
      "--json",
    ]);
    const j = JSON.parse(r.out);
    expect(j.model).toBe("generic");
    expect(r.code).toBe(1); // 3 GiB of a 4 GiB machine: nothing above 4 GiB holds it either
    expect(j.log).toEqual(["cannot allocate crashkernel (size:0xc0000000)"]);
    expect(j.steps.map((s: string) => s.split(":")[0])).toEqual(["low memory", "high memory"]);
  });

  test("a reservation too large to fit: NOT RESERVED, exit 1", async () => {
    const r = await runCli(["crashkernel", "--host", join(X86, "collect"), "--crashkernel", "6G"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("NOT RESERVED");
    expect(r.out).toContain("crashkernel reservation failed - No suitable area found.");
  });

  test("syntax the kernel refuses: E_FIELD_VALUE with its warning, exit 2", async () => {
    const r = await runCli(["crashkernel", "--host", join(X86, "collect"), "--crashkernel", "1G:128M"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("crashkernel=1G:128M: crashkernel: '-' expected");
  });
});

describe("plan -p --crashkernel", () => {
  test("512M,high on the recorded x86_64 host: the load goes to the high region; the crash kernel's inputs", async () => {
    const r = await runCli([
      "plan",
      "-p",
      "--kernel",
      BZ,
      "--host",
      join(X86, "collect"),
      "--crashkernel",
      "512M,high",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.crashKernel.regions.length).toBe(2);
    expect(j.crashKernel.loadRegion).toEqual(j.crashKernel.crashRes);
    expect(Number(j.crashKernel.loadRegion.start)).toBeGreaterThanOrEqual(2 ** 32);
    expect(j.crashKernel.appended).toMatch(/ elfcorehdr=\d+K$/);
    expect(j.crashKernel.memoryMap.ranges.some((x: { type: string }) => x.type === "RAM")).toBe(true);
  });

  test("a size without --host: E_USAGE", async () => {
    const r = await runCli(["plan", "-p", "--kernel", BZ, "--crashkernel", "256M"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("give --host");
  });
});
