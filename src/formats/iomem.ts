/**
 * /proc/iomem and /sys/firmware/memmap dumps, turned into a MemoryMap.
 *
 * /proc/iomem: one resource per line, "start-end : name", hex, end inclusive, nested by two spaces
 * of indentation per level. The MemoryMap it gives describes the running kernel's memory:
 *   - a top-level "System RAM" line is RAM;
 *   - every child of System RAM ("Kernel code", "Kernel data", "reserved", "Crash kernel", ...) is a
 *     reserved region, with its name kept: none of it is free to the running kernel's allocator;
 *   - other top-level lines are devices (not RAM).
 * Which reserved regions a loader may still place segments over is the loader's rule, decided in
 * src/loader/plan.ts from the region names (kexec-tools on arm64 keeps "Kernel code" and "Kernel data"
 * usable, since the copy happens after the running kernel has stopped).
 *
 * /sys/firmware/memmap: one entry per line "start end type" (hex, end inclusive), as printed by
 *   for d in /sys/firmware/memmap/*; do echo $(cat $d/start) $(cat $d/end) $(cat $d/type); done
 * "System RAM" entries are RAM, everything else a device/firmware range.
 */

import { KexecLabError } from "../errors.js";
import { MemoryMap, type Region } from "../machine/memmap.js";
import { RangeSet } from "../machine/ranges.js";

export interface IomemEntry {
  start: number;
  /** Exclusive end. */
  end: number;
  name: string;
  depth: number;
  /** 1-based line number in the input. */
  line: number;
}

export interface Iomem {
  kind: "iomem" | "memmap";
  entries: IomemEntry[];
  /** "Crash kernel" ranges (children of System RAM). */
  crashKernel: { start: number; end: number }[];
}

