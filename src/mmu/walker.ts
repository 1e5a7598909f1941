/**
 * The table walker and the executing CPU's TLB. Both read descriptors from simulated RAM, as the
 * hardware does, so a wrong or clobbered descriptor shows up as a wrong translation or a fault value.
 *
 * How a VA splits, arm64 4K granule, 48-bit VA (the other granules and sizes follow the same rule:
 * PAGE_SHIFT - 3 index bits per level, the start level taking what is left):
 *
 *   63      48 47      39 38      30 29      21 20      12 11            0
 *  +----------+----------+----------+----------+----------+---------------+
 *  | 0 / 1s   |  L0 idx  |  L1 idx  |  L2 idx  |  L3 idx  |  page offset  |
 *  +----------+----------+----------+----------+----------+---------------+
 *   TTBR0/1      512        512        512        512         4096
 *                          1G block   2M block   4K page
 *
 *   64K granule, 52-bit VA (LVA):   51..42 L1 (1024 entries) | 41..29 L2 (8192) | 28..16 L3 (8192) | 15..0
 *   4K granule, 52-bit VA (LPA2):   51..48 L-1 (16 entries)  | then as above
 *
 * x86_64, 4-level (48-bit; 5-level adds PML5 = bits 56:48 above):
 *
 *   63      48 47      39 38      30 29      21 20      12 11            0
 *  +----------+----------+----------+----------+----------+---------------+
 *  | sign ext |   PML4   |   PDPT   |    PD    |    PT    |  page offset  |
 *  +----------+----------+----------+----------+----------+---------------+
 *                          1G (PS)    2M (PS)    4K
 *
 * A VA is carried as (half, va) with va the low vaBits bits (see types.ts). Faults are values:
 *   - arm64: a VA outside the TTBR's range is a Translation fault at level 0 (the Arm ARM's rule for an
 *     out-of-range input address); an invalid or reserved descriptor is a Translation fault at its
 *     level; an output address at or above 2^paBits an Address size fault at that level; a leaf with
 *     AF = 0 an Access flag fault (hardware AF management, TCR_EL1.HA, is off).
 *   - x86_64: a non-canonical VA (#GP on hardware) is reported as an address-size fault at the root
 *     level; not present = translation fault; reserved bits (PS at PML4/PML5, address bits at or above
 *     MAXPHYADDR) = translation / address-size fault at that level. Permissions are not checked.
 *   - a descriptor read outside RAM is an external abort at that level.
 * VAs above 2^53 (x86_64 5-level upper half) are exact only at page granularity.
 */

import type { PhysMem } from "../machine/physmem.js";
import { type AccessSink, EV_DESC_READ, EV_TLB_MISS } from "../reloc/trace.js";
import {
  KIND_INVALID,
  KIND_TABLE,
  type TranslationFormat,
  type VaHalf,
  type WalkFault,
  type WalkResult,
  type WalkStep,
} from "./types.js";

export const FAULT_NONE = 0;
export const FAULT_TRANSLATION = 1;
export const FAULT_ADDRESS_SIZE = 2;
export const FAULT_ACCESS_FLAG = 3;
export const FAULT_EXTERNAL_ABORT = 4;
const MAX_LEVELS = 5;

/** The allocation-free outcome of one walk: leaf or fault, plus the descriptors read. */
export class WalkScratch {
  pa = 0;
  level = 0;
  size = 0;
  lo = 0;
  hi = 0;
  fault = FAULT_NONE;
  faultLevel = 0;
  faultPa = 0;
  /** Descriptors read. */
  steps = 0;
  readonly stepLevel = new Int32Array(MAX_LEVELS);
  readonly stepIndex = new Int32Array(MAX_LEVELS);
  readonly stepPa = new Float64Array(MAX_LEVELS);
  readonly stepLo = new Uint32Array(MAX_LEVELS);
  readonly stepHi = new Uint32Array(MAX_LEVELS);

  toFault(): WalkFault {
    const level = this.faultLevel;
    if (this.fault === FAULT_TRANSLATION) return { kind: "translation", level };
    if (this.fault === FAULT_ADDRESS_SIZE) return { kind: "address-size", level };
    if (this.fault === FAULT_ACCESS_FLAG) return { kind: "access-flag", level };
    return { kind: "external-abort", level, pa: this.faultPa };
  }
}

