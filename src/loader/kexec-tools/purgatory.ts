/**
 * The purgatory segment's size, as kexec-tools' elf_rel_load (kexec/kexec-elf-rel.c) lays out the
 * purgatory ELF relocatable that kexec-tools embeds in its binary (the `purgatory[]` array):
 *   - every SHF_ALLOC section that is not SHT_NOBITS goes into the buffer in section order, each at
 *     its sh_addralign (0 counts as 1): bufsz = sum, aligned per section;
 *   - SHT_NOBITS (bss) sections follow, aligned the same way; bss_pad aligns the buffer's end to the
 *     largest bss alignment; memsz = bufsz + bss_pad + bsssz;
 *   - the base alignment is the largest alignment of all of them (buf_align).
 * add_buffer then rounds memsz up to a page.
 *
 * Sources of the size, best first: the user's own kexec binary (--kexec-binary), a named preset
 * measured from a distribution's build, and last a labelled model.
 */

import { KexecLabError } from "../../errors.js";
import type { Arch } from "../../kimage/constants.js";
import type { PurgatorySize } from "../types.js";

const SHF_ALLOC = 0x2;
const SHT_NOBITS = 8;
const ET_REL = 1;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

export interface PurgatorySection {
  name: string;
  type: number;
  flags: number;
  size: number;
  addralign: number;
  /** File offset and sh_link (kept for the symbol table). */
  offset?: number;
  link?: number;
}

const SHT_SYMTAB = 2;

/**
 * Offset of `symbol` from the purgatory's base once elf_rel_load has laid the sections out (what
 * elf_rel_get_addr returns minus rel_addr), or undefined when the symbol or a symbol table is missing.
 */
export function elfRelSymbolOffset(
  bytes: Uint8Array,
  off: number,
  sections: readonly PurgatorySection[],
  symbol: string,
): number | undefined {
  // Section addresses as elf_rel_load assigns them (relative to the buffer's start).
  const addr: (number | undefined)[] = [];
  let data = 0;
  let bufsz = 0;
  let bssAlign = 1;
  for (const s of sections) {
    if (!(s.flags & SHF_ALLOC) || s.type === SHT_NOBITS) continue;
    const a = s.addralign || 1;
    bufsz = Math.ceil(bufsz / a) * a + s.size;
  }
  for (const s of sections)
    if (s.flags & SHF_ALLOC && s.type === SHT_NOBITS) bssAlign = Math.max(bssAlign, s.addralign || 1);
  let bss = bufsz + (bufsz % bssAlign ? bssAlign - (bufsz % bssAlign) : 0);
  sections.forEach((s, i) => {
    if (!(s.flags & SHF_ALLOC)) return;
    const a = s.addralign || 1;
    if (s.type !== SHT_NOBITS) {
      data = Math.ceil(data / a) * a;
      addr[i] = data;
      data += s.size;
    } else {
      bss = Math.ceil(bss / a) * a;
      addr[i] = bss;
      bss += s.size;
    }
  });
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, bytes.length - off);
  const symtab = sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab || symtab.offset === undefined || symtab.link === undefined) return undefined;
  const strtab = sections[symtab.link];
  if (!strtab || strtab.offset === undefined) return undefined;
  for (let p = symtab.offset; p + 24 <= symtab.offset + symtab.size && p + 24 <= dv.byteLength; p += 24) {
    let name = "";
    for (let q = strtab.offset + dv.getUint32(p, true); q < dv.byteLength; q++) {
      const c = dv.getUint8(q);
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    if (name !== symbol) continue;
    const shndx = dv.getUint16(p + 6, true);
    const base = addr[shndx];
    if (base === undefined) return undefined;
    return base + Number(dv.getBigUint64(p + 8, true));
  }
  return undefined;
}

