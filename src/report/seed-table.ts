/**
 * The seed's question as a table from real runs: mmu-off, linear-map-copy, va-copy (cleaned to PoC,
 * what correctness needs where the PoU is not the PoC) and va-copy-series (the series as posted, dc
 * cvau only) relocating one image on the simulated CPU, verified against each profile's cache rules,
 * their access streams through the timing model. docs/model.md carries the table;
 * test/model-seed-table.test.ts regenerates it and fails when the two disagree.
 *
 * Each number is the modeled time from the relocation routine's first instruction to the jump: the
 * cache maintenance before the MMU goes off (mmu-off: kexec_list_flush and kexec_segment_flush), the
 * relocation code's clean (MMU-on strategies), barriers and the MMU switch, TLB misses and table walks,
 * the list walk (none for va-copy, which walks it at load time), every page copy, the per-page or final
 * cache maintenance, and the write-back of lines still dirty in the caches when the run ends. Not the
 * load-time table build, purgatory, shutdown or the new kernel's start.
 */

import type { Segment } from "../kimage/kimage.js";
import type { PageSize } from "../machine/physmem.js";
import { modelTrace } from "../model/model.js";
import { builtinProfile, coherenceOf } from "../model/profiles.js";
import { findStrategy } from "../reloc/registry.js";
import type { ModelSummary } from "../reloc/result.js";
import { type RelocScenario, runStrategy } from "../reloc/run.js";
import { TraceBuffer } from "../reloc/trace.js";
import { qemuVirt4gMap } from "../scenario/default.js";
import { formatSeconds } from "./format.js";

const MiB = 1024 * 1024;

/** The strategies compared, in column order. */
export const SEED_STRATEGIES = ["mmu-off", "linear-map-copy", "va-copy", "va-copy-series"] as const;
export const SEED_PROFILES = ["neoverse-n1-server", "published-25mb"] as const;
export const SEED_GRANULES: readonly PageSize[] = [4096, 16384, 65536];
export const SEED_BYTES = 64 * MiB;
/**
 * The timing model simulates this many bytes of copies exactly per run (the rest extrapolated:
 * "sampled"): all of them, since sampling moves va-copy's single final clean pass by up to 18%.
 */
export const SEED_SAMPLE_BYTES = SEED_BYTES;

export interface SeedCell {
  strategy: string;
  verified: boolean;
  model: ModelSummary;
}

export interface SeedRow {
  profile: string;
  pageSize: PageSize;
  bytes: number;
  cells: SeedCell[];
}

/**
 * The scenario: QEMU virt with 4 GiB of RAM, one image of `bytes` (synthetic contents) at 0x48000000,
 * sources from the running kernel's free pages in a seeded random order (as `run` does).
 */
export function seedScenario(pageSize: PageSize, bytes = SEED_BYTES): RelocScenario {
  const segments: Segment[] = [
    { mem: 0x48000000, memsz: bytes, content: { kind: "synthetic", seed: 7, bufsz: bytes }, label: "kernel" },
  ];
  return {
    name: "seed-table",
    arch: "arm64",
    pageSize,
    vaBits: 48,
    memoryMap: qemuVirt4gMap(),
    segments,
    contentMode: "synthetic",
    seed: 1,
    freePages: { kind: "random", seed: 1 },
  };
}

/**
 * Run every strategy of the table once per granule on the simulated CPU, verified against the first
 * profile's cache rules (both profiles have their PoU short of their PoC, so the verdicts and va-copy's
 * clean are the same on both), and model its access stream on every profile, SEED_SAMPLE_BYTES of its
 * copies simulated exactly (at least 256 pages; `sampleBytes` changes it).
 */
export function seedRows(opts: { sampleBytes?: number } = {}): SeedRow[] {
  const rows: SeedRow[] = [];
  const profiles = SEED_PROFILES.map((n) => builtinProfile(n));
  const coherence = coherenceOf(profiles[0]!);
  for (const pageSize of SEED_GRANULES) {
    const sc = seedScenario(pageSize);
    const sample = Math.max(256, Math.floor((opts.sampleBytes ?? SEED_SAMPLE_BYTES) / pageSize));
    const cells = profiles.map(() => [] as SeedCell[]);
    for (const name of SEED_STRATEGIES) {
      const trace = new TraceBuffer();
      const run = runStrategy(sc, findStrategy(name), { sink: trace, coherence });
      profiles.forEach((p, i) => {
        const model = modelTrace(trace.raw(), p, { sample });
        cells[i]!.push({ strategy: name, verified: run.result.verified, model });
      });
    }
    for (const [i, p] of profiles.entries()) {
      rows.push({ profile: p.name, pageSize, bytes: SEED_BYTES, cells: cells[i]! });
    }
  }
  return rows;
}

/** The markdown tables, one per profile, as docs/model.md shows them. */
export function renderSeedTable(rows: readonly SeedRow[]): string {
  const out: string[] = [];
  for (const profile of SEED_PROFILES) {
    const mine = rows.filter((r) => r.profile === profile);
    if (mine.length === 0) continue;
    const limit = mine[0]!.cells[0]!.model.limitSeconds;
    out.push(
      `**${profile}** (${mine[0]!.bytes / MiB} MiB, physical limit 2 x bytes / bandwidth = ${formatSeconds(limit)}):`,
      "",
      "| granule | mmu-off | linear-map-copy | va-copy (clean to PoC) | va-copy-series (PoU only) |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const r of mine) {
      const cell = (c: SeedCell) =>
        `${formatSeconds(c.model.seconds)} (${c.model.ratioToLimit.toFixed(2)}x${c.model.sampled ? ", sampled" : ""})${c.verified ? "" : ", **fails verification**"}`;
      out.push(`| ${r.pageSize / 1024}K | ${r.cells.map(cell).join(" | ")} |`);
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}
