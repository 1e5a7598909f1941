import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { parseArm64Image } from "../src/formats/arm64-image.js";
import { parseBzImage } from "../src/formats/bzimage.js";
import { inspectBytes } from "../src/formats/detect.js";
import { EM_AARCH64, EM_X86_64, parseElf64 } from "../src/formats/elf.js";
import { arm64Header, elf64 } from "../src/formats/synth.js";
import { dataFile } from "./helpers/data.js";

const read = (p: string) => new Uint8Array(readFileSync(dataFile(p)));
const IMAGE = "debian-6.1.0-50-cloud-arm64.Image";
const BZIMAGE = "debian-6.1.0-56-cloud-amd64.bzImage";

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KexecLabError) return e.code;
    throw e;
  }
  return "no error";
}

describe("arm64 Image header", () => {
  it("reads the Debian 6.1 cloud Image as the data README states", () => {
    const h = parseArm64Image(read(IMAGE), IMAGE);
    expect(h).toMatchObject({
      kind: "arm64-image",
      textOffset: 0,
      imageSize: 0x1aa0000,
      flags: 0xa,
      bigEndian: false,
      pageSize: 4096,
      placeAnywhere: true,
      efi: true,
      pre317: false,
      fileSize: 27236288,
    });
    expect(h.peOffset).toBe(0x40);
  });

  it("decodes every page-size code and the big-endian bit", () => {
    const sizes = [0, 4096, 16384, 65536];
    for (let code = 0; code < 4; code++) {
      const h = parseArm64Image(arm64Header({ flags: (code << 1) | 1 }));
      expect(h.pageSize).toBe(sizes[code]);
      expect(h.bigEndian).toBe(true);
      expect(h.placeAnywhere).toBe(false);
    }
  });

  it("applies the pre-3.17 defaults when image_size is 0", () => {
    const h = parseArm64Image(arm64Header({ imageSize: 0, textOffset: 0x12345 }));
    expect(h).toMatchObject({ pre317: true, textOffset: 0x80000, imageSize: 16 * 1024 * 1024 });
  });

  it("rejects a wrong magic, a truncated header and a bad PE offset with catalogued errors", () => {
    const bad = arm64Header({});
    bad[0x38] = 0;
    expect(codeOf(() => parseArm64Image(bad))).toBe("E_FORMAT_UNKNOWN");
    expect(codeOf(() => parseArm64Image(arm64Header({}).subarray(0, 40)))).toBe("E_FORMAT_TRUNCATED");
    expect(codeOf(() => parseArm64Image(arm64Header({ mz: true })))).toBe("E_FORMAT_CORRUPT");
    expect(codeOf(() => parseArm64Image(arm64Header({ textOffset: 0x80001 })))).toBe("E_FORMAT_CORRUPT");
  });

  it("names the field and offset of a truncation", () => {
    try {
      parseArm64Image(read(IMAGE).subarray(0, 0x20), "Image");
      expect.unreachable();
    } catch (e) {
      expect((e as KexecLabError).where).toMatchObject({ file: "Image", offset: 0 });
      expect((e as KexecLabError).code).toBe("E_FORMAT_TRUNCATED");
    }
  });
});

describe("bzImage setup header", () => {
  it("reads the Debian 6.1 cloud bzImage", () => {
    const h = parseBzImage(read(BZIMAGE), BZIMAGE);
    expect(h).toMatchObject({
      kind: "bzimage",
      protocolVersion: "2.15",
      setupSects: 39,
      setupSize: 40 * 512,
      kernelAlignment: 0x200000,
      relocatable: true,
      xloadflags: 0x7f,
      canBeLoadedAbove4G: true,
      cmdlineSize: 2047,
      prefAddress: 0x1000000,
      initSize: 0x3378000,
      initrdAddrMax: 0x7fffffff,
      payloadFormat: "lz4",
    });
  });

  it("reads every boot protocol version; only a file without HdrS is refused", () => {
    // Protocol 2.11: no xloadflags yet, so no 64-bit entry by the header; init_size and pref_address exist (2.10).
    const old = read(BZIMAGE).slice(0, 0x6000);
    new DataView(old.buffer).setUint16(0x206, 0x020b, true);
    expect(parseBzImage(old)).toMatchObject({
      protocolVersion: "2.11",
      xloadflags: 0,
      kernel64: false,
      initSize: 53968896,
      has: { xloadflags: false, initSize: true, relocatable: true },
    });
    // Protocol 2.04: no kernel_alignment/relocatable (2.05), cmdline_size (2.06), payload (2.08),
    // init_size/pref_address (2.10): the documented defaults.
    const v204 = read(BZIMAGE).slice(0, 0x6000);
    new DataView(v204.buffer).setUint16(0x206, 0x0204, true);
    expect(parseBzImage(v204)).toMatchObject({
      relocatable: false,
      kernelAlignment: 0,
      cmdlineSize: 256,
      payloadFormat: "unknown",
      initSize: 0,
      prefAddress: 0x100000,
      code32Start: 0x100000,
    });
    // XLF_KERNEL_64 cleared: a 32-bit entry only; the loaders decide, not the parser.
    const k32 = read(BZIMAGE).slice(0, 0x6000);
    new DataView(k32.buffer).setUint16(0x236, 0x7e, true);
    expect(parseBzImage(k32)).toMatchObject({ kernel64: false, canBeLoadedAbove4G: true });
    const noHdrS = read(BZIMAGE).slice(0, 0x6000);
    noHdrS[0x202] = 0;
    expect(codeOf(() => parseBzImage(noHdrS))).toBe("E_KERNEL_UNSUPPORTED");
  });

  it("setup_sects 0 means 4", () => {
    const b = read(BZIMAGE).slice(0, 0x6000);
    b[0x1f1] = 0;
    expect(parseBzImage(b).setupSects).toBe(4);
    expect(parseBzImage(b).setupSize).toBe(5 * 512);
  });
});

