/**
 * The x86 boot protocol's setup header inside a bzImage (Documentation/arch/x86/boot.rst).
 * Offsets are from the start of the file; all fields little-endian. Each field exists from the
 * protocol version in brackets on; for older kernels the parser reports the documented default:
 *
 *   0x1f1 setup_sects u8 (0 means 4)   0x1fe boot_flag u16 = 0xAA55   0x202 header "HdrS" [2.00]
 *   0x206 version u16 [2.00]           0x20e kernel_version u16 [2.00: the version string at 0x200 + it]
 *   0x211 loadflags u8 [2.00]          0x214 code32_start u32 [2.00]
 *   0x224 heap_end_ptr u16 [2.01]      0x22c initrd_addr_max u32 [2.03; before: 0x37ffffff]
 *   0x230 kernel_alignment u32 [2.05]  0x234 relocatable_kernel u8 [2.05]  0x235 min_alignment u8 [2.10]
 *   0x236 xloadflags u16 [2.12]        0x238 cmdline_size u32 [2.06; before: 255]
 *   0x248 payload_offset u32 [2.08]    0x24c payload_length u32 [2.08]
 *   0x258 pref_address u64 [2.10]      0x260 init_size u32 [2.10]     0x264 handover_offset u32 [2.11]
 *
 * The parser reads every version from 2.00 on and judges nothing a loader decides: which entry a
 * loader may use (16-bit real mode, 32-bit at code32_start, 64-bit startup_64 at load address +
 * 0x200 with XLF_KERNEL_64) and whether it takes the file is src/loader/accept.ts's business.
 * Only a file without "HdrS" (a zImage older than 2.00) is refused here.
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";
import { detectCompression } from "./compression.js";

/** The first protocol with xloadflags (XLF_KERNEL_64): what kexec-tools' bzImage64 loader needs. */
export const BZIMAGE_MIN_PROTOCOL = 0x020c;
/** initrd_addr_max before protocol 2.03 (boot.rst). */
export const INITRD_ADDR_MAX_DEFAULT = 0x37ffffff;
/** cmdline_size before protocol 2.06: 255 characters plus the NUL. */
export const CMDLINE_SIZE_DEFAULT = 256;
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
  /** kernel_alignment (2.05+); 0 before 2.05 (such kernels are not relocatable). */
  kernelAlignment: number;
  /** relocatable_kernel (2.05+); false before. */
  relocatable: boolean;
  minAlignment: number;
  /** xloadflags (2.12+); 0 before. */
  xloadflags: number;
  /** XLF_KERNEL_64: a 64-bit entry point (startup_64) at load address + 0x200. */
  kernel64: boolean;
  /**
   * The kernel's version string (kernel_version at 0x20e points to it, relative to 0x200; NUL-ended,
   * at most 255 characters read); undefined when the pointer is 0 or outside the setup code.
   */
  kernelVersion: string | undefined;
  /** heap_end_ptr (2.01+): the end of the real-mode setup heap, from the setup code's start; 0 before 2.01. */
  heapEndPtr: number;
  /** code32_start: the 32-bit protected-mode entry (the default load address, 0x100000 for a bzImage). */
  code32Start: number;
  canBeLoadedAbove4G: boolean;
  cmdlineSize: number;
  payloadOffset: number;
  payloadLength: number;
  /** Compression of the payload, detected from its first bytes. */
  payloadFormat: string;
  /** pref_address (2.10+); 0x100000 (the bzImage load address) before. */
  prefAddress: number;
  /** init_size (2.10+); 0 before (unknown: the loader must estimate). */
  initSize: number;
  /** handover_offset (2.11+): the EFI handover entry; 0 when absent. */
  handoverOffset: number;
  /** Which optional fields the header has, by the protocol version. */
  has: {
    initrdAddrMax: boolean;
    relocatable: boolean;
    cmdlineSize: boolean;
    payload: boolean;
    initSize: boolean;
    xloadflags: boolean;
  };
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
  const m = detectCompression(b, at);
  if (m !== undefined) return m === "lz4-legacy" ? "lz4" : m;
  if (b[at] === 0x7f && b[at + 1] === 0x45 && b[at + 2] === 0x4c && b[at + 3] === 0x46) return "elf";
  return "unknown";
}

