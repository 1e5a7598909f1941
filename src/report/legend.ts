/**
 * The terms kexec-lab's tables use, each explained in one line (`--explain`, and docs/guide.md).
 * Each definition names the kernel function or model rule it comes from.
 */

export interface LegendTerm {
  term: string;
  meaning: string;
}

/** Terms of `kexec-lab run`'s tables. */
export const RUN_LEGEND: readonly LegendTerm[] = [
  {
    term: "mem, memsz, bufsz",
    meaning:
      "a segment's physical address, its size in memory (page-rounded), and the bytes the loader passes (the rest is zero-filled)",
  },
  {
    term: "source pages",
    meaning:
      "pages kimage_alloc_page() took from free memory to hold the segments' contents until the relocation copies them (kernel/kexec_core.c)",
  },
  {
    term: "entries",
    meaning:
      "IND_DESTINATION, IND_SOURCE, IND_INDIRECTION and IND_DONE words of the kimage entry list (kimage_add_entry)",
  },
  {
    term: "indirection pages",
    meaning: "pages that hold the entry list itself, 511 entries and a link each (4K pages)",
  },
  {
    term: "in place",
    meaning:
      "source pages that happened to be their own destination: the list walk still copies each onto itself (copy_page(dest, src), dest == src) and cleans it like any other page",
  },
  {
    term: "swaps",
    meaning:
      "times kimage_alloc_page() got a page that is the destination of an earlier source page: it copied that source page into it (now in place) and reused the old page (kernel/kexec_core.c)",
  },
  {
    term: "parked",
    meaning:
      "pages kimage_alloc_page() allocated that lie inside a destination range and are not yet usable, kept on image->dest_pages until a segment wants that destination",
  },
  {
    term: "control pages",
    meaning:
      "pages from kimage_alloc_control_pages(): the relocation code, the swap page and, for the MMU-on strategies, the page tables",
  },
  { term: "entries walked", meaning: "entry-list words the relocation code read on the simulated CPU" },
  { term: "TLB misses", meaning: "translations the simulated MMU had to walk the tables for" },
  {
    term: "modeled",
    meaning:
      "relocation time from the timing model of a machine profile (src/model; docs/model.md), not a measurement",
  },
  {
    term: "limit",
    meaning:
      "the physical limit: every relocated byte read once and written once at the profile's DRAM copy bandwidth (2 x bytes / bandwidth)",
  },
  {
    term: "x limit",
    meaning: "modeled time divided by the limit: 1.00x would be as fast as the memory allows",
  },
  {
    term: "(sampled)",
    meaning:
      "the model simulated evenly spaced blocks of the copies and scaled the rest: an estimate of the full trace, not every page",
  },
  {
    term: "copy, list walk, table walk, cache maint, TLB",
    meaning:
      "the modeled time split by what the CPU was doing: copying pages, reading the entry list, walking translation tables, cleaning/invalidating cache lines, TLB maintenance",
  },
];

/** Terms of `kexec-lab plan`'s table. */
export const PLAN_LEGEND: readonly LegendTerm[] = [
  {
    term: "mem, end",
    meaning: "the segment's physical range [mem, end) as the loader passes it to the kernel",
  },
  {
    term: "memsz",
    meaning:
      "bytes the segment occupies in memory, rounded up to the page size; the part past bufsz is zero-filled",
  },
  { term: "bufsz", meaning: "bytes of the file (or built buffer) the loader copies in" },
  {
    term: "entry",
    meaning:
      "where the kernel's kexec jump lands: purgatory for kexec-tools, the kernel itself for arm64 kexec_file_load",
  },
  { term: "kernel entry", meaning: "the new kernel's own entry point (what purgatory jumps to)" },
];

/** A legend as text: "term: meaning" lines under a "legend:" heading. */
export function formatLegend(terms: readonly LegendTerm[]): string {
  const width = Math.max(...terms.map((t) => t.term.length));
  return `legend:\n${terms.map((t) => `  ${t.term.padEnd(width)}  ${t.meaning}`).join("\n")}\n`;
}
