/**
 * Reports over translation tables in simulated RAM: an indented tree (runs of equal leaves folded into
 * one line), the raw binary image of the table pages, and a described walk of one VA. Side-effect free:
 * everything is read with PhysMem.read32.
 */

import type { PhysMem } from "../machine/physmem.js";
import type { TableBuilder } from "./builder.js";
import { formatVa, KIND_INVALID, KIND_TABLE, type TranslationFormat, type VaHalf } from "./types.js";
import { WalkScratch, walkInto } from "./walker.js";

const hex = (n: number) => `0x${n.toString(16)}`;
const hex64 = (lo: number, hi: number) =>
  `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;

export function sizeName(bytes: number): string {
  const units = ["", "K", "M", "G", "T", "P"];
  let u = 0;
  let v = bytes;
  while (v >= 1024 && v % 1024 === 0 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v}${units[u]}`;
}

const QUIET_WHEN_ZERO = new Set(["SW", "APTable"]);

/** "AttrIndx=0 AP=0 SH=3 AF UXN": numbers as k=v, true flags by name, false flags left out. */
export function fieldsText(fields: Record<string, number | boolean>): string {
  return Object.entries(fields)
    .filter(([k, v]) => v !== false && !(v === 0 && QUIET_WHEN_ZERO.has(k)))
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(" ");
}

/** The table tree under each root, one line per table entry or per run of equal leaves. */
export function dumpTree(
  mem: PhysMem,
  format: TranslationFormat,
  roots: readonly { half: VaHalf; pa: number; label: string }[],
): string {
  const lines: string[] = [];
  const levels = format.levels;
  const visit = (tablePa: number, li: number, half: VaHalf, vaBase: number, depth: number) => {
    const info = levels[li]!;
    const size = 2 ** info.shift;
    const pad = "  ".repeat(depth);
    let i = 0;
    while (i < info.entries) {
      const dpa = tablePa + i * 8;
      const lo = mem.read32(dpa);
      const hi = mem.read32(dpa + 4);
      if (lo < 0 || hi < 0) {
        lines.push(`${pad}[${i}] unreadable: ${hex(dpa)} is not RAM`);
        return;
      }
      const kind = format.kindOf(lo, hi, info.level);
      const va = vaBase + i * size;
      if (kind === KIND_INVALID) {
        i++;
        continue;
      }
      const d = format.decode(lo, hi, info.level);
      if (kind === KIND_TABLE) {
        lines.push(
          `${pad}[${i}] ${formatVa(half, va, format.vaBits)} ${sizeName(size)}: ${hex64(lo, hi)} table -> ${format.levelName(levels[li + 1]!.level)} @ ${hex(d.address)}`,
        );
        visit(d.address, li + 1, half, va, depth + 1);
        i++;
        continue;
      }
      if (kind < KIND_INVALID) {
        lines.push(`${pad}[${i}] ${hex64(lo, hi)} reserved encoding (faults)`);
        i++;
        continue;
      }
      // Fold a run of leaves with the same attributes and consecutive output addresses.
      let j = i + 1;
      while (j < info.entries) {
        const lo2 = mem.read32(tablePa + j * 8);
        const hi2 = mem.read32(tablePa + j * 8 + 4);
        if (lo2 < 0 || hi2 < 0 || format.kindOf(lo2, hi2, info.level) !== kind) break;
        const d2 = format.decode(lo2, hi2, info.level);
        if (d2.address !== d.address + (j - i) * size || fieldsText(d2.fields) !== fieldsText(d.fields))
          break;
        j++;
      }
      const n = j - i;
      const range = n === 1 ? `[${i}]` : `[${i}..${j - 1}]`;
      const what = n === 1 ? `${d.kind} ${sizeName(size)}` : `${n} x ${d.kind} ${sizeName(size)}`;
      lines.push(
        `${pad}${range} ${formatVa(half, va, format.vaBits)} -> ${hex(d.address)}${n > 1 ? `..${hex(d.address + n * size - 1)}` : ""} ${what}: ${hex64(lo, hi)} ${fieldsText(d.fields)}`,
      );
      i = j;
    }
  };
  for (const r of roots) {
    const info = levels[0]!;
    lines.push(`${r.label}: ${format.levelName(info.level)} table @ ${hex(r.pa)} (${info.entries} entries)`);
    visit(r.pa, 0, r.half, 0, 1);
  }
  return `${lines.join("\n")}\n`;
}

/** The table pages a builder allocated, concatenated in allocation order (one granule each). */
export function tableImage(mem: PhysMem, builder: TableBuilder): Uint8Array {
  const pages = builder.tablePages();
  const g = builder.format.granule;
  const out = new Uint8Array(pages.length * g);
  pages.forEach((p, i) => {
    mem.readBytes(p.pa, out.subarray(i * g, (i + 1) * g));
  });
  return out;
}

export interface DescribedStep {
  level: number;
  levelName: string;
  index: number;
  descriptorPa: string;
  descriptor: string;
  kind: string;
  address: string;
  fields: Record<string, number | boolean>;
}

export interface DescribedWalk {
  va: string;
  steps: DescribedStep[];
  result:
    | { ok: true; pa: string; level: number; size: number }
    | { ok: false; fault: string; level: number; pa?: string };
}

/** A walk of one VA with every level's index, descriptor and decoded fields (for `kexec-lab walk`). */
export function describeWalk(
  mem: PhysMem,
  format: TranslationFormat,
  root: number,
  half: VaHalf,
  va: number,
): DescribedWalk {
  const s = new WalkScratch();
  const ok = walkInto(mem, format, root, half, va, s);
  const steps: DescribedStep[] = [];
  for (let i = 0; i < s.steps; i++) {
    const level = s.stepLevel[i]!;
    const d = format.decode(s.stepLo[i]!, s.stepHi[i]!, level);
    steps.push({
      level,
      levelName: format.levelName(level),
      index: s.stepIndex[i]!,
      descriptorPa: hex(s.stepPa[i]!),
      descriptor: hex64(s.stepLo[i]!, s.stepHi[i]!),
      kind: d.kind,
      address: hex(d.address),
      fields: d.fields,
    });
  }
  let result: DescribedWalk["result"];
  if (ok) result = { ok: true, pa: hex(s.pa), level: s.level, size: s.size };
  else {
    const f = s.toFault();
    result = { ok: false, fault: f.kind, level: f.level };
    if (f.kind === "external-abort") result.pa = hex(f.pa);
  }
  return { va: formatVa(half, va, format.vaBits), steps, result };
}
