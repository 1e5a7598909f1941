/**
 * The arm64 VMSAv8-64 stage-1 translation format, one table-driven object for the 4K, 16K and 64K
 * granules and 39/42/47/48/52-bit VAs (FEAT_LPA2 for 52 bits with 4K/16K, FEAT_LVA/FEAT_LPA with 64K).
 *
 * Everything is derived from the granule and the VA size, as the architecture defines it:
 *
 *   bits resolved per level  = PAGE_SHIFT - 3                      (9, 11, 13)
 *   shift of level n         = (PAGE_SHIFT - 3) * (4 - n) + 3      (ARM64_HW_PGTABLE_LEVEL_SHIFT)
 *   levels                   = ceil((vaBits - PAGE_SHIFT) / (PAGE_SHIFT - 3))
 *   start level              = 4 - levels                          (-1 with 4K and 52-bit VA)
 *   start-level entries      = 2^(vaBits - shift(start))           (may be fewer than a full table)
 *
 * Descriptor layout (a 64-bit descriptor is carried as lo = bits 31:0 and hi = bits 63:32):
 *
 *   63 62:61  60   59 | 58:55 54  53  52   51  50 | 49:48      47:PAGE_SHIFT | 15:12    11 10  9:8  7   6   5  4:2  1:0
 *   NSTable APTable   | SW   UXN PXN Cont DBM GP  | OA[49:48]  output address| OA[51:48] nG AF SH  AP2 AP1 NS Attr type
 *   UXNTable PXNTable |                           | (LPA2 only)              | (64K LPA) |      OA[51:50] with LPA2
 *
 * The memory types follow Linux's MAIR_EL1 layout (arch/arm64/include/asm/memory.h): AttrIndx
 * 0 = MT_NORMAL (0xff, Normal WB RA/WA), 1 = MT_NORMAL_TAGGED (0xff until MTE switches it to 0xf0),
 * 2 = MT_NORMAL_NC (0x44), 3 = MT_DEVICE_nGnRnE (0x00), 4 = MT_DEVICE_nGnRE (0x04).
 */

import { KexecLabError } from "../errors.js";
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
  type PageSize,
  type TranslationFormat,
  TWO_32,
} from "./types.js";

// ---- descriptor bits, low word (bits 31:0) -------------------------------------------------------------
export const PTE_VALID = 1 << 0;
export const PTE_TYPE_MASK = 3;
export const PTE_TYPE_BLOCK = 1;
export const PTE_TYPE_TABLE = 3;
export const PTE_TYPE_PAGE = 3;
export const PTE_ATTRINDX_SHIFT = 2;
export const PTE_ATTRINDX_MASK = 7 << 2;
export const PTE_NS = 1 << 5;
/** AP[1]: EL0 may access. */
export const PTE_USER = 1 << 6;
/** AP[2]: read-only. */
export const PTE_RDONLY = 1 << 7;
export const PTE_SHARED_SHIFT = 8;
export const PTE_SHARED_MASK = 3 << 8;
export const PTE_AF = 1 << 10;
export const PTE_NG = 1 << 11;
/** LPA2 (TCR_EL1.DS = 1): OA[51:50] live in descriptor bits 9:8 instead of SH. */
export const PTE_LPA2_OA_SHIFT = 8;
/** 64K granule with 52-bit PA (FEAT_LPA): OA[51:48] live in descriptor bits 15:12. */
export const PTE_LPA_OA_SHIFT = 12;

// ---- descriptor bits, high word (bit n of the descriptor is bit n-32 here) ----------------------------------
export const PTE_HI_GP = 1 << (50 - 32);
export const PTE_HI_DBM = 1 << (51 - 32);
export const PTE_HI_CONT = 1 << (52 - 32);
export const PTE_HI_PXN = 1 << (53 - 32);
export const PTE_HI_UXN = 1 << (54 - 32);
export const PTE_HI_SW_SHIFT = 55 - 32;
export const TABLE_HI_PXN = 1 << (59 - 32);
export const TABLE_HI_UXN = 1 << (60 - 32);
export const TABLE_HI_AP_SHIFT = 61 - 32;
export const TABLE_HI_NS = 1 << (63 - 32);

