/**
 * The HTML report: one self-contained file (no network) with
 *   - an SVG physical memory map: one row per RAM bank, lanes for the memory map and segments, the
 *     density of source pages, in-place pages, indirection pages, the kimage's control pages and each
 *     strategy's table pages; wheel to zoom a row, drag to pan, double-click to reset, click for details;
 *   - the per-strategy comparison (table + Chart.js bar chart);
 *   - Chart.js charts of page-table cost vs size per granule and modeled time vs size per strategy;
 *   - the raw JSON.
 * Chart.js (MIT) is inlined from the source the caller passes (chartJs), so this module stays
 * browser-safe. Every string from the input goes through escapeHtml or jsonForScript.
 */

import type { RebootReport } from "../model/reboot.js";
import type { RunResult, StrategyResult } from "../reloc/result.js";
import type { ReportCurves } from "./curves.js";
import { escapeHtml, jsonForScript } from "./escape.js";
import { FORMAT_BYTES_SCRIPT, formatBytes, formatCount, formatSeconds } from "./format.js";
import { PHASE_COLORS, strategyPalette } from "./palette.js";
import { secondsWithRange } from "./run-text.js";

export interface HtmlReportOptions {
  /** The Chart.js UMD bundle's source text (node_modules/chart.js/dist/chart.umd.js). */
  chartJs: string;
  curves?: ReportCurves;
  /** Shown under the title, e.g. the command line. Escaped. */
  subtitle?: string;
}

const SEGMENT_COLORS = [
  "#2f6fde",
  "#e0832f",
  "#2e9e5b",
  "#b446c8",
  "#d64545",
  "#1aa3a3",
  "#8a6d3b",
  "#5b5bd6",
];

const num = (hex: string) => Number.parseInt(hex, 16);
const hex = (n: number) => `0x${n.toString(16)}`;

interface Bank {
  start: number;
  end: number;
  /** Row title; default "RAM start-end (size)". */
  title?: string;
}

/**
 * The range where the image's pages are (segments, source/indirection/control pages, tables), with a
 * margin: the detail row at the top of the map, when it is much smaller than the banks.
 */
export function focusRange(result: RunResult): Bank | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (s: number, e: number) => {
    lo = Math.min(lo, s);
    hi = Math.max(hi, e);
  };
  for (const s of result.kimage.segments) take(num(s.mem), num(s.mem) + s.memsz);
  const pm = result.pageMap;
  if (pm !== undefined) {
    for (const list of [pm.source, pm.indirection, pm.control]) {
      for (const [b] of list) take(num(b), num(b) + pm.bucketBytes);
    }
  }
  for (const st of result.strategies)
    for (const p of st.controlPages) take(num(p), num(p) + result.machine.pageSize);
  if (!(hi > lo)) return undefined;
  const ram = ramBanks(result).reduce((a, b) => a + (b.end - b.start), 0);
  if (hi - lo > ram / 4) return undefined;
  const margin = Math.max(result.machine.pageSize, Math.round((hi - lo) * 0.04));
  const start = Math.max(0, lo - margin);
  const end = hi + margin;
  return {
    start,
    end,
    title: `detail: where the image's pages are, ${hex(start)}–${hex(end)} (${formatBytes(end - start)})`,
  };
}

