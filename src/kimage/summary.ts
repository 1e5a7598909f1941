/** A plain, serializable summary of a built kimage (for JSON output and reports). */

import type { Kimage } from "./kimage.js";

export interface KimageSummary {
  type: "normal" | "crash";
  head: string;
  segments: { label: string; mem: string; memsz: number; bufsz: number }[];
  sourcePages: number;
  entries: number;
  destinationEntries: number;
  indirectionPages: number;
  inPlacePages: number;
  parkedPages: number;
  parkedReused: number;
  swaps: number;
  unusablePages: number;
  controlPages: number;
  controlRejected: number;
  pagesAllocated: number;
  controlCodePage: string | null;
  swapPage: string | null;
}

const hex = (n: number) => `0x${n.toString(16)}`;

export function summarizeKimage(image: Kimage): KimageSummary {
  const c = image.counters;
  return {
    type: image.type,
    head: hex(image.head),
    segments: image.segments.map((s, i) => ({
      label: s.label ?? `segment${i}`,
      mem: hex(s.mem),
      memsz: s.memsz,
      bufsz: s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz,
    })),
    sourcePages: c.sourcePages,
    entries: c.entries,
    destinationEntries: c.destinationEntries,
    indirectionPages: c.indirectionPages,
    inPlacePages: c.inPlacePages,
    parkedPages: c.parkedPages,
    parkedReused: c.parkedReused,
    swaps: c.swaps,
    unusablePages: c.unusablePages,
    controlPages: c.controlPages,
    controlRejected: c.controlRejected,
    pagesAllocated: c.pagesAllocated,
    controlCodePage: image.controlCodePage >= 0 ? hex(image.controlCodePage) : null,
    swapPage: image.swapPage >= 0 ? hex(image.swapPage) : null,
  };
}
