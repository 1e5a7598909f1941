/**
 * Find the purgatory kexec-tools embeds in its kexec binary and write its facts.
 *
 * kexec-tools builds purgatory/purgatory.ro as a relocatable ELF (ET_REL) and links its bytes into the kexec
 * binary as the array `purgatory` (purgatory_size beside it; see kexec-tools' purgatory/Makefile and
 * kexec/kexec.h). So the binary holds a second ELF header with e_type ET_REL (1). We scan for "\x7fELF" after
 * offset 0, keep the ET_REL ones, and read their section tables (ELF64 little-endian only: amd64 and arm64).
 */
import { readFileSync, writeFileSync } from "node:fs";

const SHT: Record<number, string> = {
  0: "NULL",
  1: "PROGBITS",
  2: "SYMTAB",
  3: "STRTAB",
  4: "RELA",
  5: "HASH",
  6: "DYNAMIC",
  7: "NOTE",
  8: "NOBITS",
  9: "REL",
  11: "DYNSYM",
  14: "INIT_ARRAY",
  15: "FINI_ARRAY",
  17: "GROUP",
  1879048182: "GNU_HASH",
  1879048189: "VERDEF",
  1879048190: "VERNEED",
  1879048191: "VERSYM",
  1879048181: "GNU_ATTRIBUTES",
  1879048193: "X86_64_UNWIND",
};

const EM: Record<number, string> = { 62: "EM_X86_64", 183: "EM_AARCH64" };

/** readelf's one-letter flag key for SHF_* bits. */
function flagLetters(f: number): string {
  const bits: [number, string][] = [
    [0x1, "W"],
    [0x2, "A"],
    [0x4, "X"],
    [0x10, "M"],
    [0x20, "S"],
    [0x40, "I"],
    [0x80, "L"],
    [0x200, "G"],
    [0x400, "T"],
    [0x800, "C"],
  ];
  return bits
    .filter(([b]) => f & b)
    .map(([, l]) => l)
    .join("");
}

export interface PurgatorySection {
  name: string;
  type: string;
  flags: number;
  flagLetters: string;
  size: number;
  addralign: number;
  offset: number;
}

export interface EmbeddedElf {
  offset: number;
  size: number;
  machine: string;
  sections: PurgatorySection[];
}

/** Every embedded ET_REL ELF64-LE image in `bin` (offset > 0), with its extent and section table. */
export function findEmbeddedRel(bin: Uint8Array): EmbeddedElf[] {
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out: EmbeddedElf[] = [];
  for (let i = 1; i + 64 <= bin.length; i++) {
    if (bin[i] !== 0x7f || bin[i + 1] !== 0x45 || bin[i + 2] !== 0x4c || bin[i + 3] !== 0x46) continue;
    if (bin[i + 4] !== 2 || bin[i + 5] !== 1) continue; // ELFCLASS64, ELFDATA2LSB
    if (dv.getUint16(i + 16, true) !== 1) continue; // ET_REL
    const machine = dv.getUint16(i + 18, true);
    const shoff = Number(dv.getBigUint64(i + 40, true));
    const shentsize = dv.getUint16(i + 58, true);
    const shnum = dv.getUint16(i + 60, true);
    const shstrndx = dv.getUint16(i + 62, true);
    if (shentsize !== 64 || shnum === 0 || i + shoff + shnum * 64 > bin.length) continue;
    const sh = (k: number, o: number): number => i + shoff + k * 64 + o;
    const strOff = Number(dv.getBigUint64(sh(shstrndx, 24), true));
    const name = (n: number): string => {
      let s = "";
      for (let p = i + strOff + n; bin[p] !== 0; p++) s += String.fromCharCode(bin[p]);
      return s;
    };
    let end = shoff + shnum * 64;
    const sections: PurgatorySection[] = [];
    for (let k = 0; k < shnum; k++) {
      const type = dv.getUint32(sh(k, 4), true);
      const flags = Number(dv.getBigUint64(sh(k, 8), true));
      const offset = Number(dv.getBigUint64(sh(k, 24), true));
      const size = Number(dv.getBigUint64(sh(k, 32), true));
      if (type !== 8) end = Math.max(end, offset + size);
      sections.push({
        name: name(dv.getUint32(sh(k, 0), true)),
        type: SHT[type] ?? `0x${type.toString(16)}`,
        flags,
        flagLetters: flagLetters(flags),
        size,
        addralign: Number(dv.getBigUint64(sh(k, 48), true)),
        offset,
      });
    }
    out.push({ offset: i, size: end, machine: EM[machine] ?? String(machine), sections });
  }
  return out;
}

export interface PurgatoryInput {
  suite: string;
  arch: string;
  binary: string;
  /** where the package installs it, e.g. /sbin/kexec (bookworm) or /usr/sbin/kexec (trixie, merged /usr) */
  guestPath: string;
  debianPackage: string;
}

/** Write purgatory.json: one entry per (arch, kexec-tools version, Debian package). */
export function writePurgatoryFacts(file: string, inputs: PurgatoryInput[]): void {
  const entries = inputs.map((inp) => {
    const bin = readFileSync(inp.binary);
    const elfs = findEmbeddedRel(bin);
    const m = /kexec-tools_\d+:([\d.]+)-/.exec(inp.debianPackage);
    return {
      arch: inp.arch === "amd64" ? "x86_64" : "arm64",
      kexecToolsVersion: m ? m[1] : null,
      debianPackage: inp.debianPackage,
      debianSuite: inp.suite,
      binary: inp.guestPath,
      binarySize: bin.length,
      embeddedRelocatables: elfs.length,
      purgatory: elfs[0] ?? null,
    };
  });
  writeFileSync(file, `${JSON.stringify({ source: "scripts/record/purgatory.ts", entries }, null, 2)}\n`);
}
