/**
 * `tables --strategy` / `walk --strategy`: a strategy's own translation tables, as its prepare() built
 * them, on the default scenario of an architecture (src/scenario/default.ts) run through that strategy.
 * Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { PageSize, PhysMem } from "../machine/physmem.js";
import type { TranslationFormat } from "../mmu/types.js";
import { findStrategy } from "../reloc/registry.js";
import { runStrategy } from "../reloc/run.js";
import type { StrategyOptions } from "../reloc/strategy.js";
import { defaultScenario } from "../scenario/default.js";

export interface StrategyTables {
  strategy: string;
  mem: PhysMem;
  format: TranslationFormat;
  /** Root table PAs (-1: no table in that half); x86_64: the same CR3 twice. */
  ttbr0: number;
  ttbr1: number;
  /** Table pages the strategy allocated. */
  pages: number;
  bytes: number;
  verified: boolean;
}

/**
 * Run `name` on the default scenario (arch, granule, VA bits, strategy options) and return the tables
 * its prepare() built. E_FIELD_VALUE for an unknown strategy or one without tables (mmu-off, in-place:
 * the MMU is off).
 */
export function strategyTables(
  arch: Arch,
  name: string,
  opts: { pageSize?: PageSize; vaBits?: number } & Partial<StrategyOptions> = {},
): StrategyTables {
  const strategy = findStrategy(name);
  const sc = defaultScenario(arch, "synthetic", 1, {
    ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
    ...(opts.vaBits !== undefined ? { vaBits: opts.vaBits } : {}),
  });
  const run = runStrategy(sc, strategy, opts);
  const t = run.prepared.translation;
  if (t === undefined) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `strategy "${name}" builds no translation tables (it relocates with the MMU off)`,
      { field: "--strategy" },
    );
  }
  return {
    strategy: name,
    mem: run.machine.mem,
    format: t.format,
    ttbr0: t.ttbr0,
    ttbr1: t.ttbr1,
    pages: run.result.pageTables.pages,
    bytes: run.result.pageTables.bytes,
    verified: run.result.verified,
  };
}