/** elf_rel_load's footprint of a relocatable object: bufsz, memsz (before page rounding), buf_align. */
export function elfRelFootprint(sections: readonly PurgatorySection[]): {
  bufsz: number;
  memsz: number;
  align: number;
} {
  const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
  let bufAlign = 1;
  let bssAlign = 1;
  let bufsz = 0;
  let bsssz = 0;
  for (const s of sections) {
    if (!(s.flags & SHF_ALLOC)) continue;
    const align = s.addralign === 0 ? 1 : s.addralign;
    if (s.type !== SHT_NOBITS) {
      bufAlign = Math.max(bufAlign, align);
      bufsz = alignUp(bufsz, align) + s.size;
    } else {
      bssAlign = Math.max(bssAlign, align);
      bsssz = alignUp(bsssz, align) + s.size;
    }
  }
  bufAlign = Math.max(bufAlign, bssAlign);
  const bssPad = bufsz % bssAlign ? bssAlign - (bufsz % bssAlign) : 0;
  return { bufsz, memsz: bufsz + bssPad + bsssz, align: bufAlign };
}

/** The sections of an ELF64 little-endian relocatable at `off` in `bytes`, or undefined if it is not one. */
export function readElfRel(bytes: Uint8Array, off: number, machine: number): PurgatorySection[] | undefined {
  if (off + 64 > bytes.length) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset + off, bytes.length - off);
  if (dv.getUint32(0, false) !== 0x7f454c46 || bytes[off + 4] !== 2 || bytes[off + 5] !== 1) return undefined;
  if (dv.getUint16(16, true) !== ET_REL || dv.getUint16(18, true) !== machine) return undefined;
  const shoff = Number(dv.getBigUint64(40, true));
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);
  if (shentsize !== 64 || shnum === 0 || shoff + shnum * 64 > dv.byteLength || shstrndx >= shnum)
    return undefined;
  const sh = (i: number) => {
    const b = shoff + i * 64;
    return {
      nameOff: dv.getUint32(b, true),
      type: dv.getUint32(b + 4, true),
      flags: Number(dv.getBigUint64(b + 8, true)),
      offset: Number(dv.getBigUint64(b + 24, true)),
      size: Number(dv.getBigUint64(b + 32, true)),
      link: dv.getUint32(b + 40, true),
      addralign: Number(dv.getBigUint64(b + 48, true)),
    };
  };
  const strtab = sh(shstrndx);
  const name = (o: number) => {
    let s = "";
    for (let p = strtab.offset + o; p < dv.byteLength && p < strtab.offset + strtab.size; p++) {
      const c = dv.getUint8(p);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  };
  const out: PurgatorySection[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    out.push({
      name: name(s.nameOff),
      type: s.type,
      flags: s.flags,
      size: s.size,
      addralign: s.addralign,
      offset: s.offset,
      link: s.link,
    });
  }
  return out;
}

/**
 * Find the purgatory ELF relocatable embedded in a kexec binary (an ELF executable whose .rodata
 * holds kexec-tools' `purgatory[]`): the first ET_REL ELF64 header for the architecture after the
 * file's own header that has a ".text" section.
 */
export function purgatoryFromKexecBinary(
  bytes: Uint8Array,
  arch: Arch,
  file?: string,
): PurgatorySize & { offset: number; sections: PurgatorySection[] } {
  const machine = arch === "arm64" ? EM_AARCH64 : EM_X86_64;
  for (let i = 1; i + 4 <= bytes.length; i++) {
    if (bytes[i] !== 0x7f || bytes[i + 1] !== 0x45 || bytes[i + 2] !== 0x4c || bytes[i + 3] !== 0x46)
      continue;
    const sections = readElfRel(bytes, i, machine);
    if (!sections?.some((s) => s.name === ".text")) continue;
    const f = elfRelFootprint(sections);
    const entry = elfRelSymbolOffset(bytes, i, sections, "purgatory_start");
    return {
      bufsz: f.bufsz,
      memsz: f.memsz,
      align: f.align,
      ...(entry !== undefined ? { entryOffset: entry } : {}),
      source: `${file ?? "kexec binary"}: purgatory ELF at offset 0x${i.toString(16)} (elf_rel_load layout)`,
      offset: i,
      sections,
    };
  }
  throw new KexecLabError(
    "E_FORMAT_UNKNOWN",
    `no ${arch} purgatory (an ELF64 relocatable with a .text section) is embedded in this file; is it kexec-tools' kexec binary for ${arch}?`,
    { ...(file !== undefined ? { file } : {}), field: "purgatory" },
  );
}

