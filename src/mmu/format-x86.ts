/**
 * The x86_64 long-mode paging format: 4-level (48-bit VA) and 5-level (LA57, 57-bit VA), 4K pages,
 * 2M pages (PDE with PS) and 1G pages (PDPTE with PS, "gbpages").
 *
 *   level numbers (as on arm64):  PML5 = -1, PML4 = 0, PDPT = 1, PD = 2, PT = 3
 *   index bits:                   56:48       47:39     38:30     29:21   20:12
 *
 * Entry layout (lo = bits 31:0, hi = bits 63:32):
 *
 *   63  62:52     51:12 (51:21 for 2M, 51:30 for 1G)   12          8  7        6  5  4   3   2  1  0
 *   NX  ignored   physical address                     PAT(large)  G  PS/PAT   D  A  PCD PWT US RW P
 *
 * Memory types use Linux's PAT layout: PWT|PCD = 00 write-back (normal), PWT = WC (Linux programs PAT
 * entry 1 as write-combining: "normal-nc"), PCD|PWT = UC (device). Table entries are _KERNPG_TABLE
 * (P|RW|A|D), as the kernel's identity map for kexec uses.
 */

import { KexecLabError } from "../errors.js";
import { sameAttributes } from "./format-arm64.js";
import {
  type DecodedDescriptor,
  type DescriptorHalves,
  KIND_BLOCK,
  KIND_INVALID,
  KIND_PAGE,
  KIND_RESERVED,
  KIND_TABLE,
  type LevelInfo,
  type MapAttributes,
  type TranslationFormat,
  TWO_32,
} from "./types.js";

export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_USER = 1 << 2;
export const _PAGE_PWT = 1 << 3;
export const _PAGE_PCD = 1 << 4;
export const _PAGE_ACCESSED = 1 << 5;
export const _PAGE_DIRTY = 1 << 6;
export const _PAGE_PSE = 1 << 7;
export const _PAGE_GLOBAL = 1 << 8;
/** PAT bit of a 4K PTE (same position as PS). */
export const _PAGE_PAT = 1 << 7;
/** PAT bit of a 2M/1G leaf. */
export const _PAGE_PAT_LARGE = 1 << 12;
/** NX is bit 63: bit 31 of the high word. */
export const _PAGE_HI_NX = 1 << 31;
export const _KERNPG_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;

/** Control-register bits the relocation code needs for long mode. */
export const X86_CR0_PE = 1 << 0;
export const X86_CR0_PG = 1 << 31;
export const X86_CR4_PAE = 1 << 5;
export const X86_CR4_PGE = 1 << 7;
export const X86_CR4_LA57 = 1 << 12;
export const MSR_EFER = 0xc0000080;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

const NAMES: Record<number, string> = { [-1]: "PML5", 0: "PML4", 1: "PDPT", 2: "PD", 3: "PT" };

export interface X86FormatSpec {
  levels: 4 | 5;
  /** MAXPHYADDR, 36..52. Default 52. */
  paBits?: number;
}

export class X86Format implements TranslationFormat {
  readonly arch = "x86_64" as const;
  readonly name: string;
  readonly granule = 4096 as const;
  readonly vaBits: number;
  readonly paBits: number;
  readonly levels: readonly LevelInfo[];
  readonly leafSizes: readonly number[] = [2 ** 30, 2 ** 21, 2 ** 12];
  readonly startLevel: number;
  private lastAttrs: MapAttributes | null = null;
  private lastAttrLo = 0;
  private lastAttrHi = 0;

  constructor(spec: X86FormatSpec) {
    if (spec.levels !== 4 && spec.levels !== 5) {
      throw new KexecLabError("E_FIELD_VALUE", `x86_64 paging has 4 or 5 levels, not ${spec.levels}`, {
        field: "levels",
      });
    }
    const paBits = spec.paBits ?? 52;
    if (!Number.isInteger(paBits) || paBits < 36 || paBits > 52) {
      throw new KexecLabError("E_FIELD_VALUE", `MAXPHYADDR ${paBits}: use 36..52`, { field: "paBits" });
    }
    this.paBits = paBits;
    this.vaBits = spec.levels === 5 ? 57 : 48;
    this.startLevel = spec.levels === 5 ? -1 : 0;
    const levels: LevelInfo[] = [];
    for (let n = this.startLevel; n <= 3; n++) {
      const blockAllowed = n === 1 || n === 2;
      levels.push({
        level: n,
        shift: 12 + 9 * (3 - n),
        entries: 512,
        blockAllowed,
        tableBytes: 4096,
        leafAllowed: blockAllowed || n === 3,
      });
    }
    this.levels = levels;
    this.name = `x86_64 ${spec.levels}-level`;
  }

  outputAddress(lo: number, hi: number, _level: number): number {
    return (hi & 0xfffff) * TWO_32 + ((lo & 0xfffff000) >>> 0);
  }

