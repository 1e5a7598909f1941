/**
 * The first step of a load, before any loader is chosen: the inputs checked (page size, empty files,
 * --mem-min/--mem-max), the DTB parsed, and from the machine view the memory map and, for a crash
 * load, the crash kernel region. Browser-safe.
 */

import { emptyFileError, KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import { type Fdt, parseFdt } from "../formats/fdt.js";
import type { MemoryMap } from "../machine/memmap.js";
import type { Range } from "../machine/ranges.js";
import { checkCrashRegionReservable } from "./crash-reserve.js";
import type { MachineView } from "./machine-view.js";
import { crashRegionFor, memoryMapFor } from "./memory.js";
import type { Plan, PlanInput } from "./types.js";

/** What every loader of one attempt starts from. */
export interface Prepared {
  pageSize: number;
  /** The plan's notes so far (the loaders add theirs). */
  notes: string[];
  dtb: Fdt | undefined;
  map: MemoryMap;
  mapSource: Plan["memoryMapSource"];
  /** The crash kernel region of a crash load, else undefined. */
  crashRegion: Range | undefined;
}

/**
 * E_FILE_EMPTY for an empty kernel, initrd, DTB or memory map: bad input, never a file silently
 * dropped (an empty initrd would otherwise be no initrd at all).
 */
function checkInputsNotEmpty(input: PlanInput): void {
  const files: [Uint8Array | string | undefined, string | undefined, string][] = [
    [input.kernel, input.kernelName, "--kernel"],
    [input.initrd, input.initrdName, "--initrd"],
    [input.dtb, input.dtbName, "--dtb"],
    [input.iomem, input.iomemName, "--iomem"],
    [input.memmap, input.memmapName, "--memmap"],
  ];
  for (const [data, name, option] of files) {
    if (data !== undefined && data.length === 0) throw emptyFileError(name, option);
  }
}

/**
 * Check the inputs and read the machine, in the order the errors come: E_PAGE_SIZE, E_FILE_EMPTY, the
 * DTB's and the memory map's format errors, E_CRASH_NOT_RESERVED / E_USAGE for a crash load with no
 * region, E_FIELD_VALUE for --mem-max below --mem-min, E_USAGE for a malformed kernel version.
 */
export function prepareLoad(input: PlanInput, view: MachineView): Prepared {
  const pageSize = input.pageSize ?? 4096;
  if (![4096, 16384, 65536].includes(pageSize) || (input.arch === "x86_64" && pageSize !== 4096)) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${pageSize}`, { field: "pageSize" });
  }
  checkInputsNotEmpty(input);
  const notes: string[] = [];
  const dtb = input.dtb ? parseFdt(input.dtb, input.dtbName) : undefined;
  if (input.dtb && input.arch === "x86_64") notes.push("a DTB is ignored on x86_64");
  const { map, source } = memoryMapFor(view, dtb, notes);
  const crashRegion = crashRegionFor(view, input);
  // A crashkernel=SIZE@OFFSET the kernel could not have reserved (not all RAM): no crash load.
  if (crashRegion && input.crashRegion) checkCrashRegionReservable(crashRegion, map);
  if (input.memMin !== undefined && input.memMax !== undefined && input.memMax < input.memMin) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `--mem-max ${hex(input.memMax)} is below --mem-min ${hex(input.memMin)}`,
      {
        field: "mem-max",
      },
    );
  }
  // The version and the /proc/iomem resources are read here, before any loader, whichever reads them.
  void view.kernelVersion;
  void view.iomemFile;
  return { pageSize, notes, dtb, map, mapSource: source, crashRegion };
}
