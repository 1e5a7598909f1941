/**
 * A simulated machine: architecture, page size, memory map, physical memory and the running kernel's
 * page allocator.
 */

import type { Arch } from "../kimage/constants.js";
import { describePolicy, type FreePagePolicy, PageAllocator } from "./freepages.js";
import type { MemoryMap } from "./memmap.js";
import { type PageSize, PhysMem } from "./physmem.js";

/** How page contents are held: real bytes, shared copy-on-write frames, or synthetic per-page payloads. */
export type ContentMode = "exact" | "shared" | "synthetic";

export interface MachineOptions {
  arch: Arch;
  pageSize: PageSize;
  memoryMap: MemoryMap;
  freePages?: FreePagePolicy;
  contentMode?: ContentMode;
  paBits?: number;
  maxBytes?: number;
}

export class Machine {
  readonly arch: Arch;
  readonly pageSize: PageSize;
  readonly memoryMap: MemoryMap;
  readonly mem: PhysMem;
  readonly allocator: PageAllocator;
  readonly contentMode: ContentMode;
  readonly freePages: FreePagePolicy;

  constructor(opts: MachineOptions) {
    this.arch = opts.arch;
    this.pageSize = opts.pageSize;
    this.memoryMap = opts.memoryMap;
    this.contentMode = opts.contentMode ?? "exact";
    this.freePages = opts.freePages ?? { kind: "lowest" };
    this.mem = new PhysMem({
      pageSize: opts.pageSize,
      ram: opts.memoryMap.ramPages(opts.pageSize),
      shareOnCopy: this.contentMode !== "exact",
      ...(opts.paBits !== undefined ? { paBits: opts.paBits } : {}),
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    });
    this.allocator = new PageAllocator(
      opts.memoryMap.usablePages(opts.pageSize),
      opts.pageSize,
      this.freePages,
    );
  }

  get ramBytes(): number {
    return this.memoryMap.ramBytes;
  }

  describe(): string {
    return `${this.arch}, ${this.pageSize / 1024}K pages, free pages ${describePolicy(this.freePages)}, ${this.contentMode} contents`;
  }
}
