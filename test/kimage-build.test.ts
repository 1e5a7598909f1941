import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE } from "../src/kimage/constants.js";
import { iterateEntries, type Segment } from "../src/kimage/kimage.js";
import { kexecLoad } from "../src/kimage/load.js";
import type { FreePagePolicy } from "../src/machine/freepages.js";
import { Machine } from "../src/machine/machine.js";
import { MemoryMap } from "../src/machine/memmap.js";
import type { PageSize } from "../src/machine/physmem.js";

const MiB = 1024 * 1024;

function machine(
  pageSize: PageSize,
  policy: FreePagePolicy = { kind: "lowest" },
  ramMiB = 256,
  contentMode: "exact" | "shared" = "exact",
) {
  return new Machine({
    arch: "arm64",
    pageSize,
    memoryMap: MemoryMap.fromRam([{ start: 0x40000000, end: 0x40000000 + ramMiB * MiB }]),
    freePages: policy,
    contentMode,
  });
}

function pattern(n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = salt * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Data entries (DESTINATION or SOURCE) in each indirection page, in list order. */
function entriesPerIndirectionPage(m: Machine, head: number): number[] {
  const counts: number[] = [];
  for (const e of iterateEntries(m.mem, head)) {
    if (e.flag === IND_INDIRECTION) counts.push(0);
    else if (e.flag === IND_DESTINATION || e.flag === IND_SOURCE) counts[counts.length - 1]!++;
  }
  return counts;
}

describe("the entry list in simulated RAM", () => {
  for (const [pageSize, perPage] of [
    [4096, 511],
    [16384, 2047],
    [65536, 8191],
  ] as const) {
    it(`${pageSize / 1024}K pages: ${perPage} data entries per indirection page, the last slot links on`, () => {
      const pages = perPage * 2 + 10; // 1 DESTINATION + SOURCE entries spill into a third page
      const m = machine(pageSize, { kind: "highest" }, Math.ceil((pages * pageSize * 3) / MiB));
      const seg: Segment = {
        mem: 0x40000000,
        memsz: pages * pageSize,
        content: { kind: "bytes", data: new Uint8Array(0) },
      };
      const r = kexecLoad(m, [seg]);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const img = r.image;
      expect(img.head % pageSize).toBe(IND_INDIRECTION);
      expect(entriesPerIndirectionPage(m, img.head)).toEqual([perPage, perPage, pages + 1 - 2 * perPage]);
      // The reserved last slot of the first page holds the link to the second page.
      const first = img.indirectionPages[0]!;
      expect(m.mem.read64(first + pageSize - 8)).toBe(img.indirectionPages[1]! + IND_INDIRECTION);
      const all = [...img.entries()];
      expect(all.at(-1)!.flag).toBe(IND_DONE);
      expect(img.counters.sourcePages).toBe(pages);
      expect(img.counters.indirectionPages).toBe(3);
    });
  }

  it("a list that fills a page exactly puts IND_DONE in the reserved slot", () => {
    const m = machine(4096, { kind: "highest" });
    const seg: Segment = {
      mem: 0x40000000,
      memsz: 510 * 4096,
      content: { kind: "bytes", data: new Uint8Array(0) },
    };
    const r = kexecLoad(m, [seg]);
    if (!r.ok) throw new Error("refused");
    expect(r.image.counters.indirectionPages).toBe(1);
    expect(m.mem.read64(r.image.indirectionPages[0]! + 4096 - 8)).toBe(IND_DONE);
  });

  it("a crash image adds no entries: head is IND_DONE and the data is already in place", () => {
    const m = machine(4096);
    const data = pattern(5000, 3);
    const r = kexecLoad(m, [{ mem: 0x48000000, memsz: 8192, content: { kind: "bytes", data } }], {
      crashRegion: { start: 0x48000000, end: 0x50000000 },
    });
    if (!r.ok) throw new Error("refused");
    expect(r.image.head).toBe(IND_DONE);
    expect(r.image.counters.entries).toBe(0);
    const out = new Uint8Array(8192);
    m.mem.readBytes(0x48000000, out);
    expect(out.subarray(0, 5000)).toEqual(data);
    expect(r.image.controlPages[0]!.pa).toBe(0x48002000);
  });

  it("pages past bufsz are listed and zero", () => {
    const m = machine(4096);
    const r = kexecLoad(m, [
      { mem: 0x41000000, memsz: 4 * 4096, content: { kind: "bytes", data: pattern(100, 1) } },
    ]);
    if (!r.ok) throw new Error("refused");
    const pairs = r.image.sourcePairs();
    expect(pairs.map((p) => p.dest)).toEqual([0x41000000, 0x41001000, 0x41002000, 0x41003000]);
    const page = new Uint8Array(4096);
    for (const p of pairs.slice(1)) {
      m.mem.readBytes(p.src, page);
      expect(page.every((b) => b === 0)).toBe(true);
    }
  });

  it("lowest-first allocation swaps earlier sources into destinations it reaches (kimage_alloc_page step d)", () => {
    // RAM begins with 8 free pages, then the segment's destination: the allocator reaches it mid-load.
    const m = new Machine({
      arch: "arm64",
      pageSize: 4096,
      memoryMap: MemoryMap.fromRam([{ start: 0x40000000, end: 0x40100000 }]),
      freePages: { kind: "lowest" },
    });
    const data = pattern(64 * 4096, 9);
    const r = kexecLoad(m, [{ mem: 0x40008000, memsz: 64 * 4096, content: { kind: "bytes", data } }]);
    if (!r.ok) throw new Error("refused");
    const c = r.image.counters;
    expect(c.swaps).toBeGreaterThan(0);
    expect(c.inPlacePages).toBeGreaterThan(0);
    replayAndCheck(
      m,
      [{ mem: 0x40008000, memsz: 64 * 4096, content: { kind: "bytes", data } }],
      r.image.head,
    );
  });
});

/** Replay the list as the relocation code does, then compare every destination with its segment. */
function replayAndCheck(m: Machine, segs: Segment[], head: number): void {
  let dest = 0;
  for (const e of iterateEntries(m.mem, head)) {
    if (e.flag === IND_DESTINATION) dest = e.addr;
    else if (e.flag === IND_SOURCE) {
      expect(m.mem.copyPage(dest, e.addr)).toBe(true);
      dest += m.pageSize;
    }
  }
  for (const s of segs) {
    const got = new Uint8Array(s.memsz);
    expect(m.mem.readBytes(s.mem, got)).toBe(true);
    const want = new Uint8Array(s.memsz);
    if (s.content.kind === "bytes") want.set(s.content.data);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(want))).toBe(0);
  }
}

