/**
 * Walk conformance on QEMU for x86_64: the Multiboot stub (asm/x86_64/boot.S, mode "probe") enters
 * long mode with tables built by src/mmu, loads 8 bytes from each VA of a list and records the value,
 * or the exception it took: #PF (vector 14) with its error code and CR2, or #GP (vector 13, a
 * non-canonical address, error code 0). The prediction comes from the simulator's x86 walker:
 *
 *   walk succeeds                          the 8 bytes at the PA in simulated RAM
 *   VA not canonical                       #GP(0)
 *   the last entry read has P = 0          #PF, error code 0 (not present, read, supervisor)
 *   any other walker fault (PS where it is
 *   reserved, address bits >= MAXPHYADDR)  #PF, error code 0x9 (P | RSVD)
 */

import type { PhysMem } from "../machine/physmem.js";
import type { TranslationFormat, WalkStep } from "../mmu/types.js";
import { toVaParts } from "../mmu/types.js";
import { walk } from "../mmu/walker.js";
import type { EmittedImage } from "./arm64.js";
import { get64, pagesToBlobs, put64 } from "./blobs.js";
import { X86_BOOT_LINK_ADDRESS, X86_BOOT_SYMBOLS } from "./generated/x86-boot.js";
import { QEMU_PC_EXTRA_RAM, QEMU_PC_LOW_RESERVE_END, X86_PARAM, x86BootWithParams } from "./x86.js";

export const X86_VECTOR_GP = 13;
export const X86_VECTOR_PF = 14;
export const PF_ERROR_P = 1 << 0;
export const PF_ERROR_RSVD = 1 << 3;
export const X86_PROBE_RESULT_BYTES = 32;

export type X86ProbeOutcome =
  | { kind: "value"; value: bigint }
  | { kind: "fault"; vector: number; errorCode: number; cr2: bigint };

export function predictX86Probe(
  mem: PhysMem,
  format: TranslationFormat,
  root: number,
  fullVa: bigint,
): X86ProbeOutcome {
  const parts = toVaParts(fullVa, format.vaBits);
  const canonical = parts !== undefined && (parts.half === 0) === parts.va < 2 ** (format.vaBits - 1);
  if (!canonical) return { kind: "fault", vector: X86_VECTOR_GP, errorCode: 0, cr2: 0n };
  const steps: WalkStep[] = [];
  const r = walk(mem, format, root, parts.half, parts.va, steps);
  if (!r.ok) {
    const last = steps[steps.length - 1];
    const present = last !== undefined && (last.lo & 1) === 1;
    return {
      kind: "fault",
      vector: X86_VECTOR_PF,
      errorCode: present ? PF_ERROR_P | PF_ERROR_RSVD : 0,
      cr2: fullVa,
    };
  }
  const lo = mem.read32(r.pa);
  const hi = mem.read32(r.pa + 4);
  return { kind: "value", value: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) };
}

export function decodeX86ProbeResults(bytes: Uint8Array, count: number): X86ProbeOutcome[] {
  const out: X86ProbeOutcome[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * X86_PROBE_RESULT_BYTES;
    const vectorPlusOne = Number(get64(bytes, at + 8));
    if (vectorPlusOne === 0) out.push({ kind: "value", value: get64(bytes, at) });
    else {
      out.push({
        kind: "fault",
        vector: vectorPlusOne - 1,
        errorCode: Number(get64(bytes, at + 16)),
        cr2: get64(bytes, at + 24),
      });
    }
  }
  return out;
}

export function describeX86Outcome(o: X86ProbeOutcome): string {
  if (o.kind === "value") return `value 0x${o.value.toString(16)}`;
  return `#${o.vector === X86_VECTOR_PF ? "PF" : o.vector === X86_VECTOR_GP ? "GP" : o.vector} error 0x${o.errorCode.toString(16)} CR2 0x${o.cr2.toString(16)}`;
}

export interface X86ProbeImageOptions {
  mem: PhysMem;
  /** Table pages and the pages the probes read. */
  pages: Iterable<number>;
  /** PA of the PML4; the tables must identity-map [0, 16 MiB) executable (stub, its data page). */
  cr3: number;
  /** A page below 16 MiB (identity-mapped, writable) for the VA list and the results. */
  dataPage: number;
  vas: readonly bigint[];
  description: string;
}

export function emitX86ProbeImage(opts: X86ProbeImageOptions): EmittedImage {
  const n = opts.vas.length;
  const resultsAt = opts.dataPage + Math.ceil((n * 8) / 64) * 64;
  if (resultsAt + n * X86_PROBE_RESULT_BYTES > opts.dataPage + 4096) {
    throw new RangeError(`${n} probes do not fit one 4 KiB data page`);
  }
  const list = new Uint8Array(4096);
  opts.vas.forEach((va, i) => {
    put64(list, i * 8, va);
  });
  const blobs = pagesToBlobs(opts.mem, opts.pages);
  blobs.push({ addr: opts.dataPage, bytes: list, label: "probe list" });
  blobs.sort((a, b) => a.addr - b.addr);
  const ramEnd = opts.mem.ram.ranges.reduce((m, r) => Math.max(m, r.end), QEMU_PC_LOW_RESERVE_END);
  return {
    target: "qemu-pc-x86_64",
    blobs,
    entry: X86_BOOT_LINK_ADDRESS,
    kernelElf: x86BootWithParams({
      mode: "probe",
      head: 4,
      cr3: opts.cr3,
      swapPage: 0,
      probeCount: n,
      probeList: opts.dataPage,
      probeResults: resultsAt,
    }),
    ramBytes: ramEnd + QEMU_PC_EXTRA_RAM,
    cpu: "qemu64",
    paramsAddr: X86_BOOT_LINK_ADDRESS + X86_BOOT_SYMBOLS.params,
    paramsSize: X86_PARAM.size,
    checks: [{ addr: resultsAt, size: n * X86_PROBE_RESULT_BYTES, label: "probe results" }],
    description: opts.description,
  };
}
