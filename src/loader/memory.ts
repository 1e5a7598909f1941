/**
 * The memory each loader sees, read from the inputs the way that loader reads them:
 *
 * - the machine's MemoryMap (for the simulated machine and the kernel's checks): --memory-map,
 *   /proc/iomem, /sys/firmware/memmap (overlaps merged), a `kexec -d` MEMORY RANGES block, or the DTB;
 * - kexec-tools' memory_range list (what locate_hole searches), per architecture:
 *     x86_64: /sys/firmware/memmap when present (get_memory_ranges_sysfs, sorted, then
 *       fixup_memory_ranges), else /proc/iomem lines of the RAM types (get_memory_ranges_proc_iomem);
 *       the first RAM range starting below REALMODE_IVT_END (0x400) starts there
 *       (kexec/arch/i386/kexec-x86-common.c get_memory_ranges);
 *     arm64: each "System RAM" line minus every resource inside it other than "Kernel code",
 *       "Kernel data" and the crash kernel region (kexec/arch/arm64/kexec-arm64.c get_memory_ranges,
 *       to_be_excluded); ranges are not coalesced;
 * - the kernel's walk for kexec_file_load (kernel/kexec_file.c kexec_walk_resources /
 *   kexec_walk_memblock): x86_64 walks the System RAM resources, arm64 (CONFIG_ARCH_KEEP_MEMBLOCK)
 *   walks free memblock ranges (memory minus reserved); crash loads walk the crash region alone.
 */

import { crashLoadRegion, kernelCrashRes } from "../crash/choose.js";
import { KexecLabError } from "../errors.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../formats/devicetree.js";
import type { Fdt } from "../formats/fdt.js";
import { type Iomem, iomemToMemoryMap, MEMORY_MAP_TEXT_HINT, parseIomem } from "../formats/iomem.js";
import type { Arch } from "../kimage/constants.js";
import { MemoryMap } from "../machine/memmap.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import type { NamedRange } from "./holes.js";
import type { MemblockRegion, Plan, PlanInput } from "./types.js";

/** kexec-tools RANGE_* types (kexec/kexec.h). */
export const RANGE_RAM = 0;
export const RANGE_RESERVED = 1;
export const RANGE_ACPI = 2;
export const RANGE_ACPI_NVS = 3;
export const RANGE_UNCACHED = 4;
export const RANGE_PMEM = 6;
export const RANGE_PRAM = 11;

/** One entry of kexec-tools' memory_range list; `end` exclusive here (kexec-tools keeps it inclusive). */
export interface MemoryRange extends Range {
  type: number;
}

/** x86 REALMODE_IVT_END: the first RAM range is cut to start here. */
export const REALMODE_IVT_END = 0x400;

const DEBUG_LINE = /^([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16}) \((\d+)\)\s*$/;

/**
 * The MEMORY RANGES block of `kexec -d` output (dbgprint_mem_range: "%016llx-%016llx (%d)", end
 * inclusive, type a RANGE_* number); undefined when the text has no such block. Also accepts arm64's
 * "System RAM ranges;" block.
 */
export function parseKexecDebugRanges(text: string): MemoryRange[] | undefined {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  const at = lines.findIndex((l) => l.trim() === "MEMORY RANGES" || l.trim() === "System RAM ranges;");
  if (at < 0) return undefined;
  const out: MemoryRange[] = [];
  for (let i = at + 1; i < lines.length; i++) {
    const m = DEBUG_LINE.exec(lines[i]!.trim());
    if (!m) break;
    const start = Number.parseInt(m[1]!, 16);
    const last = Number.parseInt(m[2]!, 16);
    if (start >= 2 ** 53 || last >= 2 ** 53) continue;
    out.push({ start, end: last + 1, type: Number(m[3]) });
  }
  if (out.length === 0) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `"${lines[at]!.trim()}" is followed by no "start-end (type)" line`,
      {
        field: `line ${at + 2}`,
      },
      MEMORY_MAP_TEXT_HINT,
    );
  }
  return out;
}

function memmapType(name: string): number {
  switch (name) {
    case "System RAM":
      return RANGE_RAM;
    case "ACPI Tables":
      return RANGE_ACPI;
    case "ACPI Non-volatile Storage":
      return RANGE_ACPI_NVS;
    case "Uncached RAM":
      return RANGE_UNCACHED;
    case "Persistent Memory (legacy)":
      return RANGE_PRAM;
    case "Persistent Memory":
      return RANGE_PMEM;
    default:
      return RANGE_RESERVED;
  }
}

