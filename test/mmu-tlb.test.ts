import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PhysMem } from "../src/machine/physmem.js";
import { RangeSet } from "../src/machine/ranges.js";
import { bumpAllocator, TableBuilder } from "../src/mmu/builder.js";
import { createFormat } from "../src/mmu/formats.js";
import type { MapAttributes } from "../src/mmu/types.js";
import { Tlb, walk } from "../src/mmu/walker.js";
import { EV_DESC_READ, EV_TLB_MISS, TraceBuffer } from "../src/reloc/trace.js";

const RW: MapAttributes = { memType: "normal", writable: true, executable: false };
const POOL = 0x4000_0000;

function setup() {
  const format = createFormat({ arch: "arm64", granule: 4096, vaBits: 48 });
  const mem = new PhysMem({ pageSize: 4096, ram: RangeSet.of({ start: POOL, end: POOL + 2 ** 26 }) });
  const builder = new TableBuilder(mem, format, bumpAllocator(mem, POOL, POOL + 2 ** 26, 4096));
  // 4 MiB of pages at VA 0 (TTBR0) and a 1 GiB block + 2M blocks at VA 0 of TTBR1.
  builder.map({ half: 0, va: 0, pa: 0x8000_0000, size: 2 ** 22, attrs: RW }, { pageGranular: true });
  builder.map({ half: 1, va: 0, pa: 0x1_0000_0000, size: 2 ** 30 + 2 ** 22, attrs: RW });
  return { format, mem, builder };
}

describe("Tlb", () => {
  it("translates exactly as the walker does, for any access sequence (property)", () => {
    const { format, mem, builder } = setup();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom<0 | 1>(0, 1), fc.integer({ min: 0, max: 2 ** 31 - 1 })), {
          maxLength: 300,
        }),
        fc.integer({ min: 4, max: 64 }),
        (accesses, entries) => {
          const tlb = new Tlb(mem, format, builder.rootsForTlb(), undefined, entries);
          for (const [half, va] of accesses) {
            const r = walk(mem, format, builder.root(half), half, va);
            const pa = tlb.translate(half, va);
            expect(pa).toBe(r.ok ? r.pa : -1);
            if (!r.ok) expect(tlb.lastFault).toEqual(r.fault);
          }
          expect(tlb.hits + tlb.misses).toBe(accesses.length);
          expect(tlb.walks).toBe(tlb.misses);
        },
      ),
    );
  });

  it("caches the leaf size: one miss serves a whole 2M block and a whole 1G block", () => {
    const { format, mem, builder } = setup();
    const tlb = new Tlb(mem, format, builder.rootsForTlb());
    for (let va = 0; va < 2 ** 30; va += 2 ** 20) tlb.translate(1, va);
    expect(tlb.misses).toBe(1);
    expect(tlb.hits).toBe(1023);
    for (let va = 2 ** 30; va < 2 ** 30 + 2 ** 22; va += 4096) tlb.translate(1, va);
    expect(tlb.misses).toBe(3); // two 2M blocks
    // TTBR1 walks read L0, L1 (1G block) then L0, L1, L2 (2M blocks).
    expect(tlb.descriptorReadsByLevel).toEqual([0, 3, 3, 2, 0]);
  });

  it("evicts LRU within a set, and flush() forgets everything", () => {
    const { format, mem, builder } = setup();
    const tlb = new Tlb(mem, format, builder.rootsForTlb(), undefined, 4); // one set of 4 ways
    for (let i = 0; i < 4; i++) tlb.translate(0, i * 4096);
    tlb.translate(0, 0); // page 0 is now most recent
    tlb.translate(0, 5 * 4096); // evicts page 1 (least recent)
    const misses = tlb.misses;
    tlb.translate(0, 0x10);
    tlb.translate(0, 2 * 4096);
    expect(tlb.misses).toBe(misses);
    tlb.translate(0, 4096);
    expect(tlb.misses).toBe(misses + 1);
    tlb.flush();
    tlb.translate(0, 2 * 4096);
    expect(tlb.misses).toBe(misses + 2);
  });

  it("emits one EV_TLB_MISS and one EV_DESC_READ per descriptor read to the sink", () => {
    const { format, mem, builder } = setup();
    const trace = new TraceBuffer(64);
    const events: number[][] = [];
    const sink = {
      event(kind: number, a: number, b: number, n: number, flags: number) {
        events.push([kind, a, b, n, flags]);
        trace.event(kind, a, b, n, flags);
      },
    };
    const tlb = new Tlb(mem, format, builder.rootsForTlb(), sink);
    expect(tlb.translate(0, 0x3008)).toBe(0x8000_3008);
    tlb.translate(0, 0x3010);
    const steps: { descriptorPa: number; level: number }[] = [];
    walk(mem, format, builder.root(0), 0, 0x3008, steps as never);
    expect(events).toEqual([
      [EV_TLB_MISS, 0x3000, 0, 4096, 0],
      ...steps.map((s) => [EV_DESC_READ, s.descriptorPa, s.level, 8, 0]),
    ]);
    expect(tlb.translate(0, 2 ** 30)).toBe(-1);
    expect(events.at(-1)![0]).toBe(EV_DESC_READ);
    expect(tlb.lastFault).toEqual({ kind: "translation", level: 1 });
  });
});