const IOMEM_LINE = /^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$/;
const MEMMAP_LINE = /^\s*(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+(\S.*?)\s*$/;
const MAX_HEX_DIGITS = 16;

export function looksLikeIomem(text: string): boolean {
  const first = text.split("\n").find((l) => l.trim() !== "");
  return first !== undefined && (IOMEM_LINE.test(first.replace(/\r$/, "")) || MEMMAP_LINE.test(first));
}

function hexValue(
  s: string,
  lineNo: number,
  offset: number,
  file: string | undefined,
  field: string,
): number | null {
  if (s.length > MAX_HEX_DIGITS) {
    throw textCorrupt(`"${s}" has more than 16 hex digits`, where(file, offset, `line ${lineNo} ${field}`));
  }
  const v = Number.parseInt(s, 16);
  // Above 2^53 the simulator cannot hold the address exactly: such (device) lines are skipped.
  return v >= 2 ** 53 ? null : v;
}

/** At most 60 characters of a line, with anything but printable ASCII as \xNN: never raw bytes. */
function quoteLine(raw: string): string {
  let out = "";
  for (const ch of raw.slice(0, 60)) {
    const c = ch.codePointAt(0)!;
    out +=
      c >= 0x20 && c < 0x7f && ch !== '"' && ch !== "\\"
        ? ch
        : `\\x${(c & 0xff).toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** The hint for a memory map dump that does not parse (a text file: no DTB tool applies). */
export const MEMORY_MAP_TEXT_HINT =
  'a memory map dump is text: /proc/iomem ("start-end : name", children indented by two spaces, read as root) or /sys/firmware/memmap ("start end type"); kexec-lab-collect writes both';

function textCorrupt(detail: string, w: { file?: string; offset?: number; field?: string }): KexecLabError {
  return new KexecLabError("E_FORMAT_CORRUPT", detail, w, MEMORY_MAP_TEXT_HINT);
}

function where(file: string | undefined, offset: number, field: string) {
  return file !== undefined ? { file, offset, field } : { offset, field };
}

export function parseIomem(text: string, file?: string): Iomem {
  const lines = text.split("\n");
  const first = lines.find((l) => l.trim() !== "") ?? "";
  const memmapStyle = !IOMEM_LINE.test(first.replace(/\r$/, "")) && MEMMAP_LINE.test(first);
  const entries: IomemEntry[] = [];
  const crashKernel: { start: number; end: number }[] = [];
  const stack: IomemEntry[] = [];
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    const lineNo = i + 1;
    const lineOffset = offset;
    offset += lines[i]!.length + 1;
    if (raw.trim() === "") continue;
    let depth: number;
    let startHex: string;
    let endHex: string;
    let name: string;
    if (memmapStyle) {
      const m = MEMMAP_LINE.exec(raw);
      if (!m)
        throw textCorrupt(
          `expected "start end type", got "${quoteLine(raw)}"`,
          where(file, lineOffset, `line ${lineNo}`),
        );
      [, startHex, endHex, name] = m as unknown as [string, string, string, string];
      depth = 0;
    } else {
      const m = IOMEM_LINE.exec(raw);
      if (!m)
        throw textCorrupt(
          `expected "start-end : name", got "${quoteLine(raw)}"`,
          where(file, lineOffset, `line ${lineNo}`),
        );
      if (m[1]!.length % 2 !== 0) {
        throw textCorrupt(
          "indentation is not a multiple of two spaces",
          where(file, lineOffset, `line ${lineNo}`),
        );
      }
      depth = m[1]!.length / 2;
      [startHex, endHex, name] = [m[2]!, m[3]!, m[4]!];
    }
    const start = hexValue(startHex, lineNo, lineOffset, file, "start");
    const last = hexValue(endHex, lineNo, lineOffset, file, "end");
    if (start !== null && last !== null && last < start) {
      throw textCorrupt(
        `end 0x${endHex} is below start 0x${startHex}`,
        where(file, lineOffset, `line ${lineNo}`),
      );
    }
    while (stack.length > depth) stack.pop();
    if (stack.length < depth) {
      throw textCorrupt(
        `nested ${depth} levels deep under a parent at level ${stack.length - 1}`,
        where(file, lineOffset, `line ${lineNo}`),
      );
    }
    if (start === null || last === null) {
      // Beyond 2^53: keep nesting consistent with a placeholder that is never RAM.
      stack.push({ start: 0, end: 0, name, depth, line: lineNo });
      continue;
    }
    const entry: IomemEntry = { start, end: last + 1, name, depth, line: lineNo };
    const parent = stack[stack.length - 1];
    if (parent && parent.end > parent.start && (entry.start < parent.start || entry.end > parent.end)) {
      throw textCorrupt(
        `"${name}" lies outside its parent "${parent.name}"`,
        where(file, lineOffset, `line ${lineNo}`),
      );
    }
    entries.push(entry);
    stack.push(entry);
    if (name === "Crash kernel") crashKernel.push({ start: entry.start, end: entry.end });
  }
  if (entries.length === 0) throw textCorrupt("no memory ranges in the input", where(file, 0, "line 1"));
  return { kind: memmapStyle ? "memmap" : "iomem", entries, crashKernel };
}

/** The memory map for placement and for the simulated machine (see the rules at the top). */
export function iomemToMemoryMap(io: Iomem): MemoryMap {
  const regions: Region[] = [];
  let ramParent: IomemEntry | undefined;
  for (const e of io.entries) {
    if (e.depth === 0) {
      ramParent = e.name === "System RAM" ? e : undefined;
      if (ramParent) regions.push({ start: e.start, end: e.end, type: "ram", name: "System RAM" });
      else if (io.kind === "iomem" || e.name !== "System RAM")
        regions.push({ start: e.start, end: e.end, type: "device", name: e.name });
    } else if (ramParent && e.depth === 1) {
      regions.push({ start: e.start, end: e.end, type: "reserved", name: e.name });
    }
  }
  if (!regions.some((r) => r.type === "ram")) {
    throw new KexecLabError("E_NO_MEMORY_MAP", 'the memory map has no "System RAM" range');
  }
  if (io.kind === "memmap") {
    // /sys/firmware/memmap may list overlapping or duplicated entries (firmware e820 tables do);
    // kexec-tools' fixup_memory_ranges merges them, and the machine's RAM is their union.
    const ram = new RangeSet(regions.filter((r) => r.type === "ram"));
    return new MemoryMap([
      ...ram.ranges.map((r) => ({ start: r.start, end: r.end, type: "ram" as const, name: "System RAM" })),
      ...regions.filter((r) => r.type !== "ram"),
    ]);
  }
  return new MemoryMap(regions);
}