/**
 * kexec-tools fixup_memory_ranges (kexec/arch/i386/kexec-x86-common.c), ends inclusive as there:
 * neighbours of one type with the same start keep the longer; a range overlapping the next one of
 * its type moves the next one's start to its own (inclusive) end, so the two share one byte; a range
 * covering the next removes it. Repeated until nothing changes.
 */
export function fixupMemoryRanges(list: MemoryRange[]): MemoryRange[] {
  const rp = list.map((r) => ({ start: r.start, last: r.end - 1, type: r.type }));
  for (;;) {
    let changed = 0;
    for (let i = 0; i < rp.length - 1; i++) {
      const j = i + 1;
      const a = rp[i]!;
      const b = rp[j]!;
      if (a.start > b.start) {
        throw new KexecLabError(
          "E_RAM_LAYOUT",
          `memory out of order at 0x${b.start.toString(16)} (kexec-tools: "memory out of order!!")`,
        );
      }
      if (a.type !== b.type) continue;
      if (a.start === b.start) {
        rp.splice(a.last >= b.last ? j : i, 1);
        changed++;
      } else if (a.last > b.start) {
        if (a.last < b.last) b.start = a.last;
        else rp.splice(j, 1);
        changed++;
      }
    }
    if (!changed) break;
  }
  return rp.map((r) => ({ start: r.start, end: r.last + 1, type: r.type }));
}

/** "start end type" lines of a /sys/firmware/memmap dump as get_firmware_memmap_ranges reads them, sorted by start. */
export function memmapRanges(io: Iomem): MemoryRange[] {
  return io.entries
    .map((e) => ({ start: e.start, end: e.end, type: memmapType(e.name) }))
    .sort((a, b) => a.start - b.start);
}

/** get_memory_ranges_proc_iomem: every line (nested ones too) whose name is one of the known types. */
export function procIomemRanges(io: Iomem): MemoryRange[] {
  const types: Record<string, number> = {
    "System RAM": RANGE_RAM,
    "ACPI Tables": RANGE_ACPI,
    "ACPI Non-volatile Storage": RANGE_ACPI_NVS,
    "Persistent Memory (legacy)": RANGE_PRAM,
    "Persistent Memory": RANGE_PMEM,
  };
  const out: MemoryRange[] = [];
  for (const e of io.entries) {
    const t = e.name.toLowerCase() === "reserved" ? RANGE_RESERVED : types[e.name];
    if (t !== undefined) out.push({ start: e.start, end: e.end, type: t });
  }
  return out;
}

/** The input text that stands for the memory map, and what it is. */
interface MapText {
  text: string;
  name: string | undefined;
  kind: "iomem" | "memmap" | "kexec-debug";
}

function mapTexts(input: PlanInput): { iomem?: Iomem; memmap?: Iomem; debug?: MemoryRange[] } {
  const out: { iomem?: Iomem; memmap?: Iomem; debug?: MemoryRange[] } = {};
  const texts: MapText[] = [];
  if (input.iomem !== undefined) texts.push({ text: input.iomem, name: input.iomemName, kind: "iomem" });
  if (input.memmap !== undefined) texts.push({ text: input.memmap, name: input.memmapName, kind: "memmap" });
  for (const t of texts) {
    const debug = parseKexecDebugRanges(t.text);
    if (debug) {
      out.debug = debug;
      continue;
    }
    const io = parseIomem(t.text, t.name);
    if (io.kind === "memmap") out.memmap = io;
    else out.iomem = io;
  }
  return out;
}

function debugToMap(debug: MemoryRange[]): MemoryMap {
  const ram = new RangeSet(debug.filter((r) => r.type === RANGE_RAM));
  if (ram.size === 0)
    throw new KexecLabError("E_NO_MEMORY_MAP", "the MEMORY RANGES block has no RAM (type 0) range");
  return MemoryMap.fromRam([...ram.ranges]);
}

