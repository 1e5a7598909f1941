/**
 * The Authenticode parts of a PE file as the kernel reads them (crypto/asymmetric_keys/verify_pefile.c):
 * the certificate table of data directory 4 (IMAGE_DIRECTORY_ENTRY_SECURITY: a FILE offset and size)
 * split into its WIN_CERTIFICATE entries, and the byte ranges of the PE image hash
 * (pefile_digest_pe_contents), digested with WebCrypto. Browser-safe.
 *
 * WIN_CERTIFICATE (Microsoft PE format, "The Attribute Certificate Table"):
 *   +0 dwLength u32 (header included)  +4 wRevision u16 (0x0200)  +6 wCertificateType u16 (0x0002 =
 *   WIN_CERT_TYPE_PKCS_SIGNED_DATA)  +8 bCertificate[dwLength - 8]; entries follow each other on 8-byte
 *   boundaries. sbsign and pesign append one entry a signature (`sbattach --attach` / `pesign -a`).
 */

import { KexecLabError } from "../errors.js";
import { IMAGE_DIRECTORY_ENTRY_SECURITY, type PeFile } from "../formats/pe.js";

export const WIN_CERT_REVISION_2_0 = 0x0200;
export const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

/** One WIN_CERTIFICATE entry of the certificate table. */
export interface WinCertificate {
  /** File offset of the entry's header. */
  offset: number;
  /** dwLength: header (8 bytes) plus the certificate bytes. */
  length: number;
  revision: number;
  certificateType: number;
  /** bCertificate: for type 2 a DER PKCS#7 ContentInfo (SignedData), possibly followed by padding. */
  data: Uint8Array;
}

/** The certificate table: where directory 4 points, and its entries (empty when the file is unsigned). */
export interface PeCertificateTable {
  /** File offset of the data directory entry itself (8 bytes, left out of the image hash). */
  direntOffset: number;
  /** Directory 4's VirtualAddress (a file offset) and Size; both 0 in an unsigned file. */
  offset: number;
  size: number;
  entries: WinCertificate[];
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * Reads directory 4 and walks its WIN_CERTIFICATE entries (each at an 8-byte-aligned offset, as
 * sbsign and pesign write them). The directory entry is read where the kernel reads it (at the table's
 * 5th slot, pefile_parse_binary's `&ddir->certs`) even when NumberOfRvaAndSizes is smaller.
 * Errors: E_FORMAT_CORRUPT (the table outside the file, or an entry's length running past it).
 */
export function peCertificateTable(bytes: Uint8Array, pe: PeFile, file?: string): PeCertificateTable {
  const direntOffset = pe.dataDirectoryOffset + IMAGE_DIRECTORY_ENTRY_SECURITY * 8;
  const where = (offset: number, field: string) =>
    file !== undefined ? { file, offset, field } : { offset, field };
  if (direntOffset + 8 > bytes.length)
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      "the file ends before data directory 4 (the certificate table)",
      where(direntOffset, "DataDirectory[4]"),
    );
  const offset = u32(bytes, direntOffset);
  const size = u32(bytes, direntOffset + 4);
  const table: PeCertificateTable = { direntOffset, offset, size, entries: [] };
  if (offset === 0 || size === 0) return table;
  if (offset + size > bytes.length)
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `the certificate table 0x${offset.toString(16)}+0x${size.toString(16)} runs past the end of the file (0x${bytes.length.toString(16)})`,
      where(direntOffset, "DataDirectory[4]"),
    );
  let at = offset;
  while (at + 8 <= offset + size) {
    const length = u32(bytes, at);
    if (length < 8 || at + length > offset + size)
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `WIN_CERTIFICATE at 0x${at.toString(16)} has dwLength ${length}, outside the certificate table 0x${offset.toString(16)}+0x${size.toString(16)}`,
        where(at, "WIN_CERTIFICATE.dwLength"),
      );
    table.entries.push({
      offset: at,
      length,
      revision: bytes[at + 4]! | (bytes[at + 5]! << 8),
      certificateType: bytes[at + 6]! | (bytes[at + 7]! << 8),
      data: bytes.subarray(at + 8, at + length),
    });
    at += (length + 7) & ~7;
  }
  return table;
}

/** A byte range [start, end) of the file that goes into the image hash. */
export interface HashRange {
  start: number;
  end: number;
  what: string;
}

