/**
 * What-if sweeps (modeled time against image size for strategies x profiles, from the strategy shapes
 * of shapes.ts) and their renderings: an aligned text table of ModelSummary rows and a self-contained
 * SVG chart of time vs size (log-log, one line per strategy/profile, dashed physical limit), usable in
 * the HTML report and in a browser.
 */

import type { ModelSummary } from "../reloc/result.js";
import { formatBytes, formatSeconds, renderTable } from "../report/format.js";
import { COMPONENTS, modelTrace } from "./model.js";
import type { Profile } from "./profiles.js";
import { type PageLayout, type ShapeStrategy, shapeTrace } from "./shapes.js";

export interface SweepPoint {
  profile: string;
  strategy: string;
  bytes: number;
  seconds: number;
  limitSeconds: number;
  ratioToLimit: number;
  sampled: boolean;
}

export interface SweepOptions {
  profiles: Profile[];
  strategies: ShapeStrategy[];
  sizes: number[];
  pageSize?: number;
  layout?: PageLayout;
  /** Passed to modelTrace. */
  sample?: number;
}

export function modelSweep(opts: SweepOptions): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const profile of opts.profiles) {
    for (const strategy of opts.strategies) {
      for (const bytes of opts.sizes) {
        const trace = shapeTrace(strategy, bytes, {
          pageSize: opts.pageSize ?? 4096,
          layout: opts.layout ?? "contiguous",
        });
        const m = modelTrace(trace.raw(), profile, {
          bytes,
          ...(opts.sample !== undefined ? { sample: opts.sample } : {}),
        });
        out.push({
          profile: profile.name,
          strategy,
          bytes,
          seconds: m.seconds,
          limitSeconds: m.limitSeconds,
          ratioToLimit: m.ratioToLimit,
          sampled: m.sampled,
        });
      }
    }
  }
  return out;
}

/** One row per (strategy, ModelSummary): seconds, multiple of the limit, breakdown, sampled. */
export function renderModelTable(rows: { strategy: string; model: ModelSummary }[]): string {
  const header = ["strategy", "profile", "time", "limit", "x limit", ...COMPONENTS, "sampled"];
  const body = rows.map(({ strategy, model }) => [
    strategy,
    model.profile,
    formatSeconds(model.seconds),
    formatSeconds(model.limitSeconds),
    `${model.ratioToLimit.toFixed(2)}x`,
    ...COMPONENTS.map((c) => formatSeconds(model.breakdown[c] ?? 0)),
    model.sampled ? "yes" : "no",
  ]);
  return renderTable(header, body, ["left", "left"]);
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** An SVG line chart of modeled seconds against bytes (log-log), with each profile's limit dashed. */
export function sweepChartSvg(points: SweepPoint[], title = "Modeled relocation time vs image size"): string {
  const W = 720;
  const H = 420;
  const L = 70;
  const R = 220;
  const T = 40;
  const B = 50;
  if (points.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"></svg>`;
  const xs = points.map((p) => p.bytes);
  const ys = points.flatMap((p) => [p.seconds, p.limitSeconds]).filter((v) => v > 0);
  const x0 = Math.log10(Math.min(...xs));
  const x1 = Math.max(x0 + 1e-9, Math.log10(Math.max(...xs)));
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (b: number) => L + ((Math.log10(b) - x0) / (x1 - x0)) * (W - L - R);
  const py = (s: number) => T + (1 - (Math.log10(s) - y0) / Math.max(1e-9, y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<text x="${L}" y="20" font-size="14">${esc(title)}</text>`);
  for (let e = y0; e <= y1; e++) {
    const y = py(10 ** e).toFixed(1);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 6}" y="${y}" text-anchor="end" dy="4">${esc(formatSeconds(10 ** e))}</text>`);
  }
  const sizes = [...new Set(xs)].sort((a, b) => a - b);
  for (const b of sizes) {
    const x = px(b).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${esc(formatBytes(b))}</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">image size</text>`);
  const series = new Map<string, SweepPoint[]>();
  for (const p of points) {
    const key = `${p.strategy} @ ${p.profile}`;
    if (!series.has(key)) series.set(key, []);
    series.get(key)!.push(p);
  }
  const limits = new Map<string, SweepPoint[]>();
  for (const p of points) {
    if (!limits.has(p.profile)) limits.set(p.profile, []);
    const l = limits.get(p.profile)!;
    if (!l.some((q) => q.bytes === p.bytes)) l.push(p);
  }
  let i = 0;
  const legend = (label: string, color: string, dashed: boolean) => {
    const y = T + 14 * i;
    parts.push(
      `<line x1="${W - R + 10}" x2="${W - R + 30}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="4 3"' : ""}/>`,
    );
    parts.push(`<text x="${W - R + 34}" y="${y + 4}">${esc(label)}</text>`);
    i++;
  };
  for (const [key, pts] of series) {
    const color = PALETTE[i % PALETTE.length]!;
    const d = pts
      .sort((a, b) => a.bytes - b.bytes)
      .map((p, k) => `${k === 0 ? "M" : "L"}${px(p.bytes).toFixed(1)},${py(p.seconds).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    legend(key, color, false);
  }
  for (const [profile, pts] of limits) {
    const d = pts
      .sort((a, b) => a.bytes - b.bytes)
      .map((p, k) => `${k === 0 ? "M" : "L"}${px(p.bytes).toFixed(1)},${py(p.limitSeconds).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="#555" stroke-width="1" stroke-dasharray="4 3"/>`);
    legend(`limit @ ${profile}`, "#555", true);
  }
  parts.push("</svg>");
  return parts.join("\n");
}
