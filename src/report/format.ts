/**
 * Formatting of numbers for humans: binary units, hex addresses, aligned tables.
 *
 * The one size format (docs/guide.md "Output conventions"): every size shown to a human is
 * formatBytes'. Hex is kept where kexec's or the kernel's own output is mirrored (addresses, the
 * `kexec -d` segment table, MEMORY RANGES, --print-segments) so it can be diffed with real output;
 * JSON and CSV carry plain byte counts.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A size in bytes for humans, in binary units (B, KiB, MiB, GiB, TiB, PiB: the largest unit the
 * value reaches). A whole number of that unit prints without decimals (131072 -> "128 KiB",
 * 0 -> "0 B"); otherwise with three significant digits: two decimals below 10, one below 100, none
 * from 100 up (1536 -> "1.50 KiB", 28.25 MiB -> "28.3 MiB", 600.5 MiB -> "601 MiB"). A non-finite
 * value prints as String(n).
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let u = 0;
  let v = n;
  // 1023.5 and up would print as "1024" of this unit: the next unit's "1.00" instead.
  while (Math.abs(v) >= 1023.5 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const a = Math.abs(v);
  const text = Number.isInteger(v)
    ? String(v)
    : a >= 99.95
      ? v.toFixed(0)
      : a >= 9.995
        ? v.toFixed(1)
        : v.toFixed(2);
  return `${text} ${UNITS[u]}`;
}

/**
 * formatBytes as browser-script source, `function bytes(n)`: the HTML report's charts label their
 * axes and tooltips with it. test/size-format.test.ts checks that it agrees with formatBytes.
 */
export const FORMAT_BYTES_SCRIPT = `function bytes(n){ if(!isFinite(n)) return String(n); var u=["B","KiB","MiB","GiB","TiB","PiB"],i=0; while(Math.abs(n)>=1023.5&&i<u.length-1){n/=1024;i++;} var a=Math.abs(n); return (Number.isInteger(n)?String(n):n.toFixed(a>=99.95?0:a>=9.995?1:2))+" "+u[i]; }`;

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
