/**
 * The running machine as every loader sees it: the host's texts (/proc/iomem, /sys/firmware/memmap,
 * a `kexec -d` MEMORY RANGES block, the memblock dumps) parsed once, and the facts the loaders and the
 * kernel's rules read (crash kernel regions, the CMA area and its used pages, KHO scratch areas, the
 * running kernel's version and config, the kexec-tools release, CPUs, MemTotal). Browser-safe.
 *
 * One view is made per load request (planLoad makes it and hands it to both syscalls' attempts of
 * --loader auto); every text is parsed on first use and kept, so an input a loader never reads never
 * fails the load, and the errors come in the order the loaders meet them. Each loader then derives
 * what it reads from the view (memory.ts: kexec-tools' memory_range list, the kernel's walk), and
 * src/crash/host.ts reads a collected host through the same view.
 */

import { KexecLabError } from "../errors.js";
import { type Iomem, MEMORY_MAP_TEXT_HINT, parseIomem } from "../formats/iomem.js";
import type { KernelConfig } from "../formats/kconfig.js";
import type { Arch } from "../kimage/constants.js";
import type { Range } from "../machine/ranges.js";
import { LATEST_KEXEC_TOOLS } from "./accept.js";
import { DEFAULT_KERNEL_VERSION, parseKernelVersion } from "./kexec-file/version.js";
import type { MemblockRegion, PlanInput } from "./types.js";

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

/** The memory-map texts of a machine, each classified by what it is (whatever option it came in). */
export interface MapTexts {
  /** A /proc/iomem dump (given as --iomem or as --memmap). */
  iomem?: Iomem;
  /** A /sys/firmware/memmap dump. */
  memmap?: Iomem;
  /** A `kexec -d` MEMORY RANGES (or arm64 "System RAM ranges;") block. */
  debug?: MemoryRange[];
}

/** The inputs a view is made of: a PlanInput's machine fields. */
export type MachineInput = Pick<
  PlanInput,
  | "arch"
  | "iomem"
  | "iomemName"
  | "memmap"
  | "memmapName"
  | "memblockMemory"
  | "memblockReserved"
  | "memoryMap"
  | "crashRegion"
  | "crashRegions"
  | "crashLowRegion"
  | "cma"
  | "cmaUsed"
  | "khoScratch"
  | "kernelVersion"
  | "kernelConfig"
  | "kexecToolsVersion"
  | "kexecFileSyscall"
  | "cpus"
  | "memTotal"
>;

/** Names the memblock dumps go by in error messages (default "memblock memory", "memblock reserved"). */
export interface MachineViewNames {
  memblockMemory?: string;
  memblockReserved?: string;
}

/**
 * The machine view (see the file header). Every getter parses its text on first use and keeps the
 * result; errors are the parsers' (E_FORMAT_CORRUPT naming the file and line, E_USAGE for a malformed
 * kernel version).
 */
export class MachineView {
  readonly arch: Arch;
  private readonly input: MachineInput;
  private readonly names: Required<MachineViewNames>;
  private memo = new Map<string, unknown>();

  constructor(input: MachineInput, names: MachineViewNames = {}) {
    this.arch = input.arch;
    this.input = input;
    this.names = {
      memblockMemory: names.memblockMemory ?? "memblock memory",
      memblockReserved: names.memblockReserved ?? "memblock reserved",
    };
  }

