/**
 * Text rendering of `kexec-lab run` (a RunResult, src/reloc/result.ts) and of its reboot model
 * (RebootReport, src/model/reboot.ts). Browser-safe: no I/O; the caller prints the string.
 */
import type { Arch } from "../kimage/constants.js";
import { hasPurgatory } from "../model/phases.js";
import { rangeVerdict } from "../model/ranges.js";
import type { RebootReport } from "../model/reboot.js";
import type { RunResult } from "../reloc/result.js";
import { formatBytes, formatCount, formatSeconds, renderTable } from "./format.js";

/** How a renderer marks a cell that a terminal would colour: ("green" | "red", text) -> the cell. */
export type MarkStyle = (style: "green" | "red", text: string) => string;

/** No styling: the text as it is. */
export const plainMark: MarkStyle = (_style, text) => text;

/**
 * `kexec-lab run`'s text output for one RunResult: the machine line, the segment table (mem, memsz,
 * bufsz), the kimage counts (kernel/kexec_core.c kimage_add_entry's list), the strategy comparison
 * (page tables, control pages, entries walked, TLB misses, modeled seconds against the profile's
 * limit), the detail table, the per-profile time breakdown, the reboot breakdown when r.reboot is set,
 * and every verification failure. `mark` styles the verified column (the CLI colours it on a TTY);
 * by default the text is plain. Ends with a blank line. Never throws.
 */
