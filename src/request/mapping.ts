/**
 * The options of `overhead`, `tables` and `walk` (one translation format and one mapped range) as a
 * SingleRangeSpec, and the translation-table cost of that mapping. Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import type { FormatSpec } from "../mmu/formats.js";
import {
  buildSingleRange,
  MAX_BUILT_LEAVES,
  planSingleRange,
  type SingleRangePlan,
  type SingleRangeSpec,
} from "../mmu/single.js";
import { toVaParts, type VaHalf } from "../mmu/types.js";
import { parseSize, parseU64, toSafeNumber } from "../scenario/numbers.js";
import { parseGranule } from "../sweep/grid.js";

/** The options `overhead`, `tables` and `walk` share: one format and one mapped range. */
export interface MappingOptions {
  arch: "arm64" | "x86_64";
  granule: string;
  vaBits?: string;
  paBits?: string;
  levels: string;
  map: "page" | "block";
  gbpages?: boolean;
  contiguous?: boolean;
  size: string;
  vaBase: string;
  pa?: string;
}

function intOption(value: string, name: string): number {
  if (!/^[0-9]+$/.test(value))
    throw new KexecLabError("E_USAGE", `${name} takes a number, got "${value}"`, { field: name });
  return Number(value);
}

/**
 * The mapping the options describe, as planSingleRange/buildSingleRange take it: the format (arm64
 * granule and VA/PA bits; x86_64 4 or 5 levels, where --va-bits 57 means 5), the VA split into its
 * half, the size, the leaf policy (page-granular, or the largest blocks: always on arm64, 1G pages on
 * x86_64 only with gbpages) and the PA. Errors: E_USAGE for a non-numeric or impossible bit count,
 * E_MAP_RANGE for a VA in neither half, parseSize/parseU64's errors.
 */
export function mappingSpec(o: MappingOptions): SingleRangeSpec {
  let format: FormatSpec;
  if (o.arch === "arm64") {
    const granule = parseGranule(o.granule, "arm64");
    const vaBits = intOption(o.vaBits ?? "48", "--va-bits") as 39 | 42 | 47 | 48 | 52;
    format = { arch: "arm64", granule, vaBits };
    if (o.paBits !== undefined) format.paBits = intOption(o.paBits, "--pa-bits");
  } else {
    let levels: 4 | 5 = o.levels === "5" ? 5 : 4;
    if (o.vaBits !== undefined) {
      const v = intOption(o.vaBits, "--va-bits");
      if (v !== 48 && v !== 57) {
        throw new KexecLabError("E_USAGE", `x86_64 has 48-bit (4-level) or 57-bit (5-level) VAs, not ${v}`, {
          field: "--va-bits",
        });
      }
      levels = v === 57 ? 5 : 4;
    }
    format = { arch: "x86_64", levels };
    if (o.paBits !== undefined) format.paBits = intOption(o.paBits, "--pa-bits");
  }
  const vaBits = format.arch === "arm64" ? format.vaBits : format.levels === 5 ? 57 : 48;
  const parts = parseVa(o.vaBase, vaBits, "--va-base");
  const size = toSafeNumber(parseSize(o.size, "--size"), "--size");
  const spec: SingleRangeSpec = {
    format,
    half: parts.half,
    va: parts.va,
    size,
    options: {
      pageGranular: o.map === "page",
      largestBlocks: o.arch === "arm64" ? true : o.gbpages === true,
      contiguous: o.contiguous === true,
    },
  };
  if (o.pa !== undefined) spec.pa = toSafeNumber(parseU64(o.pa, "--pa"), "--pa");
  return spec;
}

/**
 * A full 64-bit VA as typed (decimal or 0x hex) split into its half and its low `vaBits` bits
 * (toVaParts). E_MAP_RANGE naming `field` when it lies in neither half of the address space.
 */
export function parseVa(text: string, vaBits: number, field: string): { half: VaHalf; va: number } {
  const full = parseU64(text, field);
  const parts = toVaParts(full, vaBits);
  if (parts === undefined) {
    throw new KexecLabError(
      "E_MAP_RANGE",
      `0x${full.toString(16)} is in neither VA half of a ${vaBits}-bit address space`,
      { field },
    );
  }
  return parts;
}

/** The translation-table cost of one mapping (tableOverhead). */
export interface TableOverhead {
  plan: SingleRangePlan;
  /** Table pages, total and by level ("0".."3"; x86_64 PML5 is "-1"). */
  pages: number;
  byLevel: Record<string, number>;
  /** pages x the granule, bytes. */
  bytes: number;
}

/**
 * Table pages the mapping needs: counted (countTablePages), and when it has at most a quarter of
 * MAX_BUILT_LEAVES leaves, built, so the builder's own accounting (TableBuilder.cost) speaks.
 */
export function tableOverhead(spec: SingleRangeSpec): TableOverhead {
  const plan = planSingleRange(spec);
  let byLevel = plan.count.byLevel;
  let pages = plan.count.pages;
  if (plan.leaves <= MAX_BUILT_LEAVES / 4) {
    const cost = buildSingleRange(spec).builder.cost();
    byLevel = cost.byLevel;
    pages = cost.pages;
  }
  return { plan, pages, byLevel, bytes: pages * plan.format.granule };
}