  private once<T>(key: string, make: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, make());
    return this.memo.get(key) as T;
  }

  /**
   * One memory-map text (--iomem or --memmap) parsed once: a `kexec -d` MEMORY RANGES block, or a
   * resource list (/proc/iomem or /sys/firmware/memmap); {} when not given.
   */
  private source(which: "iomem" | "memmap"): { debug?: MemoryRange[]; io?: Iomem } {
    return this.once(`source:${which}`, () => {
      const text = which === "iomem" ? this.input.iomem : this.input.memmap;
      if (text === undefined) return {};
      const debug = parseKexecDebugRanges(text);
      if (debug) return { debug };
      return { io: parseIomem(text, which === "iomem" ? this.input.iomemName : this.input.memmapName) };
    });
  }

  /** The memory-map texts (--iomem, --memmap), each parsed once and classified by its content. */
  get texts(): MapTexts {
    return this.once("texts", () => {
      const out: MapTexts = {};
      for (const which of ["iomem", "memmap"] as const) {
        const { debug, io } = this.source(which);
        if (debug) out.debug = debug;
        else if (io?.kind === "memmap") out.memmap = io;
        else if (io) out.iomem = io;
      }
      return out;
    });
  }

  /**
   * The --iomem text as a resource list, whatever kind it is (a /proc/iomem or a memmap dump), unless
   * it is a `kexec -d` block: what kexec-tools' crash code reads for the dump's memory ranges.
   */
  get iomemFile(): Iomem | undefined {
    return this.source("iomem").io;
  }

  /** The --memmap text as a resource list (the e820 entries /sys/firmware/memmap lists), as given. */
  get memmapFile(): Iomem | undefined {
    return this.source("memmap").io;
  }

  /** The --iomem text's name (for messages), when it has one. */
  get iomemName(): string | undefined {
    return this.input.iomemName;
  }

  /** memblock.memory (/sys/kernel/debug/memblock/memory), when given. */
  get memblockMemory(): MemblockRegion[] | undefined {
    return this.once("memblockMemory", () =>
      this.input.memblockMemory !== undefined
        ? parseMemblock(this.input.memblockMemory, this.names.memblockMemory)
        : undefined,
    );
  }

  /** memblock.reserved (/sys/kernel/debug/memblock/reserved), when given. */
  get memblockReserved(): MemblockRegion[] | undefined {
    return this.once("memblockReserved", () =>
      this.input.memblockReserved !== undefined
        ? parseMemblock(this.input.memblockReserved, this.names.memblockReserved)
        : undefined,
    );
  }

  /** A memblock.memory dump was given (without parsing it). */
  get hasMemblockMemory(): boolean {
    return this.input.memblockMemory !== undefined;
  }

  /** A memblock.reserved dump was given (without parsing it). */
  get hasMemblockReserved(): boolean {
    return this.input.memblockReserved !== undefined;
  }

  /** Whether a memory map was given as such (PlanInput.memoryMap wins over every text). */
  get givenMemoryMap(): PlanInput["memoryMap"] {
    return this.input.memoryMap;
  }

  /**
   * Every "Crash kernel" region of the running kernel (crashk_res and crashk_low_res): the given list
   * (PlanInput.crashRegions), else the "Crash kernel" lines of the /proc/iomem text. The one reader of
   * those lines for the loaders and the crashkernel model (src/crash/host.ts).
   */
  get crashRegions(): Range[] {
    if (this.input.crashRegions) return [...this.input.crashRegions];
    return [...(this.texts.iomem?.crashKernel ?? [])];
  }

  /** The "Crash kernel" regions given as such (PlanInput.crashRegions), when they were. */
  get givenCrashRegions(): Range[] | undefined {
    return this.input.crashRegions ? [...this.input.crashRegions] : undefined;
  }

  /**
   * Whether the running kernel holds a crash kernel reservation: true with a region given or a
   * "Crash kernel" line; false when a /proc/iomem was given without one (the reservation failed, or
   * the kernel was booted without crashkernel=); undefined when nothing says.
   */
  get crashReserved(): boolean | undefined {
    if (this.input.crashRegion !== undefined || this.crashRegions.length > 0) return true;
    return this.texts.iomem !== undefined ? false : undefined;
  }

  /** A region given as the crash kernel region (--crashkernel SIZE@OFFSET), when one was. */
  get givenCrashRegion(): Range | undefined {
    return this.input.crashRegion;
  }

  /** crashkernel=X,high's low part, when given. */
  get givenCrashLowRegion(): Range | undefined {
    return this.input.crashLowRegion;
  }

  /** The default CMA area and the bytes at its base other users took (PlanInput.cma, cmaUsed). */
  get cma(): { area: Range; used: number } | undefined {
    return this.input.cma ? { area: this.input.cma, used: this.input.cmaUsed ?? 0 } : undefined;
  }

  /** KHO scratch areas in index order (kho=on), when given. */
  get khoScratch(): Range[] | undefined {
    return this.input.khoScratch;
  }

  /** The running kernel's MAJOR.MINOR as numbers (default DEFAULT_KERNEL_VERSION). E_USAGE when malformed. */
  get kernelVersion(): [number, number] {
    return this.once("kernelVersion", () => parseKernelVersion(this.input.kernelVersion));
  }

  /** The running kernel's version as given (default DEFAULT_KERNEL_VERSION), for messages and the plan. */
  get kernelVersionName(): string {
    return this.input.kernelVersion ?? DEFAULT_KERNEL_VERSION;
  }

  /** The running kernel's build config, when known. */
  get kernelConfig(): KernelConfig | undefined {
    return this.input.kernelConfig;
  }

  /** The running kernel has kexec_file_load (false: CONFIG_KEXEC_FILE is off). */
  get kexecFileSyscall(): boolean {
    return this.input.kexecFileSyscall !== false;
  }

  /** The kexec-tools release (default LATEST_KEXEC_TOOLS, which is also auto.ts's default). */
  get kexecToolsVersion(): string {
    return this.input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS;
  }

  /** CPUs of the machine (default 1). */
  get cpus(): number {
    return this.input.cpus ?? 1;
  }

  /** /proc/meminfo's MemTotal, when known. */
  get memTotal(): number | undefined {
    return this.input.memTotal;
  }
}

/** The view of a load request's machine (one per planLoad call; see the file header). */
export function machineView(input: MachineInput, names?: MachineViewNames): MachineView {
  return new MachineView(input, names);
}