function kernelVersionString(b: Uint8Array, ptr: number, setupSize: number): string | undefined {
  if (ptr === 0 || 0x200 + ptr >= setupSize) return undefined;
  let out = "";
  for (let i = 0x200 + ptr; i < setupSize && out.length < 255; i++) {
    const c = b[i]!;
    if (c === 0) break;
    out += String.fromCharCode(c);
  }
  return out;
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
  if (protocol < 0x0200)
    throw r.corrupt(
      0x206,
      "version",
      `boot protocol version 0x${protocol.toString(16)} is below 2.00 although "HdrS" is present`,
    );
  const has = {
    initrdAddrMax: protocol >= 0x0203,
    relocatable: protocol >= 0x0205,
    cmdlineSize: protocol >= 0x0206,
    payload: protocol >= 0x0208,
    initSize: protocol >= 0x020a,
    xloadflags: protocol >= 0x020c,
  };
  const rawSects = r.u8(0x1f1, "setup_sects");
  const setupSects = rawSects === 0 ? 4 : rawSects;
  const setupSize = (setupSects + 1) * 512;
  const xloadflags = has.xloadflags ? r.u16(0x236, "xloadflags") : 0;
  const loadflags = r.u8(0x211, "loadflags");
  const kernelAlignment = has.relocatable ? r.u32(0x230, "kernel_alignment") : 0;
  const relocatable = has.relocatable && r.u8(0x234, "relocatable_kernel") !== 0;
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw r.corrupt(
      0x230,
      "kernel_alignment",
      `kernel_alignment 0x${kernelAlignment.toString(16)} of a relocatable kernel is not a power of two`,
    );
  }
  const initSize = has.initSize ? r.u32(0x260, "init_size") : 0;
  if (has.initSize && initSize === 0) throw r.corrupt(0x260, "init_size", "init_size is 0");
  if (bytes.length < setupSize) {
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      `the setup code needs ${setupSize} bytes ((setup_sects + 1) * 512) but the file has ${bytes.length}`,
      r.where(0x1f1, "setup_sects"),
    );
  }
  const payloadOffset = has.payload ? r.u32(0x248, "payload_offset") : 0;
  const payloadLength = has.payload ? r.u32(0x24c, "payload_length") : 0;
  const payloadAt = setupSize + payloadOffset;
  return {
    kind: "bzimage",
    protocolVersion,
    protocol,
    setupSects,
    setupSize,
    loadflags,
    initrdAddrMax: has.initrdAddrMax ? r.u32(0x22c, "initrd_addr_max") : INITRD_ADDR_MAX_DEFAULT,
    kernelAlignment,
    relocatable,
    minAlignment: protocol >= 0x020a ? r.u8(0x235, "min_alignment") : 0,
    xloadflags,
    kernel64: (xloadflags & XLF_KERNEL_64) !== 0,
    kernelVersion: kernelVersionString(bytes, r.u16(0x20e, "kernel_version"), setupSize),
    heapEndPtr: protocol >= 0x0201 ? r.u16(0x224, "heap_end_ptr") : 0,
    code32Start: r.u32(0x214, "code32_start"),
    canBeLoadedAbove4G: (xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) !== 0,
    cmdlineSize: has.cmdlineSize ? r.u32(0x238, "cmdline_size") : CMDLINE_SIZE_DEFAULT,
    payloadOffset,
    payloadLength,
    payloadFormat:
      has.payload && payloadAt + 8 <= bytes.length ? payloadFormatOf(bytes, payloadAt) : "unknown",
    prefAddress: has.initSize ? r.u64(0x258, "pref_address") : 0x100000,
    initSize,
    handoverOffset: protocol >= 0x020b ? r.u32(0x264, "handover_offset") : 0,
    has,
    fileSize: bytes.length,
  };
}
