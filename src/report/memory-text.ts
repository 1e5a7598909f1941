/** `kexec-lab memory`'s text output for a MemoryAnswer (src/memory/answer.ts). Browser-safe. */

import type { MemoryAnswer } from "../memory/answer.js";
import { formatBytes, formatCount, hexAddr, renderTable } from "./format.js";

/** The pages the running kernel holds for a load, as a table. */
function loadTable(a: MemoryAnswer): string {
  const l = a.load;
  const ps = l.pageSize;
  const rows = [
    ["source pages", formatCount(l.sourcePages), formatBytes(l.sourcePages * ps)],
    ["indirection pages", formatCount(l.indirectionPages), formatBytes(l.indirectionPages * ps)],
    [
      l.crash ? "control pages (in the reservation)" : "control pages",
      formatCount(l.controlPages),
      formatBytes(l.controlPages * ps),
    ],
    ["parked (dest_pages)", formatCount(l.parkedPages), formatBytes(l.parkedPages * ps)],
    ["unusable pages", formatCount(l.unusablePages), formatBytes(l.unusablePages * ps)],
    ["held until kexec -e", "", formatBytes(l.heldBytes)],
    ["loader's copy of the files", "", formatBytes(l.fileBufferBytes)],
    ["peak during the load", "", formatBytes(l.peakBytes)],
  ];
  return renderTable(["", "pages", "bytes"], rows, ["left", "right", "right"]);
}

/**
 * What the running kernel holds for the load (pages and bytes: source, indirection, control, parked,
 * unusable; held until kexec -e, the loader's file copy, the peak) against MemFree/MemAvailable, the
 * crashkernel= estimate part by part (kdumpctl estimate's formula), whether the crash load fits its
 * reservation, and the notes. Ends with a newline.
 */
export function renderMemoryText(a: MemoryAnswer): string {
  const l = a.load;
  const lines: string[] = [];
  if (l.notLoaded !== undefined) {
    lines.push(`crash load (kexec -p): not loaded: ${l.notLoaded}`);
  } else {
    lines.push(`${l.crash ? "crash load (kexec -p)" : "load"}: what the running kernel holds`);
    lines.push("");
    lines.push(loadTable(a));
  }
  if (l.refused !== undefined) lines.push(`the kernel's kexec_load checks refuse this load: ${l.refused}`);
  // A refused load allocates nothing: there is no peak to set against free memory.
  if (l.against !== undefined && l.verdict !== "refused") {
    lines.push(
      l.verdict === "fits"
        ? `fits: peak ${formatBytes(l.peakBytes)} <= ${l.against.name} ${formatBytes(l.against.bytes)}`
        : `SHORT: peak ${formatBytes(l.peakBytes)} > ${l.against.name} ${formatBytes(l.against.bytes)}: kimage_alloc_pages() would fail with ENOMEM`,
    );
  }
  const c = a.crashkernel;
  lines.push("");
  lines.push("crashkernel= (kdumpctl estimate's formula)");
  lines.push("");
  lines.push(
    renderTable(
      ["part", "bytes"],
      [
        ...c.parts.map((p) => [p.name, formatBytes(p.bytes)]),
        ["estimated", formatBytes(c.estimatedBytes)],
        [`baseline (${c.baselineRanges} at ${c.systemGiB}G)`, formatBytes(c.baselineBytes)],
        ["recommended", formatBytes(c.recommendedBytes)],
        ...(c.reservedBytes !== undefined ? [["reserved now", formatBytes(c.reservedBytes)]] : []),
      ],
      ["left", "right"],
    ),
  );
  for (const d of c.baselineDeltas) lines.push(`baseline delta: ${d}`);
  lines.push(`kernel size: ${c.kernelSource}`);
  if (c.warning !== undefined) lines.push(`WARNING: ${c.warning}`);
  if (c.reservedBytes !== undefined && c.reservedBytes < c.recommendedBytes)
    lines.push(
      `WARNING: the reservation (${formatBytes(c.reservedBytes)}) is below the recommended ${formatBytes(c.recommendedBytes)}`,
    );
  const f = a.crashFit;
  if (f !== undefined) {
    lines.push("");
    lines.push(
      `crash load in the reservation [${hexAddr(f.region.start)}, ${hexAddr(f.region.end)}) (${formatBytes(f.region.end - f.region.start)}):`,
    );
    if (!f.placed) lines.push(`  does not load: ${f.error}`);
    else {
      lines.push(`  segments ${formatBytes(f.segmentsBytes)}, left ${formatBytes(f.leftBytes)}`);
      lines.push(
        `  the crash kernel needs about ${formatBytes(f.runtimeNeedBytes)} more while it runs (${f.runtime?.measuredOn !== undefined ? "the terms below, measured where they say so" : "estimate: initrd unpacked x 2 + modules + 16 MiB"}): ${f.fits ? "fits" : "SHORT"}`,
      );
    }
  }
  if (f?.runtime !== undefined) {
    lines.push("");
    lines.push("the crash kernel at run time, term by term (src/crash/runtime.ts):");
    lines.push(
      renderTable(
        ["term", "bytes", "status"],
        [
          ...f.runtime.terms.map((t) => [
            t.inLowRegion ? `${t.name} (low region)` : t.name,
            formatBytes(t.bytes),
            t.status,
          ]),
          ["total in the main region", formatBytes(f.runtime.totalBytes), ""],
        ],
        ["left", "right", "left"],
      ),
    );
    if (f.placed)
      lines.push(
        `  left after the segments ${formatBytes(f.leftBytes)} vs ${formatBytes(f.runtime.totalBytes)}: ${f.runtime.fits ? "fits" : "SHORT"}`,
      );
    if (f.runtime.measuredOn !== undefined) lines.push(`  measured on: ${f.runtime.measuredOn}`);
  }
  if (a.defaults.length > 0) {
    lines.push("");
    lines.push("distribution defaults on this machine (what the kernel reserves for each):");
    lines.push(
      renderTable(
        ["distribution", "crashkernel=", "reserves"],
        a.defaults.map((d) => [d.name, d.value, formatBytes(d.bytes)]),
        ["left", "left", "right"],
      ),
    );
  }
  for (const n of a.notes) lines.push(`note: ${n}`);
  return `${lines.join("\n")}\n`;
}