const policyArb: fc.Arbitrary<FreePagePolicy> = fc.oneof(
  fc.constant<FreePagePolicy>({ kind: "lowest" }),
  fc.constant<FreePagePolicy>({ kind: "highest" }),
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((seed): FreePagePolicy => ({ kind: "random", seed })),
  fc
    .record({
      seed: fc.integer({ min: 0, max: 1000 }),
      fraction: fc.double({ min: 0, max: 0.6, noNaN: true }),
    })
    .map(({ seed, fraction }): FreePagePolicy => ({ kind: "fragmented", seed, fraction })),
);

describe("property: kimage invariants for random segment lists and free-page orders", () => {
  it("every source page is its own destination or in none; no control page in a destination; replay reproduces the segments", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<PageSize>(4096, 16384, 65536),
        policyArb,
        fc.array(
          fc.record({
            gapPages: fc.integer({ min: 0, max: 40 }),
            pages: fc.integer({ min: 0, max: 40 }),
            fill: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.boolean(),
        (pageSize, policy, layout, shared) => {
          const ramPages = 512;
          const m = new Machine({
            arch: "arm64",
            pageSize,
            memoryMap: MemoryMap.fromRam([{ start: 0x40000000, end: 0x40000000 + ramPages * pageSize }]),
            freePages: policy,
            contentMode: shared ? "shared" : "exact",
          });
          const segs: Segment[] = [];
          let at = 0;
          let total = 0;
          for (const [i, l] of layout.entries()) {
            at += l.gapPages;
            if (total + l.pages > ramPages / 4 || at + l.pages > ramPages) break;
            const memsz = l.pages * pageSize;
            segs.push({
              mem: 0x40000000 + at * pageSize,
              memsz,
              content: { kind: "bytes", data: pattern(Math.floor(memsz * l.fill), i + 1) },
            });
            at += l.pages;
            total += l.pages;
          }
          const r = kexecLoad(m, segs);
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          const img = r.image;
          for (const { dest, src } of img.sourcePairs()) {
            if (src !== dest) expect(img.isDestinationRange(src, src + pageSize - 1)).toBe(false);
          }
          for (const ind of img.indirectionPages)
            expect(img.isDestinationRange(ind, ind + pageSize - 1)).toBe(false);
          for (const c of img.controlPages)
            expect(img.isDestinationRange(c.pa, c.pa + pageSize - 1)).toBe(false);
          expect(img.counters.sourcePages).toBe(total);
          replayAndCheck(m, segs, img.head);
        },
      ),
      { numRuns: 150 },
    );
  });
});
