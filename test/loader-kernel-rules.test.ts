/**
 * Rules of newer kernels that depend on the kernel's build config: crash hotplug's elfcorehdr size (x86
 * kexec_file crash loads, 6.6+), the 6.8+ kexec_file debug lines, and the bzImage decompressor's
 * footprint against CMA placement (boot-hazards.ts).
 */

import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseKexecLog } from "../src/diagnose/log.js";
import { configEnabled, configNumber, parseKernelConfig } from "../src/formats/kconfig.js";
import { x86DecompressorHazards } from "../src/loader/boot-hazards.js";
import { x86CrashHotplugElfcorehdrMemsz } from "../src/loader/kexec-file/x86_64.js";
import { planLoad } from "../src/loader/plan.js";
import type { PlannedSegment } from "../src/loader/types.js";
import { runCli } from "./helpers/cli.js";
import { recordedCases, recordedKernelPath, recordedPlanInput } from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const seg = (label: string, mem: number, memsz: number): PlannedSegment =>
  ({ label, mem, memsz, buf: new Uint8Array(0), placement: {} }) as unknown as PlannedSegment;

describe("kernel config", () => {
  it("reads y/m/n, numbers and strings, and refuses a line that is none of them", () => {
    const c = parseKernelConfig(
      '# comment\nCONFIG_KEXEC=y\n# CONFIG_KEXEC_SIG_FORCE is not set\nCONFIG_NR_CPUS_DEFAULT=8192\nCONFIG_X="a b"\n',
    );
    expect(configEnabled(c, "KEXEC")).toBe(true);
    expect(configEnabled(c, "KEXEC_SIG_FORCE")).toBe(false);
    expect(configEnabled(c, "CMA")).toBeUndefined();
    expect(configNumber(c, "NR_CPUS_DEFAULT")).toBe(8192);
    expect(c.get("X")).toBe("a b");
    expect(() => parseKernelConfig("CONFIG_OK=y\nnonsense\n", "cfg")).toThrow(/line 2/);
  });
});

describe("crash hotplug elfcorehdr (arch/x86/kernel/crash.c crash_load_segments)", () => {
  const debian = parseKernelConfig(
    "CONFIG_CRASH_HOTPLUG=y\nCONFIG_MEMORY_HOTPLUG=y\nCONFIG_NR_CPUS_DEFAULT=8192\nCONFIG_CRASH_MAX_MEMORY_RANGES=8192\n",
  );
  it("sizes for 2 + NR_CPUS_DEFAULT + CRASH_MAX_MEMORY_RANGES headers: 0xe1000 as recorded on Debian 6.12/7.3", () => {
    expect(x86CrashHotplugElfcorehdrMemsz([6, 12], debian, 2)).toEqual({
      memsz: 0xe1000,
      phdrs: 16386,
      assumed: [],
    });
  });
  it("does not apply before 6.6 or without CRASH_HOTPLUG", () => {
    expect(x86CrashHotplugElfcorehdrMemsz([6, 1], debian, 2)).toBeUndefined();
    expect(
      x86CrashHotplugElfcorehdrMemsz([6, 12], parseKernelConfig("# CONFIG_CRASH_HOTPLUG is not set\n"), 2),
    ).toBeUndefined();
  });
  it("counts today's RAM ranges without MEMORY_HOTPLUG, and says what it assumed without a config", () => {
    const noMem = parseKernelConfig(
      "CONFIG_CRASH_HOTPLUG=y\n# CONFIG_MEMORY_HOTPLUG is not set\nCONFIG_NR_CPUS_DEFAULT=64\n",
    );
    expect(x86CrashHotplugElfcorehdrMemsz([6, 12], noMem, 5)?.phdrs).toBe(2 + 64 + 5);
    expect(x86CrashHotplugElfcorehdrMemsz([6, 12], undefined, 2)?.assumed).toContain(
      "CONFIG_CRASH_HOTPLUG=y",
    );
  });
  it("stays below PN_XNUM, where the kernel keeps memsz = bufsz", () => {
    const huge = parseKernelConfig(
      "CONFIG_CRASH_HOTPLUG=y\nCONFIG_MEMORY_HOTPLUG=y\nCONFIG_NR_CPUS_DEFAULT=8192\nCONFIG_CRASH_MAX_MEMORY_RANGES=60000\n",
    );
    expect(x86CrashHotplugElfcorehdrMemsz([6, 12], huge, 2)).toBeUndefined();
  });
});

