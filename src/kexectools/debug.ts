/**
 * What `kexec -d` (kexec-tools 2.0.25) prints about the memory it sees and the load it passes to
 * kexec_load, rebuilt from the same inputs, so a user can diff it with the real output:
 *
 * - x86_64: the "MEMORY RANGES" block (kexec/arch/i386/kexec-x86-common.c get_memory_ranges with
 *   /sys/firmware/memmap: firmware_memmap.c's type names -> RANGE_* numbers, qsort by start,
 *   fixup_memory_ranges for same-type overlaps, the first RAM range starting below REALMODE_IVT_END
 *   0x400 raised to it; printed by dbgprint_mem_range as "%016llx-%016llx (%d)", end inclusive);
 * - arm64: get_memory_ranges' "+[i]"/"-" lines and its "System RAM ranges;" block
 *   (kexec/arch/arm64/kexec-arm64.c over /proc/iomem, to_be_excluded, mem_regions_exclude);
 * - both: "kexec_load: entry = %p flags = 0x%lx" and print_segments' table (kexec/kexec.c). The buf
 *   pointers of a real run are addresses in the kexec process that change every run: here they count
 *   up in a notional arena from 0x10000000 (one page-rounded buffer after another), so a diff
 *   against a real run differs only on the buf lines.
 */

import { KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import { parseIomem } from "../formats/iomem.js";
import type { Arch } from "../kimage/constants.js";

/** kexec-tools' RANGE_* numbers (kexec/kexec.h). */
export const RANGE = { RAM: 0, RESERVED: 1, ACPI: 2, ACPI_NVS: 3, UNCACHED: 4, PMEM: 6, PRAM: 11 } as const;

/** firmware_memmap.c parse_memmap_entry: the type names of /sys/firmware/memmap/N/type. */
export function memmapRangeType(name: string): number {
  switch (name) {
    case "System RAM":
      return RANGE.RAM;
    case "ACPI Tables":
      return RANGE.ACPI;
    case "ACPI Non-volatile Storage":
      return RANGE.ACPI_NVS;
    case "Uncached RAM":
      return RANGE.UNCACHED;
    case "Persistent Memory (legacy)":
      return RANGE.PRAM;
    case "Persistent Memory":
      return RANGE.PMEM;
    default:
      // "reserved", "Reserved", "Unusable memory", "Unknown E820 type" and anything else.
      return RANGE.RESERVED;
  }
}

/** A kexec-tools memory_range: [start, end] inclusive. */
export interface KtRange {
  start: number;
  end: number;
  type: number;
}

const h16 = (n: number) => n.toString(16).padStart(16, "0");

/** dbgprint_mem_range(prefix, ranges). */
export function formatMemRanges(prefix: string, ranges: readonly KtRange[]): string[] {
  return [prefix, ...ranges.map((r) => `${h16(r.start)}-${h16(r.end)} (${r.type})`)];
}

/** x86 get_memory_ranges over a /sys/firmware/memmap dump: the ranges and the "MEMORY RANGES" block. */
export function x86MemoryRanges(memmapText: string, name?: string): { ranges: KtRange[]; lines: string[] } {
  const io = parseIomem(memmapText, name);
  let rp: KtRange[] = io.entries.map((e) => ({
    start: e.start,
    end: e.end - 1,
    type: memmapRangeType(e.name),
  }));
  rp.sort((a, b) => a.start - b.start);
  // fixup_memory_ranges: repeat until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i + 1 < rp.length; i++) {
      const a = rp[i]!;
      const b = rp[i + 1]!;
      if (a.type !== b.type) continue;
      if (a.start === b.start) {
        rp = a.end >= b.end ? rp.filter((_, k) => k !== i + 1) : rp.filter((_, k) => k !== i);
        changed = true;
      } else if (a.end > b.start) {
        if (a.end < b.end) b.start = a.end;
        else rp = rp.filter((_, k) => k !== i + 1);
        changed = true;
      }
      if (changed) break;
    }
  }
  const REALMODE_IVT_END = 0x400;
  const first = rp.find((r) => r.type === RANGE.RAM && r.start < REALMODE_IVT_END);
  if (first) first.start = REALMODE_IVT_END;
  return { ranges: rp, lines: formatMemRanges("MEMORY RANGES", rp) };
}

/**
 * arm64 get_memory_ranges over /proc/iomem: System RAM lines added ("+[i]"), every other line that
 * to_be_excluded() says (anything but System RAM, Kernel code, Kernel data; Crash kernel unless it is
 * the crash load's own range) cut out of the ranges when it meets the last one ("-"), then the
 * "System RAM ranges;" block.
 */
