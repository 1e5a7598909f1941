/** Blob assembly: every carried page's bytes land at its address, blobs are sorted and disjoint. */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { overlay, pagesToBlobs } from "../../src/emit/blobs.js";
import { PhysMem } from "../../src/machine/physmem.js";

const BASE = 0x40000000;

describe("pagesToBlobs and overlay", () => {
  it("carry every page's bytes, sorted and disjoint, for any page set and gap", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4096, 16384, 65536),
        fc.uniqueArray(fc.integer({ min: 0, max: 511 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 8 }),
        (ps, pageIdx, gapPages) => {
          const mem = new PhysMem({
            pageSize: ps as 4096,
            ram: [{ start: BASE, end: BASE + 512 * ps }],
          });
          const pages = pageIdx.map((i) => BASE + i * ps);
          for (const p of pages) mem.write32(p + 8, (p / ps) >>> 0);
          const blobs = pagesToBlobs(mem, pages, { maxGap: gapPages * ps });
          for (let i = 1; i < blobs.length; i++) {
            expect(blobs[i]!.addr).toBeGreaterThan(
              blobs[i - 1]!.addr + blobs[i - 1]!.bytes.length + gapPages * ps - 1,
            );
          }
          for (const p of pages) {
            const b = blobs.find((x) => p >= x.addr && p < x.addr + x.bytes.length)!;
            const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset);
            expect(dv.getUint32(p - b.addr + 8, true)).toBe(p / ps);
          }
          // an overlay inside a blob replaces bytes there and nowhere else
          const target = pages[0]!;
          const patched = overlay(blobs, { addr: target, bytes: new Uint8Array([1, 2, 3]), label: "patch" });
          const b = patched.find((x) => target >= x.addr && target < x.addr + x.bytes.length)!;
          expect([...b.bytes.subarray(target - b.addr, target - b.addr + 3)]).toEqual([1, 2, 3]);
          expect(patched.length).toBe(blobs.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("an overlay outside every blob becomes its own blob; one straddling an edge is refused", () => {
    const mem = new PhysMem({ pageSize: 4096, ram: [{ start: BASE, end: BASE + 64 * 4096 }] });
    const blobs = pagesToBlobs(mem, [BASE, BASE + 4096], { maxGap: 0 });
    expect(blobs).toHaveLength(1);
    const added = overlay(blobs, { addr: BASE + 16 * 4096, bytes: new Uint8Array(8), label: "x" });
    expect(added.map((b) => b.addr)).toEqual([BASE, BASE + 16 * 4096]);
    expect(() => overlay(blobs, { addr: BASE + 8192 - 4, bytes: new Uint8Array(8), label: "y" })).toThrow(
      /straddles/,
    );
  });
});
