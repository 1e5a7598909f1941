/**
 * crashkernel= as the kernel parses it and where the boot reserves it (src/crash/): every recorded
 * reservation reproduced from the recording's own files, the parser's syntax and messages, and
 * properties of the reservation on random memory maps.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { hostReserveInput } from "../src/crash/host.js";
import {
  type CrashkernelSpec,
  formatCrashkernel,
  memparse,
  parseCrashkernelOption,
  specOf,
} from "../src/crash/parse.js";
import { iomemLines, memblockFindTopDown, reserveCrashkernel } from "../src/crash/reserve.js";
import { readHostDir } from "../src/host/node/read.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const ROOT = join(import.meta.dirname, "fixtures/recordings");
/** The kernel's reservation lines (reserve_crashkernel*, all versions) and parse_crashkernel's warnings. */
const RESERVATION_LINE =
  /^(crashkernel (low memory )?reserved: |Reserving \d+MB of (low )?memory at |cannot allocate crashkernel|crashkernel reservation failed|Cannot reserve \d+MB crashkernel|crashkernel: |crashkernel size resulted)/;
const CRASH_CASES = readdirSync(ROOT).filter((d) => d.includes("crash") && !d.endsWith(".json"));

describe("recorded reservations", () => {
  test.each(CRASH_CASES)("%s: the Crash kernel lines, kexec_crash_size and the kernel's log line", (name) => {
    const host = readHostDir(join(ROOT, name, "collect"));
    const dmesg = readFileSync(join(ROOT, name, "dmesg.txt"), "utf8");
    const { input } = hostReserveInput(host, host.arch!, { dmesg });
    const r = reserveCrashkernel(input);
    const real = host.iomem!.split("\n").filter((l) => l.endsWith(": Crash kernel"));
    expect(iomemLines(r.regions)).toEqual(real);
    expect(r.kexecCrashSize).toBe(host.crashSize);
    for (const line of r.log) expect(dmesg).toContain(line);
    // and the other way: every reservation line the kernel logged (success or failure) is one the model
    // logs, in order, so a failed reservation reproduces the kernel's failure line (or its silence)
    const logged = dmesg
      .split("\n")
      .map((l) => l.replace(/^\[ *\d+\.\d+\] /, ""))
      .filter((l) => RESERVATION_LINE.test(l));
    expect(r.log.filter((l) => RESERVATION_LINE.test(l))).toEqual(logged);
  });

  test("without the full dmesg the arm64 prediction still matches (memblock-reserved minus the region)", () => {
    const host = readHostDir(join(ROOT, "arm64-virt-4g-crash-kexec_load", "collect"));
    const r = reserveCrashkernel(hostReserveInput(host, "arm64").input);
    expect(iomemLines(r.regions)).toEqual(["  ec000000-fbffffff : Crash kernel"]);
  });
});