/** The machine's memory map and where it came from (see the top of this file). */
export function memoryMapFor(
  input: PlanInput,
  dtb: Fdt | undefined,
  notes: string[],
): { map: MemoryMap; source: Plan["memoryMapSource"] } {
  if (input.memoryMap) return { map: input.memoryMap, source: "memoryMap" };
  const t = mapTexts(input);
  if (t.iomem) return { map: iomemToMemoryMap(t.iomem), source: "iomem" };
  if (t.memmap) return { map: iomemToMemoryMap(t.memmap), source: "memmap" };
  if (t.debug) return { map: debugToMap(t.debug), source: "kexec-debug" };
  if (input.memblockMemory !== undefined) {
    const mem = parseMemblock(input.memblockMemory, "memblock memory");
    const res =
      input.memblockReserved !== undefined ? parseMemblock(input.memblockReserved, "memblock reserved") : [];
    return {
      map: MemoryMap.fromRam(
        [...new RangeSet(mem).ranges],
        [...new RangeSet(res).intersect(new RangeSet(mem)).ranges].map((r) => ({
          ...r,
          type: "reserved" as const,
          name: "memblock reserved",
        })),
      ),
      source: "memblock",
    };
  }
  if (input.arch === "arm64" && dtb) {
    notes.push(
      "memory map taken from the DTB's memory nodes minus /memreserve/ and /reserved-memory: the running kernel's own reservations are unknown; pass --iomem for kexec-tools' view",
    );
    return { map: deviceTreeMemoryMap(deviceTreeInfo(dtb)), source: "dtb" };
  }
  throw new KexecLabError(
    "E_NO_MEMORY_MAP",
    input.arch === "arm64"
      ? "neither --iomem nor a DTB with memory nodes was given"
      : "x86_64 needs --iomem (/proc/iomem, /sys/firmware/memmap or kexec -d output) or --memmap",
  );
}

/**
 * Which input the loader's hole search read (kexecToolsRanges / kernelWalkRanges), when it differs
 * from the source of the machine's memory map: x86_64 kexec-tools reads /sys/firmware/memmap in
 * preference to /proc/iomem; arm64 kexec_file_load walks memblock.
 */
export function placementSourceFor(
  arch: Arch,
  loader: "kexec-tools" | "kexec-file",
  input: PlanInput,
  mapSource: Plan["memoryMapSource"],
): Plan["memoryMapSource"] {
  if (mapSource === "memoryMap") return mapSource;
  const t = mapTexts(input);
  if (loader === "kexec-tools") {
    if (t.debug) return "kexec-debug";
    if (arch === "x86_64" && t.memmap) return "memmap";
    return mapSource;
  }
  if (arch === "arm64" && input.memblockMemory !== undefined) return "memblock";
  if (arch === "x86_64" && t.iomem) return "iomem";
  return mapSource;
}

/** kexec-tools on arm64 keeps these children of System RAM usable (to_be_excluded). */
export const KEXEC_TOOLS_ARM64_KEPT = ["System RAM", "Kernel code", "Kernel data"];

/**
 * kexec-tools' memory_range list (RAM entries only, in its order) and a sentence saying where it
 * came from. `crash` is the crash kernel region (arm64 keeps it usable when it is the load range).
 */
export function kexecToolsRanges(
  arch: Arch,
  input: PlanInput,
  map: MemoryMap,
  crash: Range | undefined,
): { ranges: Range[]; what: string } {
  const t = mapTexts(input);
  const ramOnly = (l: MemoryRange[]) =>
    l.filter((r) => r.type === RANGE_RAM).map((r) => ({ start: r.start, end: r.end }));
  if (t.debug)
    return { ranges: ramOnly(t.debug), what: "the RAM entries of the kexec -d MEMORY RANGES block" };
  if (arch === "x86_64") {
    let list: MemoryRange[] | undefined;
    let what = "";
    if (t.memmap) {
      list = fixupMemoryRanges(memmapRanges(t.memmap));
      what = "/sys/firmware/memmap (get_memory_ranges_sysfs + fixup_memory_ranges)";
    } else if (t.iomem) {
      list = procIomemRanges(t.iomem);
      what =
        "/proc/iomem (get_memory_ranges_proc_iomem; kexec-tools prefers /sys/firmware/memmap when it exists: pass --memmap)";
    }
    if (list) {
      const i = list.findIndex((r) => r.type === RANGE_RAM && r.start < REALMODE_IVT_END);
      if (i >= 0) list[i] = { ...list[i]!, start: REALMODE_IVT_END };
      return { ranges: ramOnly(list), what };
    }
    return { ranges: [...map.ram.ranges], what: "the given memory map's RAM" };
  }
  if (t.iomem) {
    const out: Range[] = [];
    let pieces: Range[] = [];
    let inRam = false;
    const flush = () => {
      out.push(...pieces);
      pieces = [];
    };
    for (const e of t.iomem.entries) {
      if (e.name.startsWith("System RAM")) {
        flush();
        pieces = [{ start: e.start, end: e.end }];
        inRam = true;
        continue;
      }
      const keep =
        KEXEC_TOOLS_ARM64_KEPT.some((k) => e.name.startsWith(k)) ||
        (e.name.startsWith("Crash kernel") &&
          crash !== undefined &&
          crash.start === e.start &&
          crash.end === e.end) ||
        (e.name.startsWith("Crash kernel") && crash === undefined && t.iomem.crashKernel.length === 1);
      if (keep || !inRam) continue;
      pieces = pieces.flatMap((p) => new RangeSet([p]).subtract([{ start: e.start, end: e.end }]).ranges);
    }
    flush();
    return {
      ranges: out,
      what: 'System RAM lines of /proc/iomem minus every resource in them but "Kernel code", "Kernel data" and the crash kernel region (get_memory_ranges, to_be_excluded)',
    };
  }
  const kept = map.ram.subtract(
    map.regions.filter(
      (r) => r.type === "reserved" && !KEXEC_TOOLS_ARM64_KEPT.some((k) => r.name.startsWith(k)),
    ),
  );
  return { ranges: [...kept.ranges], what: "RAM minus the reserved regions of the memory map" };
}

