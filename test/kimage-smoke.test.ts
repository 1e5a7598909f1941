import { describe, expect, it } from "vitest";
import { IND_DONE, IND_INDIRECTION } from "../src/kimage/constants.js";
import { Kimage } from "../src/kimage/kimage.js";
import { PageAllocator } from "../src/machine/freepages.js";
import { PhysMem } from "../src/machine/physmem.js";
import { RangeSet } from "../src/machine/ranges.js";

describe("kimage smoke", () => {
  it("builds and replays a small image", () => {
    const ram = RangeSet.of({ start: 0x40000000, end: 0x40000000 + 64 * 2 ** 20 });
    const mem = new PhysMem({ pageSize: 4096, ram });
    const alloc = new PageAllocator(ram, 4096, { kind: "lowest" });
    const data = new Uint8Array(10000).map((_, i) => (i * 7) & 0xff);
    const k = new Kimage({ arch: "arm64", mem, allocator: alloc, segments: [{ mem: 0x40000000, memsz: 16384, content: { kind: "bytes", data } }] });
    k.allocInit();
    k.loadSegments();
    expect(k.head & 0xf).toBe(IND_INDIRECTION);
    const pairs = k.sourcePairs();
    expect(pairs.length).toBe(4);
    const last = [...k.entries()].at(-1)!;
    expect(last.flag).toBe(IND_DONE);
    for (const p of pairs) mem.copyPage(p.dest, p.src);
    const out = new Uint8Array(16384);
    mem.readBytes(0x40000000, out);
    expect(out.subarray(0, 10000)).toEqual(data);
    expect(out.subarray(10000).every((b) => b === 0)).toBe(true);
  });
});