// ---- MAIR_EL1 as Linux programs it ------------------------------------------------------------------------
export const MT_NORMAL = 0;
export const MT_NORMAL_TAGGED = 1;
export const MT_NORMAL_NC = 2;
export const MT_DEVICE_nGnRnE = 3;
export const MT_DEVICE_nGnRE = 4;
export const MAIR_ATTR_NORMAL = 0xff;
export const MAIR_ATTR_NORMAL_NC = 0x44;
export const MAIR_ATTR_DEVICE_nGnRnE = 0x00;
export const MAIR_ATTR_DEVICE_nGnRE = 0x04;
/** MAIR_EL1 = Normal@0 | Normal(tagged, pre-MTE)@1 | Normal-NC@2 | Device-nGnRnE@3 | Device-nGnRE@4. */
export const MAIR_EL1: { readonly lo: number; readonly hi: number } = {
  lo:
    (MAIR_ATTR_NORMAL |
      (MAIR_ATTR_NORMAL << 8) |
      (MAIR_ATTR_NORMAL_NC << 16) |
      (MAIR_ATTR_DEVICE_nGnRnE << 24)) >>>
    0,
  hi: MAIR_ATTR_DEVICE_nGnRE,
};

// ---- TCR_EL1 fields ---------------------------------------------------------------------------------------
export const TCR_T0SZ_SHIFT = 0;
export const TCR_EPD0 = 1 << 7;
export const TCR_IRGN0_SHIFT = 8;
export const TCR_ORGN0_SHIFT = 10;
export const TCR_SH0_SHIFT = 12;
export const TCR_TG0_SHIFT = 14;
export const TCR_T1SZ_SHIFT = 16;
export const TCR_EPD1 = 1 << 23;
export const TCR_IRGN1_SHIFT = 24;
export const TCR_ORGN1_SHIFT = 26;
export const TCR_SH1_SHIFT = 28;
export const TCR_TG1_SHIFT = 30;
/** High word: IPS is bits 34:32, DS is bit 59. */
export const TCR_HI_IPS_SHIFT = 32 - 32;
export const TCR_HI_DS = 1 << (59 - 32);
/** Write-back read/write-allocate cacheable table walks; inner shareable. */
export const TCR_RGN_WBWA = 1;
export const TCR_SH_INNER = 3;
const TG0: Record<PageSize, number> = { 4096: 0, 65536: 1, 16384: 2 };
const TG1: Record<PageSize, number> = { 16384: 1, 4096: 2, 65536: 3 };
const IPS: Record<number, number> = { 32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6 };

export interface Arm64FormatSpec {
  granule: PageSize;
  vaBits: number;
  paBits?: number;
}

const VA_BITS = [39, 42, 47, 48, 52];

export class Arm64Format implements TranslationFormat {
  readonly arch = "arm64" as const;
  readonly name: string;
  readonly granule: PageSize;
  readonly pageShift: number;
  readonly vaBits: number;
  readonly paBits: number;
  /** TCR_EL1.DS: FEAT_LPA2's 52-bit descriptors (4K/16K granules with 52-bit VA or PA). */
  readonly ds: boolean;
  /** 64K granule with 52-bit PA (FEAT_LPA): OA[51:48] in bits 15:12. */
  readonly lpa64: boolean;
  readonly levels: readonly LevelInfo[];
  readonly leafSizes: readonly number[];
  readonly startLevel: number;

  /** Indexed by level + 1. */
  private readonly blockAt: boolean[] = [false, false, false, false, false];
  private readonly contAt: number[] = [0, 0, 0, 0, 0];
  private readonly addrMaskLo: number;
  private readonly addrMaskHi: number;
  private lastAttrs: MapAttributes | null = null;
  private lastAttrLo = 0;
  private lastAttrHi = 0;

