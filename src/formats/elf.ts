/**
 * ELF64 executables (vmlinux): the file header and the PT_LOAD program headers, in either byte
 * order. Offsets follow the ELF64 specification:
 *
 *   e_ident[EI_CLASS] @4 (2 = 64-bit), e_ident[EI_DATA] @5 (1 = LSB, 2 = MSB), e_type @16,
 *   e_machine @18 (62 x86_64, 183 AArch64), e_entry @24, e_phoff @32, e_phentsize @54, e_phnum @56.
 *   Phdr (56 bytes): p_type @0, p_flags @4, p_offset @8, p_vaddr @16, p_paddr @24, p_filesz @32,
 *   p_memsz @40, p_align @48.
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const PT_LOAD = 1;
export const ELF64_PHDR_SIZE = 56;

export interface ElfLoad {
  offset: number;
  /** Virtual address: kernel vmlinux files use the top half of the address space, so a bigint. */
  vaddr: bigint;
  paddr: number;
  filesz: number;
  memsz: number;
  flags: number;
  align: number;
}

export interface Elf64 {
  kind: "elf64";
  bigEndian: boolean;
  type: number;
  machine: number;
  /** "arm64", "x86_64" or "unknown". */
  arch: "arm64" | "x86_64" | "unknown";
  /** e_entry (often a kernel virtual address), as a bigint. */
  entry: bigint;
  loads: ElfLoad[];
  fileSize: number;
}

export function isElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
  );
}

export function parseElf64(bytes: Uint8Array, file?: string): Elf64 {
  const r = new ByteReader(bytes, file);
  r.need(0, 16, "e_ident");
  if (!isElf(bytes)) {
    throw new KexecLabError("E_FORMAT_UNKNOWN", "no ELF magic at offset 0", r.where(0, "e_ident"));
  }
  const cls = bytes[4]!;
  if (cls === 1) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "a 32-bit ELF file (ELFCLASS32); only ELF64 kernels are loaded",
      r.where(4, "e_ident[EI_CLASS]"),
    );
  }
  if (cls !== 2) throw r.corrupt(4, "e_ident[EI_CLASS]", `invalid ELF class ${cls}`);
  const data = bytes[5]!;
  if (data !== 1 && data !== 2) throw r.corrupt(5, "e_ident[EI_DATA]", `invalid ELF data encoding ${data}`);
  const le = data === 1;
  r.need(0, 64, "ELF64 header");
  const type = r.u16(16, "e_type", le);
  const machine = r.u16(18, "e_machine", le);
  const entry = r.u64big(24, "e_entry", le);
  const phoff = r.u64(32, "e_phoff", le);
  const phentsize = r.u16(54, "e_phentsize", le);
  const phnum = r.u16(56, "e_phnum", le);
  if (phnum > 0 && phentsize < ELF64_PHDR_SIZE) {
    throw r.corrupt(54, "e_phentsize", `program header size ${phentsize} is below ${ELF64_PHDR_SIZE}`);
  }
  if (phnum === 0xffff)
    throw r.corrupt(56, "e_phnum", "PN_XNUM (more than 65534 program headers) is not supported");
  r.need(phoff, phnum * phentsize, "program headers");
  const loads: ElfLoad[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (r.u32(at, `phdr[${i}].p_type`, le) !== PT_LOAD) continue;
    const load: ElfLoad = {
      flags: r.u32(at + 4, `phdr[${i}].p_flags`, le),
      offset: r.u64(at + 8, `phdr[${i}].p_offset`, le),
      vaddr: r.u64big(at + 16, `phdr[${i}].p_vaddr`, le),
      paddr: r.u64(at + 24, `phdr[${i}].p_paddr`, le),
      filesz: r.u64(at + 32, `phdr[${i}].p_filesz`, le),
      memsz: r.u64(at + 40, `phdr[${i}].p_memsz`, le),
      align: r.u64(at + 48, `phdr[${i}].p_align`, le),
    };
    if (load.filesz > load.memsz) {
      throw r.corrupt(
        at + 32,
        `phdr[${i}].p_filesz`,
        `p_filesz 0x${load.filesz.toString(16)} exceeds p_memsz 0x${load.memsz.toString(16)}`,
      );
    }
    r.need(load.offset, load.filesz, `phdr[${i}] contents`);
    loads.push(load);
  }
  return {
    kind: "elf64",
    bigEndian: !le,
    type,
    machine,
    arch: machine === EM_AARCH64 ? "arm64" : machine === EM_X86_64 ? "x86_64" : "unknown",
    entry,
    loads,
    fileSize: bytes.length,
  };
}
