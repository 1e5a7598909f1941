/**
 * Timing-model benchmarks: how long modeling takes (goal: a 512 MiB relocation, 131072 pages, in
 * under 10 s including building its access stream), and the modeled figures quoted in docs/model.md
 * (the seed's question: va-copy vs linear-map-copy vs mmu-off on 4K/16K/64K granules at 64 MiB and
 * 512 MiB, with and without a page-crossing prefetcher) and every published point's prediction.
 *
 *   npx tsx bench/run.ts model
 */

import { modelTrace } from "../src/model/model.js";
import { BUILTIN_PROFILES, builtinProfile, type Profile } from "../src/model/profiles.js";
import { type ShapeStrategy, shapeTrace } from "../src/model/shapes.js";
import { validationRows } from "../src/model/validation.js";
import type { BenchFigure } from "./run.js";

const MiB = 1024 * 1024;

function crossing(p: Profile): Profile {
  const q = structuredClone(p);
  q.prefetcher.crossesPages = true;
  q.name = `${p.name}+crossing-prefetcher`;
  return q;
}

function timed<T>(f: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = f();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

export default {
  title: "timing model",
  run(): BenchFigure[] {
    const figures: BenchFigure[] = [];
    const n1 = builtinProfile("neoverse-n1-server");
    // Speed: 512 MiB of 4K pages, default sampling and exact.
    for (const s of ["mmu-off", "linear-map-copy", "va-copy"] as const) {
      const r = timed(() => modelTrace(shapeTrace(s, 512 * MiB).raw(), n1));
      figures.push({
        name: `model 512 MiB ${s} (4K, sampled=${r.value.sampled})`,
        value: r.seconds,
        unit: "s",
        goal: "< 10 s",
        met: r.seconds < 10,
      });
    }
    const exact = timed(() =>
      modelTrace(shapeTrace("linear-map-copy", 512 * MiB).raw(), n1, { sample: 1e9 }),
    );
    // Informative: the same without sampling (the goal applies to the default, sampled run).
    figures.push({ name: "model 512 MiB linear-map-copy (4K, exact)", value: exact.seconds, unit: "s" });
    // The published point, as a reference value.
    const pub = builtinProfile("published-25mb");
    for (const s of ["mmu-off", "linear-map-copy"] as const) {
      figures.push({
        name: `published-25mb 25 MiB ${s}`,
        value: modelTrace(shapeTrace(s, 25 * MiB).raw(), pub).seconds * 1e3,
        unit: "ms",
      });
    }
    // The seed's question.
    if (process.env.MODEL_TABLE !== "0") {
      for (const base of [n1, pub]) {
        for (const profile of [base, crossing(base)]) {
          for (const pageSize of [4096, 16384, 65536]) {
            for (const size of [64 * MiB, 512 * MiB]) {
              for (const s of ["mmu-off", "linear-map-copy", "va-copy"] as ShapeStrategy[]) {
                const m = modelTrace(shapeTrace(s, size, { pageSize }).raw(), profile);
                figures.push({
                  name: `${profile.name} ${pageSize / 1024}K ${size / MiB} MiB ${s} (x${m.ratioToLimit.toFixed(2)} limit)`,
                  value: m.seconds * 1e3,
                  unit: "ms",
                });
              }
            }
          }
        }
      }
    }
    if (process.env.MODEL_TABLE !== "0") {
      // Every published point, predicted on its machine's profile (docs/model.md, validation).
      for (const r of validationRows()) {
        figures.push({
          name: `${r.point.id} (${r.point.role}, ${r.point.profile}) error ${(r.error * 100).toFixed(1)}%`,
          value: r.predicted,
          unit: "s",
        });
      }
      // Every profile at 64 MiB.
      for (const [name, p] of Object.entries(BUILTIN_PROFILES)) {
        for (const s of ["mmu-off", "linear-map-copy", "va-copy", "x86-copy", "x86-swap"] as const) {
          const m = modelTrace(shapeTrace(s, 64 * MiB).raw(), p);
          figures.push({
            name: `${name} 64 MiB ${s} (x${m.ratioToLimit.toFixed(2)} limit)`,
            value: m.seconds * 1e3,
            unit: "ms",
          });
        }
      }
    }
    return figures;
  },
};
