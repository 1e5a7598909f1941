/**
 * PE/COFF files (Microsoft PE format specification): the DOS stub's "MZ" and e_lfanew at 0x3c, the
 * "PE\0\0" signature, the COFF file header (20 bytes), the optional header (PE32 0x10b or PE32+
 * 0x20b) and the section table (40 bytes a section):
 *
 *   COFF  +0 Machine u16  +2 NumberOfSections u16  +16 SizeOfOptionalHeader u16  +18 Characteristics u16
 *   opt   +0 Magic u16  +16 AddressOfEntryPoint u32  +24 ImageBase u64 (PE32: +28 u32)
 *         +32 SectionAlignment u32  +36 FileAlignment u32  +56 SizeOfImage u32  +60 SizeOfHeaders u32
 *         +64 CheckSum u32  +68 Subsystem u16
 *         +92 NumberOfRvaAndSizes u32, data directories (8 bytes each: VirtualAddress u32, Size u32) at +96
 *         (PE32+: +108 and +112); directory 4, the certificate table, holds a FILE offset, not an RVA
 *   section +0 Name[8] (NUL-padded; "/N" = offset N in the COFF string table)  +8 VirtualSize
 *           +12 VirtualAddress  +16 SizeOfRawData  +20 PointerToRawData  +36 Characteristics
 *
 * Used for EFI zboot images, unified kernel images and the EFI stub header of arm64 Images and
 * bzImages. A section's contents are the file bytes [PointerToRawData, + min(VirtualSize,
 * SizeOfRawData)): SizeOfRawData is VirtualSize rounded up to FileAlignment (systemd's and
 * kexec-tools' UKI readers take VirtualSize as the payload size; kexec-tools since commit
 * e18a71f "UKI: Fix the size of real payload").
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";

export const PE_MACHINE: Readonly<Record<number, string>> = {
  332: "i386",
  34404: "x86_64",
  43620: "arm64",
  450: "arm",
  20580: "riscv64",
  25188: "loongarch64",
};

export const IMAGE_SCN_CNT_CODE = 0x20;
export const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
export const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
export const IMAGE_SCN_MEM_READ = 0x40000000;
export const IMAGE_SCN_MEM_WRITE = 0x80000000;

/** At most this many sections are read (the format allows 96 in images; more is a corrupt header). */
export const PE_MAX_SECTIONS = 96;

export interface PeSection {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
  /** Offset in the file of the section header (for errors). */
  headerOffset: number;
}

/** One data directory entry: VirtualAddress and Size (for directory 4 the address is a file offset). */
export interface PeDataDirectory {
  virtualAddress: number;
  size: number;
}

/** Data directory index of the certificate table (Authenticode signatures, WIN_CERTIFICATE entries). */
export const IMAGE_DIRECTORY_ENTRY_SECURITY = 4;

export interface PeFile {
  kind: "pe";
  peOffset: number;
  machine: number;
  /** "arm64", "x86_64", ... or "0x..." for other machines. */
  machineName: string;
  /** "PE32" or "PE32+". */
  format: "PE32" | "PE32+";
  characteristics: number;
  entryPoint: number;
  imageBase: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  subsystem: number;
  sections: PeSection[];
  fileSize: number;
  /** File offset of the optional header's CheckSum field (left out of the Authenticode digest). */
  checksumOffset: number;
  /** File offset of the data directory table (8 bytes an entry). */
  dataDirectoryOffset: number;
  /** NumberOfRvaAndSizes as the header says it (entries past the optional header are not read). */
  numberOfRvaAndSizes: number;
  /** The data directories that fit in the optional header, index = directory number. */
  dataDirectories: PeDataDirectory[];
  /** File offset of the section table (40 bytes a section). */
  sectionTableOffset: number;
}

export function isPe(bytes: Uint8Array): boolean {
  if (bytes.length < 0x40 || bytes[0] !== 0x4d || bytes[1] !== 0x5a) return false;
  const off = (bytes[0x3c]! | (bytes[0x3d]! << 8) | (bytes[0x3e]! << 16) | (bytes[0x3f]! << 24)) >>> 0;
  return (
    off + 4 <= bytes.length &&
    bytes[off] === 0x50 &&
    bytes[off + 1] === 0x45 &&
    bytes[off + 2] === 0 &&
    bytes[off + 3] === 0
  );
}

