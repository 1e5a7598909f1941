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
import { type Iomem, iomemToMemoryMap } from "../formats/iomem.js";
import type { Arch } from "../kimage/constants.js";
import { MemoryMap } from "../machine/memmap.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import { crashLoaderOf } from "./caller.js";
import { noCrashReservation } from "./crash-reserve.js";
import type { NamedRange } from "./holes.js";
import {
  type MachineView,
  type MemoryRange,
  machineView,
  RANGE_ACPI,
  RANGE_ACPI_NVS,
  RANGE_PMEM,
  RANGE_PRAM,
  RANGE_RAM,
  RANGE_RESERVED,
  RANGE_UNCACHED,
} from "./machine-view.js";
import type { LoaderKind, Plan, PlanInput } from "./types.js";

export {
  type MemoryRange,
  parseKexecDebugRanges,
  parseMemblock,
  RANGE_ACPI,
  RANGE_ACPI_NVS,
  RANGE_PMEM,
  RANGE_PRAM,
  RANGE_RAM,
  RANGE_RESERVED,
  RANGE_UNCACHED,
} from "./machine-view.js";

/** x86 REALMODE_IVT_END: the first RAM range is cut to start here. */
export const REALMODE_IVT_END = 0x400;

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

function debugToMap(debug: MemoryRange[]): MemoryMap {
  const ram = new RangeSet(debug.filter((r) => r.type === RANGE_RAM));
  if (ram.size === 0)
    throw new KexecLabError("E_NO_MEMORY_MAP", "the MEMORY RANGES block has no RAM (type 0) range");
  return MemoryMap.fromRam([...ram.ranges]);
}

