/**
 * One range mapped into a fresh set of tables: what `kexec-lab overhead`, `tables` and `walk` answer
 * questions about. The tables live in a simulated RAM pool of their own at TABLE_POOL_BASE, allocated
 * bottom-up; the mapped PA needs no RAM (nothing is read through the mapping).
 */

import { KexecLabError } from "../errors.js";
import { PhysMem } from "../machine/physmem.js";
import { bumpAllocator, checkMapRequest, TableBuilder } from "./builder.js";
import { type CountResult, countTablePages } from "./count.js";
import { createFormat, type FormatSpec } from "./formats.js";
import type { MapAttributes, MapOptions, MapRequest, TranslationFormat, VaHalf } from "./types.js";

export const TABLE_POOL_BASE = 0x4000_0000;
/** The default PA keeps the VA's alignment up to the largest block any format has (4 TiB). */
export const DEFAULT_PA_MODULUS = 2 ** 42;
/** Most leaves `tables` and `walk` will write for real (and `overhead` cross-checks against). */
export const MAX_BUILT_LEAVES = 1 << 22;

export const KERNEL_RW: MapAttributes = { memType: "normal", writable: true, executable: false };

export interface SingleRangeSpec {
  format: FormatSpec;
  half: VaHalf;
  /** Low vaBits bits of the VA (see types.ts). */
  va: number;
  size: number;
  /** Default: va mod 2^42 (same alignment as the VA for every leaf size). */
  pa?: number;
  options: MapOptions;
  attrs?: MapAttributes;
}

export interface SingleRangePlan {
  format: TranslationFormat;
  request: MapRequest;
  options: MapOptions;
  count: CountResult;
  leaves: number;
}

export function planSingleRange(spec: SingleRangeSpec): SingleRangePlan {
  const format = createFormat(spec.format);
  const request: MapRequest = {
    half: spec.half,
    va: spec.va,
    pa: spec.pa ?? spec.va % DEFAULT_PA_MODULUS,
    size: spec.size,
    attrs: spec.attrs ?? KERNEL_RW,
  };
  checkMapRequest(format, request);
  const count = countTablePages(format, [request], spec.options);
  const leaves = Object.values(count.leaves).reduce((a, b) => a + b, 0);
  return { format, request, options: spec.options, count, leaves };
}

export interface BuiltRange extends SingleRangePlan {
  mem: PhysMem;
  builder: TableBuilder;
}

/** Build the tables for real (refuses more than MAX_BUILT_LEAVES leaves with E_LIMIT). */
export function buildSingleRange(spec: SingleRangeSpec): BuiltRange {
  const plan = planSingleRange(spec);
  const { format, request, count } = plan;
  if (plan.leaves > MAX_BUILT_LEAVES) {
    throw new KexecLabError(
      "E_LIMIT",
      `${plan.leaves} leaf descriptors is more than the ${MAX_BUILT_LEAVES} this command writes; use a smaller --size or --map block`,
      { field: "--size" },
    );
  }
  const poolBytes = (count.pages + 1) * format.granule;
  const mem = new PhysMem({
    pageSize: format.granule,
    ram: [{ start: TABLE_POOL_BASE, end: TABLE_POOL_BASE + poolBytes }],
    paBits: 52,
  });
  const builder = new TableBuilder(
    mem,
    format,
    bumpAllocator(mem, TABLE_POOL_BASE, TABLE_POOL_BASE + poolBytes, format.granule),
  );
  builder.map(request, plan.options);
  return { ...plan, mem, builder };
}
