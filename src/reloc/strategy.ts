/**
 * The relocation-strategy interface: how a kexec image gets from its scattered source pages to its
 * destinations when the new kernel is started. One file per strategy (mmu-off.ts, va-copy.ts, ...),
 * each exporting one `RelocationStrategy`. A user strategy is one more file: see
 * examples/strategies/ and docs/strategies.md.
 *
 * The life of one run (src/reloc/run.ts drives it, on a fresh machine and kimage per strategy):
 *
 *   kexecLoad:  kimage_alloc_init (control code page, swap page)
 *               [phase "before-segments": prepare() here - x86_64's init_pgtable]
 *               load every segment, terminate the list
 *               [phase "after-segments": prepare() here - arm64's machine_kexec_post_load]
 *   execute:    the simulated CPU relocates (reads entries and descriptors from simulated RAM)
 *   verify:     every destination byte against its segment; the guard's clobber reports
 *
 * Everything a strategy allocates must come from `ctx.allocTable` / `ctx.allocControlPage` (the
 * kimage's control-page allocator), so no table ever lands in a destination.
 */

import type { Arch } from "../kimage/constants.js";
import type { Kimage } from "../kimage/kimage.js";
import type { Machine } from "../machine/machine.js";
import type { TranslationFormat } from "../mmu/types.js";
import type { RelocCpu } from "./cpu.js";
import type { Coherence } from "./lines.js";
import type { PageTableCost } from "./result.js";

/** Options every strategy may read (the CLI's flags). Strategies ignore what does not concern them. */
export interface StrategyOptions {
  /** VA bits of the translation regime (arm64: 39..52; x86_64: 48 or 57). */
  vaBits: number;
  /** linear-map-copy: the running kernel's linear map is block-mapped or page-granular. */
  linearMap: "block" | "page";
  /**
   * linear-map-copy with `linearMap` "block": the largest block, bytes (e.g. 2 MiB, the size x86_64's
   * identity map uses; the seed thread's comparison); 0: the largest the granule allows (1 GiB with 4K).
   */
  linearMapBlock: number;
  /** x86-ident: pre-6.14 three-copy swap through the swap page. */
  x86Swap: boolean;
  /** x86-ident: 1G pages where whole-GiB aligned. */
  gbpages: boolean;
}

export const DEFAULT_STRATEGY_OPTIONS: StrategyOptions = {
  vaBits: 48,
  linearMap: "block",
  linearMapBlock: 0,
  x86Swap: false,
  gbpages: false,
};

/** What prepare() hands to the runner and, through the runner, to execute(). */
export interface StrategyContext {
  readonly image: Kimage;
  readonly machine: Machine;
  readonly options: StrategyOptions;
  /**
   * The cache rules of the machine the run is verified against (src/reloc/lines.ts): `coherent` on
   * x86_64; on arm64 the levels a clean to PoU (`louu`) and to PoC (`loc`) must clean. A strategy that
   * cleans to PoU where that is not the PoC fails verification at the jump.
   */
  readonly coherence: Coherence;
  /**
   * One zeroed control page for a translation table (kimage_alloc_control_pages(image, 0)). prepare()
   * runs at load time, while the running kernel owns every other page: it may write only the pages
   * these two functions return (and the control code page); any other write is refused.
   */
  allocTable(level: number): number;
  /** One zeroed control page for anything else (stacks, argument blocks, ...). */
  allocControlPage(): number;
}

export interface PreparedRelocation {
  /** Table pages allocated, bytes, and pages per level. */
  pageTables: PageTableCost;
  /**
   * Pages the relocation reads while it runs besides the entry list and the sources (the guard
   * protects them): every table page at least. The control code page is always guarded.
   */
  livePages: readonly number[];
  /** The translation regime the relocation runs under (MMU-on strategies): for walks in tools and tests. */
  translation?: { format: TranslationFormat; ttbr0: number; ttbr1: number };
  /** Counters of the preparation (e.g. entries read at load time), merged into the result's counters. */
  prepareCounters?: Record<string, number>;
  /**
   * Run the relocation on the simulated CPU: read the list and the tables through cpu.mem (and the
   * TLB when the MMU is on), copy with cpu.copyPage, maintain caches with cpu.cmo. Counters are
   * kept in cpu.counters.
   */
  execute(cpu: RelocCpu): void;
}

export interface RelocationStrategy {
  readonly name: string;
  /** One line for --help and reports. */
  readonly description: string;
  /** Architectures this strategy exists on. */
  readonly arches: readonly Arch[];
  /** When prepare() runs relative to the segment loads (x86_64 builds its tables first). */
  readonly phase: "before-segments" | "after-segments";
  /**
   * "normal": an ordinary kexec_load image with source pages. "in-place": the runner loads the
   * segments straight into their destinations (a crash-type image over a region holding them).
   */
  readonly image?: "normal" | "in-place";
  /**
   * Set on a design shown for comparison that is known not to verify on some machines (the va-copy
   * series as posted): says why. Its failed verification is reported but does not fail `run`.
   */
  readonly reference?: string;
  prepare(ctx: StrategyContext): PreparedRelocation;
}

/** Empty page-table cost. */
export function noTables(): PageTableCost {
  return { pages: 0, bytes: 0, byLevel: {} };
}