/** RAM banks (merged adjacent ram regions), at most `max` rows: the smallest gaps are merged first. */
export function ramBanks(result: RunResult, max = 12): Bank[] {
  const rams = result.machine.memoryMap
    .filter((r) => r.type === "ram")
    .map((r) => ({ start: num(r.start), end: num(r.end) }))
    .sort((a, b) => a.start - b.start);
  const banks: Bank[] = [];
  for (const r of rams) {
    const last = banks.at(-1);
    if (last !== undefined && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else banks.push({ ...r });
  }
  while (banks.length > max) {
    let best = 1;
    for (let i = 2; i < banks.length; i++) {
      if (banks[i]!.start - banks[i - 1]!.end < banks[best]!.start - banks[best - 1]!.end) best = i;
    }
    banks[best - 1]!.end = banks[best]!.end;
    banks.splice(best, 1);
  }
  return banks;
}

const W = 1000;
const LABEL_W = 150;
const TRACK_W = W - LABEL_W - 10;
const LANE_H = 13;
const ROW_HEAD = 18;
const AXIS_H = 16;
/** Track coordinates: 0..SCALE across a bank (nested SVG viewBox units). */
const SCALE = 1_000_000;

interface Lane {
  id: string;
  label: string;
}

function lanesFor(result: RunResult): Lane[] {
  const lanes: Lane[] = [{ id: "memory", label: "memory map, segments" }];
  if (result.pageMap !== undefined) {
    lanes.push(
      { id: "source", label: "source pages" },
      { id: "inplace", label: "in-place pages" },
      { id: "indirection", label: "indirection pages" },
    );
  }
  lanes.push({ id: "control", label: "control pages" });
  result.strategies.forEach((s, i) => {
    if (s.controlPages.length > 0) lanes.push({ id: `tables-${i}`, label: `tables: ${s.name}` });
  });
  return lanes;
}

/** The SVG memory map (server-rendered; the page script adds zoom, pan and the detail view). */
export function renderMemoryMapSvg(result: RunResult): string {
  const focus = focusRange(result);
  const banks = focus !== undefined ? [focus, ...ramBanks(result)] : ramBanks(result);
  const lanes = lanesFor(result);
  const palette = strategyPalette(result.strategies.map((st) => st.name));
  const laneIndex = new Map(lanes.map((l, i) => [l.id, i]));
  const rowH = ROW_HEAD + lanes.length * LANE_H + AXIS_H;
  const height = banks.length * (rowH + 10) + 4;
  const pm = result.pageMap;
  const out: string[] = [];
  out.push(
    `<svg id="memory-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="100%" role="img" aria-label="physical memory map">`,
  );
  out.push(
    `<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#c9ccd3"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8d929c" stroke-width="2"/></pattern></defs>`,
  );
  banks.forEach((bank, bi) => {
    const y0 = bi * (rowH + 10) + 2;
    const size = bank.end - bank.start;
    const x = (a: number) =>
      Math.round(((Math.max(bank.start, Math.min(bank.end, a)) - bank.start) / size) * SCALE * 10) / 10;
    const inBank = (s: number, e: number) => e > bank.start && s < bank.end;
    const laneY = (id: string) => ROW_HEAD + laneIndex.get(id)! * LANE_H;
    out.push(`<g class="bank" data-bank="${bi}">`);
    out.push(
      `<text class="bank-title" x="0" y="${y0 + 12}">${escapeHtml(bank.title ?? `RAM ${hex(bank.start)}–${hex(bank.end)} (${formatBytes(size)})`)}</text>`,
    );
    lanes.forEach((l, li) => {
      out.push(
        `<text class="lane-label" x="${LABEL_W - 6}" y="${y0 + ROW_HEAD + li * LANE_H + 10}" text-anchor="end">${escapeHtml(l.label)}</text>`,
      );
    });
    const lanesH = lanes.length * LANE_H;
    out.push(
      `<svg class="track" x="${LABEL_W}" y="${y0}" width="${TRACK_W}" height="${ROW_HEAD + lanesH}" viewBox="0 0 ${SCALE} ${ROW_HEAD + lanesH}" preserveAspectRatio="none" data-start="${bank.start}" data-size="${size}">`,
    );
    out.push(`<rect class="lane-bg" x="0" y="${ROW_HEAD}" width="${SCALE}" height="${lanesH}"/>`);
    // Memory map: RAM, reserved, devices.
    for (const r of result.machine.memoryMap) {
      const s = num(r.start);
      const e = num(r.end);
      if (!inBank(s, e)) continue;
      const cls = r.type === "ram" ? "ram" : r.type === "reserved" ? "reserved" : "device";
      const info = `${r.type} ${r.name}: ${r.start}-${r.end} (${formatBytes(e - s)})`;
      out.push(
        `<rect class="mark ${cls}" x="${x(s)}" y="${laneY("memory") + 1}" width="${Math.max(Math.round((x(e) - x(s)) * 10) / 10, 1)}" height="${LANE_H - 2}" data-info=""><title>${escapeHtml(info)}</title></rect>`,
      );
    }
    result.kimage.segments.forEach((seg, si) => {
      const s = num(seg.mem);
      const e = s + seg.memsz;
      if (!inBank(s, e)) return;
      const info = `segment ${si} "${seg.label}": ${seg.mem}-${hex(e)}, memsz ${formatBytes(seg.memsz)}, bufsz ${formatBytes(seg.bufsz)}`;
      out.push(
        `<rect class="mark segment" x="${x(s)}" y="${laneY("memory") + 2}" width="${Math.max(Math.round((x(e) - x(s)) * 10) / 10, 1)}" height="${LANE_H - 4}" fill="${SEGMENT_COLORS[si % SEGMENT_COLORS.length]}" data-info=""><title>${escapeHtml(info)}</title></rect>`,
      );
      out.push(
        `<line class="tick segment-edge" x1="${x(s)}" x2="${x(s)}" y1="${laneY("memory")}" y2="${laneY("memory") + LANE_H}" stroke="${SEGMENT_COLORS[si % SEGMENT_COLORS.length]}"/>`,
      );
    });
    if (pm !== undefined) {
      const perBucket = pm.bucketBytes / pm.pageSize;
      const density = (id: string, list: [string, number][], cls: string, what: string) => {
        for (const [b, n] of list) {
          const s = num(b);
          const e = s + pm.bucketBytes;
          if (!inBank(s, e)) continue;
          const info = `${formatCount(n)} ${what} in ${b}-${hex(e)} (${Math.round((100 * n) / perBucket)}% of the pages)`;
          const opacity = Math.min(1, 0.2 + (0.8 * n) / perBucket).toFixed(2);
          out.push(
            `<rect class="mark ${cls}" x="${x(s)}" y="${laneY(id) + 1}" width="${Math.max(Math.round((x(e) - x(s)) * 10) / 10, 1)}" height="${LANE_H - 2}" fill-opacity="${opacity}" data-info=""><title>${escapeHtml(info)}</title></rect>`,
          );
        }
      };
      density("source", pm.source, "source", "source pages");
      density("inplace", pm.inPlace, "inplace", "in-place source pages");
      ticks(
        out,
        pm.indirection,
        pm.bucketBytes,
        inBank,
        x,
        laneY("indirection"),
        "indirection",
        "indirection pages",
      );
      ticks(out, pm.control, pm.bucketBytes, inBank, x, laneY("control"), "control", "kimage control pages");
    } else {
      const control: [string, number][] = [];
      if (result.kimage.controlCodePage !== null) control.push([result.kimage.controlCodePage, 1]);
      if (result.kimage.swapPage !== null) control.push([result.kimage.swapPage, 1]);
      ticks(
        out,
        control,
        result.machine.pageSize,
        inBank,
        x,
        laneY("control"),
        "control",
        "kimage control pages",
      );
    }
    result.strategies.forEach((st, si) => {
      if (st.controlPages.length === 0) return;
      const bucket = Math.max(result.machine.pageSize, 2 ** Math.ceil(Math.log2(size / 2048)));
      const counts = new Map<number, number>();
      for (const p of st.controlPages) {
        const b = Math.floor(num(p) / bucket) * bucket;
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
      const list = [...counts.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([b, n]): [string, number] => [hex(b), n]);
      ticks(
        out,
        list,
        bucket,
        inBank,
        x,
        laneY(`tables-${si}`),
        `table s${si}`,
        `${st.name} table/control pages`,
        palette[st.name],
      );
    });
    out.push("</svg>");
    // Axis (the page script rewrites the labels on zoom).
    const axisY = y0 + ROW_HEAD + lanesH + 12;
    out.push(`<g class="axis" data-bank="${bi}">`);
    for (let t = 0; t <= 4; t++) {
      const a = bank.start + Math.round((size * t) / 4);
      out.push(
        `<text class="axis-label" x="${LABEL_W + (TRACK_W * t) / 4}" y="${axisY}" text-anchor="${t === 0 ? "start" : t === 4 ? "end" : "middle"}">${escapeHtml(hex(a))}</text>`,
      );
    }
    out.push("</g></g>");
  });
  out.push("</svg>");
  return out.join("\n");
}

function ticks(
  out: string[],
  list: [string, number][],
  bucketBytes: number,
  inBank: (s: number, e: number) => boolean,
  x: (a: number) => number,
  y: number,
  cls: string,
  what: string,
  stroke?: string,
): void {
  for (const [b, n] of list) {
    const s = num(b);
    const e = s + bucketBytes;
    if (!inBank(s, e)) continue;
    const mid = Math.round((x(s) + x(e)) * 5) / 10;
    const info = `${formatCount(n)} ${what} in ${b}-${hex(e)}`;
    out.push(
      `<line class="mark tick ${cls}" x1="${mid}" x2="${mid}" y1="${y + 1}" y2="${y + LANE_H - 1}"${stroke !== undefined ? ` stroke="${stroke}"` : ""} data-info=""><title>${escapeHtml(info)}</title></line>`,
    );
  }
}

function modelSeconds(s: StrategyResult): number | null {
  return s.model !== undefined && s.model.length > 0 ? s.model[0]!.seconds : null;
}

function strategyTable(result: RunResult, palette: Record<string, string>): string {
  const rows = result.strategies.map((s) => {
    const t = modelSeconds(s);
    const m = s.model?.[0];
    return `<tr><td><span class="swatch" style="background:${palette[s.name]}"></span>${escapeHtml(s.name)}</td>
<td class="${s.verified ? "ok" : "bad"}">${s.verified ? "yes" : "NO"}</td>
<td>${formatCount(s.pageTables.pages)}</td><td>${escapeHtml(formatBytes(s.pageTables.bytes))}</td>
<td>${formatCount(s.counters.controlPages)}</td><td>${formatCount(s.counters.entriesRead)}</td>
<td>${formatCount(s.counters.tlbMisses)}</td><td>${escapeHtml(formatBytes(s.counters.bytesCopied))}</td>
<td>${t === null ? "–" : escapeHtml(m?.range !== undefined ? secondsWithRange(t, m.range) : formatSeconds(t))}</td></tr>
<tr class="desc"><td colspan="9">${escapeHtml(s.description)}</td></tr>`;
  });
  const profile = result.strategies.find((s) => s.model?.length)?.model?.[0]?.profile;
  return `<table class="grid"><thead><tr><th>strategy</th><th>verified</th><th>table pages</th><th>table bytes</th>
<th>control pages</th><th>entries walked</th><th>TLB misses</th><th>copied</th><th>modeled time: likely [low .. high]</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>${profile !== undefined ? `<p class="note">Modeled time: the timing model on profile ${escapeHtml(profile)}, the most likely value and the range its sourced input ranges allow (docs/model.md).</p>` : ""}
<p class="note" id="verified-means">${escapeHtml(verifiedMeaning(result))}</p>`;
}

/**
 * "What verified means", written from the result's own verification fields: the byte comparison every
 * result has, plus whatever a strategy's `verification` record says it checked (its scalar and
 * string-list fields, by name), so the line stays true as verification grows.
 */
export function verifiedMeaning(result: RunResult): string {
  const base =
    "Verified: after the simulated relocation, every destination byte of every segment equals the segment's contents";
  const extra = new Map<string, string>();
  for (const s of result.strategies) {
    const v = (s as unknown as { verification?: unknown }).verification;
    if (v === null || typeof v !== "object") continue;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (extra.has(k)) continue;
      if (typeof x === "string" || typeof x === "boolean" || typeof x === "number") extra.set(k, String(x));
      else if (Array.isArray(x) && x.every((e) => typeof e === "string"))
        extra.set(k, (x as string[]).join(", "));
    }
  }
  const failed = result.strategies.filter((s) => !s.verified).map((s) => s.name);
  const checks = [...extra.entries()].map(([k, x]) => `${k}: ${x}`);
  return `${base}${checks.length > 0 ? `; also checked (${checks.join("; ")})` : " (nothing about caches or the new kernel's entry conditions is checked by this result)"}.${failed.length > 0 ? ` Failed: ${failed.join(", ")}.` : ""}`;
}

function segmentTable(result: RunResult): string {
  const rows = result.kimage.segments.map(
    (s, i) =>
      `<tr><td><span class="swatch" style="background:${SEGMENT_COLORS[i % SEGMENT_COLORS.length]}"></span>${escapeHtml(s.label)}</td><td class="mono">${escapeHtml(s.mem)}</td><td class="mono">${escapeHtml(hex(num(s.mem) + s.memsz))}</td><td>${escapeHtml(formatBytes(s.memsz))}</td><td>${escapeHtml(formatBytes(s.bufsz))}</td></tr>`,
  );
  return `<table class="grid"><thead><tr><th>segment</th><th>mem</th><th>end</th><th>memsz</th><th>bufsz</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function failures(result: RunResult): string {
  const items = result.strategies.flatMap((s) =>
    s.failures
      .slice(0, 20)
      .map((f) => `<li><b>${escapeHtml(s.name)}</b> [${escapeHtml(f.kind)}] ${escapeHtml(f.message)}</li>`),
  );
  return items.length === 0
    ? ""
    : `<section><h2>Verification failures</h2><ul class="failures">${items.join("")}</ul></section>`;
}

const CSS = `
:root{--fg:#1d2330;--muted:#5c6473;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px;font-weight:600}header p{margin:4px 0 0;color:#b8c0cf}
main{max-width:1180px;margin:0 auto;padding:18px 24px 40px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:0 0 18px}
h2{font-size:16px;margin:0 0 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:0 0 18px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}.card .k{color:var(--muted);font-size:12px}.card .v{font-size:18px;font-weight:600}
.grid{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}.note{color:var(--muted);font-size:12px;margin:6px 0 0}.grid th,.grid td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
.grid th:first-child,.grid td:first-child{text-align:left}.grid tr.desc td{color:var(--muted);font-size:12px;text-align:left;white-space:normal;padding-top:0}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}.ok{color:#2e9e5b;font-weight:600}.bad{color:#d64545;font-weight:700}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
#memory-map{display:block;user-select:none}#memory-map text{font-size:11px;fill:var(--muted)}#memory-map .bank-title{fill:var(--fg);font-weight:600;font-size:12px}
.lane-bg{fill:#fafbfc}.ram{fill:#e9eef6}.reserved{fill:url(#hatch)}.device{fill:#f1e7d0}.segment{fill-opacity:.85}
.source{fill:#2f6fde}.inplace{fill:#2e9e5b}.tick{stroke-width:2px;vector-effect:non-scaling-stroke}.tick.indirection{stroke:#e0832f}.tick.control{stroke:#1d2330}.segment-edge{stroke-width:1px;vector-effect:non-scaling-stroke}
.mark{cursor:pointer}.mark:hover{stroke:#000;stroke-width:1px;vector-effect:non-scaling-stroke}
.track{cursor:grab}.maptools{display:flex;gap:8px;align-items:center;margin:0 0 8px;color:var(--muted);font-size:12px}
.maptools button{font:inherit;padding:2px 10px;border:1px solid var(--line);background:#fff;border-radius:4px;cursor:pointer}
#detail{min-height:22px;margin-top:6px;padding:6px 10px;background:#f3f5f9;border-radius:4px;font-family:ui-monospace,Menlo,monospace;font-size:12px}
.legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;color:var(--muted);margin-top:8px}.legend i{display:inline-block;width:14px;height:10px;margin-right:5px;vertical-align:middle;border-radius:2px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}@media (max-width:900px){.charts{grid-template-columns:1fr}}
.chartbox{position:relative;height:320px}
pre{max-height:420px;overflow:auto;background:#f3f5f9;padding:10px;border-radius:4px;font-size:12px}
.unknown{color:var(--muted);font-style:italic}#reboot-phases td,#reboot-phases th{white-space:normal;font-size:12px}#reboot-savings td:first-child{white-space:normal;max-width:320px}#reboot-savings td:nth-child(3){white-space:normal}#reboot-savings td:last-child{min-width:360px}.hows{font-size:12px;color:var(--muted);margin:8px 0;padding-left:18px}h3{font-size:14px;margin:14px 0 6px}
.failures{color:#d64545}footer{color:var(--muted);font-size:12px;text-align:center;margin-top:10px}
`;

const PAGE_SCRIPT = `
(function(){
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var result = data.result;
  function hex(n){ return "0x" + Math.round(n).toString(16); }
  ${FORMAT_BYTES_SCRIPT}
  // Memory map: zoom (wheel), pan (drag), reset (double-click), details (click).
  var detail = document.getElementById("detail");
  var tracks = Array.prototype.slice.call(document.querySelectorAll("#memory-map svg.track"));
  var SCALE = ${SCALE};
  tracks.forEach(function(track, bi){
    var vb = track.viewBox.baseVal, start = Number(track.dataset.start), size = Number(track.dataset.size);
    var axis = document.querySelectorAll("#memory-map g.axis")[bi];
    function relabel(){
      var labels = axis.querySelectorAll("text");
      for (var t=0;t<labels.length;t++){ labels[t].textContent = hex(start + (vb.x + vb.width*t/(labels.length-1))/SCALE*size); }
    }
    function clamp(){ vb.width=Math.min(SCALE,Math.max(vb.width,SCALE/65536)); vb.x=Math.min(SCALE-vb.width,Math.max(0,vb.x)); relabel(); }
    function zoom(factor, fx){ var at = vb.x + vb.width*fx; vb.width = vb.width*factor; vb.x = at - vb.width*fx; clamp(); }
    track.addEventListener("wheel", function(e){ e.preventDefault(); var r=track.getBoundingClientRect(); zoom(e.deltaY<0?0.8:1.25,(e.clientX-r.left)/r.width); }, {passive:false});
    var drag=null;
    track.addEventListener("mousedown", function(e){ drag={x:e.clientX, vx:vb.x}; });
    window.addEventListener("mouseup", function(){ drag=null; });
    window.addEventListener("mousemove", function(e){ if(!drag)return; var r=track.getBoundingClientRect(); vb.x = drag.vx - (e.clientX-drag.x)/r.width*vb.width; clamp(); });
    track.addEventListener("dblclick", function(){ vb.x=0; vb.width=SCALE; relabel(); });
    track.zoomBy = zoom;
  });
  function all(f){ tracks.forEach(function(t){ if(t.zoomBy) t.zoomBy(f, 0.5); }); }
  document.getElementById("zoom-in").addEventListener("click", function(){ all(0.5); });
  document.getElementById("zoom-out").addEventListener("click", function(){ all(2); });
  document.getElementById("zoom-reset").addEventListener("click", function(){ all(1e9); });
  document.getElementById("memory-map").addEventListener("click", function(e){
    var t = e.target; while (t && t.hasAttribute && !t.hasAttribute("data-info")) t = t.parentNode;
    var title = t && t.querySelector ? t.querySelector("title") : null;
    if (title) detail.textContent = title.textContent;
  });
  // Charts. Every strategy colour comes from data.palette (src/report/palette.ts): the table's swatches,
  // the bars, the curves and the legends agree. Time axes use one unit per chart (unitFor) so the
  // ticks Chart.js picks are round numbers of that unit.
  if (typeof Chart === "undefined") return;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = "system-ui, sans-serif";
  var palette = data.palette, phaseColors = data.phaseColors;
  function colorOf(name){ return palette[name] || "#777777"; }
  var strategies = result.strategies;
  function unitFor(maxSeconds){
    if (maxSeconds >= 120) return { div: 60, name: "min" };
    if (maxSeconds >= 1) return { div: 1, name: "s" };
    if (maxSeconds >= 1e-3) return { div: 1e-3, name: "ms" };
    return { div: 1e-6, name: "µs" };
  }
  function num(v){ var a = Math.abs(v); return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2); }
  var errorBarsDrawn = 0;
  // Error bars: options.plugins.rangeBars.ranges[i] = [low, high] in the chart's unit, one per label.
  var rangeBars = { id: "rangeBars", afterDatasetsDraw: function(chart){
    var opt = chart.options.plugins.rangeBars; if (!opt || !opt.ranges) return;
    var horizontal = chart.options.indexAxis === "y";
    var vs = horizontal ? chart.scales.x : chart.scales.y, cs = horizontal ? chart.scales.y : chart.scales.x;
    var ctx = chart.ctx; ctx.save(); ctx.strokeStyle = "#1d2330"; ctx.lineWidth = 1.5;
    opt.ranges.forEach(function(r, i){
      if (!r || !(r[1] > r[0])) return;
      var c = cs.getPixelForValue(i), a = vs.getPixelForValue(Math.max(r[0], vs.min)), b = vs.getPixelForValue(Math.min(r[1], vs.max)), cap = 5;
      ctx.beginPath();
      if (horizontal) { ctx.moveTo(a, c); ctx.lineTo(b, c); ctx.moveTo(a, c-cap); ctx.lineTo(a, c+cap); ctx.moveTo(b, c-cap); ctx.lineTo(b, c+cap); }
      else { ctx.moveTo(c, a); ctx.lineTo(c, b); ctx.moveTo(c-cap, a); ctx.lineTo(c+cap, a); ctx.moveTo(c-cap, b); ctx.lineTo(c+cap, b); }
      ctx.stroke(); errorBarsDrawn++;
    });
    ctx.restore();
  } };
  Chart.register(rangeBars);
  function modelOf(s){ return s.model && s.model.length ? s.model[0] : null; }
  // Page-table bytes per strategy (no legend: the axis names the strategies, the colours are theirs).
  new Chart(document.getElementById("chart-strategies"), {
    type: "bar",
    data: { labels: strategies.map(function(s){ return s.name; }),
      datasets: [{ label: "page-table bytes", data: strategies.map(function(s){ return s.pageTables.bytes; }), backgroundColor: strategies.map(function(s){ return colorOf(s.name); }) }] },
    options: { responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false }, tooltip: { callbacks: { label: function(c){ return bytes(c.raw); } } } },
      scales: { y: { title: { display: true, text: "page-table bytes" }, ticks: { callback: function(v){ return bytes(v); } } } } }
  });
  // Modeled relocation time: the MMU-on strategies alone (linear axis), and every strategy on a log axis.
  function timeBars(id, list, log){
    var el = document.getElementById(id); if (!el || !list.length) return;
    function lo(s){ var m = modelOf(s); return m.range ? m.range[0] : m.seconds; }
    function hi(s){ var m = modelOf(s); return m.range ? m.range[1] : m.seconds; }
    var top = Math.max.apply(null, list.map(hi)), bottom = Math.min.apply(null, list.map(function(s){ return Math.min(lo(s), modelOf(s).seconds); }));
    // linear: the unit of the largest value; log: the unit of the smallest, so every tick is >= 1
    var u = unitFor(log ? bottom : top);
    var y = log
      ? { type: "logarithmic", min: Math.pow(10, Math.floor(Math.log10(bottom / u.div))), max: Math.pow(10, Math.ceil(Math.log10(top / u.div))),
          title: { display: true, text: "modeled relocation (" + u.name + ", log)" },
          ticks: { callback: function(v){ var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9 ? String(Math.round(v)) : ""; } } }
      : { beginAtZero: true, suggestedMax: top / u.div, title: { display: true, text: "modeled relocation (" + u.name + ")" } };
    new Chart(el, { type: "bar",
      data: { labels: list.map(function(s){ return s.name; }),
        datasets: [{ label: "modeled relocation", data: list.map(function(s){ return modelOf(s).seconds / u.div; }), backgroundColor: list.map(function(s){ return colorOf(s.name); }) }] },
      options: { responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, rangeBars: { ranges: list.map(function(s){ var m = modelOf(s); return m.range ? [m.range[0] / u.div, m.range[1] / u.div] : null; }) },
          tooltip: { callbacks: { label: function(c){ var m = modelOf(list[c.dataIndex]); return num(c.raw) + " " + u.name + (m.range ? " [" + num(m.range[0]/u.div) + " .. " + num(m.range[1]/u.div) + "]" : ""); } } } },
        scales: { y: y } } });
  }
  var modeled = strategies.filter(function(s){ return modelOf(s) && s.counters.bytesCopied > 0; });
  timeBars("chart-time-mmuon", modeled.filter(function(s){ return s.name !== "mmu-off"; }), false);
  timeBars("chart-time-log", modeled, true);
  function pow2Ticks(axis){
    var lo = Math.floor(Math.log2(axis.min)), hi = Math.ceil(Math.log2(axis.max)), step = Math.max(1, Math.ceil((hi-lo)/8)), t = [];
    for (var e = lo; e <= hi; e += step) { var v = Math.pow(2, e); if (v >= axis.min && v <= axis.max) t.push({ value: v }); }
    axis.ticks = t;
  }
  function curveColor(label){
    if (label.indexOf("linear map") >= 0) return colorOf("linear-map-copy");
    if (label.indexOf("va-copy") >= 0) return colorOf("va-copy");
    if (label.indexOf("x86_64") >= 0) return colorOf("x86-ident");
    return colorOf(label.replace(/^this run: /, ""));
  }
  function curveDash(label){ return /16K|1G|page-granular/.test(label) ? [6, 4] : /64K/.test(label) ? [2, 3] : []; }
  function lineChart(id, curves, yTitle, yFmt, scaleY){
    var el = document.getElementById(id); if (!el || !curves) return;
    new Chart(el, { type: "line",
      data: { datasets: curves.map(function(c){ var col = curveColor(c.label);
        return { label: c.label, data: c.points.map(function(p){ return {x:p[0], y:p[1] / (scaleY || 1)}; }), borderColor: c.run ? "#1d2330" : col, backgroundColor: col, borderDash: c.run ? [] : curveDash(c.label), pointRadius: c.run ? 7 : 3, pointStyle: c.run ? "rectRot" : "circle", showLine: !c.run, tension: 0 }; }) },
      options: { responsive: true, maintainAspectRatio: false, parsing: false,
        plugins: { tooltip: { callbacks: { label: function(c){ return c.dataset.label+": "+yFmt(c.raw.y)+" for "+bytes(c.raw.x); } } } },
        scales: { x: { type: "logarithmic", title: { display: true, text: "bytes relocated (linear map: RAM mapped)" }, afterBuildTicks: pow2Ticks, ticks: { callback: function(v){ return bytes(v); } } },
                  y: { type: "logarithmic", title: { display: true, text: yTitle }, afterBuildTicks: yFmt === bytes ? pow2Ticks : undefined, ticks: { callback: function(v){ var l=Math.log10(v); return yFmt === bytes || Math.abs(l-Math.round(l))<1e-9 ? yFmt(v) : ""; } } } } } });
  }
  if (data.curves) {
    lineChart("chart-table-cost", data.curves.tableCost, "page-table bytes", bytes);
    if (data.curves.time) {
      var tc = data.curves.time.curves.concat(strategies.filter(function(s){ var m = modelOf(s); return m && m.profile === data.curves.time.profile && s.counters.bytesCopied > 0; }).map(function(s){ return { label: "this run: " + s.name, points: [[s.counters.bytesCopied, modelOf(s).seconds]], run: true }; }));
      var maxT = Math.max.apply(null, tc.map(function(c){ return Math.max.apply(null, c.points.map(function(p){ return p[1]; })); }));
      var ut = unitFor(maxT);
      lineChart("chart-time", tc, "modeled seconds ("+ut.name+", "+data.curves.time.profile+")", function(v){ return num(v); }, ut.div);
    }
  }
  if (result.reboot && result.reboot.strategies.length) {
    var rb = result.reboot;
    var phaseNames = rb.strategies[0].phases.map(function(p){ return p.name; });
    function known(p){ return p && !p.unknown; }
    function stacked(id, field, title, fmt, unit){
      var el = document.getElementById(id); if (!el) return;
      var div = unit ? unit.div : 1;
      new Chart(el, { type: "bar",
        data: { labels: rb.strategies.map(function(s){ return s.strategy; }),
          datasets: phaseNames.map(function(n){ return { label: n, backgroundColor: phaseColors[n] || "#888",
            data: rb.strategies.map(function(s){ var p = s.phases.find(function(q){ return q.name === n; }); return known(p) ? p[field] / div : 0; }) }; }) },
        options: { responsive: true, maintainAspectRatio: false, indexAxis: "y",
          plugins: { rangeBars: unit ? { ranges: rb.strategies.map(function(s){ return s.range ? [s.range[0] / div, s.range[1] / div] : null; }) } : {},
            tooltip: { callbacks: { label: function(c){ var s = rb.strategies[c.dataIndex], p = s.phases.find(function(q){ return q.name === c.dataset.label; });
              if (p && p.unknown) return c.dataset.label + ": unknown (" + p.unknown + ")";
              return c.dataset.label+": "+fmt(c.raw) + (unit && p && p.range && p.range[1] > p.range[0] ? " [" + fmt(p.range[0]/div) + " .. " + fmt(p.range[1]/div) + "]" : ""); } } } },
          scales: { x: unit ? { stacked: true, suggestedMax: Math.max.apply(null, rb.strategies.map(function(s){ return (s.range ? s.range[1] : s.seconds) / div; })), title: { display: true, text: title } }
                           : { stacked: true, title: { display: true, text: title }, ticks: { callback: function(v){ return fmt(v); } } }, y: { stacked: true } } } });
    }
    var maxR = Math.max.apply(null, rb.strategies.map(function(s){ return s.range ? s.range[1] : s.seconds; }));
    var ur = unitFor(maxR);
    stacked("chart-reboot-seconds", "seconds", "modeled " + ur.name + " (" + rb.profile + "); error bars: the total's range", num, ur);
    stacked("chart-reboot-bytes", "bytes", "bytes moved or read per phase", bytes, null);
  }
  window.__kexecLabReport = { charts: Object.keys(Chart.instances).length, errorBars: function(){ return errorBarsDrawn; } };
})();
`;

function fmtSeconds(v: number): string {
  return v >= 60 ? `${(v / 60).toFixed(1)} min` : formatSeconds(v);
}

/** Where the reboot's time goes: stacked bars with the total's range, the phases table, and the savings. */
function rebootSection(result: RunResult): string {
  const rb = result.reboot;
  if (rb === undefined || rb.strategies.length === 0) return "";
  const k = rb.kernel;
  const cpus = (rb as { cpus?: number }).cpus;
  const what = `${(rb as { path?: string }).path === "crash" ? "crash path, " : ""}${cpus !== undefined ? `${cpus} CPU${cpus === 1 ? "" : "s"}, ` : ""}${rb.call}${rb.cma ? ", CMA placement" : ""}, purgatory checks ${rb.purgatoryChecks ? "on" : "off"}, kernel ${k === null ? "unknown" : `${k.format}${k.codec !== "none" ? ` (${k.codec})` : ""}`}`;
  const phaseCell = (p: RebootReport["strategies"][number]["phases"][number]) =>
    p.unknown !== undefined
      ? `<td class="unknown" title="${escapeHtml(p.unknown)}">unknown</td>`
      : `<td>${escapeHtml(secondsWithRange(p.seconds, p.range ?? [p.seconds, p.seconds]))}</td>`;
  const names = rb.strategies[0]!.phases.map((p) => p.name);
  const phaseRows = rb.strategies
    .map((s) => {
      const range = s.range ?? [s.seconds, s.seconds];
      const unknown = s.unknown ?? [];
      return `<tr><td>${escapeHtml(s.strategy)}</td>${s.phases.map(phaseCell).join("")}<td>${escapeHtml(secondsWithRange(s.seconds, range))}${unknown.length > 0 ? ` <span class="k">without ${escapeHtml(unknown.join(", "))}</span>` : ""}</td></tr>`;
    })
    .join("");
  const base = rb.strategies.find((s) => s.strategy === rb.baseline) ?? rb.strategies[0]!;
  const hows = base.phases
    .map(
      (p) =>
        `<li><b>${escapeHtml(p.name)}</b>: ${p.unknown !== undefined ? `unknown (${escapeHtml(p.unknown)}): ` : ""}${escapeHtml(p.how)}</li>`,
    )
    .join("");
  const rows = rb.savings
    .map((s) => {
      const sr = s.savedRange;
      const saved = `${s.saved >= 0 ? "" : "-"}${fmtSeconds(Math.abs(s.saved))}${sr !== undefined && sr[1] > sr[0] ? ` [${fmtSigned(sr[0])} .. ${fmtSigned(sr[1])}]` : ""}`;
      return `<tr><td>${escapeHtml(s.change)}</td><td>${escapeHtml(fmtSeconds(s.seconds))}</td><td>${escapeHtml(saved)}</td><td style="text-align:left;white-space:normal">${escapeHtml(s.note)}</td></tr>`;
    })
    .join("");
  const baseRange = rb.baselineRange ?? [rb.baselineSeconds, rb.baselineSeconds];
  return `<section id="reboot-section"><h2>Where the reboot's time goes</h2>
<p class="k">From <span class="mono">kexec -e</span> to the new kernel's entry, per strategy, on ${escapeHtml(rb.profile)}: ${escapeHtml(what)}. Each time is the most likely value [low .. high] over the profile's input ranges; the error bars show the total's range.</p>
<div class="charts"><div><div class="chartbox"><canvas id="chart-reboot-seconds"></canvas></div></div><div><div class="chartbox"><canvas id="chart-reboot-bytes"></canvas></div></div></div>
<div style="overflow-x:auto"><table class="grid" id="reboot-phases"><thead><tr><th>strategy</th>${names.map((n) => `<th><span class="swatch" style="background:${PHASE_COLORS[n] ?? "#888"}"></span>${escapeHtml(n)}</th>`).join("")}<th>total</th></tr></thead><tbody>${phaseRows}</tbody></table></div>
<ul class="hows">${hows}</ul>
${rb.savings.length > 0 ? `<h3>What saves how much (baseline ${escapeHtml(rb.baseline)}: ${escapeHtml(secondsWithRange(rb.baselineSeconds, baseRange))}), ranked by the saving's range</h3><table class="grid" id="reboot-savings"><thead><tr><th>change</th><th>total</th><th>saved [low .. high]</th><th>how</th></tr></thead><tbody>${rows}</tbody></table>` : ""}
</section>`;
}

function fmtSigned(v: number): string {
  return `${v < 0 ? "-" : ""}${fmtSeconds(Math.abs(v))}`;
}

/** Modeled relocation time of each strategy: the MMU-on strategies alone, and all on a log axis. */
function timeSection(result: RunResult, curves: ReportCurves | undefined): string {
  const modeled = result.strategies.filter(
    (s) => s.model !== undefined && s.model.length > 0 && s.counters.bytesCopied > 0,
  );
  if (modeled.length === 0) return "";
  const spread = curves?.spread;
  const spreadTable =
    spread !== undefined && spread !== null && spread.rows.length > 0
      ? `<h3>Spread over the running kernel's free-page order and seeds (${escapeHtml(formatBytes(spread.bytes))} on ${escapeHtml(spread.profile)})</h3>
<table class="grid" id="spread"><thead><tr><th>strategy (loop shape)</th>${spread.rows[0]!.runs.map((r) => `<th>${escapeHtml(r.layout)}</th>`).join("")}<th>min .. max</th></tr></thead><tbody>${spread.rows
          .map(
            (r) =>
              `<tr><td><span class="swatch" style="background:${strategyPalette([r.strategy])[r.strategy]}"></span>${escapeHtml(r.strategy)}</td>${r.runs.map((x) => `<td>${escapeHtml(formatSeconds(x.seconds))}</td>`).join("")}<td>${escapeHtml(`${formatSeconds(r.min)} .. ${formatSeconds(r.max)}`)}</td></tr>`,
          )
          .join("")}</tbody></table>
<p class="note">Each policy decides where the source pages lie: lowest and highest give contiguous sources, random and fragmented scatter them (seeded). Modeled on each strategy's loop shape (src/model/shapes.ts) at the run's relocated size, not on full runs.</p>`
      : `<p class="note">The spread over free-page policies and seeds is computed with the cost-vs-size charts (leave out --no-curves).</p>`;
  return `<section id="time-section"><h2>Which strategy: modeled relocation time</h2>
<div class="charts"><div><div class="chartbox"><canvas id="chart-time-mmuon"></canvas></div><p class="k">The strategies that relocate with the MMU on, alone on a linear axis; error bars: the range the profile's inputs allow.</p></div>
<div><div class="chartbox"><canvas id="chart-time-log"></canvas></div><p class="k">Every strategy, mmu-off included, on a log axis (one decade per grid line).</p></div></div>
${spreadTable}
</section>`;
}

/** The whole report as one HTML document. */
export function renderHtmlReport(result: RunResult, opts: HtmlReportOptions): string {
  const k = result.kimage;
  const m = result.machine;
  const verified = result.strategies.every((s) => s.verified || s.reference !== undefined); // references may fail
  const relocated = k.segments.reduce((a, s) => a + s.memsz, 0);
  const card = (key: string, value: string, cls = "") =>
    `<div class="card"><div class="k">${escapeHtml(key)}</div><div class="v ${cls}">${escapeHtml(value)}</div></div>`;
  const cards = [
    card("machine", `${m.arch}, ${m.pageSize / 1024}K, ${m.vaBits}-bit VA`),
    card("RAM", formatBytes(m.ramBytes)),
    card("relocated", `${formatBytes(relocated)} in ${k.segments.length} segments`),
    card("source pages", formatCount(k.sourcePages)),
    card("entries / indirection", `${formatCount(k.entries)} / ${formatCount(k.indirectionPages)}`),
    card("in place", formatCount(k.inPlacePages)),
    card(
      "verified",
      verified ? `all ${result.strategies.length} strategies` : "FAILED",
      verified ? "ok" : "bad",
    ),
  ];
  const chartJs = opts.chartJs
    .replace(/\/\/# sourceMappingURL=\S*\s*$/, "")
    .replace(/<\/(script)/gi, "<\\/$1");
  const legend = [
    ["#e9eef6", "RAM"],
    ["#b3b7bf", "reserved"],
    ["#2f6fde", "source pages (opacity: density)"],
    ["#2e9e5b", "in-place pages"],
    ["#e0832f", "indirection pages"],
    ["#1d2330", "control pages"],
  ]
    .map(([c, t]) => `<span><i style="background:${c}"></i>${t}</span>`)
    .join("");
  const curves = opts.curves;
  const palette = strategyPalette([
    ...result.strategies.map((s) => s.name),
    ...(curves?.time?.curves.map((c) => c.label) ?? []),
    ...(curves?.spread?.rows.map((r) => r.strategy) ?? []),
  ]);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>kexec-lab report: ${escapeHtml(result.scenario.name)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>kexec-lab report: ${escapeHtml(result.scenario.name)}</h1>
<p>${escapeHtml(`${m.arch}, ${formatBytes(m.ramBytes)} RAM, ${m.pageSize / 1024}K pages, ${m.vaBits}-bit VA, free pages ${result.scenario.freePages}, ${result.scenario.contentMode} contents, seed ${result.scenario.seed}`)}${opts.subtitle !== undefined ? `<br><span class="mono">${escapeHtml(opts.subtitle)}</span>` : ""}</p></header>
<main>
<div class="cards">${cards.join("")}</div>
<section id="map-section"><h2>Physical memory map</h2>
<div class="maptools"><button id="zoom-in" type="button">zoom in</button><button id="zoom-out" type="button">zoom out</button><button id="zoom-reset" type="button">reset</button><span>wheel over a bank to zoom, drag to pan, double-click to reset, click a mark for details</span></div>
${renderMemoryMapSvg(result)}
<div id="detail">${result.pageMap === undefined ? "this result has no page map (source and indirection pages are not shown)" : `one bucket = ${escapeHtml(formatBytes(result.pageMap.bucketBytes))}; click a mark for details`}</div>
<div class="legend">${legend}</div>
</section>
<section><h2>Segments</h2>${segmentTable(result)}</section>
<section><h2>Strategies</h2>${strategyTable(result, palette)}<div class="chartbox" style="height:260px;margin-top:14px"><canvas id="chart-strategies"></canvas></div></section>
${timeSection(result, curves)}
${rebootSection(result)}
${failures(result)}
${
  curves !== undefined
    ? `<section><h2>Cost vs size</h2><div class="charts">
<div><div class="chartbox"><canvas id="chart-table-cost"></canvas></div><p class="k">Relocation page tables for a contiguous-VA copy (source and destination mapped page-granular) per arm64 granule, and the x86_64 identity map, counted analytically.</p></div>
${curves.time !== null ? `<div><div class="chartbox"><canvas id="chart-time"></canvas></div><p class="k">Modeled relocation time per strategy on ${escapeHtml(curves.time.profile)} (scattered source pages; timing model, sampled).</p></div>` : ""}
</div></section>`
    : ""
}
<section><h2>Raw result (JSON)</h2><details><summary>show</summary><pre>${escapeHtml(JSON.stringify(result, null, 2))}</pre></details></section>
<footer>${escapeHtml(`${result.tool.name} ${result.tool.version}`)} · charts by Chart.js (MIT), inlined · this file loads nothing from the network</footer>
</main>
<script type="application/json" id="report-data">${jsonForScript({ result, curves: curves ?? null, palette, phaseColors: PHASE_COLORS })}</script>
<script>${chartJs}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