export function parsePe(bytes: Uint8Array, file?: string): PeFile {
  const r = new ByteReader(bytes, file);
  r.need(0, 0x40, "DOS header");
  if (bytes[0] !== 0x4d || bytes[1] !== 0x5a) {
    throw new KexecLabError("E_FORMAT_UNKNOWN", 'no "MZ" at offset 0: not a PE file', r.where(0, "e_magic"));
  }
  const peOffset = r.u32(0x3c, "e_lfanew");
  if (r.u32(peOffset, "PE signature") !== 0x00004550) {
    throw new KexecLabError(
      "E_FORMAT_UNKNOWN",
      `no "PE\\0\\0" signature at e_lfanew 0x${peOffset.toString(16)}: a DOS executable, not PE`,
      r.where(peOffset, "PE signature"),
    );
  }
  const coff = peOffset + 4;
  const machine = r.u16(coff, "Machine");
  const nsections = r.u16(coff + 2, "NumberOfSections");
  const optSize = r.u16(coff + 16, "SizeOfOptionalHeader");
  const characteristics = r.u16(coff + 18, "Characteristics");
  if (nsections > PE_MAX_SECTIONS) {
    throw r.corrupt(
      coff + 2,
      "NumberOfSections",
      `${nsections} sections (at most ${PE_MAX_SECTIONS} are allowed)`,
    );
  }
  const opt = coff + 20;
  const magic = r.u16(opt, "optional header Magic");
  if (magic !== 0x10b && magic !== 0x20b) {
    throw r.corrupt(
      opt,
      "optional header Magic",
      `optional header magic 0x${magic.toString(16)} is neither PE32 (0x10b) nor PE32+ (0x20b)`,
    );
  }
  const plus = magic === 0x20b;
  const minOpt = plus ? 112 : 96;
  if (optSize < minOpt) {
    throw r.corrupt(
      coff + 16,
      "SizeOfOptionalHeader",
      `SizeOfOptionalHeader ${optSize} is below the ${minOpt} bytes of a ${plus ? "PE32+" : "PE32"} header`,
    );
  }
  r.need(opt, optSize, "optional header");
  const table = opt + optSize;
  r.need(table, nsections * 40, "section table");
  const sections: PeSection[] = [];
  let strtab: number | undefined;
  for (let i = 0; i < nsections; i++) {
    const at = table + i * 40;
    let name = "";
    for (let j = 0; j < 8; j++) {
      const c = bytes[at + j]!;
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    if (/^\/[0-9]+$/.test(name)) {
      // A long name in the COFF string table (after the symbol table), as objdump prints it.
      strtab ??= r.u32(coff + 8, "PointerToSymbolTable") + r.u32(coff + 12, "NumberOfSymbols") * 18;
      const off = strtab + Number(name.slice(1));
      let long = "";
      for (let k = off; k < bytes.length && k < off + 256 && bytes[k] !== 0; k++)
        long += String.fromCharCode(bytes[k]!);
      if (long.length > 0) name = long;
    }
    sections.push({
      name,
      virtualSize: r.u32(at + 8, `section[${i}].VirtualSize`),
      virtualAddress: r.u32(at + 12, `section[${i}].VirtualAddress`),
      sizeOfRawData: r.u32(at + 16, `section[${i}].SizeOfRawData`),
      pointerToRawData: r.u32(at + 20, `section[${i}].PointerToRawData`),
      characteristics: r.u32(at + 36, `section[${i}].Characteristics`),
      headerOffset: at,
    });
  }
  const imageBase = plus ? r.u64(opt + 24, "ImageBase") : r.u32(opt + 28, "ImageBase");
  const ddirCount = r.u32(opt + (plus ? 108 : 92), "NumberOfRvaAndSizes");
  const ddirAt = opt + (plus ? 112 : 96);
  const dataDirectories: PeDataDirectory[] = [];
  const fit = Math.min(ddirCount, Math.max(0, Math.floor((opt + optSize - ddirAt) / 8)), 16);
  for (let i = 0; i < fit; i++) {
    dataDirectories.push({
      virtualAddress: r.u32(ddirAt + i * 8, `DataDirectory[${i}].VirtualAddress`),
      size: r.u32(ddirAt + i * 8 + 4, `DataDirectory[${i}].Size`),
    });
  }
  return {
    kind: "pe",
    peOffset,
    machine,
    machineName: PE_MACHINE[machine] ?? `0x${machine.toString(16)}`,
    format: plus ? "PE32+" : "PE32",
    characteristics,
    entryPoint: r.u32(opt + 16, "AddressOfEntryPoint"),
    imageBase,
    sectionAlignment: r.u32(opt + 32, "SectionAlignment"),
    fileAlignment: r.u32(opt + 36, "FileAlignment"),
    sizeOfImage: r.u32(opt + 56, "SizeOfImage"),
    sizeOfHeaders: r.u32(opt + 60, "SizeOfHeaders"),
    subsystem: r.u16(opt + 68, "Subsystem"),
    sections,
    fileSize: bytes.length,
    checksumOffset: opt + 64,
    dataDirectoryOffset: ddirAt,
    numberOfRvaAndSizes: ddirCount,
    dataDirectories,
    sectionTableOffset: table,
  };
}

/**
 * The bytes of a section: [PointerToRawData, + min(VirtualSize, SizeOfRawData)), or
 * E_FORMAT_TRUNCATED when the file ends before them.
 */
export function peSectionData(bytes: Uint8Array, s: PeSection, file?: string): Uint8Array {
  const size = Math.min(s.virtualSize, s.sizeOfRawData);
  if (s.pointerToRawData + size > bytes.length) {
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      `section ${s.name} needs bytes 0x${s.pointerToRawData.toString(16)}..0x${(s.pointerToRawData + size).toString(16)} but the file has 0x${bytes.length.toString(16)}`,
      file !== undefined
        ? { file, offset: s.headerOffset, field: `${s.name}.PointerToRawData` }
        : { offset: s.headerOffset, field: `${s.name}.PointerToRawData` },
    );
  }
  return bytes.subarray(s.pointerToRawData, s.pointerToRawData + size);
}

export function findSection(pe: PeFile, name: string): PeSection | undefined {
  return pe.sections.find((s) => s.name === name);
}
