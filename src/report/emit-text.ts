/** `kexec-lab emit`'s output (text and JSON) for a StrategyEmission (src/emit/strategy.ts). Browser-safe. */

import type { StrategyEmission } from "../emit/strategy.js";
import { formatBytes, hexAddr, renderTable } from "./format.js";

/** Blobs listed one per row in the text output; the rest are summed up (a scattered kimage has thousands). */
export const EMIT_BLOB_ROWS = 16;

/** What QEMU did (src/emit/node/directory.ts EmissionRun), as the renderers need it. */
export interface EmitRunSummary {
  outcome: string;
  status: string;
  differences: string[];
  pagesCopied: number;
  entriesRead: number;
}

/** What was emitted and where: the renderers' input besides the emission. */
export interface EmitReport {
  strategy: string;
  /** Page size, bytes. */
  pageSize: number;
  seed: number;
  /** The --out directory and the files written there. */
  out?: { dir: string; files: string[] };
  run?: EmitRunSummary;
}

/**
 * The description line, the blob table (label, address hex, size; the first EMIT_BLOB_ROWS, then a
 * count and the total of populated pages), the files written, and QEMU's verdict. Ends with a newline.
 */
export function renderEmitText(e: StrategyEmission, r: EmitReport): string {
  const blobs = e.image.blobs;
  let text = `${e.image.description} for ${e.image.target} (seed ${r.seed})\n\n`;
  text += `${renderTable(
    ["blob", "address", "size"],
    blobs.slice(0, EMIT_BLOB_ROWS).map((b) => [b.label, hexAddr(b.addr), formatBytes(b.bytes.length)]),
  )}\n`;
  if (blobs.length > EMIT_BLOB_ROWS) {
    text += `... and ${blobs.length - EMIT_BLOB_ROWS} more blobs: ${blobs.length} in all, ${formatBytes(blobs.reduce((n, b) => n + b.bytes.length, 0))} of populated pages\n`;
  }
  if (r.out !== undefined) text += `\nwrote ${r.out.files.length} files to ${r.out.dir}\n`;
  if (r.run !== undefined) {
    text +=
      r.run.differences.length === 0
        ? `\nQEMU: ${r.run.pagesCopied} pages copied, ${e.image.checks.length} ranges equal the simulator's byte for byte\n`
        : `\nQEMU: MISMATCH\n${r.run.differences.map((d) => `  ${d}`).join("\n")}\n`;
  }
  return text;
}

/** `emit --json`'s document: addresses hex, sizes in bytes; `qemu` only after a run. */
export function emitJson(e: StrategyEmission, r: EmitReport): unknown {
  return {
    target: e.image.target,
    description: e.image.description,
    strategy: r.strategy,
    pageSize: r.pageSize,
    seed: r.seed,
    simulatorVerified: e.simulatorVerified,
    blobs: e.image.blobs.map((b) => ({ addr: hexAddr(b.addr), size: b.bytes.length })),
    checks: e.image.checks.map((c) => ({ label: c.label, addr: hexAddr(c.addr), size: c.size })),
    ...(r.out !== undefined ? { out: r.out.dir, files: r.out.files } : {}),
    ...(r.run !== undefined
      ? {
          qemu: {
            outcome: r.run.outcome,
            status: r.run.status,
            pagesCopied: r.run.pagesCopied,
            entriesRead: r.run.entriesRead,
            verified: r.run.differences.length === 0,
            differences: r.run.differences,
          },
        }
      : {}),
  };
}
