/**
 * One palette for every strategy colour in the HTML report: the table's swatches, the bars, the
 * curves, the memory map's table lanes and every legend take the colour of a strategy from here, so a
 * strategy has the same colour everywhere and no two strategies of one report share one.
 */

/** Fixed colours of the built-in strategies (and the loop shapes that stand for them). */
const BUILTIN: Record<string, string> = {
  "mmu-off": "#d64545",
  "va-copy": "#2f6fde",
  "linear-map-copy": "#2e9e5b",
  "x86-ident": "#b446c8",
  "in-place": "#8a6d3b",
};

/** Loop shapes (src/model/shapes.ts) drawn in the colour of the strategy they model. */
const SHAPE_OF: Record<string, string> = { "x86-copy": "x86-ident", "x86-swap": "x86-ident" };

/** Colours for other (user) strategies, none of them a built-in's, in the order the strategies come. */
const OTHERS = ["#e0832f", "#1aa3a3", "#5b5bd6", "#c2185b", "#6d8f1f", "#7a5195", "#00838f", "#9e7700"];

/** The colour of each strategy name (built-ins fixed; the rest from OTHERS in order, then grey). */
export function strategyPalette(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let next = 0;
  for (const n of names) {
    if (out[n] !== undefined) continue;
    const fixed = BUILTIN[n] ?? BUILTIN[SHAPE_OF[n] ?? ""];
    out[n] = fixed ?? OTHERS[next++] ?? "#777777";
  }
  return out;
}

/** Phase colours of the reboot breakdown (not strategies: a separate, fixed set). */
export const PHASE_COLORS: Record<string, string> = {
  shutdown: "#6c757d",
  "cpu-teardown": "#f0a202",
  "cma-dma-wait": "#7b2cbf",
  relocation: "#3d5a80",
  purgatory: "#ee6c4d",
  decompress: "#98c1d9",
};
