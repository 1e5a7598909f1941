/**
 * EFI zboot images (CONFIG_EFI_ZBOOT; drivers/firmware/efi/libstub/zboot-header.S and Makefile.zboot):
 * a PE/COFF EFI application that decompresses a kernel Image. The DOS header carries, little-endian:
 *
 *   0x00 "MZ" (mz_magic u32)   0x04 "zimg" (image_type)   0x08 payload_offset u32   0x0c payload_size u32
 *   0x10 reserved[2]           0x18 compression name, NUL-terminated ("gzip", "lz4", "lzma", "lzo",
 *                                    "xzkern", "zstd22")   0x3c e_lfanew (PE header offset)
 *
 * The payload is the compressed vmlinux.bin: the Image padded with zeros to its image_size. For
 * every method except gzip the build appends the decompressed size as a u32 after the payload
 * (zboot-size-len 4, not counted in payload_size); gzip carries it in its own trailer (ISIZE).
 * kexec-tools reads the same header (include/kexec-pe-zboot.h struct linux_pe_zboot_header).
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";
import { type CompressionMethod, detectCompression, ZBOOT_COMPRESSION } from "./compression.js";
import { type PeFile, parsePe } from "./pe.js";

export interface ZbootImage {
  kind: "zboot";
  payloadOffset: number;
  payloadSize: number;
  /** The name in the header, e.g. "zstd22". */
  compressionName: string;
  /** The stream format the name stands for (undefined for a name kexec-lab does not know). */
  method: CompressionMethod | undefined;
  /** The stream format found at payload_offset from its magic bytes. */
  detected: CompressionMethod | undefined;
  /** The decompressed size the build recorded (u32 after the payload, or gzip's ISIZE), if present. */
  declaredSize: number | undefined;
  pe: PeFile;
  fileSize: number;
}

export function isZboot(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 0x40 &&
    bytes[0] === 0x4d &&
    bytes[1] === 0x5a &&
    bytes[4] === 0x7a &&
    bytes[5] === 0x69 &&
    bytes[6] === 0x6d &&
    bytes[7] === 0x67
  );
}

export function parseZboot(bytes: Uint8Array, file?: string): ZbootImage {
  const r = new ByteReader(bytes, file);
  r.need(0, 0x40, "zboot header");
  if (!isZboot(bytes)) {
    throw new KexecLabError(
      "E_FORMAT_UNKNOWN",
      'no "MZ" + "zimg" at offset 0: not an EFI zboot image',
      r.where(4, "image_type"),
    );
  }
  const pe = parsePe(bytes, file);
  const payloadOffset = r.u32(0x08, "payload_offset");
  const payloadSize = r.u32(0x0c, "payload_size");
  if (payloadSize === 0) throw r.corrupt(0x0c, "payload_size", "payload_size is 0");
  if (payloadOffset + payloadSize > bytes.length) {
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      `the payload [0x${payloadOffset.toString(16)}, 0x${(payloadOffset + payloadSize).toString(16)}) ends past the file's 0x${bytes.length.toString(16)} bytes`,
      r.where(0x08, "payload_offset"),
    );
  }
  let compressionName = "";
  for (let i = 0x18; i < 0x3c && bytes[i] !== 0; i++) compressionName += String.fromCharCode(bytes[i]!);
  if (!/^[a-z0-9]{1,16}$/.test(compressionName)) {
    throw r.corrupt(
      0x18,
      "compress_type",
      `compression name ${JSON.stringify(compressionName)} is not a kernel compression name`,
    );
  }
  const method = ZBOOT_COMPRESSION[compressionName];
  const detected = detectCompression(bytes, payloadOffset);
  let declaredSize: number | undefined;
  if (method === "gzip" && payloadSize >= 18)
    declaredSize = r.u32(payloadOffset + payloadSize - 4, "gzip ISIZE");
  else if (method !== undefined && method !== "gzip" && payloadOffset + payloadSize + 4 <= bytes.length)
    declaredSize = r.u32(payloadOffset + payloadSize, "appended size");
  return {
    kind: "zboot",
    payloadOffset,
    payloadSize,
    compressionName,
    method,
    detected,
    declaredSize,
    pe,
    fileSize: bytes.length,
  };
}

export function zbootPayload(bytes: Uint8Array, z: ZbootImage): Uint8Array {
  return bytes.subarray(z.payloadOffset, z.payloadOffset + z.payloadSize);
}