  private attributeBits(attrs: MapAttributes): void {
    let lo = _PAGE_PRESENT | _PAGE_DIRTY;
    if (attrs.accessed !== false) lo |= _PAGE_ACCESSED;
    if (attrs.writable) lo |= _PAGE_RW;
    if (attrs.user === true) lo |= _PAGE_USER;
    if (attrs.notGlobal !== true) lo |= _PAGE_GLOBAL;
    if (attrs.memType === "device") lo |= _PAGE_PCD | _PAGE_PWT;
    else if (attrs.memType === "normal-nc") lo |= _PAGE_PWT;
    this.lastAttrs = { ...attrs };
    this.lastAttrLo = lo;
    this.lastAttrHi = attrs.executable ? 0 : _PAGE_HI_NX;
  }

  encodeLeaf(
    pa: number,
    level: number,
    attrs: MapAttributes,
    _contiguous: boolean,
    out: DescriptorHalves,
  ): void {
    if (!sameAttributes(attrs, this.lastAttrs)) this.attributeBits(attrs);
    const hi = Math.floor(pa / TWO_32);
    out.lo = (((pa - hi * TWO_32) & 0xfffff000) | this.lastAttrLo | (level === 3 ? 0 : _PAGE_PSE)) >>> 0;
    out.hi = (hi | this.lastAttrHi) >>> 0;
  }

  encodeTable(tablePa: number, _level: number, out: DescriptorHalves): void {
    const hi = Math.floor(tablePa / TWO_32);
    out.lo = (((tablePa - hi * TWO_32) & 0xfffff000) | _KERNPG_TABLE) >>> 0;
    out.hi = hi >>> 0;
  }

  kindOf(lo: number, _hi: number, level: number): number {
    if ((lo & _PAGE_PRESENT) === 0) return KIND_INVALID;
    if (level === 3) return KIND_PAGE;
    if ((lo & _PAGE_PSE) !== 0) return level === 1 || level === 2 ? KIND_BLOCK : KIND_RESERVED;
    return KIND_TABLE;
  }

  accessFlagFault(_lo: number, _hi: number): boolean {
    return false;
  }

  isContiguous(_lo: number, _hi: number): boolean {
    return false;
  }

  leafAttributes(lo: number, hi: number, _level: number): Required<MapAttributes> {
    const cache = lo & (_PAGE_PCD | _PAGE_PWT);
    return {
      memType: cache === 0 ? "normal" : cache === _PAGE_PWT ? "normal-nc" : "device",
      writable: (lo & _PAGE_RW) !== 0,
      executable: (hi & _PAGE_HI_NX) === 0,
      user: (lo & _PAGE_USER) !== 0,
      shareability: 3,
      accessed: (lo & _PAGE_ACCESSED) !== 0,
      notGlobal: (lo & _PAGE_GLOBAL) === 0,
    };
  }

  normalizeAttributes(a: MapAttributes): Required<MapAttributes> {
    return {
      memType: a.memType,
      writable: a.writable,
      executable: a.executable,
      user: a.user ?? false,
      shareability: 3,
      accessed: a.accessed ?? true,
      notGlobal: a.notGlobal ?? false,
    };
  }

  contiguousEntries(_level: number): number {
    return 0;
  }

  levelName(level: number): string {
    return NAMES[level] ?? `L${level}`;
  }

  decode(lo: number, hi: number, level: number): DecodedDescriptor {
    const kind = this.kindOf(lo, hi, level);
    if (kind === KIND_INVALID || kind === KIND_RESERVED) {
      return { kind: "invalid", address: 0, fields: kind === KIND_RESERVED ? { reserved: true } : {} };
    }
    const fields: Record<string, number | boolean> = {
      P: true,
      RW: (lo & _PAGE_RW) !== 0,
      US: (lo & _PAGE_USER) !== 0,
      PWT: (lo & _PAGE_PWT) !== 0,
      PCD: (lo & _PAGE_PCD) !== 0,
      A: (lo & _PAGE_ACCESSED) !== 0,
    };
    const oa = this.outputAddress(lo, hi, level);
    if (kind === KIND_TABLE) {
      fields.NX = (hi & _PAGE_HI_NX) !== 0;
      return { kind: "table", address: oa, fields };
    }
    fields.D = (lo & _PAGE_DIRTY) !== 0;
    if (kind === KIND_BLOCK) {
      fields.PS = true;
      fields.PAT = (lo & _PAGE_PAT_LARGE) !== 0;
    } else {
      fields.PAT = (lo & _PAGE_PAT) !== 0;
    }
    fields.G = (lo & _PAGE_GLOBAL) !== 0;
    fields.NX = (hi & _PAGE_HI_NX) !== 0;
    const size = 2 ** (12 + 9 * (3 - level));
    return { kind: kind === KIND_PAGE ? "page" : "block", address: oa - (oa % size), fields };
  }
}