describe("ELF64 PT_LOAD", () => {
  for (const bigEndian of [false, true]) {
    for (const [machine, arch] of [
      [EM_AARCH64, "arm64"],
      [EM_X86_64, "x86_64"],
    ] as const) {
      it(`${arch} ${bigEndian ? "big" : "little"}-endian: every PT_LOAD, nothing else`, () => {
        const loads = [
          { paddr: 0x40200000, vaddr: 0xffff800008000000n, filesz: 0x1234, memsz: 0x3000 },
          { paddr: 0x140000000, filesz: 16, memsz: 16 },
        ];
        const e = parseElf64(elf64({ bigEndian, machine, entry: 0x40200000, loads, extraPhdrs: 2 }));
        expect(e.arch).toBe(arch);
        expect(e.bigEndian).toBe(bigEndian);
        expect(e.loads.map((l) => [l.paddr, l.vaddr, l.filesz, l.memsz])).toEqual(
          loads.map((l) => [l.paddr, l.vaddr ?? BigInt(l.paddr), l.filesz, l.memsz]),
        );
        expect(e.loads[0]!.offset).toBe(64 + 56 * 4);
      });
    }
  }

  it("rejects ELF32, p_filesz > p_memsz and contents beyond the file", () => {
    const e32 = elf64({ machine: EM_X86_64, entry: 0, loads: [] });
    e32[4] = 1;
    expect(codeOf(() => parseElf64(e32))).toBe("E_KERNEL_UNSUPPORTED");
    const big = elf64({
      machine: EM_X86_64,
      entry: 0,
      loads: [{ paddr: 0x1000000, filesz: 0x20, memsz: 0x10 }],
    });
    expect(codeOf(() => parseElf64(big))).toBe("E_FORMAT_CORRUPT");
    const cut = elf64({
      machine: EM_X86_64,
      entry: 0,
      loads: [{ paddr: 0x1000000, filesz: 0x20, memsz: 0x20 }],
    });
    expect(codeOf(() => parseElf64(cut.subarray(0, cut.length - 1)))).toBe("E_FORMAT_TRUNCATED");
  });
});

describe("inspect", () => {
  it("detects each real kernel and gives the documented JSON fields", () => {
    expect(inspectBytes(read(IMAGE))).toMatchObject({
      kind: "arm64-image",
      textOffset: 0,
      imageSize: 27918336,
      pageSize: 4096,
      bigEndian: false,
      placeAnywhere: true,
      efi: true,
    });
    expect(inspectBytes(read(BZIMAGE))).toMatchObject({
      kind: "bzimage",
      protocolVersion: "2.15",
      initSize: 53968896,
      prefAddress: "0x1000000",
      kernelAlignment: 2097152,
      relocatable: true,
    });
  });

  it("refuses unknown bytes with E_FORMAT_UNKNOWN; names a compressed file's method", () => {
    expect(codeOf(() => inspectBytes(new Uint8Array([1, 2, 3, 0, 0])))).toBe("E_FORMAT_UNKNOWN");
    expect(inspectBytes(new Uint8Array([0x1f, 0x8b, 8, 0]))).toMatchObject({
      kind: "compressed",
      method: "gzip",
    });
  });
});
