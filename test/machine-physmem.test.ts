import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { PhysMem } from "../src/machine/physmem.js";
import { RangeSet } from "../src/machine/ranges.js";

const RAM = RangeSet.of(
  { start: 0x40000000, end: 0x40100000 },
  { start: 0x1_0000_0000_0000, end: 0x1_0000_0010_0000 },
);

describe("PhysMem", () => {
  it("reads zeros from untouched RAM and faults (as values) outside it", () => {
    const m = new PhysMem({ pageSize: 4096, ram: RAM });
    expect(m.read32(0x40000000)).toBe(0);
    expect(m.read32(0x3ffffffc)).toBe(-1);
    expect(m.read64(0x40100000)).toBe(-1);
    expect(m.write32(0x50000000, 1)).toBe(false);
    expect(m.readBytes(0x400ff000, new Uint8Array(0x2000))).toBe(false);
    expect(m.isRam(0x1_0000_0000_0000)).toBe(true);
  });

  it("stores 32- and 64-bit values little-endian, also above 2^32 and near 2^48", () => {
    const m = new PhysMem({ pageSize: 16384, ram: RAM });
    expect(m.write64(0x40000008, 0x000f_ffff_ffff_f00b)).toBe(true);
    expect(m.read64(0x40000008)).toBe(0x000f_ffff_ffff_f00b);
    expect(m.read32(0x40000008)).toBe(0xfffff00b);
    expect(m.read32(0x4000000c)).toBe(0x000fffff);
    const b = new Uint8Array(8);
    m.readBytes(0x40000008, b);
    expect([...b]).toEqual([0x0b, 0xf0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    expect(m.write32(0x1_0000_0000_0ff0, 0xdeadbeef)).toBe(true);
    expect(m.read32(0x1_0000_0000_0ff0)).toBe(0xdeadbeef);
  });

  it("round-trips random writes across page boundaries", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xf0000 }),
        fc.uint8Array({ minLength: 1, maxLength: 20000 }),
        (off, data) => {
          const m = new PhysMem({ pageSize: 4096, ram: RAM });
          const pa = 0x40000000 + off;
          const fits = off + data.length <= 0x100000;
          expect(m.writeBytes(pa, data)).toBe(fits);
          if (!fits) return;
          const out = new Uint8Array(data.length);
          expect(m.readBytes(pa, out)).toBe(true);
          expect(out).toEqual(data);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("shared copies are copy-on-write", () => {
    const m = new PhysMem({ pageSize: 4096, ram: RAM, shareOnCopy: true });
    m.write32(0x40000000, 0x11111111);
    expect(m.copyPage(0x40001000, 0x40000000)).toBe(true);
    expect(m.contentTag(0x40001000)).toEqual(m.contentTag(0x40000000));
    expect(m.read32(0x40001000)).toBe(0x11111111);
    m.write32(0x40001000, 0x22222222);
    expect(m.read32(0x40000000)).toBe(0x11111111);
    expect(m.read32(0x40001000)).toBe(0x22222222);
    expect(m.stats().exactFrames).toBe(2);
  });

  it("synthetic pages read back the same bytes as rendered, survive shared and exact copies, and are verifiable", () => {
    for (const shareOnCopy of [true, false]) {
      const m = new PhysMem({ pageSize: 4096, ram: RAM, shareOnCopy });
      const p = m.addPayload(42);
      m.setSynthetic(0x40000000, p, 7);
      const want = new Uint8Array(4096);
      m.renderSynthetic(p, 7, want);
      const got = new Uint8Array(4096);
      m.readBytes(0x40000000, got);
      expect(got).toEqual(want);
      expect(want.some((b) => b !== 0)).toBe(true);
      m.copyPage(0x40005000, 0x40000000);
      expect(m.pageMatchesSynthetic(0x40005000, p, 7)).toBe(true);
      expect(m.pageMatchesSynthetic(0x40005000, p, 8)).toBe(false);
      m.write32(0x40005ffc, 0);
      expect(m.pageMatchesSynthetic(0x40005000, p, 7)).toBe(
        want[4092] === 0 && want[4093] === 0 && want[4094] === 0 && want[4095] === 0,
      );
      expect(m.stats().exactFrames).toBe(1);
    }
  });

  it("different (seed, index) pairs give different pages", () => {
    const m = new PhysMem({ pageSize: 4096, ram: RAM });
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    m.renderSynthetic(m.addPayload(1), 0, a);
    m.renderSynthetic(m.addPayload(1), 1, b);
    expect(a).not.toEqual(b);
  });

  it("zeroPage clears exact and shared pages", () => {
    const m = new PhysMem({ pageSize: 4096, ram: RAM, shareOnCopy: true });
    m.write32(0x40000000, 5);
    m.copyPage(0x40001000, 0x40000000);
    m.zeroPage(0x40001000);
    expect(m.read32(0x40001000)).toBe(0);
    expect(m.read32(0x40000000)).toBe(5);
  });

  it("borrowed pages view the caller's bytes, cost no storage, and are copied before any write", () => {
    for (const shareOnCopy of [false, true]) {
      const m = new PhysMem({ pageSize: 4096, ram: RAM, shareOnCopy });
      const buf = new Uint8Array(3 * 4096).map((_, i) => (i * 7 + 1) & 0xff);
      const keep = buf.slice();
      for (let i = 0; i < 3; i++) {
        expect(m.borrowPage(0x40000000 + i * 4096, buf.subarray(i * 4096, (i + 1) * 4096))).toBe(true);
      }
      expect(m.stats().storageBytes).toBe(0);
      expect(m.stats().exactFrames).toBe(3);
      const out = new Uint8Array(3 * 4096);
      m.readBytes(0x40000000, out);
      expect(out).toEqual(buf);
      // every way of writing leaves the caller's buffer untouched
      m.write32(0x40000000, 0xdeadbeef);
      m.zeroPage(0x40001000);
      m.writeBytes(0x40002010, new Uint8Array([9, 9, 9]));
      expect(m.copyPage(0x40003000, 0x40002000)).toBe(true);
      m.write32(0x40003000, 5);
      expect(buf).toEqual(keep);
      expect(m.read32(0x40000000)).toBe(0xdeadbeef);
      expect(m.read32(0x40001000)).toBe(0);
      expect(m.read32(0x40002010) & 0xffffff).toBe(0x090909);
      expect(m.read32(0x40003000)).toBe(5);
      // released borrowed frames are forgotten; their numbers are reused by later frames
      const before = m.stats().exactFrames;
      m.borrowPage(0x40005000, buf.subarray(0, 4096));
      m.borrowPage(0x40006000, buf.subarray(4096, 8192));
      expect(m.stats().exactFrames).toBe(before + 2);
      m.zeroPage(0x40005000);
      m.borrowPage(0x40006000, buf.subarray(0, 4096));
      expect(m.stats().exactFrames).toBe(before + 1);
      m.write32(0x40007000, 1);
      m.write32(0x40008000, 2);
      expect([m.read32(0x40007000), m.read32(0x40008000), m.read32(0x40006000)]).toEqual([1, 2, 0x160f0801]);
      expect(m.stats().exactFrames).toBe(before + 3);
      expect(m.borrowPage(0x50000000, buf.subarray(0, 4096))).toBe(false);
      expect(() => m.borrowPage(0x40000000, buf.subarray(0, 100))).toThrow(RangeError);
    }
    const z = new PhysMem({ pageSize: 4096, ram: RAM, shareOnCopy: true });
    z.borrowPage(0x40000000, new Uint8Array(4096));
    expect(z.isZeroPage(0x40000000)).toBe(true);
  });

  it("refuses misaligned RAM and RAM beyond the physical address bits", () => {
    expect(() => new PhysMem({ pageSize: 65536, ram: [{ start: 0x1000, end: 0x20000 }] })).toThrow(
      KexecLabError,
    );
    expect(() => new PhysMem({ pageSize: 4096, ram: [{ start: 0, end: 2 ** 40 }], paBits: 36 })).toThrow(
      /physical address/,
    );
  });

  it("enforces its storage budget with a catalogued error", () => {
    const m = new PhysMem({ pageSize: 4096, ram: RAM, maxBytes: 4 * 1024 * 1024 });
    let err: unknown;
    try {
      for (let pa = 0x40000000; pa < 0x40100000; pa += 4096) m.write32(pa, 1);
      const m2 = new PhysMem({
        pageSize: 65536,
        ram: [{ start: 0, end: 64 * 1024 * 1024 }],
        maxBytes: 4 * 1024 * 1024,
      });
      for (let pa = 0; pa < 64 * 1024 * 1024; pa += 65536) m2.write32(pa, 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KexecLabError);
    expect((err as KexecLabError).code).toBe("E_LIMIT");
  });
});