/**
 * Purgatory sizes measured from distributions' kexec binaries: the elf_rel_load footprint of the
 * embedded purgatory's sections (test/fixtures/recordings/purgatory.json lists them; a test recomputes
 * these numbers from it); memsz before page rounding. entryOffset is purgatory_start's offset as
 * elfRelSymbolOffset finds it in the Debian binaries; it equals the kexec entry minus the purgatory
 * base that the recorded `kexec -d` runs printed (2.0.25 amd64 and arm64, 2.0.29 amd64).
 */
export const PURGATORY_PRESETS: Record<string, Partial<Record<Arch, PurgatorySize>>> = {
  /** kexec-tools 2.0.25, Debian 12: kexec-tools_1:2.0.25-3+deb12u3_{amd64,arm64}.deb. */
  "debian-bookworm": {
    x86_64: {
      bufsz: 0x70e0,
      memsz: 0x9000,
      align: 4096,
      entryOffset: 0x760,
      source: "preset debian-bookworm (kexec-tools 2.0.25-3+deb12u3 amd64)",
    },
    arm64: {
      bufsz: 0x3558,
      memsz: 0x3558,
      align: 16,
      entryOffset: 0x6a0,
      source: "preset debian-bookworm (kexec-tools 2.0.25-3+deb12u3 arm64)",
    },
  },
  /** kexec-tools 2.0.29, Debian 13: kexec-tools_1:2.0.29-2+b2_amd64.deb, 2.0.29-2+b1_arm64.deb. */
  "debian-trixie": {
    x86_64: {
      bufsz: 0x70e0,
      memsz: 0x9000,
      align: 4096,
      entryOffset: 0x730,
      source: "preset debian-trixie (kexec-tools 2.0.29-2+b2 amd64)",
    },
    arm64: {
      bufsz: 0x3580,
      memsz: 0x3580,
      align: 32,
      entryOffset: 0x660,
      source: "preset debian-trixie (kexec-tools 2.0.29-2+b1 arm64)",
    },
  },
  /** kexec-tools 2.0.32, Debian forky/sid: kexec-tools_1:2.0.32-3_amd64.deb, 2.0.32-3+b1_arm64.deb. */
  "debian-forky": {
    x86_64: {
      bufsz: 0x70e0,
      memsz: 0x9000,
      align: 4096,
      entryOffset: 0x690,
      source: "preset debian-forky (kexec-tools 2.0.32-3 amd64)",
    },
    arm64: {
      bufsz: 0x3510,
      memsz: 0x3510,
      align: 32,
      entryOffset: 0x660,
      source: "preset debian-forky (kexec-tools 2.0.32-3+b1 arm64)",
    },
  },
};

/** Last resort: a modelled size, labelled as such wherever it is used. */
export const DEFAULT_PURGATORY: Record<Arch, PurgatorySize> = {
  arm64: { bufsz: 0x3000, memsz: 0x4000, source: "model (no kexec binary or preset given)" },
  x86_64: { bufsz: 0x5000, memsz: 0x9000, source: "model (no kexec binary or preset given)" },
};

export function purgatoryPreset(name: string, arch: Arch): PurgatorySize {
  const p = PURGATORY_PRESETS[name]?.[arch];
  if (!p) {
    const known = Object.keys(PURGATORY_PRESETS);
    throw new KexecLabError(
      "E_USAGE",
      `no purgatory preset "${name}" for ${arch}; known: ${known.length ? known.join(", ") : "none yet"} (or pass --kexec-binary)`,
      { field: "purgatory" },
    );
  }
  return p;
}
