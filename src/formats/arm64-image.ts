/**
 * The arm64 Image header (Documentation/arch/arm64/booting.rst), 64 bytes, little-endian:
 *
 *   0x00 code0 u32   0x04 code1 u32   0x08 text_offset u64   0x10 image_size u64
 *   0x18 flags u64 (bit 0 big-endian kernel; bits 2:1 page size 1=4K 2=16K 3=64K; bit 3 place anywhere)
 *   0x20 res2 u64    0x28 res3 u64    0x30 res4 u64          0x38 magic "ARM\x64"  0x3c res5 (PE offset)
 *
 * An Image that is also an EFI PE file starts with "MZ" and carries the PE header offset at 0x3c.
 * image_size == 0 marks a kernel older than 3.17: the loaders then assume text_offset 0x80000 and a
 * 16 MiB image (the header's own text_offset had no defined endianness then).
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";

export const ARM64_IMAGE_MAGIC = 0x644d5241; // "ARM\x64" read little-endian
export const ARM64_IMAGE_HEADER_SIZE = 64;
export const ARM64_IMAGE_FLAG_BE = 0x1;
export const ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT = 1;
export const ARM64_IMAGE_FLAG_PHYS_BASE = 0x8;
/** Defaults for pre-3.17 kernels (image_size == 0). */
export const ARM64_PRE_3_17_TEXT_OFFSET = 0x80000;
export const ARM64_PRE_3_17_IMAGE_SIZE = 16 * 1024 * 1024;

export interface Arm64Image {
  kind: "arm64-image";
  code0: number;
  code1: number;
  /** Effective text_offset (0x80000 for pre-3.17 kernels). */
  textOffset: number;
  /** Effective image_size including BSS (16 MiB for pre-3.17 kernels). */
  imageSize: number;
  /** Raw flags field (low 32 bits; the upper bits are reserved). */
  flags: number;
  bigEndian: boolean;
  /** Kernel page size from flags bits 2:1; 0 when unspecified. */
  pageSize: 0 | 4096 | 16384 | 65536;
  /** flags bit 3: the kernel may be placed anywhere in RAM (else within 48 bits of the start of DRAM). */
  placeAnywhere: boolean;
  /** True when the file is also an EFI PE image ("MZ" at offset 0). */
  efi: boolean;
  /** PE header offset (res5 at 0x3c) when efi. */
  peOffset: number;
  /** image_size was 0: the header defaults of kernels before 3.17 were applied. */
  pre317: boolean;
  /** File size in bytes (what kexec-tools passes as the kernel segment's bufsz). */
  fileSize: number;
}

export function isArm64Image(bytes: Uint8Array): boolean {
  return (
    bytes.length >= ARM64_IMAGE_HEADER_SIZE &&
    bytes[0x38] === 0x41 &&
    bytes[0x39] === 0x52 &&
    bytes[0x3a] === 0x4d &&
    bytes[0x3b] === 0x64
  );
}

const PAGE_SIZES = [0, 4096, 16384, 65536] as const;

export function parseArm64Image(bytes: Uint8Array, file?: string): Arm64Image {
  const r = new ByteReader(bytes, file);
  r.need(0, ARM64_IMAGE_HEADER_SIZE, "arm64 Image header");
  const magic = r.u32(0x38, "magic");
  if (magic !== ARM64_IMAGE_MAGIC) {
    throw new KexecLabError(
      "E_FORMAT_UNKNOWN",
      `no arm64 Image magic "ARM\\x64" at 0x38 (found 0x${magic.toString(16)})`,
      r.where(0x38, "magic"),
    );
  }
  const code0 = r.u32(0x00, "code0");
  const code1 = r.u32(0x04, "code1");
  const rawTextOffset = r.u64(0x08, "text_offset");
  const rawImageSize = r.u64(0x10, "image_size");
  const flagsLo = r.u32(0x18, "flags");
  const flagsHi = r.u32(0x1c, "flags");
  const efi = bytes[0] === 0x4d && bytes[1] === 0x5a;
  const peOffset = r.u32(0x3c, "res5");
  if (efi && (peOffset < ARM64_IMAGE_HEADER_SIZE || peOffset + 4 > bytes.length)) {
    throw r.corrupt(0x3c, "res5", `PE header offset 0x${peOffset.toString(16)} lies outside the file`);
  }
  if (efi && r.u32(peOffset, "PE signature") !== 0x00004550) {
    throw r.corrupt(
      peOffset,
      "PE signature",
      `no "PE\\0\\0" signature at the PE header offset 0x${peOffset.toString(16)}`,
    );
  }
  const pre317 = rawImageSize === 0;
  const textOffset = pre317 ? ARM64_PRE_3_17_TEXT_OFFSET : rawTextOffset;
  const imageSize = pre317 ? ARM64_PRE_3_17_IMAGE_SIZE : rawImageSize;
  if (!pre317 && textOffset % 4096 !== 0) {
    throw r.corrupt(0x08, "text_offset", `text_offset 0x${textOffset.toString(16)} is not 4 KiB-aligned`);
  }
  if (flagsHi !== 0) {
    throw r.corrupt(0x1c, "flags", `reserved flag bits 63:32 are set (0x${flagsHi.toString(16)})`);
  }
  return {
    kind: "arm64-image",
    code0,
    code1,
    textOffset,
    imageSize,
    flags: flagsLo,
    bigEndian: (flagsLo & ARM64_IMAGE_FLAG_BE) !== 0,
    pageSize: PAGE_SIZES[(flagsLo >>> ARM64_IMAGE_FLAG_PAGE_SIZE_SHIFT) & 3]!,
    placeAnywhere: (flagsLo & ARM64_IMAGE_FLAG_PHYS_BASE) !== 0,
    efi,
    peOffset: efi ? peOffset : 0,
    pre317,
    fileSize: bytes.length,
  };
}
