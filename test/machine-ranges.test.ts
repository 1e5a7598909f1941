import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Range, RangeSet } from "../src/machine/ranges.js";

/** Ranges over a small universe so a bitmap is the oracle. */
const U = 256;
const rangeArb = fc
  .tuple(fc.integer({ min: 0, max: U }), fc.integer({ min: 0, max: U }))
  .map(([a, b]): Range => ({ start: Math.min(a, b), end: Math.max(a, b) }));
const setArb = fc.array(rangeArb, { maxLength: 8 });

function bitmap(ranges: readonly Range[]): boolean[] {
  const bits = new Array<boolean>(U).fill(false);
  for (const r of ranges) for (let i = r.start; i < r.end; i++) bits[i] = true;
  return bits;
}

describe("RangeSet", () => {
  it("keeps ranges sorted, disjoint and coalesced", () => {
    fc.assert(
      fc.property(setArb, (rs) => {
        const s = new RangeSet(rs);
        for (let i = 1; i < s.ranges.length; i++)
          expect(s.ranges[i]!.start).toBeGreaterThan(s.ranges[i - 1]!.end);
        expect(bitmap(s.ranges)).toEqual(bitmap(rs));
      }),
    );
  });

  it("subtract, intersect and union agree with bitmaps", () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        const A = new RangeSet(a);
        const B = new RangeSet(b);
        const ba = bitmap(a);
        const bb = bitmap(b);
        expect(bitmap(A.subtract(B).ranges)).toEqual(ba.map((x, i) => x && !bb[i]));
        expect(bitmap(A.intersect(B).ranges)).toEqual(ba.map((x, i) => x && bb[i]));
        expect(bitmap(A.union(B).ranges)).toEqual(ba.map((x, i) => x || bb[i]));
      }),
    );
  });

  it("contains, covers and overlaps agree with bitmaps", () => {
    fc.assert(
      fc.property(setArb, rangeArb, (a, r) => {
        const A = new RangeSet(a);
        const ba = bitmap(a);
        for (let i = 0; i < U; i++) expect(A.contains(i)).toBe(ba[i]);
        const inR = ba.slice(r.start, r.end);
        expect(A.covers(r)).toBe(inR.every(Boolean));
        expect(A.overlaps(r)).toBe(inR.some(Boolean));
      }),
    );
  });

  it("firstFit and lastFit find the lowest and highest aligned fit", () => {
    fc.assert(
      fc.property(
        setArb,
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(1, 2, 4, 8, 16),
        fc.integer({ min: 0, max: U }),
        fc.integer({ min: 0, max: U }),
        (a, size, align, lo, hi) => {
          const A = new RangeSet(a);
          const min = Math.min(lo, hi);
          const max = Math.max(lo, hi);
          const fits: number[] = [];
          for (let s = 0; s + size <= U; s += align) {
            if (s >= min && s + size <= max && A.covers({ start: s, end: s + size })) fits.push(s);
          }
          expect(A.firstFit(size, { align, min, max })).toBe(fits[0]);
          expect(A.lastFit(size, { align, min, max })).toBe(fits.at(-1));
        },
      ),
    );
  });

  it("largest names the biggest range", () => {
    expect(
      RangeSet.of({ start: 0, end: 4 }, { start: 10, end: 30 }, { start: 40, end: 41 }).largest(),
    ).toEqual({ start: 10, end: 30 });
    expect(new RangeSet().largest()).toBeUndefined();
  });
});
