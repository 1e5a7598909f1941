/**
 * Minimal synthetic kernel files (an arm64 Image header, an ELF64 executable) for tests, examples and
 * placement experiments with sizes no real file has. Their headers are valid; their code is not.
 */

/** A 64-byte arm64 Image header followed by `extra` bytes. */
export function arm64Header(
  o: { textOffset?: number; imageSize?: number; flags?: number; mz?: boolean },
  extra = 0,
): Uint8Array {
  const b = new Uint8Array(64 + extra);
  const v = new DataView(b.buffer);
  v.setUint32(8, o.textOffset ?? 0, true);
  v.setUint32(0x10, (o.imageSize ?? 0x200000) % 2 ** 32, true);
  v.setUint32(0x14, Math.floor((o.imageSize ?? 0x200000) / 2 ** 32), true);
  v.setUint32(0x18, o.flags ?? 0xa, true);
  b.set([0x41, 0x52, 0x4d, 0x64], 0x38);
  if (o.mz) b.set([0x4d, 0x5a], 0);
  return b;
}

/** A minimal ELF64 executable with the given PT_LOADs (contents: a byte pattern). */
export function elf64(o: {
  bigEndian?: boolean;
  machine: number;
  entry: number;
  loads: { paddr: number; vaddr?: bigint; filesz: number; memsz: number }[];
  extraPhdrs?: number;
}): Uint8Array {
  const le = !o.bigEndian;
  const phnum = o.loads.length + (o.extraPhdrs ?? 0);
  const dataOff = 64 + 56 * phnum;
  const total = dataOff + o.loads.reduce((n, l) => n + l.filesz, 0);
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1], 0);
  const u64 = (at: number, x: number) => {
    const hi = Math.floor(x / 2 ** 32);
    const lo = x % 2 ** 32;
    v.setUint32(at + (le ? 4 : 0), hi, le);
    v.setUint32(at + (le ? 0 : 4), lo, le);
  };
  v.setUint16(16, 2, le);
  v.setUint16(18, o.machine, le);
  u64(24, o.entry);
  u64(32, 64);
  v.setUint16(54, 56, le);
  v.setUint16(56, phnum, le);
  let off = dataOff;
  o.loads.forEach((l, i) => {
    const at = 64 + i * 56;
    v.setUint32(at, 1, le);
    v.setUint32(at + 4, 5, le);
    u64(at + 8, off);
    v.setBigUint64(at + 16, l.vaddr ?? BigInt(l.paddr), le);
    u64(at + 24, l.paddr);
    u64(at + 32, l.filesz);
    u64(at + 40, l.memsz);
    u64(at + 48, 0x10000);
    b.fill(i + 1, off, off + l.filesz);
    off += l.filesz;
  });
  for (let i = o.loads.length; i < phnum; i++) v.setUint32(64 + i * 56, 4, le); // PT_NOTE
  return b;
}

/**
 * A minimal x86_64 bzImage: boot sector signature, a 64-bit relocatable setup header (protocol 2.15)
 * and `payload` bytes of protected-mode kernel after the setup sectors.
 */
export function bzImageHeader(
  o: { initSize: number; prefAddress?: number; kernelAlignment?: number; setupSects?: number },
  payload = 0,
): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const b = new Uint8Array((setupSects + 1) * 512 + payload);
  const v = new DataView(b.buffer);
  v.setUint8(0x1f1, setupSects);
  v.setUint16(0x1fe, 0xaa55, true);
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  v.setUint16(0x206, 0x020f, true);
  v.setUint8(0x211, 0x01); // LOADED_HIGH
  v.setUint32(0x230, o.kernelAlignment ?? 0x200000, true);
  v.setUint8(0x234, 1); // relocatable
  v.setUint16(0x236, 0x3, true); // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
  v.setUint32(0x238, 2047, true); // cmdline_size
  v.setUint32(0x258, o.prefAddress ?? 0x1000000, true);
  v.setUint32(0x260, o.initSize, true);
  return b;
}

