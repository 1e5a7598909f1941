/**
 * The x86 boot protocol's setup header inside a bzImage (Documentation/arch/x86/boot.rst).
 * Offsets are from the start of the file; all fields little-endian:
 *
 *   0x1f1 setup_sects u8 (0 means 4)     0x1fe boot_flag u16 = 0xAA55     0x202 header "HdrS"
 *   0x206 version u16                    0x211 loadflags u8               0x22c initrd_addr_max u32
 *   0x230 kernel_alignment u32           0x234 relocatable_kernel u8      0x235 min_alignment u8
 *   0x236 xloadflags u16                 0x238 cmdline_size u32           0x248 payload_offset u32
 *   0x24c payload_length u32             0x258 pref_address u64           0x260 init_size u32
 *
 * kexec-lab loads only 64-bit kernels through the 64-bit entry (startup_64 at load address + 0x200),
 * as kexec-tools' bzImage64 loader does: that needs boot protocol 2.12 (xloadflags) and XLF_KERNEL_64.
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";

export const BZIMAGE_MIN_PROTOCOL = 0x020c;
export const XLF_KERNEL_64 = 0x1;
export const XLF_CAN_BE_LOADED_ABOVE_4G = 0x2;
export const XLF_EFI_HANDOVER_32 = 0x4;
export const XLF_EFI_HANDOVER_64 = 0x8;
export const XLF_EFI_KEXEC = 0x10;
export const LOADED_HIGH = 0x1;

export interface BzImage {
  kind: "bzimage";
  /** "2.15" style. */
  protocolVersion: string;
  protocol: number;
  /** Effective setup_sects (0 in the header means 4). */
  setupSects: number;
  /** (setup_sects + 1) * 512: the real-mode part kexec-tools skips. */
  setupSize: number;
  loadflags: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  minAlignment: number;
  xloadflags: number;
  /** 64-bit entry point at load address + 0x200. */
  kernel64: boolean;
  canBeLoadedAbove4G: boolean;
  cmdlineSize: number;
  payloadOffset: number;
  payloadLength: number;
  /** Compression of the payload, detected from its first bytes. */
  payloadFormat: string;
  prefAddress: number;
  initSize: number;
  fileSize: number;
}

export function isBzImage(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 0x206 &&
    bytes[0x1fe] === 0x55 &&
    bytes[0x1ff] === 0xaa &&
    bytes[0x202] === 0x48 &&
    bytes[0x203] === 0x64 &&
    bytes[0x204] === 0x72 &&
    bytes[0x205] === 0x53
  );
}

function payloadFormatOf(b: Uint8Array, at: number): string {
  const m = (...sig: number[]) => sig.every((x, i) => b[at + i] === x);
  if (m(0x1f, 0x8b)) return "gzip";
  if (m(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz";
  if (m(0x28, 0xb5, 0x2f, 0xfd)) return "zstd";
  if (m(0x02, 0x21, 0x4c, 0x18)) return "lz4";
  if (m(0x42, 0x5a, 0x68)) return "bzip2";
  if (m(0x5d, 0x00)) return "lzma";
  if (m(0x89, 0x4c, 0x5a, 0x4f)) return "lzo";
  if (m(0x7f, 0x45, 0x4c, 0x46)) return "elf";
  return "unknown";
}

export function parseBzImage(bytes: Uint8Array, file?: string): BzImage {
  const r = new ByteReader(bytes, file);
  if (r.u16(0x1fe, "boot_flag") !== 0xaa55) {
    throw new KexecLabError(
      "E_FORMAT_UNKNOWN",
      "no boot_flag 0xAA55 at 0x1fe: not a bzImage",
      r.where(0x1fe, "boot_flag"),
    );
  }
  if (r.ascii(0x202, 4, "header") !== "HdrS") {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      'no "HdrS" signature at 0x202: a boot protocol older than 2.00 (zImage)',
      r.where(0x202, "header"),
    );
  }
  const protocol = r.u16(0x206, "version");
  const protocolVersion = `${protocol >>> 8}.${(protocol & 0xff).toString().padStart(2, "0")}`;
  if (protocol < BZIMAGE_MIN_PROTOCOL) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      `boot protocol ${protocolVersion} is older than 2.12: no xloadflags, so no 64-bit entry point for kexec's bzImage64 loader`,
      r.where(0x206, "version"),
    );
  }
  const rawSects = r.u8(0x1f1, "setup_sects");
  const setupSects = rawSects === 0 ? 4 : rawSects;
  const setupSize = (setupSects + 1) * 512;
  const xloadflags = r.u16(0x236, "xloadflags");
  if ((xloadflags & XLF_KERNEL_64) === 0) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "xloadflags bit 0 (XLF_KERNEL_64) is clear: not a 64-bit kernel with the startup_64 entry at +0x200",
      r.where(0x236, "xloadflags"),
    );
  }
  const loadflags = r.u8(0x211, "loadflags");
  const kernelAlignment = r.u32(0x230, "kernel_alignment");
  if (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0) {
    throw r.corrupt(
      0x230,
      "kernel_alignment",
      `kernel_alignment 0x${kernelAlignment.toString(16)} is not a power of two`,
    );
  }
  const initSize = r.u32(0x260, "init_size");
  if (initSize === 0) throw r.corrupt(0x260, "init_size", "init_size is 0");
  if (bytes.length < setupSize) {
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      `the setup code needs ${setupSize} bytes ((setup_sects + 1) * 512) but the file has ${bytes.length}`,
      r.where(0x1f1, "setup_sects"),
    );
  }
  const payloadOffset = r.u32(0x248, "payload_offset");
  const payloadLength = r.u32(0x24c, "payload_length");
  const payloadAt = setupSize + payloadOffset;
  return {
    kind: "bzimage",
    protocolVersion,
    protocol,
    setupSects,
    setupSize,
    loadflags,
    initrdAddrMax: r.u32(0x22c, "initrd_addr_max"),
    kernelAlignment,
    relocatable: r.u8(0x234, "relocatable_kernel") !== 0,
    minAlignment: r.u8(0x235, "min_alignment"),
    xloadflags,
    kernel64: true,
    canBeLoadedAbove4G: (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0,
    cmdlineSize: r.u32(0x238, "cmdline_size"),
    payloadOffset,
    payloadLength,
    payloadFormat: payloadAt + 8 <= bytes.length ? payloadFormatOf(bytes, payloadAt) : "unknown",
    prefAddress: r.u64(0x258, "pref_address"),
    initSize,
    fileSize: bytes.length,
  };
}