  constructor(spec: Arm64FormatSpec) {
    const { granule, vaBits } = spec;
    if (granule !== 4096 && granule !== 16384 && granule !== 65536) {
      throw new KexecLabError("E_PAGE_SIZE", `arm64 granule ${granule} does not exist`, { field: "granule" });
    }
    if (!VA_BITS.includes(vaBits)) {
      throw new KexecLabError("E_FIELD_VALUE", `arm64 VA size ${vaBits} bits: use 39, 42, 47, 48 or 52`, {
        field: "vaBits",
      });
    }
    if (granule === 65536 && vaBits === 39) {
      throw new KexecLabError(
        "E_NOT_MODELED",
        "Linux has no 39-bit VA configuration with the 64K granule (use 42, 47, 48 or 52)",
        { field: "vaBits" },
      );
    }
    const paBits = spec.paBits ?? (vaBits === 52 ? 52 : 48);
    if (IPS[paBits] === undefined) {
      throw new KexecLabError("E_FIELD_VALUE", `PA size ${paBits} bits: use 32, 36, 40, 42, 44, 48 or 52`, {
        field: "paBits",
      });
    }
    this.granule = granule;
    this.pageShift = granule === 4096 ? 12 : granule === 16384 ? 14 : 16;
    this.vaBits = vaBits;
    this.paBits = paBits;
    this.ds = granule !== 65536 && (vaBits === 52 || paBits === 52);
    this.lpa64 = granule === 65536 && paBits === 52;
    const stride = this.pageShift - 3;
    const nLevels = Math.ceil((vaBits - this.pageShift) / stride);
    this.startLevel = 4 - nLevels;

    // Block levels: 4K L1 (1G) and L2 (2M), L0 (512G) with LPA2; 16K L2 (32M), L1 (64G) with LPA2;
    // 64K L2 (512M), L1 (4T) with 52-bit PA.
    if (granule === 4096) {
      this.blockAt[2] = true;
      this.blockAt[3] = true;
      this.blockAt[1] = this.ds;
    } else if (granule === 16384) {
      this.blockAt[3] = true;
      this.blockAt[2] = this.ds;
    } else {
      this.blockAt[3] = true;
      this.blockAt[2] = this.lpa64;
    }
    // Contiguous hint groups (CONT_PTES / CONT_PMDS).
    const cont = granule === 4096 ? [16, 16] : granule === 16384 ? [128, 32] : [32, 32];
    this.contAt[4] = cont[0]!;
    this.contAt[3] = cont[1]!;

    const levels: LevelInfo[] = [];
    const leafSizes: number[] = [];
    for (let n = this.startLevel; n <= 3; n++) {
      const shift = stride * (4 - n) + 3;
      const entries = n === this.startLevel ? 2 ** (vaBits - shift) : 2 ** stride;
      const blockAllowed = n < 3 && this.blockAt[n + 1]!;
      levels.push({
        level: n,
        shift,
        entries,
        blockAllowed,
        tableBytes: entries * 8,
        leafAllowed: blockAllowed || n === 3,
      });
      if (blockAllowed || n === 3) leafSizes.push(2 ** shift);
    }
    this.levels = levels;
    this.leafSizes = leafSizes;
    this.addrMaskLo = ~(granule - 1) >>> 0;
    // OA bits above 31 held in the high word: 47:32, or 49:32 with LPA2.
    this.addrMaskHi = this.ds ? 0x3ffff : 0xffff;
    const k = granule / 1024;
    this.name = `arm64 ${k}K ${vaBits}-bit${this.ds ? " LPA2" : this.lpa64 ? " LPA" : ""}`;
  }

  // ---- output address encodings ---------------------------------------------------------------------

  private encodeAddress(pa: number, out: DescriptorHalves): void {
    const hiAll = Math.floor(pa / TWO_32);
    let lo = (pa - hiAll * TWO_32) & this.addrMaskLo;
    if (this.ds) lo |= ((hiAll >>> 18) & 3) << PTE_LPA2_OA_SHIFT;
    else if (this.lpa64) lo |= ((hiAll >>> 16) & 0xf) << PTE_LPA_OA_SHIFT;
    out.lo = lo >>> 0;
    out.hi = hiAll & this.addrMaskHi;
  }

  outputAddress(lo: number, hi: number, _level: number): number {
    let top = hi & this.addrMaskHi;
    if (this.ds) top += ((lo >>> PTE_LPA2_OA_SHIFT) & 3) * 0x40000;
    else if (this.lpa64) top += ((lo >>> PTE_LPA_OA_SHIFT) & 0xf) * 0x10000;
    return top * TWO_32 + ((lo & this.addrMaskLo) >>> 0);
  }

  // ---- encode ---------------------------------------------------------------------------------------

