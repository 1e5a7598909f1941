import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  hasPurgatory,
  phasesTotal,
  type RebootInput,
  rebootPhases,
  SHA256_BLOCK,
  sha256Seconds,
} from "../src/model/phases.js";
import { builtinProfile } from "../src/model/profiles.js";

const MiB = 1024 * 1024;
const altra = builtinProfile("ampere-altra");
const x86 = builtinProfile("x86_64-server");

function input(over: Partial<RebootInput> = {}): RebootInput {
  return {
    arch: "arm64",
    call: "kexec_load",
    purgatoryChecks: true,
    segments: [
      { label: "kernel", bytes: 28 * MiB, relocated: true },
      { label: "dtb", bytes: 64 * 1024, relocated: true },
      { label: "purgatory", bytes: 12 * 1024, relocated: true },
      { label: "initrd", bytes: 64 * MiB, relocated: true },
    ],
    kernel: {
      format: "Image",
      codec: "none",
      compressedBytes: 28 * MiB,
      uncompressedBytes: 28 * MiB,
      sizeFrom: "file",
    },
    relocation: { strategy: "linear-map-copy", seconds: 0.015, bytes: 92 * MiB, sampled: false },
    ...over,
  };
}
const phase = (ps: ReturnType<typeof rebootPhases>, n: string) => ps.find((p) => p.name === n)!;

describe("SHA-256 in purgatory", () => {
  it("scales linearly with the bytes hashed (property, fixed seed)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 2, max: 16 }), (blocks, k) => {
        for (const on of [false, true]) {
          const one = sha256Seconds(blocks * 64, altra, on);
          expect(sha256Seconds(k * blocks * 64, altra, on) / one).toBeCloseTo(k, 6);
        }
      }),
      { seed: 15, numRuns: 50 },
    );
  });

  it("with MMU and caches off, each block costs its serialized round trips", () => {
    const trips = SHA256_BLOCK.dataAccesses + Math.ceil(SHA256_BLOCK.codeBytes / altra.uncached.fetchBytes);
    const computeNs = SHA256_BLOCK.instructions / altra.cpu.ipc / altra.cpu.ghz;
    expect(sha256Seconds(64, altra, false) * 1e9).toBeCloseTo(trips * altra.uncached.loadNs + computeNs, 6);
  });

  it("depends on the cache state: caches off is orders of magnitude slower than caches on", () => {
    const off = sha256Seconds(100 * MiB, altra, false);
    const on = sha256Seconds(100 * MiB, altra, true);
    expect(off / on).toBeGreaterThan(100);
    // with caches on it is compute-bound at cpu.ipc, never faster than reading the bytes
    expect(on).toBeGreaterThanOrEqual((100 * MiB) / (altra.dram.bandwidthGBps * 1e9));
  });
});

describe("reboot phases", () => {
  it("arm64 kexec_load hashes every segment but purgatory's own, with caches off", () => {
    const ps = rebootPhases(input(), altra);
    expect(ps.map((p) => p.name)).toEqual([
      "shutdown",
      "cpu-teardown",
      "relocation",
      "purgatory",
      "decompress",
    ]);
    // no published shutdown for this machine: unknown, left out of the total; one CPU: nothing to stop
    expect(phase(ps, "shutdown").unknown).toBeDefined();
    expect(phase(ps, "cpu-teardown").seconds).toBe(0);
    const p = phase(ps, "purgatory");
    expect(p.bytes).toBe(28 * MiB + 64 * 1024 + 64 * MiB);
    expect(p.seconds).toBeCloseTo(sha256Seconds(p.bytes, altra, false), 12);
    expect(phase(ps, "decompress").seconds).toBe(0);
    expect(phase(ps, "relocation").seconds).toBe(0.015);
  });

  it("arm64 kexec_file_load has no purgatory; --no-checks skips the hash", () => {
    expect(hasPurgatory("arm64", "kexec_file_load")).toBe(false);
    expect(hasPurgatory("x86_64", "kexec_file_load")).toBe(true);
    expect(phase(rebootPhases(input({ call: "kexec_file_load" }), altra), "purgatory").seconds).toBe(0);
    expect(phase(rebootPhases(input({ purgatoryChecks: false }), altra), "purgatory").seconds).toBe(0);
  });

  it("shutdown: only a machine with a published figure has a figure, as that constant, first", () => {
    const stingray = builtinProfile("broadcom-stingray");
    const ps = rebootPhases(input(), stingray);
    expect(ps.map((p) => p.name)).toEqual([
      "shutdown",
      "cpu-teardown",
      "relocation",
      "purgatory",
      "decompress",
    ]);
    expect(ps[0]!.seconds).toBe(stingray.publishedShutdown!.seconds);
    // the mean of the two published runs (0.022131328 s and 0.032066576 s)
    expect(ps[0]!.seconds).toBeCloseTo((0.022131328 + 0.032066576) / 2, 12);
    expect(ps[0]!.how).toContain("not modeled");
    // the same input on a machine without a published figure: shutdown unknown, nothing else changes
    const without = rebootPhases(input(), { ...stingray, publishedShutdown: undefined });
    expect(without[0]!.unknown).toBeDefined();
    expect(phasesTotal(without)).toBeCloseTo(phasesTotal(ps) - ps[0]!.seconds, 12);
    expect(without.slice(1)).toEqual(ps.slice(1));
    expect(altra.publishedShutdown).toBeUndefined();
  });

  it("nothing relocated (CMA placement, in place): the relocation phase is zero", () => {
    const ps = rebootPhases(
      input({ relocation: { strategy: "in-place", seconds: 0, bytes: 0, sampled: false } }),
      altra,
    );
    expect(phase(ps, "relocation").seconds).toBe(0);
    expect(phase(ps, "relocation").how).toContain("nothing to relocate");
  });

  it("an x86_64 bzImage decompresses itself with caches on; an uncompressed one does not", () => {
    const kernel = {
      format: "bzImage" as const,
      codec: "zstd" as const,
      compressedBytes: 12 * MiB,
      uncompressedBytes: 40 * MiB,
      sizeFrom: "assumed" as const,
    };
    const ps = rebootPhases(input({ arch: "x86_64", kernel }), x86);
    expect(phase(ps, "decompress").seconds).toBeGreaterThan(0);
    expect(phase(ps, "decompress").bytes).toBe(40 * MiB);
    // x86 purgatory runs with caches on: far cheaper than arm64's
    expect(phase(ps, "purgatory").seconds).toBeLessThan(
      phase(rebootPhases(input(), altra), "purgatory").seconds / 50,
    );
    const plain = rebootPhases(input({ arch: "x86_64", kernel: { ...kernel, codec: "none" } }), x86);
    expect(phase(plain, "decompress").seconds).toBe(0);
  });
});
