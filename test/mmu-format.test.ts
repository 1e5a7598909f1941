import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { MAIR_EL1, tcrFor } from "../src/mmu/format-arm64.js";
import { EFER_LME, EFER_NXE, X86_CR4_LA57, X86_CR4_PAE } from "../src/mmu/format-x86.js";
import { createFormat, type FormatSpec } from "../src/mmu/formats.js";
import type { DescriptorHalves, MapAttributes } from "../src/mmu/types.js";

const hex64 = (h: DescriptorHalves) =>
  `0x${h.hi.toString(16).padStart(8, "0")}${h.lo.toString(16).padStart(8, "0")}`;

const KERNEL_DATA: MapAttributes = { memType: "normal", writable: true, executable: false };

function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e.code;
    throw e;
  }
  return "none";
}

describe("arm64 level tables (kexec-facts.md section 7)", () => {
  // [granule, vaBits, start level, levels, start-level entries]
  const table: [4096 | 16384 | 65536, 39 | 42 | 47 | 48 | 52, number, number, number][] = [
    [4096, 39, 1, 3, 512],
    [4096, 42, 0, 4, 8],
    [4096, 47, 0, 4, 256],
    [4096, 48, 0, 4, 512],
    [4096, 52, -1, 5, 16],
    [16384, 39, 1, 3, 8],
    [16384, 42, 1, 3, 64],
    [16384, 47, 1, 3, 2048],
    [16384, 48, 0, 4, 2],
    [16384, 52, 0, 4, 32],
    [65536, 42, 2, 2, 8192],
    [65536, 47, 1, 3, 32],
    [65536, 48, 1, 3, 64],
    [65536, 52, 1, 3, 1024],
  ];
  it.each(table)(
    "%i granule, %i-bit VA: start level %i, %i levels, %i root entries",
    (g, va, start, n, e) => {
      const f = createFormat({ arch: "arm64", granule: g, vaBits: va });
      expect(f.startLevel).toBe(start);
      expect(f.levels.length).toBe(n);
      expect(f.levels[0]!.entries).toBe(e);
      expect(f.levels[0]!.level).toBe(start);
      for (const l of f.levels.slice(1)) expect(l.entries).toBe(g / 8);
      expect(f.levels.at(-1)!.shift).toBe(Math.log2(g));
    },
  );

  it("allows blocks where the architecture does: 4K 1G/2M, 16K 32M, 64K 512M; more with 52-bit", () => {
    const sizes = (spec: FormatSpec) => createFormat(spec).leafSizes;
    expect(sizes({ arch: "arm64", granule: 4096, vaBits: 48 })).toEqual([2 ** 30, 2 ** 21, 2 ** 12]);
    expect(sizes({ arch: "arm64", granule: 16384, vaBits: 48 })).toEqual([2 ** 25, 2 ** 14]);
    expect(sizes({ arch: "arm64", granule: 65536, vaBits: 48 })).toEqual([2 ** 29, 2 ** 16]);
    expect(sizes({ arch: "arm64", granule: 4096, vaBits: 52 })).toEqual([2 ** 39, 2 ** 30, 2 ** 21, 2 ** 12]);
    expect(sizes({ arch: "arm64", granule: 16384, vaBits: 52 })).toEqual([2 ** 36, 2 ** 25, 2 ** 14]);
    expect(sizes({ arch: "arm64", granule: 65536, vaBits: 52 })).toEqual([2 ** 42, 2 ** 29, 2 ** 16]);
    expect(sizes({ arch: "x86_64", levels: 4 })).toEqual([2 ** 30, 2 ** 21, 2 ** 12]);
  });

  it("refuses combinations that do not exist", () => {
    expect(thrown(() => createFormat({ arch: "arm64", granule: 65536, vaBits: 39 }))).toBe("E_NOT_MODELED");
    expect(thrown(() => createFormat({ arch: "arm64", granule: 4096, vaBits: 40 as 39 }))).toBe(
      "E_FIELD_VALUE",
    );
    expect(thrown(() => createFormat({ arch: "arm64", granule: 8192 as 4096, vaBits: 48 }))).toBe(
      "E_PAGE_SIZE",
    );
    expect(thrown(() => createFormat({ arch: "arm64", granule: 4096, vaBits: 48, paBits: 50 }))).toBe(
      "E_FIELD_VALUE",
    );
    expect(thrown(() => createFormat({ arch: "x86_64", levels: 3 as 4 }))).toBe("E_FIELD_VALUE");
    expect(thrown(() => createFormat({ arch: "mips" } as unknown as FormatSpec))).toBe("E_UNKNOWN_ARCH");
  });
});

