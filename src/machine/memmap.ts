/**
 * A machine's physical memory map: typed regions, as firmware or /proc/iomem describe them.
 * "ram" regions make up System RAM; "reserved" regions nested in RAM (the running kernel's image,
 * firmware carve-outs, reserved-memory nodes) stay RAM for the simulated memory but are never free
 * for the running kernel's allocator nor for placing segments; "device" regions are not RAM.
 */

import { KexecLabError } from "../errors.js";
import { type Range, RangeSet } from "./ranges.js";

export type RegionType = "ram" | "reserved" | "device";

export interface Region extends Range {
  readonly type: RegionType;
  readonly name: string;
}

export class MemoryMap {
  readonly regions: readonly Region[];
  /** All System RAM (including reserved carve-outs inside it). */
  readonly ram: RangeSet;
  /** Reserved carve-outs. */
  readonly reserved: RangeSet;
  /** RAM that is neither reserved nor the running kernel's: free for allocation and placement. */
  readonly usable: RangeSet;

  constructor(regions: Region[]) {
    for (const r of regions) {
      if (!(r.start < r.end)) {
        throw new KexecLabError(
          "E_RAM_LAYOUT",
          `region "${r.name}" 0x${r.start.toString(16)}-0x${r.end.toString(16)} is empty or reversed`,
        );
      }
    }
    this.regions = [...regions].sort((a, b) => a.start - b.start || b.end - a.end);
    const ramRegions = this.regions.filter((r) => r.type === "ram");
    for (let i = 1; i < ramRegions.length; i++) {
      if (ramRegions[i]!.start < ramRegions[i - 1]!.end) {
        throw new KexecLabError(
          "E_RAM_LAYOUT",
          `RAM regions overlap at 0x${ramRegions[i]!.start.toString(16)}`,
        );
      }
    }
    this.ram = new RangeSet(ramRegions);
    this.reserved = new RangeSet(this.regions.filter((r) => r.type === "reserved"));
    this.usable = this.ram.subtract(this.reserved);
  }

  /** One RAM bank per range. */
  static fromRam(ranges: Range[], reserved: Region[] = []): MemoryMap {
    return new MemoryMap([
      ...ranges.map((r) => ({ start: r.start, end: r.end, type: "ram" as const, name: "System RAM" })),
      ...reserved,
    ]);
  }

  /** Total RAM in bytes (what the kernel's totalram_pages counts, before reservations). */
  get ramBytes(): number {
    return this.ram.totalBytes;
  }

  /** RAM rounded in to whole pages of the given size (RAM edges that are not page-aligned are dropped). */
  ramPages(pageSize: number): RangeSet {
    return pageAligned(this.ram, pageSize);
  }

  usablePages(pageSize: number): RangeSet {
    return pageAligned(this.usable, pageSize);
  }
}

function pageAligned(set: RangeSet, pageSize: number): RangeSet {
  const out: Range[] = [];
  for (const r of set.ranges) {
    const start = Math.ceil(r.start / pageSize) * pageSize;
    const end = Math.floor(r.end / pageSize) * pageSize;
    if (start < end) out.push({ start, end });
  }
  return new RangeSet(out);
}
