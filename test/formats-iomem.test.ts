import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { inspectBytes } from "../src/formats/detect.js";
import { iomemToMemoryMap, parseIomem } from "../src/formats/iomem.js";
import { qemuVirt4gMap } from "../src/scenario/default.js";
import { dataFile } from "./helpers/data.js";

const text = (p: string) => readFileSync(dataFile(p), "utf8");

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e.code;
    throw e;
  }
  return "no error";
}

describe("/proc/iomem", () => {
  it("arm64 QEMU virt: RAM, and the running kernel and firmware carved out", () => {
    const io = parseIomem(text("arm64-qemu-virt-4g.txt"));
    expect(io.kind).toBe("iomem");
    expect(io.entries).toHaveLength(27);
    const map = iomemToMemoryMap(io);
    expect(map.ram.ranges).toEqual([{ start: 0x40000000, end: 0x140000000 }]);
    // The hand-made map of the default scenario says the same about usable memory.
    expect(map.usable.ranges).toEqual(qemuVirt4gMap().usable.ranges);
    expect(map.usable.ranges.slice(0, 2)).toEqual([
      { start: 0x40000000, end: 0x41a10000 },
      { start: 0x43666000, end: 0xf8000000 },
    ]);
    // Device lines are not RAM.
    expect(map.ram.contains(0x09000000)).toBe(false);
    expect(map.regions.some((r) => r.type === "device" && r.name === "PCI ECAM")).toBe(true);
  });

  it("x86_64 cloud VM: three RAM ranges, top-level Reserved is not RAM, kernel sections carved out", () => {
    const map = iomemToMemoryMap(parseIomem(text("x86_64-cloud-vm.txt")));
    expect(map.ram.ranges).toEqual([
      { start: 0x1000, end: 0x9fc00 },
      { start: 0x100000, end: 0xc0000000 },
      { start: 0x100000000, end: 0x640000000 },
    ]);
    expect(map.ramBytes).toBe(0x9ec00 + 0xbff00000 + 0x540000000);
    expect(map.reserved.ranges.map((r) => r.start)).toEqual([0x1000000, 0x2400000, 0x3000000, 0x3b34000]);
  });

  it("a Crash kernel child becomes the crash region and is reserved for normal loads", () => {
    const t = text("arm64-qemu-virt-4g.txt").replace(
      "  f8000000-ffffffff : reserved\n",
      "  60000000-6fffffff : Crash kernel\n  f8000000-ffffffff : reserved\n",
    );
    const io = parseIomem(t);
    expect(io.crashKernel).toEqual([{ start: 0x60000000, end: 0x70000000 }]);
    expect(iomemToMemoryMap(io).usable.contains(0x60000000)).toBe(false);
  });

  it("/sys/firmware/memmap style input", () => {
    const io = parseIomem(
      "0x0 0x9fbff System RAM\n0x9fc00 0x9ffff Reserved\n0x100000 0xbfffffff System RAM\n0x100000000 0x63fffffff System RAM\n",
    );
    expect(io.kind).toBe("memmap");
    const map = iomemToMemoryMap(io);
    expect(map.ram.ranges).toEqual([
      { start: 0, end: 0x9fc00 },
      { start: 0x100000, end: 0xc0000000 },
      { start: 0x100000000, end: 0x640000000 },
    ]);
    expect(inspectBytes(new TextEncoder().encode("0x0 0x9fbff System RAM\n"))).toMatchObject({
      kind: "memmap",
    });
  });

  it("inspect summary", () => {
    expect(inspectBytes(new TextEncoder().encode(text("arm64-qemu-virt-4g.txt")))).toMatchObject({
      kind: "iomem",
      ram: [{ start: "0x40000000", size: 4294967296 }],
      crashKernel: [],
    });
  });

  it("bad lines name the line number", () => {
    try {
      parseIomem("40000000-13fffffff : System RAM\n  zzz\n", "iomem.txt");
      expect.unreachable();
    } catch (e) {
      expect((e as KexecLabError).code).toBe("E_FORMAT_CORRUPT");
      expect((e as KexecLabError).where).toEqual({ file: "iomem.txt", offset: 32, field: "line 2" });
    }
    expect(codeOf(() => parseIomem("50-40 : System RAM\n"))).toBe("E_FORMAT_CORRUPT");
    expect(codeOf(() => parseIomem("40-50 : x\n    41-42 : y\n"))).toBe("E_FORMAT_CORRUPT");
    expect(codeOf(() => parseIomem("40-50 : x\n  30-42 : y\n"))).toBe("E_FORMAT_CORRUPT");
    expect(codeOf(() => iomemToMemoryMap(parseIomem("40-50 : PCI\n")))).toBe("E_NO_MEMORY_MAP");
  });

  it("property: usable memory is RAM minus every child of System RAM, for generated iomem text", () => {
    const page = 0x1000;
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 64 }),
            fc.array(fc.tuple(fc.nat(63), fc.integer({ min: 1, max: 4 }), fc.boolean()), { maxLength: 4 }),
          ),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        (banks) => {
          let lines = "";
          let base = 0x40000000;
          let expectUsable = 0;
          for (const [pages, kids] of banks) {
            const start = base;
            const end = base + pages * 64 * page;
            lines += `${start.toString(16)}-${(end - 1).toString(16)} : System RAM\n`;
            const carved = new Set<number>();
            let cursor = start;
            for (const [gap, len, reserved] of kids) {
              const s = cursor + gap * page;
              const e = Math.min(s + len * page, end);
              if (s >= end) break;
              lines += `  ${s.toString(16)}-${(e - 1).toString(16)} : ${reserved ? "reserved" : "Kernel code"}\n`;
              for (let a = s; a < e; a += page) carved.add(a);
              cursor = e;
            }
            expectUsable += end - start - carved.size * page;
            base = end + 0x10000000;
          }
          const map = iomemToMemoryMap(parseIomem(lines));
          expect(map.usable.totalBytes).toBe(expectUsable);
        },
      ),
      { numRuns: 200 },
    );
  });
});