/**
 * A PE32+ file with the given sections (file alignment 0x200, section alignment 0x1000), laid out
 * as a linker would: headers, then each section's data padded to FileAlignment. `dosHeader` may
 * fill bytes 2..0x3b of the DOS header (e_lfanew at 0x3c is set here); the PE header is at 0x40.
 */
export function peFile(o: {
  machine?: number;
  sections: { name: string; data: Uint8Array; characteristics?: number }[];
  dosHeader?: (b: Uint8Array) => void;
}): Uint8Array {
  const FA = 0x200;
  const SA = 0x1000;
  const peOff = 0x40;
  const optSize = 240;
  const headers = Math.ceil((peOff + 24 + optSize + 40 * o.sections.length) / FA) * FA;
  const raw = o.sections.map((s) => Math.ceil(s.data.length / FA) * FA);
  const total = headers + raw.reduce((a, b) => a + b, 0);
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x4d, 0x5a], 0);
  o.dosHeader?.(b);
  v.setUint32(0x3c, peOff, true);
  b.set([0x50, 0x45, 0, 0], peOff);
  const coff = peOff + 4;
  v.setUint16(coff, o.machine ?? 0xaa64, true);
  v.setUint16(coff + 2, o.sections.length, true);
  v.setUint16(coff + 16, optSize, true);
  v.setUint16(coff + 18, 0x206, true);
  const opt = coff + 20;
  v.setUint16(opt, 0x20b, true);
  v.setUint32(opt + 16, SA, true); // AddressOfEntryPoint: the first section
  v.setUint32(opt + 32, SA, true);
  v.setUint32(opt + 36, FA, true);
  let va = SA;
  let fo = headers;
  o.sections.forEach((s, i) => {
    const at = opt + optSize + i * 40;
    for (let j = 0; j < Math.min(8, s.name.length); j++) b[at + j] = s.name.charCodeAt(j);
    v.setUint32(at + 8, s.data.length, true);
    v.setUint32(at + 12, va, true);
    v.setUint32(at + 16, raw[i]!, true);
    v.setUint32(at + 20, fo, true);
    v.setUint32(at + 36, s.characteristics ?? 0x40000040, true);
    b.set(s.data, fo);
    va += Math.ceil(Math.max(s.data.length, 1) / SA) * SA;
    fo += raw[i]!;
  });
  v.setUint32(opt + 56, va, true); // SizeOfImage
  v.setUint32(opt + 60, headers, true);
  v.setUint16(opt + 68, 10, true); // EFI application
  return b;
}

/**
 * A zboot-shaped file (drivers/firmware/efi/libstub/zboot-header.S): "MZ", "zimg", payload offset and
 * size, the compression name at 0x18, and the compressed payload inside a .data section of a PE32+
 * file, followed by the u32 decompressed size for non-gzip methods. Not a bootable EFI application
 * (its .text is zeros): for parser tests and fuzz seeds. Real zboot images come from the kernel build
 * (test/fixtures/zboot).
 */
export function zbootFile(
  payload: Uint8Array,
  compressionName: string,
  decompressedSize: number,
): Uint8Array {
  const withSize = compressionName === "gzip" ? payload : new Uint8Array(payload.length + 4);
  if (withSize !== payload) {
    withSize.set(payload);
    new DataView(withSize.buffer).setUint32(payload.length, decompressedSize, true);
  }
  let payloadOffset = 0;
  const b = peFile({
    sections: [
      { name: ".text", data: new Uint8Array(0x200), characteristics: 0x60000020 },
      { name: ".data", data: withSize, characteristics: 0xc0000040 },
    ],
  });
  // The .data section's file offset: the second section header's PointerToRawData.
  const v = new DataView(b.buffer);
  payloadOffset = v.getUint32(0x40 + 24 + 240 + 40 + 20, true);
  b.set([0x7a, 0x69, 0x6d, 0x67], 4);
  v.setUint32(8, payloadOffset, true);
  v.setUint32(12, payload.length, true);
  for (let i = 0; i < compressionName.length && i < 31; i++) b[0x18 + i] = compressionName.charCodeAt(i);
  return b;
}
