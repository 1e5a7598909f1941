import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { MemoryMap } from "../src/machine/memmap.js";

describe("MemoryMap", () => {
  it("reserved regions nested in RAM stay RAM but are not usable", () => {
    const m = new MemoryMap([
      { start: 0x40000000, end: 0x80000000, type: "ram", name: "System RAM" },
      { start: 0x41000000, end: 0x42000000, type: "reserved", name: "Kernel code" },
      { start: 0x9000000, end: 0x9001000, type: "device", name: "pl011" },
    ]);
    expect(m.ramBytes).toBe(0x40000000);
    expect(m.usable.ranges).toEqual([
      { start: 0x40000000, end: 0x41000000 },
      { start: 0x42000000, end: 0x80000000 },
    ]);
  });

  it("page alignment drops partial pages at RAM edges", () => {
    const m = MemoryMap.fromRam([{ start: 0x1000, end: 0x9fc00 }]);
    expect(m.ramPages(4096).ranges).toEqual([{ start: 0x1000, end: 0x9f000 }]);
    expect(m.ramPages(65536).ranges).toEqual([{ start: 0x10000, end: 0x90000 }]);
  });

  it("refuses overlapping RAM and empty regions", () => {
    expect(() =>
      MemoryMap.fromRam([
        { start: 0, end: 0x2000 },
        { start: 0x1000, end: 0x3000 },
      ]),
    ).toThrow(KexecLabError);
    expect(() => MemoryMap.fromRam([{ start: 0x2000, end: 0x2000 }])).toThrow(/empty/);
  });
});
