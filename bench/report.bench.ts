/**
 * The report path: the page map of the default image, the HTML report of the default run (memory map,
 * tables, inlined Chart.js; without and with the cost-vs-size curves), and scenario loading.
 * Goal (issue #6): `run` with a report stays interactive: the HTML without curves renders in < 0.5 s,
 * the curves add < 5 s on a 2-core machine.
 */

import { readFileSync } from "node:fs";
import { builtinProfile } from "../src/model/profiles.js";
import { findStrategy } from "../src/reloc/registry.js";
import { runScenario, runStrategy } from "../src/reloc/run.js";
import { tableCostCurves, timeCurves } from "../src/report/curves.js";
import { renderHtmlReport } from "../src/report/html.js";
import { chartJsSource } from "../src/report/node/chart-source.js";
import { buildPageMap } from "../src/report/pagemap.js";
import { defaultScenario } from "../src/scenario/default.js";
import { loadScenario } from "../src/scenario/load.js";
import type { BenchFigure, BenchModule } from "./run.js";

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, (performance.now() - t0) / 1000];
}

export default {
  title: "HTML report and scenario loading",
  run(): BenchFigure[] {
    const sc = defaultScenario("arm64", "synthetic", 1);
    const out = runScenario(sc);
    if (!out.ok) throw new Error("default scenario refused");
    const run = runStrategy(sc, findStrategy("mmu-off"));
    const [pageMap, tMap] = time(() => buildPageMap(run.image, run.machine.mem));
    out.result.pageMap = pageMap;
    const chartJs = chartJsSource();
    const [html, tHtml] = time(() => renderHtmlReport(out.result, { chartJs }));
    const [curves, tCurves] = time(() => ({
      tableCost: tableCostCurves(),
      time: {
        profile: "cortex-a72-board",
        curves: timeCurves("arm64", 4096, builtinProfile("cortex-a72-board")),
      },
    }));
    const [full] = time(() => renderHtmlReport(out.result, { chartJs, curves }));
    const json = JSON.parse(readFileSync(new URL("../examples/qemu-virt-4g.json", import.meta.url), "utf8"));
    const [, tLoad] = time(() => {
      for (let i = 0; i < 1000; i++) loadScenario(json);
    });
    return [
      { name: "page map of the default image (23,568 pages)", value: tMap * 1e3, unit: "ms" },
      { name: "HTML report without curves", value: tHtml, unit: "s", goal: "< 0.5 s", met: tHtml < 0.5 },
      { name: "HTML report size without curves", value: html.length / 1024, unit: "KiB" },
      {
        name: "cost-vs-size curves (tables + modeled time)",
        value: tCurves,
        unit: "s",
        goal: "< 5 s",
        met: tCurves < 5,
      },
      { name: "HTML report size with curves", value: full.length / 1024, unit: "KiB" },
      { name: "loadScenario (qemu-virt-4g.json)", value: (tLoad / 1000) * 1e6, unit: "µs/call" },
    ];
  },
} satisfies BenchModule;
