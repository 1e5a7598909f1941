import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FreePagePolicy, PageAllocator } from "../src/machine/freepages.js";
import { RangeSet } from "../src/machine/ranges.js";

const free = RangeSet.of({ start: 0x1000, end: 0x9000 }, { start: 0x20000, end: 0x40000 });
const freePages = (() => {
  const out: number[] = [];
  for (const r of free.ranges) for (let pa = r.start; pa < r.end; pa += 0x1000) out.push(pa);
  return out;
})();

function drain(a: PageAllocator): number[] {
  const out: number[] = [];
  for (let pa = a.alloc(); pa >= 0; pa = a.alloc()) out.push(pa);
  return out;
}

describe("PageAllocator policies", () => {
  it("lowest hands out ascending addresses, highest descending", () => {
    expect(drain(new PageAllocator(free, 0x1000, { kind: "lowest" }))).toEqual(freePages);
    expect(drain(new PageAllocator(free, 0x1000, { kind: "highest" }))).toEqual([...freePages].reverse());
  });

  it("random is a seeded permutation of every free page", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const got = drain(new PageAllocator(free, 0x1000, { kind: "random", seed }));
        expect([...got].sort((x, y) => x - y)).toEqual(freePages);
        expect(drain(new PageAllocator(free, 0x1000, { kind: "random", seed }))).toEqual(got);
      }),
      { numRuns: 50 },
    );
    const a = drain(new PageAllocator(free, 0x1000, { kind: "random", seed: 1 }));
    const b = drain(new PageAllocator(free, 0x1000, { kind: "random", seed: 2 }));
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(freePages);
  });

  it("fragmented keeps about the given fraction in use and hands out the rest lowest first", () => {
    const big = RangeSet.of({ start: 0, end: 4096 * 10000 });
    const got = drain(new PageAllocator(big, 4096, { kind: "fragmented", seed: 5, fraction: 0.3 }));
    expect(got.length).toBeGreaterThan(6500);
    expect(got.length).toBeLessThan(7500);
    expect(got).toEqual([...got].sort((x, y) => x - y));
  });

  it("a freed page is the next one handed out", () => {
    const a = new PageAllocator(free, 0x1000, { kind: "lowest" });
    const p1 = a.alloc();
    const p2 = a.alloc();
    a.free(p1);
    expect(a.alloc()).toBe(p1);
    expect(a.alloc()).toBe(p2 + 0x1000);
    expect(a.allocated).toBe(3);
  });

  it("rejects a fragmented fraction outside [0, 1)", () => {
    const bad: FreePagePolicy = { kind: "fragmented", seed: 1, fraction: 1.5 };
    expect(() => new PageAllocator(free, 0x1000, bad)).toThrow(/fraction/);
  });

  it("is lazy: a 1 TiB machine costs nothing up front", () => {
    const huge = RangeSet.of({ start: 0, end: 2 ** 40 });
    const a = new PageAllocator(huge, 4096, { kind: "random", seed: 3 });
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(a.alloc());
    expect(seen.size).toBe(1000);
    for (const pa of seen) expect(pa % 4096).toBe(0);
  });
});
