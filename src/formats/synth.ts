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