const MEMBLOCK_TEXT_HINT =
  'a memblock dump is the text of /sys/kernel/debug/memblock/memory or .../reserved ("N: 0xSTART..0xEND" lines, read as root with debugfs mounted)';

const MEMBLOCK_LINE = /^\s*\d+:\s*(?:0x)?([0-9a-fA-F]+)\s*(?:\.\.|-)\s*(?:0x)?([0-9a-fA-F]+)/;

/** A /sys/kernel/debug/memblock/{memory,reserved} dump: "  N: 0xSTART..0xEND" lines, END inclusive. */
export function parseMemblock(text: string, what: string): MemblockRegion[] {
  const out: MemblockRegion[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    const m = MEMBLOCK_LINE.exec(line);
    if (!m) {
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `${what}: expected "N: 0xSTART..0xEND", got "${line.slice(0, 60)}"`,
        {
          field: `line ${i + 1}`,
        },
        MEMBLOCK_TEXT_HINT,
      );
    }
    const start = Number.parseInt(m[1]!, 16);
    const last = Number.parseInt(m[2]!, 16);
    if (last < start) {
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `${what}: end below start`,
        { field: `line ${i + 1}` },
        MEMBLOCK_TEXT_HINT,
      );
    }
    out.push({ start, end: last + 1 });
  });
  if (out.length === 0)
    throw new KexecLabError("E_FORMAT_CORRUPT", `${what}: no regions`, {}, MEMBLOCK_TEXT_HINT);
  return out;
}

/**
 * The ranges kexec_file_load walks, in ascending order (the caller reverses them for a descending
 * walk), and what they are.
 */
export function kernelWalkRanges(
  arch: Arch,
  input: PlanInput,
  map: MemoryMap,
  notes: string[],
): { ranges: NamedRange[]; what: string } {
  if (arch === "x86_64") {
    const t = mapTexts(input);
    if (t.iomem) {
      const ranges = t.iomem.entries
        .filter((e) => e.depth === 0 && e.name === "System RAM")
        .map((e) => ({ start: e.start, end: e.end, name: "System RAM" }));
      return { ranges, what: "System RAM resources of /proc/iomem" };
    }
    notes.push(
      "kexec_file_load walks the kernel's System RAM resources (/proc/iomem); without --iomem the RAM of the given memory map stands for them",
    );
    return {
      ranges: map.ram.ranges.map((r) => ({ ...r, name: "System RAM" })),
      what: "the memory map's RAM (standing for the System RAM resources)",
    };
  }
  if (input.memblockMemory !== undefined) {
    const mem = new RangeSet(parseMemblock(input.memblockMemory, "memblock memory"));
    const res =
      input.memblockReserved !== undefined ? parseMemblock(input.memblockReserved, "memblock reserved") : [];
    if (input.memblockReserved === undefined)
      notes.push(
        "only memblock memory was given: no memblock reservations are subtracted (pass --memblock-reserved)",
      );
    return {
      ranges: mem.subtract(res).ranges.map((r) => ({ ...r, name: "free memblock" })),
      what: "free memblock ranges (memblock memory minus reserved, for_each_free_mem_range)",
    };
  }
  notes.push(
    "kexec_file_load on arm64 walks free memblock ranges; without --memblock-memory/--memblock-reserved they are taken as RAM minus every reserved region of the memory map, which can differ (e.g. /proc/iomem lists the running kernel's initrd as reserved where memblock may have it free, and memblock reservations that are not resources are missing)",
  );
  return {
    ranges: map.usable.ranges.map((r) => ({ ...r, name: "free memory" })),
    what: "RAM minus reserved regions (standing for free memblock ranges)",
  };
}