describe("golden descriptors, worked out by hand from the architecture", () => {
  it("4K granule: 2 MiB block at PA 0x40200000, Normal (AttrIndx 0), AF, inner shareable, RW, XN", () => {
    // bits[1:0] = 01 block; AttrIndx[4:2] = 0; AP[7:6] = 00 (EL1 RW); SH[9:8] = 11; AF[10] = 1;
    // OA[47:21] = 0x40200000; PXN[53] = UXN[54] = 1  ->  0x00600000_40200701
    const f = createFormat({ arch: "arm64", granule: 4096, vaBits: 48 });
    const h = { lo: 0, hi: 0 };
    f.encodeLeaf(0x40200000, 2, KERNEL_DATA, false, h);
    expect(hex64(h)).toBe("0x0060000040200701");
    const d = f.decode(h.lo, h.hi, 2);
    expect(d.kind).toBe("block");
    expect(d.address).toBe(0x40200000);
    expect(d.fields).toMatchObject({ AttrIndx: 0, AP: 0, SH: 3, AF: true, nG: false, PXN: true, UXN: true });
    // The same bits at level 3 are a page (bits[1:0] = 11).
    f.encodeLeaf(0x40200000, 3, KERNEL_DATA, true, h);
    expect(hex64(h)).toBe("0x0070000040200703");
  });

  it("64K granule, 52-bit PA (FEAT_LPA): PA[51:48] go to bits 15:12", () => {
    // PA 0xf_1234_5678_0000: OA[47:16] -> bits 47:16 = 0x1234_5678_0000, OA[51:48] = 0xf -> bits 15:12;
    // page 11, SH 11, AF; executable kernel text: PXN 0, UXN 1  ->  0x00401234_5678f703
    const f = createFormat({ arch: "arm64", granule: 65536, vaBits: 52 });
    expect(f.paBits).toBe(52);
    const h = { lo: 0, hi: 0 };
    f.encodeLeaf(0xf_1234_5678_0000, 3, { memType: "normal", writable: true, executable: true }, false, h);
    expect(hex64(h)).toBe("0x004012345678f703");
    expect(f.outputAddress(h.lo, h.hi, 3)).toBe(0xf_1234_5678_0000);
    expect(f.decode(h.lo, h.hi, 3).address).toBe(0xf_1234_5678_0000);
  });

  it("4K granule with LPA2 (52-bit VA): PA[51:50] go to bits 9:8, PA[49:48] stay at 49:48, no SH", () => {
    // PA 0xd_0000_8000_1000: bits 51:50 = 11 -> descriptor bits 9:8; bit 48 -> descriptor bit 48
    const f = createFormat({ arch: "arm64", granule: 4096, vaBits: 52 });
    const h = { lo: 0, hi: 0 };
    f.encodeLeaf(0xd_0000_8000_1000, 3, KERNEL_DATA, false, h);
    expect(hex64(h)).toBe("0x0061000080001703");
    expect(f.outputAddress(h.lo, h.hi, 3)).toBe(0xd_0000_8000_1000);
    expect(f.decode(h.lo, h.hi, 3).fields.SH).toBeUndefined();
    f.encodeTable(0xc_0000_0000_2000, 0, h);
    expect(hex64(h)).toBe("0x0000000000002303");
  });

  it("attribute encodings: device, non-cacheable, read-only user, nG, contiguous", () => {
    const f = createFormat({ arch: "arm64", granule: 16384, vaBits: 48 });
    const h = { lo: 0, hi: 0 };
    f.encodeLeaf(0x8000_4000, 3, { memType: "device", writable: true, executable: false }, false, h);
    expect(hex64(h)).toBe("0x006000008000470f"); // AttrIndx 3 -> bits 4:2 = 011
    f.encodeLeaf(
      0x8000_4000,
      3,
      {
        memType: "normal-nc",
        writable: false,
        executable: true,
        user: true,
        notGlobal: true,
        shareability: 2,
      },
      true,
      h,
    );
    // AttrIndx 2 (0x8), AP = 11 (0xc0), SH = 10 (0x200), AF, nG (0x800); user-executable: PXN 1, UXN 0, Cont
    expect(hex64(h)).toBe("0x0030000080004ecb");
    expect(f.leafAttributes(h.lo, h.hi, 3)).toEqual({
      memType: "normal-nc",
      writable: false,
      executable: true,
      user: true,
      shareability: 2,
      accessed: true,
      notGlobal: true,
    });
    expect(f.isContiguous(h.lo, h.hi)).toBe(true);
  });

  it("table descriptors and reserved encodings", () => {
    const f = createFormat({ arch: "arm64", granule: 4096, vaBits: 48 });
    const h = { lo: 0, hi: 0 };
    f.encodeTable(0x4321_0000, 1, h);
    expect(hex64(h)).toBe("0x0000000043210003");
    expect(f.decode(h.lo, h.hi, 1).kind).toBe("table");
    // bits[1:0] = 01 is a block at L1/L2 but reserved at L0 (no 512G blocks without LPA2) and at L3.
    expect(f.decode(0x40000001, 0, 0).fields.reserved).toBe(true);
    expect(f.decode(0x40000001, 0, 3).fields.reserved).toBe(true);
    expect(f.decode(0x40000001, 0, 1).kind).toBe("block");
    expect(f.decode(0x40000002, 0, 1).kind).toBe("invalid");
  });

  it("x86_64: 2M page (PS) and table entries, as Linux writes them", () => {
    // __PAGE_KERNEL_LARGE: P RW A D PS G = 0x1e3, NX -> 0x80000000_402001e3
    const f = createFormat({ arch: "x86_64", levels: 4 });
    const h = { lo: 0, hi: 0 };
    f.encodeLeaf(0x40200000, 2, KERNEL_DATA, false, h);
    expect(hex64(h)).toBe("0x80000000402001e3");
    f.encodeLeaf(0x1_0000_0000, 1, { memType: "device", writable: false, executable: true }, false, h);
    expect(hex64(h)).toBe("0x00000001000001f9"); // P A D PS G PCD PWT, no RW, no NX
    f.encodeLeaf(0x1234_5000, 3, { memType: "normal-nc", writable: true, executable: true }, false, h);
    expect(hex64(h)).toBe("0x000000001234516b"); // P RW PWT A D G, no PS (bit 7 is PAT in a PTE)
    f.encodeTable(0x7_8000_3000, 0, h);
    expect(hex64(h)).toBe("0x0000000780003063"); // _KERNPG_TABLE
    expect(f.decode(0x402001e3, 0x80000000, 2)).toMatchObject({
      kind: "block",
      address: 0x40200000,
      fields: { PS: true, NX: true, G: true, RW: true },
    });
    expect(f.decode(0x000000e3, 0, 0).fields.reserved).toBe(true); // PS at PML4
    expect(f.levelName(-1)).toBe("PML5");
    expect(createFormat({ arch: "x86_64", levels: 5 }).levels.map((l) => l.shift)).toEqual([
      48, 39, 30, 21, 12,
    ]);
  });
});

