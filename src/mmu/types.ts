/**
 * The translation-table interface shared by every format (arm64 VMSAv8-64 for 4K/16K/64K granules,
 * x86_64 4- and 5-level), by the builder, the walker and the TLB, and by the relocation strategies.
 *
 * Virtual addresses. A 64-bit VA does not fit a JS number, and the top bits are only a region
 * selector anyway (TTBR0 vs TTBR1 on arm64, lower vs upper canonical half on x86_64). So a VA is
 * carried as (half, va): `va` is the low vaBits bits as a number in [0, 2^vaBits) and `half` is 0 for
 * the lower region (TTBR0, top bits all zero) or 1 for the upper region (TTBR1, top bits all ones):
 *
 *   full VA = half === 1 ? 2^64 - 2^vaBits + va : va
 *
 * Use toVaParts()/fromVaParts() at the input and output boundary (BigInt is fine there).
 *
 * Descriptors are 64-bit; they are read and written as two 32-bit halves (lo = bits 31:0,
 * hi = bits 63:32). No BigInt in any per-descriptor or per-walk path.
 */

import type { Arch } from "../kimage/constants.js";
import type { PageSize } from "../machine/physmem.js";

export type VaHalf = 0 | 1;

/** Memory type of a leaf mapping (arm64: an AttrIndx into MAIR; x86_64: PWT/PCD). */
export type MemType = "normal" | "device" | "normal-nc";

/** Architecture-neutral attributes of a leaf mapping. */
export interface MapAttributes {
  memType: MemType;
  writable: boolean;
  executable: boolean;
  /** EL0/user accessible (arm64 AP[1], x86 US). Default false. */
  user?: boolean;
  /** arm64: SH field (0 non, 2 outer, 3 inner shareable). Default 3. */
  shareability?: 0 | 2 | 3;
  /** arm64 AF / x86 A. Default true. */
  accessed?: boolean;
  /** arm64 nG / x86 !G. Default false. */
  notGlobal?: boolean;
}

export interface LevelInfo {
  /** Level number as on arm64 (-1..3); x86_64: PML5 = -1, PML4 = 0, PDPT = 1, PD = 2, PT = 3. */
  level: number;
  /** VA bit where this level's index starts (the size one entry maps is 2^shift). */
  shift: number;
  /** Entries in a table at this level (the start level may have fewer than a full table). */
  entries: number;
  /** True when a block (arm64) or large page (x86 PS) leaf may sit at this level. Last level: page. */
  blockAllowed: boolean;
  /** Bytes the table at this level occupies (the start level may be smaller than a granule). */
  tableBytes: number;
  /** True when a leaf (block or page) may sit at this level: blockAllowed, or the last level. */
  leafAllowed?: boolean;
}

/** A decoded descriptor (for reports, the walk command and tests; not for hot paths). */
export interface DecodedDescriptor {
  kind: "invalid" | "table" | "block" | "page";
  /** Output address (next-level table or mapped PA). */
  address: number;
  /** Named fields present in this descriptor (AttrIndx, AP, SH, AF, nG, PXN, UXN, Contiguous, ...). */
  fields: Record<string, number | boolean>;
}

export interface TranslationFormat {
  readonly arch: Arch;
  /** e.g. "arm64 4K 48-bit" or "x86_64 4-level". */
  readonly name: string;
  readonly granule: PageSize;
  readonly vaBits: number;
  readonly paBits: number;
  /** Levels from the start (root) level down to the last level. */
  readonly levels: readonly LevelInfo[];
  /** Sizes a leaf may have, largest first (e.g. 1G, 2M, 4K). */
  readonly leafSizes: readonly number[];

  /** Leaf descriptor (block or page) mapping `pa` at `level`, as two halves. */
  encodeLeaf(
    pa: number,
    level: number,
    attrs: MapAttributes,
    contiguous: boolean,
    out: DescriptorHalves,
  ): void;
  /** Table descriptor pointing at the next-level table at `tablePa`. */
  encodeTable(tablePa: number, level: number, out: DescriptorHalves): void;
  /** Decode (for reports). */
  decode(lo: number, hi: number, level: number): DecodedDescriptor;

  // ---- fast paths (builder, walker, TLB): plain numbers, no allocation -----------------------------

