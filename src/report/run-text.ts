/**
 * Text rendering of `kexec-lab run` (a RunResult, src/reloc/result.ts) and of its reboot model
 * (RebootReport, src/model/reboot.ts). Browser-safe: no I/O; the caller prints the string.
 */
import type { Arch } from "../kimage/constants.js";
import { hasPurgatory } from "../model/phases.js";
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
      s.verified ? mark("green", "yes") : mark("red", "NO"),
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
  for (const s of r.strategies) {
    for (const f of s.failures) lines.push(`${s.name}: ${f.kind}: ${f.message}`);
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
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
 * The per-phase breakdown from `kexec -e` to the new kernel (src/model/reboot.ts rebootReport), one
 * row a strategy, each phase's rule in one line under the table, and the "what saves how much" table
 * against the baseline strategy (each saving also as a share of the baseline's total, savedShare).
 * Returns lines (no trailing newline); seconds as formatSeconds, a minute or more as "N.N min". The
 * header names the call, CMA placement, whether purgatory checks digests (or that the call has no
 * purgatory: arm64 kexec_file_load) and the kernel. Never throws.
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
  const out = [
    `kexec -e to the new kernel on ${rb.profile}: ${rb.call}${rb.cma ? " with CMA placement" : ""}, ` +
      `${purgatory}, ${kernel}`,
  ];
  const names = rb.strategies[0]?.phases.map((p) => p.name) ?? [];
  out.push(
    renderTable(
      ["strategy", ...names, "total"],
      rb.strategies.map((s) => [
        s.strategy,
        ...s.phases.map((p) => seconds(p.seconds)),
        `${seconds(s.seconds)}${s.sampled ? " (sampled)" : ""}`,
      ]),
      ["left"],
    ),
  );
  const first = rb.strategies.find((s) => s.strategy === rb.baseline) ?? rb.strategies[0];
  if (first !== undefined) for (const p of first.phases) out.push(`  ${p.name}: ${p.how}`);
  if (rb.savings.length > 0) {
    out.push("", `what saves how much (baseline ${rb.baseline}, ${seconds(rb.baselineSeconds)}):`);
    out.push(
      renderTable(
        ["change", "total", "saved", "how"],
        rb.savings.map((v) => [
          v.change,
          seconds(v.seconds),
          `${seconds(v.saved)}${savedShare(v.saved, rb.baselineSeconds)}`,
          v.note,
        ]),
        ["left", "right", "right", "left"],
      ),
    );
  }
  return out;
}