describe("parse_crashkernel", () => {
  const v61 = { version: [6, 1] as [number, number], arch: "x86_64" as const };
  const v617 = { version: [6, 17] as [number, number], arch: "x86_64" as const };

  test("memparse: suffixes, hex, octal, no digits", () => {
    expect(memparse("512M", 0)).toEqual({ value: 512 * MiB, end: 4 });
    expect(memparse("2g", 0)).toEqual({ value: 2 * GiB, end: 2 });
    expect(memparse("0x1000k", 0)).toEqual({ value: 0x1000 * 1024, end: 7 });
    expect(memparse("010M", 0).value).toBe(8 * MiB);
    expect(memparse("1E", 0).value).toBe(2 ** 60);
    expect(memparse("M", 0)).toEqual({ value: 0, end: 0 });
  });

  test("ranges: the RAM size rounded up to 128M (6.0+) picks the range; @offset after the list", () => {
    const ram = 4 * GiB - 100 * MiB; // firmware keeps some: 4G after the round-up
    const r = parseCrashkernelOption("crashkernel=1G-4G:192M,4G-64G:256M@16M", ram, undefined, v61);
    expect(r).toMatchObject({ ret: 0, size: 256 * MiB, base: 16 * MiB, syntax: "ranges" });
    const old = parseCrashkernelOption("crashkernel=1G-4G:192M,4G-64G:256M", ram, undefined, {
      ...v61,
      version: [5, 15],
    });
    expect(old.size).toBe(192 * MiB);
  });

  test("ranges: no match gives 0 and the zero-bytes message (6.9+)", () => {
    const r = parseCrashkernelOption("crashkernel=8G-:1G", 2 * GiB, undefined, { ...v61, version: [6, 12] });
    expect(r.size).toBe(0);
    expect(r.messages).toEqual(["crashkernel size resulted in zero bytes"]);
  });

  test("the kernel's warnings for bad syntax", () => {
    const w = (s: string) => parseCrashkernelOption(`crashkernel=${s}`, 8 * GiB, undefined, v61).messages;
    expect(w("1G:128M")).toEqual(["crashkernel: '-' expected"]);
    expect(w("2G-1G:128M")).toEqual(["crashkernel: end <= start"]);
    expect(w("1G-2Gx:128M")).toEqual(["crashkernel: ':' expected"]);
    expect(w("1G-:9G")).toEqual(["crashkernel: invalid size"]);
    expect(w("256Mx")).toEqual(["crashkernel: unrecognized char: x"]);
    expect(w("-")).toEqual(["crashkernel: memory value expected"]);
  });

  test("the last option of each kind wins; ,cma is a known suffix only from 6.17", () => {
    const line = "crashkernel=128M crashkernel=512M,high crashkernel=256M crashkernel=64M,cma";
    expect(parseCrashkernelOption(line, 8 * GiB, undefined, v617).size).toBe(256 * MiB);
    expect(parseCrashkernelOption(line, 8 * GiB, "high", v617).size).toBe(512 * MiB);
    expect(parseCrashkernelOption(line, 8 * GiB, "cma", v617).size).toBe(64 * MiB);
    // before 6.17 the ",cma" option is a plain one, the last, and refused
    expect(parseCrashkernelOption(line, 8 * GiB, undefined, v61).messages).toEqual([
      "crashkernel: unrecognized char: ,",
    ]);
  });

  const size = fc.integer({ min: 1, max: 4096 }).map((n) => n * MiB);
  const spec: fc.Arbitrary<CrashkernelSpec> = fc.oneof(
    fc.record({ kind: fc.constant("simple" as const), size }),
    fc.record({ kind: fc.constant("simple" as const), size, offset: size }),
    fc.record({ kind: fc.constant("suffix" as const), size, suffix: fc.constantFrom("high", "low", "cma") }),
    fc
      .array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 8 }), size), {
        minLength: 1,
        maxLength: 4,
      })
      .map((rs) => {
        let at = 0;
        const ranges = rs.map(([gap, len, sz], i) => {
          const start = (at + gap) * GiB;
          at += gap + len;
          return i === rs.length - 1 ? { start, size: sz } : { start, end: at * GiB, size: sz };
        });
        return { kind: "ranges" as const, ranges };
      }),
  );

  test("format and parse round-trip (property)", () => {
    fc.assert(
      fc.property(spec, (s) => {
        const text = formatCrashkernel(s);
        expect(specOf(text)).toEqual(s);
        // and the kernel's parser reads the same size from it
        if (s.kind === "simple") {
          const p = parseCrashkernelOption(`crashkernel=${text}`, 2 ** 50, undefined, v617);
          expect([p.size, p.base]).toEqual([s.size, s.offset ?? 0]);
        }
        if (s.kind === "suffix") {
          const p = parseCrashkernelOption(`crashkernel=${text}`, 2 ** 50, s.suffix, v617);
          expect(p.size).toBe(s.size);
        }
      }),
    );
  });
});

