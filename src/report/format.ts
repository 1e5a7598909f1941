/** Formatting of numbers for humans: binary units, hex addresses, aligned tables. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 131072 -> "128 KiB", 1536 -> "1.5 KiB". Exact multiples print without decimals. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = Number.isInteger(v)
    ? String(v)
    : v >= 100
      ? v.toFixed(0)
      : v >= 10
        ? v.toFixed(1)
        : v.toFixed(2);
  return `${text} ${UNITS[u]}`;
}

export function hexAddr(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** 1234567 -> "1,234,567" */
export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function formatSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(3)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(2)} ms`;
  return `${(s * 1e6).toFixed(1)} µs`;
}

export type Align = "left" | "right";

/** An aligned text table: header row, a rule, then rows. Columns align right unless told otherwise. */
export function renderTable(header: string[], rows: string[][], align: Align[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        (align[i] ?? (i === 0 ? "left" : "right")) === "left" ? c.padEnd(widths[i]!) : c.padStart(widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