  private attributeBits(attrs: MapAttributes): void {
    const user = attrs.user === true;
    let lo = PTE_AF;
    if (attrs.accessed === false) lo = 0;
    const attrIndx =
      attrs.memType === "normal"
        ? MT_NORMAL
        : attrs.memType === "normal-nc"
          ? MT_NORMAL_NC
          : MT_DEVICE_nGnRnE;
    lo |= attrIndx << PTE_ATTRINDX_SHIFT;
    if (user) lo |= PTE_USER;
    if (!attrs.writable) lo |= PTE_RDONLY;
    if (!this.ds) lo |= (attrs.shareability ?? 3) << PTE_SHARED_SHIFT;
    if (attrs.notGlobal === true) lo |= PTE_NG;
    // Kernel mappings are never user-executable; user mappings are never privileged-executable.
    let hi = 0;
    if (user) hi |= PTE_HI_PXN | (attrs.executable ? 0 : PTE_HI_UXN);
    else hi |= PTE_HI_UXN | (attrs.executable ? 0 : PTE_HI_PXN);
    this.lastAttrs = { ...attrs };
    this.lastAttrLo = lo;
    this.lastAttrHi = hi;
  }

  encodeLeaf(
    pa: number,
    level: number,
    attrs: MapAttributes,
    contiguous: boolean,
    out: DescriptorHalves,
  ): void {
    if (!sameAttributes(attrs, this.lastAttrs)) this.attributeBits(attrs);
    this.encodeAddress(pa, out);
    out.lo = (out.lo | this.lastAttrLo | (level === 3 ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK)) >>> 0;
    out.hi = (out.hi | this.lastAttrHi | (contiguous ? PTE_HI_CONT : 0)) >>> 0;
  }

  encodeTable(tablePa: number, _level: number, out: DescriptorHalves): void {
    this.encodeAddress(tablePa, out);
    out.lo = (out.lo | PTE_TYPE_TABLE) >>> 0;
  }

  // ---- classify and decode ------------------------------------------------------------------------------

  kindOf(lo: number, _hi: number, level: number): number {
    if ((lo & PTE_VALID) === 0) return KIND_INVALID;
    if ((lo & PTE_TYPE_MASK) === PTE_TYPE_TABLE) return level === 3 ? KIND_PAGE : KIND_TABLE;
    // bits[1:0] = 01: a block where the granule and level allow one; reserved (faults) elsewhere.
    return level < 3 && this.blockAt[level + 1] ? KIND_BLOCK : KIND_RESERVED;
  }

  accessFlagFault(lo: number, _hi: number): boolean {
    return (lo & PTE_AF) === 0;
  }

  isContiguous(_lo: number, hi: number): boolean {
    return (hi & PTE_HI_CONT) !== 0;
  }

  leafAttributes(lo: number, hi: number, _level: number): Required<MapAttributes> {
    const attrIndx = (lo & PTE_ATTRINDX_MASK) >>> PTE_ATTRINDX_SHIFT;
    const user = (lo & PTE_USER) !== 0;
    return {
      memType:
        attrIndx === MT_NORMAL || attrIndx === MT_NORMAL_TAGGED
          ? "normal"
          : attrIndx === MT_NORMAL_NC
            ? "normal-nc"
            : "device",
      writable: (lo & PTE_RDONLY) === 0,
      executable: user ? (hi & PTE_HI_UXN) === 0 : (hi & PTE_HI_PXN) === 0,
      user,
      shareability: this.ds ? 3 : (((lo & PTE_SHARED_MASK) >>> PTE_SHARED_SHIFT) as 0 | 2 | 3),
      accessed: (lo & PTE_AF) !== 0,
      notGlobal: (lo & PTE_NG) !== 0,
    };
  }

  normalizeAttributes(a: MapAttributes): Required<MapAttributes> {
    return {
      memType: a.memType,
      writable: a.writable,
      executable: a.executable,
      user: a.user ?? false,
      shareability: this.ds ? 3 : (a.shareability ?? 3),
      accessed: a.accessed ?? true,
      notGlobal: a.notGlobal ?? false,
    };
  }

  contiguousEntries(level: number): number {
    return level >= -1 && level <= 3 ? this.contAt[level + 1]! : 0;
  }

  levelName(level: number): string {
    return `L${level}`;
  }