describe("reserve_crashkernel", () => {
  const mem = (...r: [number, number][]) => r.map(([s, e]) => ({ start: s, end: e }));

  test("generic: crashkernel=X falls back to high memory with the default low part (x86 256M, arm64 128M)", () => {
    for (const [arch, low] of [
      ["x86_64", 256 * MiB],
      ["arm64", 128 * MiB],
    ] as const) {
      const r = reserveCrashkernel({
        arch,
        kernelVersion: "6.12",
        cmdline: "crashkernel=3584M",
        memory: mem([GiB, 4 * GiB], [4 * GiB, 16 * GiB]),
        reserved: [],
      });
      expect(r.regions.map((x) => [x.kind, x.end - x.start])).toEqual([
        ["crash-low", low],
        ["crash", 3.5 * GiB],
      ]);
      expect(r.regions[1]!.end).toBe(16 * GiB);
      // 6.7+: kexec_crash_size counts the low part too (recorded on 6.12 and 7.3)
      expect(r.kexecCrashSize).toBe(3.5 * GiB + low);
    }
  });

  test("arm64 5.19-6.1: crashkernel=X does not fall back to high memory", () => {
    const r = reserveCrashkernel({
      arch: "arm64",
      kernelVersion: "6.1",
      cmdline: "crashkernel=3584M",
      memory: mem([GiB, 16 * GiB]),
      reserved: [],
    });
    expect(r.regions).toEqual([]);
    expect(r.log).toEqual(["cannot allocate crashkernel (size:0xe0000000)"]);
  });

  test("arm64 6.1 X,high: a low part only with an explicit X,low (no default before 6.2); 6.12 adds 128M", () => {
    const at = (kernelVersion: string, cmdline: string) =>
      reserveCrashkernel({
        arch: "arm64",
        kernelVersion,
        cmdline,
        memory: mem([GiB, 5 * GiB]),
        reserved: [],
      }).regions.map((r) => [r.kind, r.end - r.start]);
    expect(at("6.1", "crashkernel=512M,high")).toEqual([["crash", 512 * MiB]]);
    expect(at("6.1", "crashkernel=512M,high crashkernel=64M,low")).toEqual([
      ["crash-low", 64 * MiB],
      ["crash", 512 * MiB],
    ]);
    expect(at("6.12", "crashkernel=512M,high")).toEqual([
      ["crash-low", 128 * MiB],
      ["crash", 512 * MiB],
    ]);
  });

  test("X,low alone reserves nothing, without a line (6.12, both arches)", () => {
    for (const arch of ["x86_64", "arm64"] as const) {
      const r = reserveCrashkernel({
        arch,
        kernelVersion: "6.12",
        cmdline: "crashkernel=128M,low",
        memory: mem([GiB, 8 * GiB]),
        reserved: [],
      });
      expect([r.regions, r.log, r.kexecCrashSize]).toEqual([[], [], 0]);
    }
  });

  test("X@Y on memory in use: the version's failure line", () => {
    const base = {
      memory: mem([0, 4 * GiB]),
      reserved: mem([GiB, GiB + MiB]),
      cmdline: "crashkernel=256M@1G",
    };
    expect(reserveCrashkernel({ ...base, arch: "x86_64", kernelVersion: "6.1" }).log).toEqual([
      "crashkernel reservation failed - memory is in use.",
    ]);
    expect(reserveCrashkernel({ ...base, arch: "x86_64", kernelVersion: "6.12" }).log).toEqual([
      "crashkernel reservation failed - memory is in use.",
    ]);
    expect(reserveCrashkernel({ ...base, arch: "arm64", kernelVersion: "6.1" }).log).toEqual([
      "cannot allocate crashkernel (size:0x10000000)",
    ]);
  });

  test("generic X,high on arm64 without DMA zones: no fall back (LOW_MAX == HIGH_MAX)", () => {
    const r = reserveCrashkernel({
      arch: "arm64",
      kernelVersion: "6.12",
      cmdline: "crashkernel=512M,high",
      memory: mem([GiB, 5 * GiB]),
      reserved: [],
      zoneDma: false,
    });
    expect(r.failure).toBeDefined();
    expect(r.log).toEqual(["cannot allocate crashkernel (size:0x20000000)"]);
  });

  test("x86 6.17+: crashkernel=,cma reserves CMA blocks, not shown as Crash kernel", () => {
    const r = reserveCrashkernel({
      arch: "x86_64",
      kernelVersion: "6.17",
      cmdline: "crashkernel=256M crashkernel=1G,cma",
      memory: mem([MiB, 3 * GiB], [4 * GiB, 8 * GiB]),
      reserved: [],
    });
    expect(r.regions.find((x) => x.kind === "cma")).toEqual({ start: 4 * GiB, end: 5 * GiB, kind: "cma" });
    expect(iomemLines(r.regions)).toHaveLength(1);
    expect(r.log).toContain("crashkernel CMA reserved: 1024 MB in 1 ranges");
  });

  const memoryMap = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 96 })), {
      minLength: 1,
      maxLength: 6,
    })
    .map((parts) => {
      let at = 0;
      return parts.map(([gap, len]) => {
        const start = (at + gap) * 64 * MiB;
        at += gap + len;
        return { start, end: at * 64 * MiB };
      });
    });

  test("the reserved regions lie in RAM, are aligned, inside their window and off memblock reservations (property)", () => {
    fc.assert(
      fc.property(
        memoryMap,
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 14 }), fc.integer({ min: 1, max: 4096 })), {
          maxLength: 8,
        }),
        fc.constantFrom("x86_64" as const, "arm64" as const),
        fc.constantFrom("6.1", "6.6", "6.12", "6.17"),
        fc.constantFrom(
          "crashkernel=256M",
          "crashkernel=1G,high",
          "crashkernel=512M,high crashkernel=64M,low",
          "crashkernel=2G-:768M",
        ),
        (memory, res, arch, kernelVersion, cmdline) => {
          const reserved = res.map(([p, n]) => ({ start: p * MiB, end: p * MiB + n * 4096 }));
          const r = reserveCrashkernel({ arch, kernelVersion, cmdline, memory, reserved });
          const align = arch === "x86_64" ? 16 * MiB : 2 * MiB;
          for (const reg of r.regions) {
            expect(memory.some((m) => m.start <= reg.start && reg.end <= m.end)).toBe(true);
            expect(reg.start % align).toBe(0);
            expect(reserved.some((x) => x.start < reg.end && reg.start < x.end)).toBe(false);
            if (reg.kind === "crash-low") expect(reg.end).toBeLessThanOrEqual(r.limits.lowMax);
            if (
              reg.kind === "crash" &&
              /,high/.test(cmdline) &&
              r.model !== "x86-legacy" &&
              r.model !== "arm64-5.19" &&
              reg.start < r.limits.lowMax
            )
              // generic ,high only lands low after high memory had no room
              expect(r.steps[0]).toMatch(/no room/);
          }
          const crash = r.regions.filter((x) => x.kind === "crash");
          expect(crash.length).toBeLessThanOrEqual(1);
          // crashk_res, plus crashk_low_res from 6.7 on (recorded on 6.12 and 7.3)
          const lowPart = r.regions
            .filter((x) => x.kind === "crash-low")
            .reduce((a, x) => a + x.end - x.start, 0);
          const v = r.kernelVersion.split(".").map(Number) as [number, number];
          const withLow = v[0] > 6 || (v[0] === 6 && v[1] >= 7);
          expect(r.kexecCrashSize).toBe(
            crash.length ? crash[0]!.end - crash[0]!.start + (withLow ? lowPart : 0) : 0,
          );
          if (crash.length === 0) expect(r.failure).toBeDefined();
        },
      ),
    );
  });

  test("memblockFindTopDown takes the highest aligned fit and never the first page", () => {
    expect(memblockFindTopDown(mem([0, 64 * MiB]), 16 * MiB, 16 * MiB, 0, 64 * MiB)).toBe(48 * MiB);
    expect(memblockFindTopDown(mem([0, 20 * MiB]), 16 * MiB, 16 * MiB, 0, 64 * MiB)).toBe(0);
    expect(memblockFindTopDown(mem([0, 40 * MiB - 1]), 16 * MiB, 16 * MiB, 0, 64 * MiB)).toBe(16 * MiB);
  });
});