/**
 * The ranges pefile_digest_pe_contents feeds to the hash, in order: the headers up to CheckSum, from
 * after CheckSum to the certificate table's directory entry, from after that entry to SizeOfHeaders;
 * every section with SizeOfRawData > 0, sorted as pefile_compare_shdrs sorts them (PointerToRawData,
 * then VirtualAddress, name, VirtualSize, SizeOfRawData), SizeOfRawData bytes each; then, when the file
 * is longer than SizeOfHeaders plus all raw sizes, the bytes from there to the end less the
 * certificate table's size. Errors: E_FORMAT_CORRUPT where the kernel returns -ELIBBAD (SizeOfHeaders
 * not past the data directories or not inside the file) or a range would leave the file.
 */
export function authenticodeRanges(
  bytes: Uint8Array,
  pe: PeFile,
  table: PeCertificateTable,
  file?: string,
): HashRange[] {
  const where = (offset: number, field: string) =>
    file !== undefined ? { file, offset, field } : { offset, field };
  const headerSize = pe.sizeOfHeaders;
  if (headerSize <= table.direntOffset + 8 || headerSize >= bytes.length)
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `SizeOfHeaders 0x${headerSize.toString(16)} must lie past the certificate table's directory entry (0x${(table.direntOffset + 8).toString(16)}) and inside the file (0x${bytes.length.toString(16)}): the kernel's pefile_parse_binary returns -ELIBBAD`,
      where(pe.peOffset + 24 + 60, "SizeOfHeaders"),
    );
  const ranges: HashRange[] = [
    { start: 0, end: pe.checksumOffset, what: "headers up to CheckSum" },
    {
      start: pe.checksumOffset + 4,
      end: table.direntOffset,
      what: "headers after CheckSum up to DataDirectory[4]",
    },
    {
      start: table.direntOffset + 8,
      end: headerSize,
      what: "headers after DataDirectory[4] up to SizeOfHeaders",
    },
  ];
  const sorted = pe.sections.slice().sort((a, b) => {
    if (a.pointerToRawData !== b.pointerToRawData) return a.pointerToRawData - b.pointerToRawData;
    if (a.virtualAddress !== b.virtualAddress) return a.virtualAddress - b.virtualAddress;
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    if (a.virtualSize !== b.virtualSize) return a.virtualSize - b.virtualSize;
    return a.sizeOfRawData - b.sizeOfRawData;
  });
  let hashed = headerSize;
  for (const s of sorted) {
    if (s.sizeOfRawData === 0) continue;
    const end = s.pointerToRawData + s.sizeOfRawData;
    if (end > bytes.length)
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `section ${s.name}'s raw data 0x${s.pointerToRawData.toString(16)}+0x${s.sizeOfRawData.toString(16)} runs past the end of the file (0x${bytes.length.toString(16)})`,
        where(s.headerOffset, `${s.name}.SizeOfRawData`),
      );
    ranges.push({ start: s.pointerToRawData, end, what: `section ${s.name}` });
    hashed += s.sizeOfRawData;
  }
  if (bytes.length > hashed) {
    const end = bytes.length - table.size;
    if (end < hashed)
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `the certificate table (0x${table.size.toString(16)} bytes) is larger than the data after the sections (0x${(bytes.length - hashed).toString(16)} bytes)`,
        where(table.direntOffset, "DataDirectory[4].Size"),
      );
    if (end > hashed)
      ranges.push({ start: hashed, end, what: "data after the sections, less the certificate table" });
  }
  return ranges;
}

/** WebCrypto's names of the digests an Authenticode signature may name. */
export type DigestName = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

/** The hash of the ranges, with WebCrypto (globalThis.crypto.subtle): one copy of the hashed bytes. */
export async function digestRanges(
  bytes: Uint8Array,
  ranges: HashRange[],
  algorithm: DigestName,
): Promise<Uint8Array> {
  let total = 0;
  for (const r of ranges) total += r.end - r.start;
  const buf = new Uint8Array(total);
  let at = 0;
  for (const r of ranges) {
    buf.set(bytes.subarray(r.start, r.end), at);
    at += r.end - r.start;
  }
  return new Uint8Array(await globalThis.crypto.subtle.digest(algorithm, buf));
}
