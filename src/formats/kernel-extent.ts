/**
 * Whether a kernel file holds as many bytes as its own header says: a file cut short (a partial
 * download, a `head -c` of the real file) still has a valid header, and loaders that read only the
 * header would place it without a word. Browser-safe.
 *
 * What each header says:
 * - bzImage: syssize (0x1f4; 16-byte paragraphs, u32 from boot protocol 2.04, u16 before) is the
 *   protected-mode kernel after the (setup_sects + 1) * 512 setup bytes
 *   (Documentation/arch/x86/boot.rst; arch/x86/boot/tools/build.c writes it); from 2.08 the
 *   compressed payload (payload_offset, payload_length) lies inside it as well.
 * - arm64 Image with an EFI PE header ("MZ"): every section's raw data (PointerToRawData +
 *   SizeOfRawData, arch/arm64/kernel/efi-header.S) lies in the file. An Image without a PE header
 *   says only image_size, which includes the BSS the file does not hold: no check is possible.
 * - ELF64: every PT_LOAD's p_offset + p_filesz (parseElf64 checks this itself).
 */

import { KexecLabError } from "../errors.js";
import { formatBytes } from "../report/format.js";
import { isArm64Image, parseArm64Image } from "./arm64-image.js";
import { hex } from "./bytes.js";
import { isBzImage, parseBzImage } from "./bzimage.js";
import { parsePe } from "./pe.js";

/** The bytes a kernel file's header says it holds, and which header fields say so. */
export interface KernelExtent {
  /** Bytes the file must have. */
  bytes: number;
  /** The header fields that give `bytes`, in words. */
  what: string;
  /** Offset and name of the field, for the error's location. */
  offset: number;
  field: string;
}

/** What the header of `bytes` (a plain arm64 Image or bzImage) says the file holds; undefined when it says nothing. */
export function kernelExtent(bytes: Uint8Array, file?: string): KernelExtent | undefined {
  if (isBzImage(bytes) && !isArm64Image(bytes)) {
    const bz = parseBzImage(bytes, file);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const syssize = bz.protocol >= 0x0204 ? v.getUint32(0x1f4, true) : v.getUint16(0x1f4, true);
    const kernelEnd = bz.setupSize + syssize * 16;
    const payloadEnd = bz.has.payload ? bz.setupSize + bz.payloadOffset + bz.payloadLength : 0;
    if (payloadEnd > kernelEnd)
      return {
        bytes: payloadEnd,
        what: `its compressed payload (payload_offset ${hex(bz.payloadOffset)}, payload_length ${bz.payloadLength} bytes after the ${bz.setupSize} setup bytes) ends at byte ${payloadEnd}`,
        offset: 0x24c,
        field: "payload_length",
      };
    if (syssize === 0) return undefined;
    return {
      bytes: kernelEnd,
      what: `its protected-mode kernel (syssize ${syssize} x 16 bytes after the ${bz.setupSize} setup bytes) ends at byte ${kernelEnd}`,
      offset: 0x1f4,
      field: "syssize",
    };
  }
  if (isArm64Image(bytes)) {
    const img = parseArm64Image(bytes, file);
    if (!img.efi) return undefined;
    const pe = parsePe(bytes, file);
    let end = 0;
    let name = "";
    let at = img.peOffset;
    for (const s of pe.sections) {
      if (s.sizeOfRawData > 0 && s.pointerToRawData + s.sizeOfRawData > end) {
        end = s.pointerToRawData + s.sizeOfRawData;
        name = s.name;
        at = s.headerOffset;
      }
    }
    if (end === 0) return undefined;
    return {
      bytes: end,
      what: `its PE section ${name} (PointerToRawData + SizeOfRawData) ends at byte ${end}`,
      offset: at,
      field: `PE section ${name}`,
    };
  }
  return undefined;
}

/**
 * E_FORMAT_TRUNCATED when `bytes`, a kernel file of `fileSize` bytes (default: its length), is
 * shorter than its header says (kernelExtent), naming both sizes.
 */
export function checkKernelComplete(bytes: Uint8Array, file?: string, fileSize = bytes.length): void {
  const x = kernelExtent(bytes, file);
  if (x === undefined || fileSize >= x.bytes) return;
  throw new KexecLabError(
    "E_FORMAT_TRUNCATED",
    `the kernel file has ${fileSize} bytes (${formatBytes(fileSize)}) but its header says it holds ${x.bytes} (${formatBytes(x.bytes)}): ${x.what}`,
    { ...(file !== undefined ? { file } : {}), offset: x.offset, field: x.field },
  );
}