export function renderRunText(r: RunResult, mark: MarkStyle = plainMark): string {
  const k = r.kimage;
  const lines: string[] = [];
  lines.push(
    `machine: ${r.machine.arch}, ${r.machine.pageSize / 1024}K pages, ${r.machine.vaBits}-bit VA, ` +
      `${formatBytes(r.machine.ramBytes)} RAM, free pages ${r.scenario.freePages}, ${r.scenario.contentMode} contents`,
  );
  lines.push("");
  lines.push(
    renderTable(
      ["segment", "mem", "memsz", "bufsz"],
      k.segments.map((s) => [s.label, s.mem, formatBytes(s.memsz), formatBytes(s.bufsz)]),
    ),
  );
  lines.push("");
  const counts =
    `${formatCount(k.sourcePages)} source pages, ${formatCount(k.entries)} entries, ` +
    `${formatCount(k.indirectionPages)} indirection pages, ${formatCount(k.inPlacePages)} in place, ` +
    `${formatCount(k.swaps)} swaps, ${formatCount(k.parkedPages)} parked`;
  // With CMA placement (Linux 6.17+) kexec_file_load copies each segment to its destination at load
  // time: the kimage has no source pages and nothing to relocate at reboot. The counts are the load
  // without CMA, which the strategy tables below relocate as a what-if.
  if (r.reboot?.cma === true) {
    lines.push(
      "kimage: with CMA placement every segment is loaded at its destination: no source pages, nothing to relocate at reboot",
      `kimage without CMA (what the strategies below relocate): ${counts}`,
    );
  } else {
    lines.push(`kimage: ${counts}`);
  }
  lines.push("");
  // The comparison: what each strategy costs and whether it is right.
  const firstModel = (s: RunResult["strategies"][number]) => s.model?.[0];
  const modeled = r.strategies.some((s) => firstModel(s) !== undefined);
  const timed = r.strategies.some((s) => s.wallSeconds !== undefined);
  const header = ["strategy", "verified", "page tables", "control pages", "entries walked", "TLB misses"];
  if (modeled)
    header.push(`modeled (${firstModel(r.strategies.find((s) => firstModel(s))!)!.profile})`, "x limit");
  if (timed) header.push("wall time");
  const rows = r.strategies.map((s) => {
    const c = s.counters;
    const row = [
      s.name,
      s.verified
        ? mark("green", "yes")
        : s.reference !== undefined
          ? `${mark("red", "NO")} (reference)`
          : mark("red", "NO"),
      s.pageTables.pages > 0
        ? `${formatBytes(s.pageTables.bytes)} (${formatCount(s.pageTables.pages)})`
        : "none",
      formatCount(c.controlPages),
      formatCount(c.entriesRead),
      formatCount(c.tlbMisses),
    ];
    if (modeled) {
      const m = firstModel(s);
      row.push(
        m ? formatSeconds(m.seconds) : "-",
        m && m.limitSeconds > 0 ? `${m.ratioToLimit.toFixed(2)}x` : "-",
      );
    }
    if (timed) row.push(s.wallSeconds !== undefined ? formatSeconds(s.wallSeconds) : "-");
    return row;
  });
  lines.push(renderTable(header, rows));
  lines.push("");
  // The details behind it.
  lines.push(
    renderTable(
      [
        "strategy",
        "copied",
        "TLB hits",
        "desc reads",
        "lines cleaned",
        "lines inval",
        "tables by level (pages)",
      ],
      r.strategies.map((s) => {
        const c = s.counters;
        const descReads = Object.values(c.descriptorReadsByLevel).reduce((a, b) => a + b, 0);
        return [
          s.name,
          formatBytes(c.bytesCopied),
          formatCount(c.tlbHits),
          formatCount(descReads),
          formatCount(c.cacheLinesCleaned),
          formatCount(c.cacheLinesInvalidated),
          Object.entries(s.pageTables.byLevel)
            .filter(([, n]) => n > 0)
            .map(([l, n]) => `L${l}: ${n}`)
            .join(", ") || "none",
        ];
      }),
      ["left", "right", "right", "right", "right", "right", "left"],
    ),
  );
  if (modeled) {
    const parts = ["copy", "entryWalk", "tableWalk", "cacheMaintenance", "tlb"];
    lines.push("");
    lines.push(
      renderTable(
        [
          "strategy",
          "profile",
          "modeled",
          "copy",
          "list walk",
          "table walk",
          "cache maint",
          "TLB",
          "limit",
          "x limit",
        ],
        r.strategies.flatMap((s) =>
          (s.model ?? []).map((m) => [
            s.name,
            m.profile,
            formatSeconds(m.seconds),
            ...parts.map((p) => formatSeconds(m.breakdown[p] ?? 0)),
            formatSeconds(m.limitSeconds),
            m.limitSeconds > 0 ? `${m.ratioToLimit.toFixed(2)}x${m.sampled ? " (sampled)" : ""}` : "-",
          ]),
        ),
        ["left", "left"],
      ),
    );
  }
  for (const rb of r.reboots ?? (r.reboot !== undefined ? [r.reboot] : []))
    lines.push("", ...renderRebootText(rb));
  const checks = r.strategies.find((s) => s.checks !== undefined)?.checks;
  if (checks !== undefined) lines.push("", `verified: ${verifiedMeans(checks)}`);
  for (const s of r.strategies) {
    if (s.reference !== undefined && !s.verified) lines.push(`${s.name} is a reference: ${s.reference}`);
    for (const f of s.failures) lines.push(`${s.name}: ${f.kind}: ${f.message}`);
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
}

/** What "verified" covered, in one sentence (StrategyResult.checks). */
export function verifiedMeans(checks: { coherence: string; linesChecked: number }): string {
  const bytes =
    "every destination byte equals its segment, no page still to be read was overwritten, no fault";
  if (checks.coherence.startsWith("coherent"))
    return `${bytes}; caches coherent (${checks.coherence.replace(/^coherent: /, "")}), no cache maintenance to check`;
  return `${bytes}; and at the jump, with the MMU and D-cache off, every segment line is at the PoC with no older cached copy and the kernel's lines are not stale in the I-cache (${checks.coherence}; ${formatCount(checks.linesChecked)} lines)`;
}

/** Seconds as formatSeconds, a minute or more as "N.N min"; no minus sign on what rounds to zero. */
function seconds(v: number): string {
  const a = Math.abs(v);
  const body = a >= 60 ? `${(a / 60).toFixed(1)} min` : formatSeconds(a);
  return (v < 0 && /[1-9]/.test(body) ? "-" : "") + body;
}

/**
 * A saving relative to the current total, for the "saved" column: " (45.0%)", " (-5.5%)", and for a
 * change that costs more than the whole current total " (x573 slower)" (its total over the current
 * one). Rounded before the sign is chosen: never "-0.0%". Empty when the current total is zero.
 */
export function savedShare(saved: number, total: number): string {
  if (!(total > 0)) return "";
  if (-saved > total) {
    const f = (total - saved) / total;
    return ` (x${f >= 100 ? Math.round(f) : f >= 10 ? f.toFixed(1) : f.toFixed(2)} slower)`;
  }
  const pct = (100 * saved) / total;
  const shown = pct.toFixed(1);
  return ` (${Number(shown) === 0 ? "0.0" : shown}%)`;
}

/**
 * A modeled time with its range: "23.6 ms [12.3 ms .. 45.7 ms]"; a point range prints the value alone;
 * a range wider than UNKNOWN_RATIO prints "unknown: <why>" (src/model/ranges.ts rangeVerdict).
 */
export function secondsWithRange(likely: number, range: readonly [number, number]): string {
  if (range[0] === range[1]) return seconds(likely);
  const v = rangeVerdict([range[0], range[1]]);
  const f = unitOf(Math.max(Math.abs(range[0]), Math.abs(range[1]), Math.abs(likely)));
  if (!v.known) return `unknown: ${v.why} (${f(range[0])} .. ${f(range[1])})`;
  return `${f(likely)} [${f(range[0])} .. ${f(range[1])}]`;
}

/** One unit for a value and its range, chosen by the largest of them (min, s, ms or µs). */
function unitOf(max: number): (v: number) => string {
  const [div, name, digits] =
    max >= 60 ? [60, "min", 2] : max >= 1 ? [1, "s", 3] : max >= 1e-3 ? [1e-3, "ms", 2] : [1e-6, "µs", 1];
  return (v) => {
    const body = (Math.abs(v) / (div as number)).toFixed(digits as number);
    return `${v < 0 && /[1-9]/.test(body) ? "-" : ""}${body} ${name}`;
  };
}

/**
 * The per-phase breakdown from `kexec -e` to the new kernel (src/model/reboot.ts rebootReport), one
 * row a strategy, each phase and the total as "likely [low .. high]" (or "unknown" for a phase nothing
 * predicts, left out of the total, which says so), each phase's rule and source in one line under the
 * table, and the "what saves how much" table against the baseline strategy, ranked by the saving's
 * range (each saving also as a share of the baseline's total, savedShare). Returns lines (no trailing
 * newline); seconds as formatSeconds, a minute or more as "N.N min". The header names the path, CPUs,
 * call, CMA placement, whether purgatory checks digests (or that the call has no purgatory: arm64
 * kexec_file_load) and the kernel. Never throws.
 */
export function renderRebootText(rb: RebootReport): string[] {
  const k = rb.kernel;
  const kernel =
    k === null
      ? "kernel format unknown"
      : `kernel ${k.format}${k.codec !== "none" ? ` (${k.codec}, ${formatBytes(k.compressedBytes)} -> ${formatBytes(k.uncompressedBytes)}${k.sizeFrom === "assumed" ? " assumed" : ""})` : ""}`;
  // arm64 kexec_file_load has no purgatory: say so instead of the checks setting it would not use.
  const purgatory = hasPurgatory(rb.arch as Arch, rb.call)
    ? `purgatory checks ${rb.purgatoryChecks ? "on" : "off"}`
    : "no purgatory (the kernel is entered directly)";
  const path = rb.path === "crash" ? "a panic into the crash kernel" : "kexec -e";
  const out = [
    `${path} to the new kernel on ${rb.profile}, ${rb.cpus} CPU${rb.cpus === 1 ? "" : "s"}: ${rb.call}${rb.cma ? " with CMA placement" : ""}, ` +
      `${purgatory}, ${kernel}`,
    "each time: most likely [low .. high] over the profile's input ranges (docs/model.md, Ranges)",
  ];
  const names = rb.strategies[0]?.phases.map((p) => p.name) ?? [];
  out.push(
    renderTable(
      ["strategy", ...names, "total"],
      rb.strategies.map((s) => [
        s.strategy,
        ...s.phases.map((p) => (p.unknown !== undefined ? "unknown" : secondsWithRange(p.seconds, p.range))),
        `${secondsWithRange(s.seconds, s.range)}${s.sampled ? " (sampled)" : ""}${s.unknown.length > 0 ? ` without ${s.unknown.join(", ")}` : ""}`,
      ]),
      ["left"],
    ),
  );
  const first = rb.strategies.find((s) => s.strategy === rb.baseline) ?? rb.strategies[0];
  if (first !== undefined) {
    const known = first.phases.filter((p) => p.unknown === undefined);
    const top = known.reduce<(typeof known)[number] | undefined>(
      (a, p) => (a === undefined || p.seconds > a.seconds ? p : a),
      undefined,
    );
    if (top !== undefined && top.seconds > 0) {
      out.push(
        `largest phase (${first.strategy}): ${top.name}, ${secondsWithRange(top.seconds, top.range)}${top.source !== undefined ? `, ${top.source}` : ""}`,
      );
    }
    for (const p of first.phases) {
      out.push(`  ${p.name}: ${p.unknown !== undefined ? `unknown (${p.unknown}): ` : ""}${p.how}`);
    }
  }
  if (rb.savings.length > 0) {
    out.push(
      "",
      `what saves how much (baseline ${rb.baseline}, ${secondsWithRange(rb.baselineSeconds, rb.baselineRange)}; ranked by the saving's range):`,
    );
    out.push(
      renderTable(
        ["change", "total", "saved", "how"],
        rb.savings.map((v) => [
          v.change,
          seconds(v.seconds),
          `${savedWithRange(v.saved, v.savedRange)}${savedShare(v.saved, rb.baselineSeconds)}`,
          v.note,
        ]),
        ["left", "right", "right", "left"],
      ),
    );
  }
  return out;
}

/** A saving with its range: "1.2 s [0.9 s .. 1.5 s]", or the value alone when the range is a point. */
function savedWithRange(saved: number, r: readonly [number, number]): string {
  if (Math.abs(r[1] - r[0]) <= 1e-12 * Math.max(1, Math.abs(saved))) return seconds(saved);
  const f = unitOf(Math.max(Math.abs(r[0]), Math.abs(r[1]), Math.abs(saved)));
  return `${f(saved)} [${f(r[0])} .. ${f(r[1])}]`;
}
