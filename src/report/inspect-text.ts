/** `kexec-lab inspect`'s text output. Browser-safe. */

import { formatBytes, renderTable } from "./format.js";

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) && v >= 1024 ? `${v} (${formatBytes(v)})` : String(v);
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v).replaceAll("\n", "\\n");
}

function list(title: string, rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return `${title}: none\n`;
  const keys = Object.keys(rows[0]!);
  return `${title}:\n${renderTable(
    keys,
    rows.map((r) => keys.map((k) => cell(r[k]))),
    keys.map(() => "left"),
  )}\n`;
}

/** The signature verdict's block: the certificates it was verified against one per line. */
function signatureTable(o: Record<string, unknown>): string {
  const rows = Object.entries(o).map(([a, b]): [string, string] => {
    if (a === "verifiedAgainst") {
      const certs = b as { keyring: string; file: string; subject: string }[];
      return [
        a,
        certs.length === 0
          ? "nothing (no --trusted-cert given)"
          : certs.map((c) => `${c.subject} in ${c.keyring} (${c.file})`).join("\n"),
      ];
    }
    if (a === "neededKeyrings" && Array.isArray(b)) return [a, b.join(", ")];
    return [a, cell(b)];
  });
  const lines: string[][] = [];
  for (const [a, b] of rows) {
    const parts = b.split("\n");
    for (let i = 0; i < parts.length; i++) lines.push([i === 0 ? a : "", parts[i]!]);
  }
  return renderTable(["property", "value"], lines, ["left", "left"]);
}

/**
 * An inspect summary (inspectFile, src/formats/detect.ts) as text: scalars in a field/value table
 * (a whole number of 1024 or more also as a size: "4096 (4 KiB)"), arrays as tables, objects as
 * nested blocks, the inner kernel of a wrapper as its own block. Ends with a newline.
 */
export function renderInspectText(summary: Record<string, unknown>, title?: string): string {
  const scalars = Object.entries(summary).filter(
    ([, v]) => !Array.isArray(v) && (typeof v !== "object" || v === null),
  );
  let out = title !== undefined ? `${title}:\n` : "";
  out += `${renderTable(
    ["field", "value"],
    scalars.map(([k, v]) => [k, cell(v)]),
    ["left", "left"],
  )}\n`;
  for (const [k, v] of Object.entries(summary)) {
    if (k === "kernelFormat") continue;
    if (Array.isArray(v)) out += `\n${list(k, v as Record<string, unknown>[])}`;
    else if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (k === "inner") out += `\n${renderInspectText(o, "inner kernel")}`;
      else if (k === "signature") out += `\nsignature:\n${signatureTable(o)}\n`;
      else
        out += `\n${k}:\n${renderTable(
          ["property", "value"],
          Object.entries(o).map(([a, b]) => [a, cell(b)]),
          ["left", "left"],
        )}\n`;
    }
  }
  return out;
}