export function arm64MemoryRanges(
  iomemText: string,
  crashLoadRange?: { start: number; end: number },
  name?: string,
): { ranges: KtRange[]; lines: string[] } {
  const io = parseIomem(iomemText, name);
  const ranges: KtRange[] = [];
  const lines: string[] = [];
  for (const e of io.entries) {
    const start = e.start;
    const end = e.end - 1;
    if (e.name.startsWith("System RAM")) {
      ranges.push({ start, end, type: RANGE.RAM });
      lines.push(`get_memory_ranges:+[${ranges.length - 1}] ${h16(start)} - ${h16(end)}`);
      continue;
    }
    let excluded: boolean;
    if (e.name.startsWith("Crash kernel")) {
      excluded = !(
        crashLoadRange !== undefined &&
        crashLoadRange.start === start &&
        crashLoadRange.end - 1 === end
      );
    } else excluded = !(e.name.startsWith("Kernel code") || e.name.startsWith("Kernel data"));
    if (!excluded || ranges.length === 0) continue;
    const last = ranges[ranges.length - 1]!;
    if (last.end < start || end < last.start) continue;
    // mem_regions_exclude: the range that holds the excluded one shrinks, loses it, or splits (the
    // upper part appended at the end of the list).
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (r.start <= start && r.end >= end) {
        if (r.start === start) {
          if (r.end === end) {
            ranges.splice(i, 1);
            i--;
          } else r.start = end + 1;
        } else if (r.end === end) r.end = start - 1;
        else {
          ranges.push({ start: end + 1, end: r.end, type: 0 });
          r.end = start - 1;
          break;
        }
      }
    }
    lines.push(`get_memory_ranges:-      ${h16(start)} - ${h16(end)}`);
  }
  lines.push(...formatMemRanges("System RAM ranges;", ranges));
  return { ranges, lines };
}

/** One segment as kexec_load gets it. */
export interface KtSegment {
  mem: number;
  memsz: number;
  bufsz: number;
}

/** KEXEC_ARCH_* << 16 (EM_AARCH64 183, EM_X86_64 62), | KEXEC_ON_CRASH for -p. */
export function kexecLoadFlags(arch: Arch, crash: boolean): number {
  return (arch === "arm64" ? 183 : 62) * 0x10000 + (crash ? 1 : 0);
}

/** printf's %p: "(nil)" for 0, else 0x and lowercase hex. */
const pointer = (n: number) => (n === 0 ? "(nil)" : hex(n));

/** "kexec_load: entry = ... flags = ..." and print_segments' lines, the segments sorted by mem. */
export function formatKexecLoad(entry: number, flags: number, segments: readonly KtSegment[]): string[] {
  const segs = [...segments].sort((a, b) => a.mem - b.mem);
  const lines = [
    `kexec_load: entry = ${pointer(entry)} flags = 0x${flags.toString(16)}`,
    `nr_segments = ${segs.length}`,
  ];
  let buf = 0x10000000;
  segs.forEach((s, i) => {
    lines.push(`segment[${i}].buf   = ${pointer(buf)}`);
    lines.push(`segment[${i}].bufsz = 0x${s.bufsz.toString(16)}`);
    lines.push(`segment[${i}].mem   = ${pointer(s.mem)}`);
    lines.push(`segment[${i}].memsz = 0x${s.memsz.toString(16)}`);
    buf += Math.ceil(Math.max(s.bufsz, 1) / 4096) * 4096;
  });
  return lines;
}

/** The segment table of a real `kexec -d` output (the last "nr_segments = N" block), bufs dropped. */
export function parseKexecLoadTable(
  text: string,
): { entry: number; flags: number; segments: KtSegment[] } | undefined {
  const lines = text.split("\n");
  let at = -1;
  for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith("kexec_load: entry = ")) at = i;
  if (at < 0) return undefined;
  const m = /^kexec_load: entry = (\S+) flags = 0x([0-9a-f]+)$/.exec(lines[at]!);
  const n = /^nr_segments = (\d+)$/.exec(lines[at + 1] ?? "");
  if (!m || !n) return undefined;
  const num = (s: string) => (s === "(nil)" ? 0 : Number.parseInt(s, 16));
  const segments: KtSegment[] = [];
  for (let i = 0; i < Number(n[1]); i++) {
    const field = (k: number, name: string) => {
      const l = lines[at + 2 + i * 4 + k] ?? "";
      const mm = new RegExp(`^segment\\[${i}\\]\\.${name}\\s*= (\\S+)$`).exec(l);
      if (!mm)
        throw new KexecLabError("E_FORMAT_CORRUPT", `not a print_segments line: "${l.slice(0, 60)}"`, {
          field: `segment[${i}].${name}`,
        });
      return num(mm[1]!);
    };
    segments.push({ bufsz: field(1, "bufsz"), mem: field(2, "mem"), memsz: field(3, "memsz") });
  }
  return { entry: num(m[1]!), flags: Number.parseInt(m[2]!, 16), segments };
}
