/**
 * Walk conformance on QEMU: the A64 routine (mode "probe") turns the MMU on with tables built by
 * src/mmu, loads 8 bytes from each VA of a list and stores what it read, or the ESR_EL1/FAR_EL1 of the
 * synchronous exception the load took. This module builds that image and predicts its result from the
 * simulator's walker, so the two can be compared entry by entry.
 *
 * A walker fault maps to the Data Fault Status Code (ESR_ELx.ISS bits 5:0) the Arm ARM gives it:
 *   Address size fault, level L           0b0000LL   (level -1: 0b101001)
 *   Translation fault, level L            0b0001LL   (level -1: 0b101011)
 *   Access flag fault, level L            0b0010LL
 *   Synchronous External abort on a
 *   translation table walk, level L       0b0101LL   (level -1: 0b010011)
 *   Synchronous External abort (the
 *   access itself, not the walk)          0b010000
 */

import type { PhysMem } from "../machine/physmem.js";
import type { TranslationFormat, WalkFault } from "../mmu/types.js";
import { fromVaParts, toVaParts } from "../mmu/types.js";
import { walk } from "../mmu/walker.js";
import { type Arm64MmuRegisters, type EmittedImage, emitArm64 } from "./arm64.js";
import { get64, put64 } from "./blobs.js";

export const ESR_EC_DABT_CUR = 0x25;
export const DFSC_EXTERNAL_ABORT = 0x10;

/** The DFSC for a walker fault. */
export function dfscFor(fault: WalkFault): number {
  const l = fault.level;
  switch (fault.kind) {
    case "address-size":
      return l < 0 ? 0x29 : l;
    case "translation":
      return l < 0 ? 0x2b : 0x04 + l;
    case "access-flag":
      return 0x08 + l;
    case "external-abort":
      return l < 0 ? 0x13 : 0x14 + l;
  }
}

/** What one probe load gives: the 8 bytes read, or a synchronous exception. */
export type ProbeOutcome =
  | { kind: "value"; value: bigint }
  | { kind: "fault"; ec: number; dfsc: number; far: bigint };

export const PROBE_RESULT_BYTES = 24;

/** Predict a probe from the simulator's walker: a value read from simulated RAM, or a fault. */
export function predictProbe(
  mem: PhysMem,
  format: TranslationFormat,
  roots: { ttbr0: number; ttbr1: number },
  fullVa: bigint,
): ProbeOutcome {
  const parts = toVaParts(fullVa, format.vaBits);
  // A VA outside both ranges: VA[55] picks the TTBR (TBI is off), and the walker is handed an input
  // address beyond its range, so its out-of-range rule decides the fault.
  const half = parts?.half ?? (((fullVa >> 55n) & 1n) === 1n ? 1 : 0);
  const va = parts?.va ?? 2 ** format.vaBits;
  const r = walk(mem, format, half === 0 ? roots.ttbr0 : roots.ttbr1, half, va);
  if (!r.ok) return { kind: "fault", ec: ESR_EC_DABT_CUR, dfsc: dfscFor(r.fault), far: fullVa };
  const lo = mem.read32(r.pa);
  const hi = mem.read32(r.pa + 4);
  if (lo < 0 || hi < 0) {
    return { kind: "fault", ec: ESR_EC_DABT_CUR, dfsc: DFSC_EXTERNAL_ABORT, far: fullVa };
  }
  return { kind: "value", value: (BigInt(hi) << 32n) | BigInt(lo) };
}

/** Decode the routine's result records (value, ESR_EL1, FAR_EL1 per probe). */
export function decodeProbeResults(bytes: Uint8Array, count: number): ProbeOutcome[] {
  const out: ProbeOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * PROBE_RESULT_BYTES;
    const esr = get64(bytes, at + 8);
    if (esr === 0n) out.push({ kind: "value", value: get64(bytes, at) });
    else {
      out.push({
        kind: "fault",
        ec: Number((esr >> 26n) & 0x3fn),
        dfsc: Number(esr & 0x3fn),
        far: get64(bytes, at + 16),
      });
    }
  }
  return out;
}

export function describeOutcome(o: ProbeOutcome): string {
  if (o.kind === "value") return `value 0x${o.value.toString(16)}`;
  return `fault EC 0x${o.ec.toString(16)} DFSC 0x${o.dfsc.toString(16)} FAR 0x${o.far.toString(16)}`;
}

export interface ProbeImageOptions {
  mem: PhysMem;
  /** Pages carrying the tables and whatever the probes read. */
  pages: Iterable<number>;
  /** Page for the routine, and a page for the probe list and results; both identity-mapped in TTBR0. */
  routinePage: number;
  dataPage: number;
  mmu: Arm64MmuRegisters;
  /** Full 64-bit VAs to load from. */
  vas: readonly bigint[];
  description: string;
}

/** The probe image: the list of VAs in the data page, results after it. */
export function emitProbeImage(opts: ProbeImageOptions): EmittedImage {
  const n = opts.vas.length;
  const listBytes = n * 8;
  const resultsAt = opts.dataPage + Math.ceil(listBytes / 64) * 64;
  const resultsBytes = n * PROBE_RESULT_BYTES;
  if (resultsAt + resultsBytes > opts.dataPage + opts.mem.pageSize) {
    throw new RangeError(`${n} probes do not fit one ${opts.mem.pageSize}-byte data page`);
  }
  const list = new Uint8Array(listBytes);
  opts.vas.forEach((va, i) => {
    put64(list, i * 8, va);
  });
  return emitArm64({
    mem: opts.mem,
    pages: [...opts.pages, opts.dataPage],
    routinePage: opts.routinePage,
    params: {
      mode: "probe",
      pageSize: opts.mem.pageSize,
      mmu: opts.mmu,
      probeCount: n,
      probeList: BigInt(opts.dataPage),
      probeResults: BigInt(resultsAt),
    },
    checks: [{ addr: resultsAt, size: resultsBytes, label: "probe results" }],
    description: opts.description,
    extra: [{ addr: opts.dataPage, bytes: list, label: "probe list" }],
  });
}

/** A full VA from the (half, va) form, for building probe lists. */
export function fullVa(format: TranslationFormat, half: 0 | 1, va: number): bigint {
  return fromVaParts(half, va, format.vaBits);
}