describe("registers", () => {
  it("MAIR_EL1 is Linux's: Normal@0, Normal@1, NC@2, nGnRnE@3, nGnRE@4", () => {
    expect(MAIR_EL1).toEqual({ lo: 0x0044ffff, hi: 0x04 });
  });

  it("TCR_EL1 for 4K 48-bit with both halves: T0SZ=T1SZ=16, WBWA, inner shareable, TG1=4K, IPS=48", () => {
    const f = createFormat({ arch: "arm64", granule: 4096, vaBits: 48 });
    expect(tcrFor(f, { ttbr0: true, ttbr1: true })).toEqual({ lo: 0xb5103510, hi: 5 });
    // TTBR1 only: EPD0 (bit 7) set.
    expect(tcrFor(f, { ttbr0: false, ttbr1: true }).lo).toBe(0xb5103590);
  });

  it("TCR_EL1 for 64K 52-bit (LVA/LPA) and 4K 52-bit (LPA2: DS, bit 59)", () => {
    const f64 = createFormat({ arch: "arm64", granule: 65536, vaBits: 52 });
    // T0SZ = T1SZ = 12, TG0 = 01 (bits 15:14), TG1 = 11 (bits 31:30), IPS = 110
    expect(tcrFor(f64, { ttbr0: true, ttbr1: true })).toEqual({ lo: 0xf50c750c, hi: 6 });
    const f4 = createFormat({ arch: "arm64", granule: 4096, vaBits: 52 });
    expect(tcrFor(f4, { ttbr0: true, ttbr1: true })).toEqual({ lo: 0xb50c350c, hi: 0x08000006 });
    expect(() => tcrFor(createFormat({ arch: "x86_64", levels: 4 }), { ttbr0: true, ttbr1: false })).toThrow(
      KexecLabError,
    );
  });

  it("x86_64 control bits", () => {
    expect([X86_CR4_PAE, X86_CR4_LA57, EFER_LME, EFER_NXE]).toEqual([0x20, 0x1000, 0x100, 0x800]);
  });
});

