/**
 * Sizing (item 3 of issue #24): kdump-lib's recommended crashkernel= with every delta, the
 * distribution default tables as the kernel matches them, and the crash kernel's run-time terms.
 */

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { distroDefaultSizes } from "../src/crash/defaults.js";
import { CRASH_MEASUREMENTS, fitCrashRuntime, measuredCrashRuntime } from "../src/crash/measured.js";
import { crashRuntimeNeed } from "../src/crash/runtime.js";
import { arm64Header } from "../src/formats/synth.js";
import { estimateCrashkernel, kdumpRecommendCrashkernel } from "../src/memory/crashkernel.js";
import { runCli } from "./helpers/cli.js";

/** testTempDir registers its afterAll: call it at the file's top level, not inside a test. */
const tmp = testTempDir("crash-sizing");

import { testTempDir } from "./helpers/tmp.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe("kdump_get_arch_recommend_crashkernel (kdumpctl get-default-crashkernel)", () => {
  test("x86_64: SME/SEV adds 64M to every range", () => {
    expect(kdumpRecommendCrashkernel({ arch: "x86_64" }).text).toBe("2G-64G:256M,64G-:512M");
    expect(kdumpRecommendCrashkernel({ arch: "x86_64", memoryEncryption: true }).text).toBe(
      "2G-64G:320M,64G-:576M",
    );
  });

  test("aarch64: 64K pages +100M, SMMU +384M, mlx5 +200M (64K) / +150M (4K)", () => {
    const k = (o: object) => kdumpRecommendCrashkernel({ arch: "arm64", ...o }).text;
    expect(k({ pageSize: 4096 })).toBe("2G-4G:256M,4G-64G:320M,64G-:576M");
    expect(k({ pageSize: 65536 })).toBe("2G-4G:356M,4G-64G:420M,64G-:676M");
    expect(k({ pageSize: 65536, smmu: true, mlx5: true })).toBe("2G-4G:940M,4G-64G:1004M,64G-:1260M");
    expect(k({ pageSize: 4096, mlx5: true })).toBe("2G-4G:406M,4G-64G:470M,64G-:726M");
    // 015e0f9: nothing added to 2G-4G ("skip adding additional memory for small-memory machine")
    expect(k({ pageSize: 65536, smmu: true, kdumpUtils: "015e0f9" })).toBe(
      "2G-4G:256M,4G-64G:804M,64G-:1060M",
    );
  });

  test("the estimate's baseline follows the deltas", () => {
    const e = estimateCrashkernel({
      arch: "arm64",
      kernelBytes: 40 * MiB,
      modulesBytes: 0,
      initrdBytes: 10 * MiB,
      systemRamBytes: 16 * GiB,
      pageSize: 65536,
      smmu: true,
    });
    expect(e.baselineBytes).toBe(804 * MiB);
    expect(e.baselineDeltas).toContain("+384M: SMMU with 64K pages (its command, event and PRI queues)");
  });
});

describe("distribution defaults as the kernel matches them", () => {
  test("8 GiB: Fedora 256M, Ubuntu 26.04 512M, Debian 128M", () => {
    expect(distroDefaultSizes("x86_64", 8 * GiB - 60 * MiB).map((d) => d.bytes / MiB)).toEqual([
      256, 512, 128,
    ]);
  });

  test("a 4 GiB machine showing 3.9 GiB: the 128M round-up (6.0+) takes Ubuntu's 4G-32G range, 5.15 does not", () => {
    const ram = 4 * GiB - 100 * MiB;
    expect(distroDefaultSizes("x86_64", ram, [6, 12])[1]!.bytes).toBe(512 * MiB);
    expect(distroDefaultSizes("x86_64", ram, [5, 15])[1]!.bytes).toBe(320 * MiB);
  });
});

