/**
 * Text and JSON of `kexec-lab overhead`, `tables` and `walk` (one mapped range, src/request/mapping.ts).
 * Browser-safe.
 */

import type { DescribedWalk } from "../mmu/dump.js";
import { fieldsText } from "../mmu/dump.js";
import type { BuiltRange } from "../mmu/single.js";
import { formatVa } from "../mmu/types.js";
import type { TableOverhead } from "../request/mapping.js";
import { formatBytes, formatCount, hexAddr, renderTable } from "./format.js";

/**
 * The mapping line (format, size, VA -> PA, leaf policy), table pages and bytes per level with the
 * total, and the leaves by size, largest first. Ends with a newline.
 */
export function renderOverheadText(o: TableOverhead, pageGranular: boolean): string {
  const f = o.plan.format;
  const r = o.plan.request;
  let out = `${f.name}: ${formatBytes(r.size)} at VA ${formatVa(r.half, r.va, f.vaBits)} -> PA 0x${r.pa.toString(16)}, ${
    pageGranular ? "page-granular" : "largest blocks"
  }\n\n`;
  const rows = f.levels.map((l) => [
    `${f.levelName(l.level)} (level ${l.level})`,
    formatCount(o.byLevel[String(l.level)]!),
    formatBytes(o.byLevel[String(l.level)]! * f.granule),
  ]);
  rows.push(["total", formatCount(o.pages), formatBytes(o.bytes)]);
  out += `${renderTable(["tables", "pages", "bytes"], rows)}\n\n`;
  const leafRows = Object.entries(o.plan.count.leaves)
    .sort((a, b) => Number(b[0]) - Number(a[0]))
    .map(([size, n]) => [formatBytes(Number(size)), formatCount(n)]);
  return `${out}${renderTable(["leaf size", "leaves"], leafRows)}\n`;
}

/**
 * `tables --json`: the format, its granule (bytes), the roots (TTBR0/TTBR1 on arm64, null when
 * unused; CR3 on x86_64), and every table page's PA, level and offset in the binary image (hex).
 */
export function tablesJson(built: BuiltRange): unknown {
  const { builder, format } = built;
  const pages = builder.tablePages();
  const roots = builder.rootsForTlb();
  return {
    format: format.name,
    granule: format.granule,
    roots:
      format.arch === "arm64"
        ? {
            ttbr0: roots.ttbr0 < 0 ? null : hexAddr(roots.ttbr0),
            ttbr1: roots.ttbr1 < 0 ? null : hexAddr(roots.ttbr1),
          }
        : { cr3: hexAddr(roots.ttbr0) },
    tablePages: pages.length,
    tableBytes: pages.length * format.granule,
    pages: pages.map((p, i) => ({ pa: hexAddr(p.pa), level: p.level, offset: hexAddr(i * format.granule) })),
  };
}

/** The walk line, each level's index, descriptor address and value, kind, address and fields, then the PA or the fault. */
export function renderWalkText(formatName: string, w: DescribedWalk): string {
  const table = renderTable(
    ["level", "index", "descriptor @", "descriptor", "kind", "address", "fields"],
    w.steps.map((s) => [
      s.levelName,
      String(s.index),
      s.descriptorPa,
      s.descriptor,
      s.kind,
      s.address,
      fieldsText(s.fields),
    ]),
    ["left", "right", "right", "right", "left", "right", "left"],
  );
  const r = w.result;
  const last = r.ok
    ? `PA ${r.pa} (level ${r.level} leaf of ${formatBytes(r.size)})\n`
    : `fault: ${r.fault} at level ${r.level}${r.pa !== undefined ? ` reading ${r.pa}` : ""}\n`;
  return `${formatName}: walk of VA ${w.va}\n\n${table}\n\n${last}`;
}