  decode(lo: number, hi: number, level: number): DecodedDescriptor {
    const kind = this.kindOf(lo, hi, level);
    if (kind === KIND_INVALID || kind === KIND_RESERVED) {
      return { kind: "invalid", address: 0, fields: kind === KIND_RESERVED ? { reserved: true } : {} };
    }
    if (kind === KIND_TABLE) {
      return {
        kind: "table",
        address: this.outputAddress(lo, hi, level),
        fields: {
          PXNTable: (hi & TABLE_HI_PXN) !== 0,
          UXNTable: (hi & TABLE_HI_UXN) !== 0,
          APTable: (hi >>> TABLE_HI_AP_SHIFT) & 3,
          NSTable: (hi & TABLE_HI_NS) !== 0,
        },
      };
    }
    const size = 2 ** this.levels[level - this.startLevel]!.shift;
    const oa = this.outputAddress(lo, hi, level);
    const fields: Record<string, number | boolean> = {
      AttrIndx: (lo & PTE_ATTRINDX_MASK) >>> PTE_ATTRINDX_SHIFT,
      NS: (lo & PTE_NS) !== 0,
      AP: (lo >>> 6) & 3,
    };
    if (!this.ds) fields.SH = (lo & PTE_SHARED_MASK) >>> PTE_SHARED_SHIFT;
    fields.AF = (lo & PTE_AF) !== 0;
    fields.nG = (lo & PTE_NG) !== 0;
    fields.GP = (hi & PTE_HI_GP) !== 0;
    fields.DBM = (hi & PTE_HI_DBM) !== 0;
    fields.Contiguous = (hi & PTE_HI_CONT) !== 0;
    fields.PXN = (hi & PTE_HI_PXN) !== 0;
    fields.UXN = (hi & PTE_HI_UXN) !== 0;
    fields.SW = (hi >>> PTE_HI_SW_SHIFT) & 0xf;
    return { kind: kind === KIND_PAGE ? "page" : "block", address: oa - (oa % size), fields };
  }
}

/**
 * TCR_EL1 for a format: T0SZ = T1SZ = 64 - vaBits, TG0/TG1 for the granule, IPS for paBits, walks
 * inner-shareable write-back (IRGN/ORGN = WBWA, SH = inner), DS for LPA2, EPD0/EPD1 for a half without
 * tables (no walk: a TLB miss there faults).
 */
export function tcrFor(
  format: TranslationFormat,
  halves: { ttbr0: boolean; ttbr1: boolean },
): {
  lo: number;
  hi: number;
} {
  if (format.arch !== "arm64") {
    throw new KexecLabError("E_FIELD_VALUE", `TCR_EL1 is an arm64 register; ${format.name} has none`, {
      field: "arch",
    });
  }
  const txsz = 64 - format.vaBits;
  let lo = (txsz << TCR_T0SZ_SHIFT) | (txsz << TCR_T1SZ_SHIFT);
  lo |=
    (TCR_RGN_WBWA << TCR_IRGN0_SHIFT) | (TCR_RGN_WBWA << TCR_ORGN0_SHIFT) | (TCR_SH_INNER << TCR_SH0_SHIFT);
  lo |=
    (TCR_RGN_WBWA << TCR_IRGN1_SHIFT) | (TCR_RGN_WBWA << TCR_ORGN1_SHIFT) | (TCR_SH_INNER << TCR_SH1_SHIFT);
  lo |= (TG0[format.granule] << TCR_TG0_SHIFT) | (TG1[format.granule] << TCR_TG1_SHIFT);
  if (!halves.ttbr0) lo |= TCR_EPD0;
  if (!halves.ttbr1) lo |= TCR_EPD1;
  let hi = IPS[format.paBits]! << TCR_HI_IPS_SHIFT;
  if (format instanceof Arm64Format && format.ds) hi |= TCR_HI_DS;
  return { lo: lo >>> 0, hi: hi >>> 0 };
}

/** Field-wise equality (the encoders cache the bits of the last attributes they saw). */
export function sameAttributes(a: MapAttributes, b: MapAttributes | null): boolean {
  return (
    b !== null &&
    a.memType === b.memType &&
    a.writable === b.writable &&
    a.executable === b.executable &&
    a.user === b.user &&
    a.shareability === b.shareability &&
    a.accessed === b.accessed &&
    a.notGlobal === b.notGlobal
  );
}
