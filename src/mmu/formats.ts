/**
 * One entry point for every translation format: arm64 VMSAv8-64 (4K/16K/64K granules, 39..52-bit VA)
 * and x86_64 (4- and 5-level). See docs/mmu.md for the level tables.
 */

import { KexecLabError } from "../errors.js";
import { Arm64Format } from "./format-arm64.js";
import { X86Format } from "./format-x86.js";
import type { PageSize, TranslationFormat } from "./types.js";

export type FormatSpec =
  | { arch: "arm64"; granule: PageSize; vaBits: 39 | 42 | 47 | 48 | 52; paBits?: number }
  | { arch: "x86_64"; levels: 4 | 5; paBits?: number };

/** Throws E_NOT_MODELED / E_FIELD_VALUE / E_PAGE_SIZE / E_UNKNOWN_ARCH for combinations that do not exist. */
export function createFormat(spec: FormatSpec): TranslationFormat {
  if (spec.arch === "arm64") return new Arm64Format(spec);
  if (spec.arch === "x86_64") return new X86Format(spec);
  throw new KexecLabError("E_UNKNOWN_ARCH", `"${(spec as { arch: unknown }).arch}"`, { field: "arch" });
}

/** Index into format.levels of a level number. */
export function levelIndex(format: TranslationFormat, level: number): number {
  return level - format.startLevel;
}

/** Bytes one entry at `level` maps. */
export function entrySize(format: TranslationFormat, level: number): number {
  return 2 ** format.levels[level - format.startLevel]!.shift;
}

export { Arm64Format, MAIR_EL1, tcrFor } from "./format-arm64.js";
export { EFER_LME, EFER_NXE, X86_CR4_LA57, X86_CR4_PAE, X86Format } from "./format-x86.js";