/** One translation table walk into `s`; true on success. Reads descriptors with mem.read32 only. */
export function walkInto(
  mem: PhysMem,
  format: TranslationFormat,
  root: number,
  half: VaHalf,
  va: number,
  s: WalkScratch,
): boolean {
  s.steps = 0;
  s.fault = FAULT_NONE;
  const levels = format.levels;
  const span = 2 ** format.vaBits;
  if (format.arch === "x86_64") {
    const mid = span / 2;
    if (!(va >= 0 && (half === 0 ? va < mid : va >= mid && va < span))) {
      s.fault = FAULT_ADDRESS_SIZE;
      s.faultLevel = format.startLevel;
      return false;
    }
  } else if (!(va >= 0 && va < span) || root < 0) {
    // Out of the TTBR's range, or no tables for this half (TCR_EL1.EPDn = 1): level 0 Translation fault.
    s.fault = FAULT_TRANSLATION;
    s.faultLevel = 0;
    return false;
  }
  if (root < 0) {
    s.fault = FAULT_TRANSLATION;
    s.faultLevel = format.startLevel;
    return false;
  }
  const paLimit = 2 ** format.paBits;
  let table = root;
  for (let li = 0; li < levels.length; li++) {
    const info = levels[li]!;
    const level = info.level;
    const size = 2 ** info.shift;
    const index = Math.floor(va / size) % info.entries;
    const dpa = table + index * 8;
    const lo = mem.read32(dpa);
    const hi = lo < 0 ? -1 : mem.read32(dpa + 4);
    if (hi < 0) {
      s.fault = FAULT_EXTERNAL_ABORT;
      s.faultLevel = level;
      s.faultPa = dpa;
      return false;
    }
    const k = s.steps++;
    s.stepLevel[k] = level;
    s.stepIndex[k] = index;
    s.stepPa[k] = dpa;
    s.stepLo[k] = lo;
    s.stepHi[k] = hi;
    const kind = format.kindOf(lo, hi, level);
    if (kind <= KIND_INVALID) {
      s.fault = FAULT_TRANSLATION;
      s.faultLevel = level;
      return false;
    }
    const oa = format.outputAddress(lo, hi, level);
    if (oa >= paLimit) {
      s.fault = FAULT_ADDRESS_SIZE;
      s.faultLevel = level;
      return false;
    }
    if (kind === KIND_TABLE) {
      table = oa;
      continue;
    }
    if (format.accessFlagFault(lo, hi)) {
      s.fault = FAULT_ACCESS_FLAG;
      s.faultLevel = level;
      return false;
    }
    const offset = va % size;
    s.pa = oa - (oa % size) + offset;
    s.level = level;
    s.size = size;
    s.lo = lo;
    s.hi = hi;
    return true;
  }
  // A table descriptor at the last level cannot happen (kindOf calls it a page); keep the compiler calm.
  s.fault = FAULT_TRANSLATION;
  s.faultLevel = 3;
  return false;
}

/**
 * Translate one VA without side effects (for reports, tests and the walk command). Fills `steps`
 * (when given) with each level's index, descriptor PA and halves.
 */
export function walk(
  mem: PhysMem,
  format: TranslationFormat,
  root: number,
  half: VaHalf,
  va: number,
  steps?: WalkStep[],
): WalkResult {
  const s = new WalkScratch();
  const ok = walkInto(mem, format, root, half, va, s);
  if (steps !== undefined) {
    for (let i = 0; i < s.steps; i++) {
      steps.push({
        level: s.stepLevel[i]!,
        index: s.stepIndex[i]!,
        descriptorPa: s.stepPa[i]!,
        lo: s.stepLo[i]!,
        hi: s.stepHi[i]!,
      });
    }
  }
  if (!ok) return { ok: false, fault: s.toFault() };
  return { ok: true, pa: s.pa, level: s.level, size: s.size, lo: s.lo, hi: s.hi };
}

const WAYS = 4;

/**
 * The executing CPU's TLB: one 4-way set-associative array per leaf size (like a unified L2 TLB that
 * holds pages and blocks side by side), LRU within a set, plus a two-entry micro-TLB for the last two
 * leaves used (a copy loop alternates between its source and its destination leaf). An entry caches the leaf's size,
 * so a 2M block serves all 512 of its 4K pages. Faults are never cached. Everything lives in flat
 * typed arrays; translate() allocates nothing unless it faults.
 */
export class Tlb {
  hits = 0;
  misses = 0;
  walks = 0;
  /** Descriptor reads per level, index level + 1. */
  readonly descriptorReadsByLevel: number[] = [0, 0, 0, 0, 0];
  lastFault: WalkFault | null = null;