/**
 * The crash kernel region the load goes into: given, or the one kexec-tools / the kernel choose among
 * the "Crash kernel" regions (input.crashRegions, else the iomem input's lines): the highest, which is
 * crashk_res (src/crash/choose.ts crashLoadRegion). Errors: E_CRASH_NOT_RESERVED when the memory map is
 * a /proc/iomem without a "Crash kernel" line (the running kernel reserved none: kexec-tools stops with
 * "Memory for crashkernel is not reserved", kexec/kexec.c main); E_USAGE when nothing says where it is.
 */
export function crashRegionFor(input: PlanInput): Range | undefined {
  if (!input.crash) return undefined;
  if (input.crashRegion) return input.crashRegion;
  const ck = crashRegionsOf(input);
  if (ck.length > 0)
    return crashLoadRegion(ck, input.arch, input.loader ?? "auto", input.kexecToolsVersion).region;
  const t = mapTexts(input);
  if (t.iomem !== undefined)
    throw new KexecLabError(
      "E_CRASH_NOT_RESERVED",
      `${input.iomemName ?? "the /proc/iomem given"} has no "Crash kernel" line: the running kernel reserved no crash region (booted without crashkernel=, or the reservation failed), so kexec -p stops with "Memory for crashkernel is not reserved" (kexec-tools kexec/kexec.c main, is_crashkernel_mem_reserved)`,
      input.iomemName !== undefined ? { file: input.iomemName } : {},
    );
  throw new KexecLabError(
    "E_USAGE",
    'a crash load (-p) needs the crash kernel region: give --crashkernel SIZE@OFFSET, or a /proc/iomem with a "Crash kernel" line (--iomem, or --host with iomem.txt)',
    { field: "--crash" },
    "pass --crashkernel SIZE@OFFSET (e.g. 256M@0x60000000), or the running machine's /proc/iomem",
  );
}

/** Every "Crash kernel" region of the running kernel: input.crashRegions, else the iomem input's lines. */
export function crashRegionsOf(input: PlanInput): Range[] {
  if (input.crashRegions) return [...input.crashRegions];
  return mapTexts(input).iomem?.crashKernel ?? [];
}

/**
 * The region the kernel checks a crash load against (crashk_res): the highest "Crash kernel" region
 * when the load's region is one of them (a load forced into the low part is then refused with
 * EADDRNOTAVAIL, as the kernel does), else the given region itself (a hypothetical reservation).
 */
export function kernelCrashResFor(input: PlanInput, crash: Range): Range {
  const all = crashRegionsOf(input);
  if (all.some((r) => r.start === crash.start && r.end === crash.end)) return kernelCrashRes(all) ?? crash;
  return crash;
}

/** crashkernel=X,high's low part: a second, smaller "Crash kernel" line below 4 GiB. */
export function crashLowRegionFor(input: PlanInput, crash: Range | undefined): Range | undefined {
  if (!crash) return undefined;
  if (input.crashLowRegion) return input.crashLowRegion;
  const ck = mapTexts(input).iomem?.crashKernel ?? [];
  return ck.find((r) => r.start !== crash.start && r.end <= 2 ** 32);
}

/**
 * The memory the loader that made `plan` searched for holes, merged into one set: kexec-tools'
 * memory_range list for kexec_load, the ranges the kernel walks for kexec_file_load. For explaining a
 * failed search (which range was ruled out by what); placement itself walks the ordered lists.
 */
export function loaderSearchRanges(
  input: PlanInput,
  plan: Pick<Plan, "arch" | "loader" | "memoryMap">,
): RangeSet {
  if (plan.loader === "kexec-file") {
    return new RangeSet(kernelWalkRanges(plan.arch, input, plan.memoryMap, []).ranges);
  }
  return new RangeSet(kexecToolsRanges(plan.arch, input, plan.memoryMap, crashRegionFor(input)).ranges);
}