describe("encode/decode round trip (property)", () => {
  const specs: FormatSpec[] = [
    { arch: "arm64", granule: 4096, vaBits: 48 },
    { arch: "arm64", granule: 4096, vaBits: 52 },
    { arch: "arm64", granule: 16384, vaBits: 52 },
    { arch: "arm64", granule: 65536, vaBits: 52 },
    { arch: "arm64", granule: 65536, vaBits: 48, paBits: 44 },
    { arch: "x86_64", levels: 5 },
  ];
  const attrs = fc.record({
    memType: fc.constantFrom("normal" as const, "device" as const, "normal-nc" as const),
    writable: fc.boolean(),
    executable: fc.boolean(),
    user: fc.boolean(),
    shareability: fc.constantFrom(0 as const, 2 as const, 3 as const),
    accessed: fc.boolean(),
    notGlobal: fc.boolean(),
  });
  it.each(specs.map((s) => [createFormat(s).name, s] as const))("%s", (_name, spec) => {
    const f = createFormat(spec);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: f.levels.length - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        attrs,
        fc.boolean(),
        (li, frac, a, cont) => {
          const info = f.levels[li]!;
          fc.pre(info.leafAllowed === true);
          const size = 2 ** info.shift;
          const pa = Math.floor((frac * 2 ** f.paBits) / size) * size;
          fc.pre(pa < 2 ** f.paBits);
          const h = { lo: 0, hi: 0 };
          f.encodeLeaf(pa, info.level, a, cont, h);
          expect(f.kindOf(h.lo, h.hi, info.level)).toBe(info.level === 3 ? 3 : 2);
          const oa = f.outputAddress(h.lo, h.hi, info.level);
          expect(oa - (oa % size)).toBe(pa);
          expect(f.leafAttributes(h.lo, h.hi, info.level)).toEqual(f.normalizeAttributes(a));
          expect(f.isContiguous(h.lo, h.hi)).toBe(cont && f.arch === "arm64");
          if (li < f.levels.length - 1) {
            const tpa = Math.floor((frac * 2 ** f.paBits) / f.granule) * f.granule;
            f.encodeTable(tpa, info.level, h);
            expect(f.kindOf(h.lo, h.hi, info.level)).toBe(1);
            expect(f.outputAddress(h.lo, h.hi, info.level)).toBe(tpa);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