describe("the crash kernel's run-time terms", () => {
  test("struct pages, bitmaps, swiotlb in the low region", () => {
    const r = crashRuntimeNeed({
      arch: "x86_64",
      pageSize: 4096,
      crashMemoryBytes: 768 * MiB,
      lowRegion: true,
      nrCpus: 1,
      initrdBytes: 30 * MiB,
      firstKernelMaxAddress: 10 * GiB,
      modulesBytes: 5 * MiB,
      measured: null,
    });
    const t = Object.fromEntries(r.terms.map((x) => [x.name.split(" (")[0]!.split(" for ")[0], x]));
    expect(t["struct page"]!.bytes).toBe(((768 * MiB) / 4096) * 64);
    expect(t["makedumpfile bitmaps"]!.bytes).toBe(2 * ((10 * GiB) / 4096 / 8));
    expect(t["swiotlb bounce buffer"]!.inLowRegion).toBe(true);
    expect(r.totalBytes).toBe(r.terms.filter((x) => !x.inLowRegion).reduce((a, x) => a + x.bytes, 0));
    for (const x of r.terms) expect(["from source, not yet measured", "assumed"]).toContain(x.status);
  });

  test("measured terms (src/crash/measured.ts): the fit recovers a known line, and replaces struct page, per-CPU and the run time", () => {
    // a synthetic measurement: kept(R) = 30 MiB + R/50, running 20 MiB, 256 KiB more kept at nr_cpus=2
    const kept = (r: number) => 30 * MiB + r / 50;
    const probe = (mib: number, nrCpus: number) => ({
      ramBytes: GiB,
      cpus: 2,
      nrCpus,
      reservedBytes: mib * MiB,
      memTotalKb: (mib * MiB - kept(mib * MiB) - (nrCpus - 1) * 256 * 1024) / 1024,
      memFreeKb: (mib * MiB - kept(mib * MiB) - (nrCpus - 1) * 256 * 1024 - 20 * MiB) / 1024,
    });
    const fit = fitCrashRuntime({
      ...CRASH_MEASUREMENTS.x86_64,
      probes: [probe(96, 1), probe(128, 1), probe(256, 1), probe(128, 2)],
    });
    expect(fit.keptFixedBytes).toBe(30 * MiB);
    expect(fit.keptPerByte).toBeCloseTo(1 / 50, 12);
    expect(fit.runningBytes).toBe(20 * MiB);
    expect(fit.perCpuBytes).toBe(256 * 1024);
    expect(fit.predictedMinimumBytes).toBe(Math.round((50 * MiB) / (1 - 1 / 50)));
    const r = crashRuntimeNeed({
      arch: "x86_64",
      pageSize: 4096,
      crashMemoryBytes: 256 * MiB,
      lowRegion: false,
      nrCpus: 1,
      initrdBytes: 10 * MiB,
      firstKernelMaxAddress: 4 * GiB,
      modulesBytes: 0,
      measured: fit,
    });
    expect(r.measuredOn).toMatch(/QEMU TCG -machine q35 -cpu qemu64, Debian 6\.1\.0-56-cloud-amd64/);
    const measured = r.terms.filter((t) => t.status === "measured").map((t) => t.bytes);
    expect(measured).toEqual([Math.round((256 * MiB) / 50), 256 * 1024, 20 * MiB - fit.testInitrdBytes]);
    expect(r.terms.some((t) => t.name.startsWith("struct page"))).toBe(false);
  });

  test("the recorded measurements: the fitted steady state lies at or below the smallest size that worked", () => {
    for (const arch of ["x86_64", "arm64"] as const) {
      const fit = measuredCrashRuntime(arch)!;
      expect(fit.measuredOn).toContain("QEMU TCG");
      for (const m of fit.minimums.filter((x) => x.ramBytes === GiB && x.cpus === 2))
        expect(fit.predictedMinimumBytes).toBeLessThanOrEqual(m.smallestOk);
      // struct page alone is 64 bytes a 4 KiB page; what the crash kernel keeps per page is at least that
      expect(fit.keptPerByte * 4096).toBeGreaterThanOrEqual(56);
    }
  });

  test("kexec-lab memory --json: the terms checked against the reservation, and the defaults", async () => {
    const host = join(import.meta.dirname, "fixtures/recordings/arm64-virt-4g-crash-kexec_load/collect");
    const image = join(tmp, "Image");
    writeFileSync(image, arm64Header({ imageSize: 24 * MiB }, 4 * MiB));
    const r = await runCli([
      "memory",
      "--kernel",
      image,
      "--initrd-size",
      "20M",
      "--host",
      host,
      "-p",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const rt = j.crashFit.runtime;
    expect(rt.totalBytes).toBe(rt.terms.reduce((a: number, t: { bytes: number }) => a + t.bytes, 0));
    expect(rt.fits).toBe(j.crashFit.leftBytes >= rt.totalBytes);
    expect(j.defaults.map((d: { name: string }) => d.name)).toEqual([
      "Fedora / RHEL (kdump-utils)",
      "Ubuntu 26.04 (kdump-tools)",
      "Debian (kdump-tools)",
    ]);
  });
});