describe("kexec_file log lines by kernel version", () => {
  it("reads 6.8+'s segment[N] lines and the closing kexec_file_load line", () => {
    const f = parseKexecLog(
      [
        "[   15.838208] kexec_file: nr_segments = 2",
        "[   15.838308] kexec_file: segment[0]: buf=0x(____ptrval____) bufsz=0x4000 mem=0x7ffda000 memsz=0x5000",
        "[   15.838723] kexec_file: segment[1]: buf=0x(____ptrval____) bufsz=0x10f0 mem=0x7ffd8000 memsz=0x2000",
        "[   16.430606] kexec_file: kexec_file_load: type:0, start:0x7ffda160 head:0x1fbe002 flags:0x8",
      ].join("\n"),
    );
    expect(f.fileSegments).toEqual([
      { bufsz: 0x4000, mem: 0x7ffda000, memsz: 0x5000 },
      { bufsz: 0x10f0, mem: 0x7ffd8000, memsz: 0x2000 },
    ]);
    expect(f.fileLoad).toEqual({ type: 0, start: 0x7ffda160, head: 0x1fbe002, flags: 8 });
    expect(f.syscall).toBe("kexec_file_load");
  });
});

describe("the x86 decompressor's buffer (boot-hazards.ts)", () => {
  const MiB = 1 << 20;
  it("the recorded 2 GiB cma=256M load: the first MiB of the initrd is overwritten", () => {
    const kernel = seg("kernel", 0x6c500000, 0x3c39000);
    const initrd = seg("initrd", 0x70139000, 0x2801000);
    const h = x86DecompressorHazards(
      [seg("purgatory", 0x6c440000, 0x5000), kernel, initrd],
      kernel,
      2 * MiB,
      0x3c39000,
    );
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ segment: "initrd", start: 0x70139000, end: 0x70239000 });
    expect(h[0]!.mechanism).toMatch(/kernel_alignment 0x200000/);
  });
  it("an aligned kernel never damages anything; a misaligned one reaches at most kernel_alignment - 1 bytes past its end", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 2000 }),
        fc.integer({ min: 0, max: 511 }),
        fc.integer({ min: 1, max: 64 }),
        (mib2, pages, sizeMiB) => {
          const mem = mib2 * 2 * MiB + pages * 4096;
          const memsz = sizeMiB * MiB;
          const kernel = seg("kernel", mem, memsz);
          const after = seg("initrd", mem + memsz, 64 * MiB);
          const h = x86DecompressorHazards([kernel, after], kernel, 2 * MiB, memsz);
          if (pages === 0) return h.length === 0;
          return (
            h.length === 1 &&
            h[0]!.start === mem + memsz &&
            h[0]!.end - h[0]!.start === 2 * MiB - pages * 4096
          );
        },
      ),
    );
  });
});

describe("the recorded CMA loads: kexec-lab flags exactly the one whose initramfs the new kernel found damaged", () => {
  const cma = recordedCases().filter((c) => /-cma\d+m/.test(c.id) && c.text("second-boot.txt") !== undefined);
  it("there are CMA recordings, and one of them failed at boot", () => {
    expect(cma.length).toBeGreaterThanOrEqual(4);
    expect(cma.some((c) => /Initramfs unpacking failed/.test(c.text("second-boot.txt")!))).toBe(true);
  });
  for (const c of cma) {
    it(c.id, () => {
      const plan = planLoad(recordedPlanInput(c));
      const damaged = /Initramfs unpacking failed/.test(c.text("second-boot.txt")!);
      expect(plan.bootHazards !== undefined, `${c.id}: hazard flagged vs initramfs damaged at boot`).toBe(
        damaged,
      );
      if (damaged) {
        const ramdisk = /RAMDISK: \[mem 0x([0-9a-f]+)-/.exec(c.text("second-boot.txt")!)!;
        // the damaged range starts where the recorded kernel says its initrd starts
        expect(plan.bootHazards![0]).toMatchObject({
          segment: "initrd",
          start: Number.parseInt(ramdisk[1]!, 16),
        });
      }
    });
  }
});

describe("plan on the recorded 2 GiB cma=256M load: the boot failure leads, exit 1", () => {
  const tmp = testTempDir("kernel-rules");
  it("prints 'fails at boot' with the damaged initrd range first, and exits 1", async () => {
    const c = recordedCases().find(
      (x) => x.id === "x86_64-q35-2g-linux-7.3-cma256m-initrd40m-kexec_file_load",
    )!;
    const kernel = recordedKernelPath(c.dir, c.json.loaded.kernel, tmp);
    const r = await runCli([
      "plan",
      "--kernel",
      kernel,
      "--initrd-size",
      String(c.json.loaded.initrd!.size),
      "--host",
      join(c.dir, "collect"),
      "--loader",
      "kexec-file",
      "--kernel-version",
      "7.3",
      "--cma",
      "256M@0x6c400000",
      "--cma-used",
      "256K",
      "--append",
      c.json.loaded.append,
    ]);
    expect(r.code, r.err).toBe(1);
    expect(r.out.split("\n")[0]).toMatch(
      /^fails at boot: the loaded kernel overwrites initrd \[0x70139000, 0x70239000\) before reading it/,
    );
  });
});