/** The machine's memory map and where it came from (see the top of this file). */
export function memoryMapFor(
  view: MachineView,
  dtb: Fdt | undefined,
  notes: string[],
): { map: MemoryMap; source: Plan["memoryMapSource"] } {
  const given = view.givenMemoryMap;
  if (given) return { map: given, source: "memoryMap" };
  const t = view.texts;
  if (t.iomem) return { map: iomemToMemoryMap(t.iomem), source: "iomem" };
  if (t.memmap) return { map: iomemToMemoryMap(t.memmap), source: "memmap" };
  if (t.debug) return { map: debugToMap(t.debug), source: "kexec-debug" };
  const mem = view.memblockMemory;
  if (mem !== undefined) {
    const res = view.memblockReserved ?? [];
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
  if (view.arch === "arm64" && dtb) {
    notes.push(
      "memory map taken from the DTB's memory nodes minus /memreserve/ and /reserved-memory: the running kernel's own reservations are unknown; pass --iomem for kexec-tools' view",
    );
    return { map: deviceTreeMemoryMap(deviceTreeInfo(dtb)), source: "dtb" };
  }
  throw new KexecLabError(
    "E_NO_MEMORY_MAP",
    view.arch === "arm64"
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
  view: MachineView,
  mapSource: Plan["memoryMapSource"],
): Plan["memoryMapSource"] {
  if (mapSource === "memoryMap") return mapSource;
  const t = view.texts;
  if (loader === "kexec-tools") {
    if (t.debug) return "kexec-debug";
    if (arch === "x86_64" && t.memmap) return "memmap";
    return mapSource;
  }
  if (arch === "arm64" && view.hasMemblockMemory) return "memblock";
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
  view: MachineView,
  map: MemoryMap,
  crash: Range | undefined,
): { ranges: Range[]; what: string } {
  const t = view.texts;
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

/**
 * The ranges kexec_file_load walks, in ascending order (the caller reverses them for a descending
 * walk), and what they are.
 */
export function kernelWalkRanges(
  arch: Arch,
  view: MachineView,
  map: MemoryMap,
  notes: string[],
): { ranges: NamedRange[]; what: string } {
  if (arch === "x86_64") {
    const t = view.texts;
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
  const memblock = view.memblockMemory;
  if (memblock !== undefined) {
    const mem = new RangeSet(memblock);
    const res = view.memblockReserved ?? [];
    if (!view.hasMemblockReserved)
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
 * the "Crash kernel" regions of the machine view (view.crashRegions): the highest, which is crashk_res
 * (src/crash/choose.ts crashLoadRegion). Undefined for a load that is not a crash load.
 *
 * No reservation at all (view.crashReserved false: a /proc/iomem without a "Crash kernel" line) is the
 * crash-reserved gate's case (src/gates/crash-reserved.ts: kexec-tools stops with "Memory for
 * crashkernel is not reserved" before any syscall); planLoad called without the gates
 * (src/request/gates.ts) reports the gate's refusal as E_CRASH_NOT_RESERVED (crash-reserve.ts
 * noCrashReservation). E_USAGE when nothing says where the region is.
 */
export function crashRegionFor(
  view: MachineView,
  request: { crash?: boolean; loader?: LoaderKind; iomemName?: string },
): Range | undefined {
  if (!request.crash) return undefined;
  const given = view.givenCrashRegion;
  if (given) return given;
  const ck = view.crashRegions;
  if (ck.length > 0)
    return crashLoadRegion(ck, view.arch, crashLoaderOf(request.loader), view.kexecToolsVersion).region;
  if (view.crashReserved === false) noCrashReservation(request.iomemName);
  throw new KexecLabError(
    "E_USAGE",
    'a crash load (-p) needs the crash kernel region: give --crashkernel SIZE@OFFSET, or a /proc/iomem with a "Crash kernel" line (--iomem, or --host with iomem.txt)',
    { field: "--crash" },
    "pass --crashkernel SIZE@OFFSET (e.g. 256M@0x60000000), or the running machine's /proc/iomem",
  );
}

/** Every "Crash kernel" region of the running kernel (MachineView.crashRegions) of a PlanInput. */
export function crashRegionsOf(input: PlanInput): Range[] {
  return machineView(input).crashRegions;
}

/**
 * The region the kernel checks a crash load against (crashk_res): the highest "Crash kernel" region
 * when the load's region is one of them (a load forced into the low part is then refused with
 * EADDRNOTAVAIL, as the kernel does), else the given region itself (a hypothetical reservation).
 */
export function kernelCrashResIn(view: MachineView, crash: Range): Range {
  const all = view.crashRegions;
  if (all.some((r) => r.start === crash.start && r.end === crash.end)) return kernelCrashRes(all) ?? crash;
  return crash;
}

/** kernelCrashResIn for a PlanInput's machine. */
export function kernelCrashResFor(input: PlanInput, crash: Range): Range {
  return kernelCrashResIn(machineView(input), crash);
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
  const view = machineView(input);
  if (plan.loader === "kexec-file") {
    return new RangeSet(kernelWalkRanges(plan.arch, view, plan.memoryMap, []).ranges);
  }
  const crash = crashRegionFor(view, input);
  return new RangeSet(kexecToolsRanges(plan.arch, view, plan.memoryMap, crash).ranges);
}

/**
 * Every crash kernel region (kexec-tools' crash_reserved_mem): the machine's "Crash kernel" regions
 * when the load's region came from them, else the one region given.
 */
export function crashRegionsAll(view: MachineView, crash: Range): Range[] {
  if (view.givenCrashRegions) return view.crashRegions;
  if (view.givenCrashRegion) return [crash];
  const ck = view.iomemFile?.crashKernel ?? [];
  return ck.length > 0 ? ck : [crash];
}

/** x86 crash elfcorehdr: how many System RAM resources remain with [0, 1 MiB) and the crash region cut out. */
export function x86CrashRamRanges(view: MachineView, map: MemoryMap, crash: Range): number {
  const ram: NamedRange[] = kernelWalkRanges("x86_64", view, map, []).ranges;
  return ram.flatMap((r) => [...new RangeSet([r]).subtract([{ start: 0, end: 0x100000 }, crash]).ranges])
    .length;
}

/**
 * arm64 crash elfcorehdr: how many memblock memory ranges (or RAM ranges) remain with the crash region (and
 * crashk_low_res, when there is one: arch/arm64/kernel/machine_kexec_file.c prepare_elf_headers) cut out.
 */
export function memblockRangesOutside(view: MachineView, map: MemoryMap, crash: Range, low?: Range): number {
  const memblock = view.memblockMemory;
  const mem = memblock !== undefined ? new RangeSet(memblock).ranges : map.ram.ranges;
  const cut = low !== undefined ? [crash, low] : [crash];
  return mem.flatMap((r) => [...new RangeSet([r]).subtract(cut).ranges]).length;
}

/**
 * crashk_low_res for a kexec_file_load crash load: the other "Crash kernel" region of the machine view when the
 * load's region is one of them (crashkernel=X,high with its low part), else none.
 */
export function crashLowResFor(view: MachineView, crash: Range): Range | undefined {
  const all = view.crashRegions;
  if (!all.some((r) => r.start === crash.start && r.end === crash.end)) return undefined;
  return all.find((r) => r.start !== crash.start || r.end !== crash.end);
}