  /** Level number of the root table (arm64 -1..2; x86_64 -1 or 0). */
  readonly startLevel: number;
  /** KIND_INVALID, KIND_TABLE, KIND_BLOCK, KIND_PAGE, or KIND_RESERVED (an encoding that faults). */
  kindOf(lo: number, hi: number, level: number): number;
  /** Output address of a valid descriptor: next-level table PA, or leaf base (low bits not masked to the block size). */
  outputAddress(lo: number, hi: number, level: number): number;
  /** True when using this leaf faults for its access flag (arm64 AF clear; never on x86_64). */
  accessFlagFault(lo: number, hi: number): boolean;
  /** The attributes a leaf descriptor carries (inverse of encodeLeaf after normalizeAttributes). */
  leafAttributes(lo: number, hi: number, level: number): Required<MapAttributes>;
  /** True when the leaf has the contiguous hint (arm64 bit 52). */
  isContiguous(lo: number, hi: number): boolean;
  /** The attributes as the descriptor can hold them (defaults filled, fields the format lacks fixed). */
  normalizeAttributes(attrs: MapAttributes): Required<MapAttributes>;
  /** Entries in one contiguous-hint group at `level` (0 when the format or level has none). */
  contiguousEntries(level: number): number;
  /** Human name of a level ("L2"; x86_64 "PD"). */
  levelName(level: number): string;
}

/** Results of TranslationFormat.kindOf. */
export const KIND_RESERVED = -1;
export const KIND_INVALID = 0;
export const KIND_TABLE = 1;
export const KIND_BLOCK = 2;
export const KIND_PAGE = 3;

/** A reusable out-parameter so encoders allocate nothing. */
export interface DescriptorHalves {
  lo: number;
  hi: number;
}

/**
 * Gives the builder one zeroed table page (granule bytes) and returns its PA. In practice this is the
 * kimage's allocControlPages(0, "table"), so tables never land in a destination.
 */
export type TableAllocator = (level: number) => number;

export interface MapRequest {
  half: VaHalf;
  va: number;
  pa: number;
  size: number;
  attrs: MapAttributes;
}

export interface MapOptions {
  /** Map with last-level pages only, never blocks. */
  pageGranular?: boolean;
  /** Set the contiguous hint on aligned runs of leaves (arm64 only). */
  contiguous?: boolean;
  /** Replace existing leaf mappings instead of refusing. */
  overwrite?: boolean;
  /** Allow 1G leaves on x86_64 (gbpages) / level-1 blocks on arm64. Default true on arm64, false on x86. */
  largestBlocks?: boolean;
  /** No block larger than this many bytes (e.g. 2 MiB: a linear map of 2M blocks, as x86_64's); 0 or absent: no limit. */
  maxBlockBytes?: number;
}

export type WalkFault =
  /** No valid descriptor at `level`. */
  | { kind: "translation"; level: number }
  /** The VA is outside the range the tables cover (top bits not all 0 / all 1), or an output address exceeds paBits. */
  | { kind: "address-size"; level: number }
  /** AF clear on the leaf (arm64). */
  | { kind: "access-flag"; level: number }
  /** A descriptor read hit an address with no RAM. */
  | { kind: "external-abort"; level: number; pa: number };

export interface WalkStep {
  level: number;
  index: number;
  /** PA of the descriptor read. */
  descriptorPa: number;
  lo: number;
  hi: number;
}

export type WalkResult =
  | {
      ok: true;
      pa: number;
      level: number;
      /** Size of the leaf that mapped it (page, block). */
      size: number;
      /** The leaf descriptor. */
      lo: number;
      hi: number;
    }
  | { ok: false; fault: WalkFault };

export const TWO_32 = 4294967296;
export const TWO_64 = 1n << 64n;

/** Split a full 64-bit VA into (half, va) for a format with vaBits; undefined when not canonical. */
export function toVaParts(full: bigint, vaBits: number): { half: VaHalf; va: number } | undefined {
  const span = 1n << BigInt(vaBits);
  if (full >= 0n && full < span) return { half: 0, va: Number(full) };
  const upperBase = TWO_64 - span;
  if (full >= upperBase && full < TWO_64) return { half: 1, va: Number(full - upperBase) };
  return undefined;
}

export function fromVaParts(half: VaHalf, va: number, vaBits: number): bigint {
  return half === 1 ? TWO_64 - (1n << BigInt(vaBits)) + BigInt(va) : BigInt(va);
}

export function formatVa(half: VaHalf, va: number, vaBits: number): string {
  return `0x${fromVaParts(half, va, vaBits).toString(16).padStart(16, "0")}`;
}

export type { Arch, PageSize };
