/**
 * The plain, serializable result of `run`: what every renderer (text, JSON, HTML) and the timing model
 * read. Addresses are "0x..." strings; sizes and counts are numbers. No wall-clock times unless the
 * caller asked for them (they would break byte-identical output for the same inputs and seed).
 */

import type { KimageSummary } from "../kimage/summary.js";
import type { RebootReport } from "../model/reboot-shapes.js";

export interface PageTableCost {
  /** Table pages (each one granule). */
  pages: number;
  bytes: number;
  /** Table pages per level, keyed by level number as on arm64 ("-1".."3"). */
  byLevel: Record<string, number>;
}

export interface RelocCounters {
  bytesCopied: number;
  pagesCopied: number;
  entriesRead: number;
  indirectionPagesFollowed: number;
  tlbHits: number;
  tlbMisses: number;
  /** Page-table walks started (one per TLB miss). */
  walks: number;
  /** Descriptor reads per level, keyed like byLevel. */
  descriptorReadsByLevel: Record<string, number>;
  cacheLinesCleaned: number;
  cacheLinesInvalidated: number;
  controlPages: number;
  [extra: string]: number | Record<string, number>;
}

export interface VerificationFailure {
  /**
   * "content": a destination byte is wrong; "clobber": a write hit a page still to be read; "fault";
   * "coherence": the bytes are right in some cache but not where the reader looks (src/reloc/lines.ts:
   * the new kernel at the jump, an uncached read, a cacheable walk or fetch); "load-write": prepare()
   * wrote outside its control pages while the running kernel still owns that memory.
   */
  kind: "content" | "clobber" | "fault" | "coherence" | "load-write";
  message: string;
  segment?: number;
  address?: string;
  expected?: number;
  found?: number;
  step?: number;
}

export interface ModelSummary {
  profile: string;
  seconds: number;
  /** Seconds by component: copy, entryWalk, tableWalk, cacheMaintenance, tlb, other. */
  breakdown: Record<string, number>;
  /** 2 x bytes / copy bandwidth on this profile. */
  limitSeconds: number;
  ratioToLimit: number;
  /** True when a sample of pages was simulated exactly and the rest extrapolated. */
  sampled: boolean;
  /**
   * [low, high] seconds the profile's input ranges allow (src/model/ranges.ts; equal to seconds when
   * the profile has no ranges). Set by traceModeler / modelTraceRange.
   */
  range?: [number, number];
}

export interface StrategyResult {
  name: string;
  description: string;
  verified: boolean;
  failures: VerificationFailure[];
  pageTables: PageTableCost;
  /** Control pages the strategy allocated (tables and others), as "0x..." strings, in allocation order. */
  controlPages: string[];
  counters: RelocCounters;
  model?: ModelSummary[];
  /** Wall-clock seconds of the simulation (only with --timings). */
  wallSeconds?: number;
  /**
   * What verification covered: the byte comparison always; the cache-state check under `coherence`
   * (the rules of the machine checked against, e.g. "neoverse-n1-server: CLIDR_EL1 LoUU 0, LoC 2"), or
   * "coherent" on x86_64 where the caches need no maintenance.
   */
  checks?: { coherence: string; linesChecked: number };
  /** A reference design shown for comparison that is known not to verify here (the va-copy series as posted). */
  reference?: string;
}

export interface MemoryRegionOut {
  start: string;
  end: string;
  type: "ram" | "reserved" | "device";
  name: string;
}

export interface RunResult {
  tool: { name: "kexec-lab"; version: string };
  scenario: { name: string; seed: number; contentMode: string; freePages: string };
  machine: { arch: string; pageSize: number; vaBits: number; ramBytes: number; memoryMap: MemoryRegionOut[] };
  kimage: KimageSummary;
  strategies: StrategyResult[];
  /** Where the kimage's pages are, in density buckets, for the HTML memory map (src/report/pagemap.ts). */
  pageMap?: PageMap;
  /** The path from `kexec -e` to the new kernel, phase by phase, and what would save how much (src/model/reboot.ts). */
  reboot?: RebootReport;
  /** With several profiles: the reboot breakdown on each, in --profile order (`reboot` is the first). */
  reboots?: RebootReport[];
}

/**
 * A compact picture of where a normal load put its pages: physical memory cut into equal buckets,
 * and for each kind the buckets that hold such pages with their page count (sparse; "0x..." bucket
 * start, count). Built by buildPageMap in src/report/pagemap.ts from the entry list in simulated RAM.
 */
export interface PageMap {
  /** Bytes per bucket: a power of two, at least one page. */
  bucketBytes: number;
  pageSize: number;
  /** Source pages listed by IND_SOURCE entries (in-place ones included). */
  source: [string, number][];
  /** Source pages that are their own destination (no copy needed). */
  inPlace: [string, number][];
  /** Indirection pages of the entry list. */
  indirection: [string, number][];
  /** The kimage's own control pages (control code page, swap page), not the strategies' tables. */
  control: [string, number][];
}