  readonly entries: number;
  private readonly mem: PhysMem;
  private readonly format: TranslationFormat;
  private readonly roots: [number, number];
  private readonly sink: AccessSink | undefined;
  private readonly sizes: Float64Array;
  private readonly sets: number;
  private readonly tags: Float64Array;
  private readonly bases: Float64Array;
  private readonly stamps: Float64Array;
  private readonly scratch = new WalkScratch();
  private present = 0;
  private clock = 0;
  // micro-TLB: the most recent leaf (u) and the one before it (v)
  private uHalf = -1;
  private uVa = 0;
  private uEnd = 0;
  private uPa = 0;
  private vHalf = -1;
  private vVa = 0;
  private vEnd = 0;
  private vPa = 0;

  /** `entries` per leaf size (rounded up to a multiple of 4 sets x 4 ways); default 1024. */
  constructor(
    mem: PhysMem,
    format: TranslationFormat,
    roots: { ttbr0: number; ttbr1: number },
    sink?: AccessSink,
    entries = 1024,
  ) {
    this.mem = mem;
    this.format = format;
    this.roots = [roots.ttbr0, roots.ttbr1];
    this.sink = sink;
    this.sets = Math.max(1, Math.ceil(entries / WAYS));
    this.entries = this.sets * WAYS;
    this.sizes = Float64Array.from(format.leafSizes);
    const total = this.entries * this.sizes.length;
    this.tags = new Float64Array(total).fill(-1);
    this.bases = new Float64Array(total);
    this.stamps = new Float64Array(total);
  }

  flush(): void {
    this.tags.fill(-1);
    this.present = 0;
    this.uHalf = -1;
    this.vHalf = -1;
  }

  /** Make (half, [vaBase, vaBase+size) -> paBase) the most recent micro-TLB entry. */
  private remember(half: number, vaBase: number, size: number, paBase: number): void {
    this.vHalf = this.uHalf;
    this.vVa = this.uVa;
    this.vEnd = this.uEnd;
    this.vPa = this.uPa;
    this.uHalf = half;
    this.uVa = vaBase;
    this.uEnd = vaBase + size;
    this.uPa = paBase;
  }

  /** PA of (half, va), or -1 on a fault (then lastFault says which). */
  translate(half: VaHalf, va: number): number {
    if (half === this.uHalf && va >= this.uVa && va < this.uEnd) {
      this.hits++;
      return this.uPa + (va - this.uVa);
    }
    if (half === this.vHalf && va >= this.vVa && va < this.vEnd) {
      this.hits++;
      return this.vPa + (va - this.vVa);
    }
    const sizes = this.sizes;
    const tags = this.tags;
    for (let k = 0; k < sizes.length; k++) {
      if ((this.present & (1 << k)) === 0) continue;
      const size = sizes[k]!;
      const vpn = Math.floor(va / size);
      const tag = vpn * 2 + half;
      const base = (k * this.sets + (vpn % this.sets)) * WAYS;
      for (let w = base; w < base + WAYS; w++) {
        if (tags[w] === tag) {
          this.hits++;
          this.stamps[w] = ++this.clock;
          const vaBase = vpn * size;
          this.remember(half, vaBase, size, this.bases[w]!);
          return this.uPa + (va - vaBase);
        }
      }
    }
    return this.miss(half, va);
  }

  private miss(half: VaHalf, va: number): number {
    this.misses++;
    this.walks++;
    const s = this.scratch;
    const ok = walkInto(this.mem, this.format, this.roots[half]!, half, va, s);
    const reads = this.descriptorReadsByLevel;
    for (let i = 0; i < s.steps; i++) reads[s.stepLevel[i]! + 1]!++;
    const sink = this.sink;
    if (sink !== undefined) {
      const g = this.format.granule;
      sink.event(EV_TLB_MISS, va - (va % g), half, ok ? s.size : 0, 0);
      for (let i = 0; i < s.steps; i++) sink.event(EV_DESC_READ, s.stepPa[i]!, s.stepLevel[i]!, 8, 0);
    }
    if (!ok) {
      this.lastFault = s.toFault();
      return -1;
    }
    const size = s.size;
    let k = 0;
    while (this.sizes[k] !== size) k++;
    const vpn = Math.floor(va / size);
    const base = (k * this.sets + (vpn % this.sets)) * WAYS;
    let victim = base;
    for (let w = base; w < base + WAYS; w++) {
      if (this.tags[w] === -1) {
        victim = w;
        break;
      }
      if (this.stamps[w]! < this.stamps[victim]!) victim = w;
    }
    const vaBase = vpn * size;
    const paBase = s.pa - (va - vaBase);
    this.tags[victim] = vpn * 2 + half;
    this.bases[victim] = paBase;
    this.stamps[victim] = ++this.clock;
    this.present |= 1 << k;
    this.remember(half, vaBase, size, paBase);
    return s.pa;
  }
}
