/**
 * Data behind the report's charts (plain numbers; the HTML draws them with Chart.js):
 *
 *   tableCostCurves: bytes of relocation page tables vs relocated size, counted analytically
 *     (src/mmu/count.ts) - arm64 contiguous-VA copy (va-copy: source and destination each mapped
 *     page-granular at consecutive VAs) per granule, and the x86_64 identity map with 2M and 1G pages.
 *   timeCurves: modeled relocation seconds vs size per strategy (src/model: the strategy's access
 *     shape through the memory-system model of one profile, sampled).
 */

import type { Arch } from "../kimage/constants.js";
import { countTablePages } from "../mmu/count.js";
import { createFormat } from "../mmu/formats.js";
import { modelTrace } from "../model/model.js";
import type { Profile } from "../model/profiles.js";
import { type ShapeStrategy, shapeTrace } from "../model/shapes.js";

const MiB = 1024 * 1024;

export interface Curve {
  label: string;
  /** [bytes relocated, value] */
  points: [number, number][];
}

/** Modeled relocation seconds of one loop shape over free-page layouts and seeds (spreadOverLayouts). */
export interface SpreadRow {
  strategy: string;
  /** What each run stands for and its modeled seconds, in run order. */
  runs: { layout: string; seconds: number }[];
  min: number;
  max: number;
}

export interface ReportCurves {
  tableCost: Curve[];
  time: { profile: string; curves: Curve[] } | null;
  /** The spread over free-page policies and seeds at the run's relocated size (absent in old reports). */
  spread?: { profile: string; bytes: number; rows: SpreadRow[] } | null;
}

export const DEFAULT_TABLE_SIZES: readonly number[] = [
  16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
].map((m) => m * MiB);
export const DEFAULT_TIME_SIZES: readonly number[] = [8 * MiB, 32 * MiB, 128 * MiB];

export function tableCostCurves(sizes: readonly number[] = DEFAULT_TABLE_SIZES): Curve[] {
  const out: Curve[] = [];
  for (const granule of [4096, 16384, 65536] as const) {
    const f = createFormat({ arch: "arm64", granule, vaBits: 48 });
    out.push({
      label: `arm64 va-copy ${granule / 1024}K`,
      points: sizes.map((n) => [
        n,
        countTablePages(
          f,
          [
            { half: 0, va: 0, pa: 0x40000000, size: n },
            { half: 0, va: 2 ** 46, pa: 0x40000000 + 2 ** 40, size: n },
          ],
          { pageGranular: true },
        ).bytes,
      ]),
    });
  }
  // linear-map-copy maps the whole linear map (all RAM), whatever is relocated: x is the RAM mapped.
  const lm = createFormat({ arch: "arm64", granule: 4096, vaBits: 48 });
  for (const pageGranular of [false, true]) {
    out.push({
      label: `arm64 linear map 4K, ${pageGranular ? "page-granular" : "block-mapped"} (x: RAM mapped)`,
      points: sizes.map((n) => [
        n,
        countTablePages(lm, [{ half: 1, va: 0, pa: 0x40000000, size: n }], {
          pageGranular,
          contiguous: !pageGranular,
        }).bytes,
      ]),
    });
  }
  const x86 = createFormat({ arch: "x86_64", levels: 4 });
  for (const gb of [false, true]) {
    out.push({
      label: `x86_64 identity ${gb ? "1G" : "2M"} pages`,
      points: sizes.map((n) => [
        n,
        countTablePages(x86, [{ half: 0, va: 2 ** 32, pa: 2 ** 32, size: n }], { largestBlocks: gb }).bytes,
      ]),
    });
  }
  return out;
}

export function shapeStrategiesFor(arch: Arch): ShapeStrategy[] {
  return arch === "arm64" ? ["mmu-off", "va-copy", "linear-map-copy"] : ["x86-copy", "x86-swap"];
}

/** Modeled seconds per strategy shape and size (scattered source pages, as a long-running machine has). */
export function timeCurves(
  arch: Arch,
  pageSize: number,
  profile: Profile,
  sizes: readonly number[] = DEFAULT_TIME_SIZES,
  onStep?: (done: number, total: number) => void,
): Curve[] {
  const strategies = shapeStrategiesFor(arch);
  const total = strategies.length * sizes.length;
  let done = 0;
  return strategies.map((s) => ({
    label: s,
    points: sizes.map((n): [number, number] => {
      const trace = shapeTrace(s, n, { pageSize, layout: "scattered", seed: 1 });
      const seconds = modelTrace(trace.raw(), profile, { sample: 2048 }).seconds;
      onStep?.(++done, total);
      return [n, seconds];
    }),
  }));
}

/**
 * The spread of each strategy's modeled relocation time over the running kernel's free-page order,
 * at `bytes`: the order decides where the source pages are, so each policy is modeled by the loop shape
 * over that layout: lowest and highest give contiguous sources; random:1..3 and fragmented scatter them
 * (seeded shuffles 1, 2, 3 and 4). Modeled on loop shapes (src/model/shapes.ts), not on full runs.
 */
export function spreadOverLayouts(
  arch: Arch,
  pageSize: number,
  profile: Profile,
  bytes: number,
): SpreadRow[] {
  const layouts: { layout: string; opts: { layout: "contiguous" | "scattered"; seed: number } }[] = [
    { layout: "lowest / highest (contiguous)", opts: { layout: "contiguous", seed: 1 } },
    { layout: "random:1", opts: { layout: "scattered", seed: 1 } },
    { layout: "random:2", opts: { layout: "scattered", seed: 2 } },
    { layout: "random:3", opts: { layout: "scattered", seed: 3 } },
    { layout: "fragmented (seed 4)", opts: { layout: "scattered", seed: 4 } },
  ];
  const n = Math.max(pageSize * 64, Math.min(bytes, 32 * MiB));
  const scale = bytes > 0 ? bytes / n : 1;
  return shapeStrategiesFor(arch).map((s) => {
    const runs = layouts.map((l) => ({
      layout: l.layout,
      seconds:
        modelTrace(shapeTrace(s, n, { pageSize, ...l.opts }).raw(), profile, { sample: 2048 }).seconds *
        scale,
    }));
    const secs = runs.map((r) => r.seconds);
    return { strategy: s, runs, min: Math.min(...secs), max: Math.max(...secs) };
  });
}
