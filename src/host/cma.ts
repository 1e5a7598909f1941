/**
 * The default CMA area of a collected host and how much of it is taken, from kexec-lab-collect's
 * cma.txt and dmesg.txt (or a recording's). Browser-safe. kexec_file_load allocates its buffers from
 * this area first from Linux 6.17 (kernel/kexec_file.c kexec_alloc_contig -> dma_alloc_from_contiguous
 * -> cma_alloc on dma_contiguous_default_area), so placement needs its base, size and taken pages.
 *
 * cma.txt ("CmaTotal: N kB" lines of /proc/meminfo, then "PATH: VALUE" per file):
 *   /sys/kernel/mm/cma/NAME/{alloc_pages_success,release_pages_success,total_pages,available_pages}
 *     (mm/cma_sysfs.c, CONFIG_CMA_SYSFS; total_pages and available_pages on newer kernels: Debian 7.3
 *     has them, Debian 6.12 has no CMA_SYSFS at all);
 *   /sys/kernel/debug/cma/NAME/{base_pfn,count,used,order_per_bit,bitmap} (mm/cma_debug.c,
 *     CONFIG_CMA_DEBUGFS, where debugfs is mounted).
 * dmesg.txt: "cma: Reserved N MiB at 0x... [on node N]" (mm/cma.c cma_declare_contiguous_nid): the
 *   area's base and size, which no sysfs file gives.
 * The default area is the one named "reserved" (kernel/dma/contiguous.c dma_contiguous_reserve ->
 * cma_declare_contiguous: name "reserved"); the first "cma: Reserved" line of the boot is its
 * reservation (dma_contiguous_reserve runs before the other CMA users, hugetlb_cma aside).
 */

import type { Range } from "../machine/ranges.js";

/** The default CMA area as the host shows it. */
export interface HostCma {
  /** The area, [start, end). */
  area: Range;
  /**
   * Bytes of the area cma_alloc had handed out when the host was collected (undefined: the host does
   * not say). PlanInput.cmaUsed models them as a run at the area's base (cma_alloc is first-fit).
   */
  used?: number;
  /** Where the base, the size and the used pages were read. */
  sources: string[];
  /** What could not be read exactly. */
  notes: string[];
}

/** "PATH: VALUE" lines of cma.txt, by path. */
function cmaFiles(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split("\n")) {
    const m = /^(\/sys\/kernel\/(?:mm|debug)\/cma\/[^:]+): ?(.*)$/.exec(l.trim());
    if (m) out.set(m[1]!, m[2]!.trim());
  }
  return out;
}

function count(files: Map<string, string>, path: string): number | undefined {
  const v = files.get(path);
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Set bits of a debugfs bitmap (space-separated 32-bit words), and whether they are one run from bit 0. */
function bitmapUse(words: string): { bits: number; prefix: boolean } {
  let bits = 0;
  let prefix = true;
  let ended = false;
  for (const w of words.split(/\s+/).filter(Boolean)) {
    const x = Number(w) >>> 0;
    for (let b = 0; b < 32; b++) {
      const set = ((x >>> b) & 1) === 1;
      if (set) {
        bits++;
        if (ended) prefix = false;
      } else ended = true;
    }
  }
  return { bits, prefix };
}

/**
 * The default CMA area from cma.txt and dmesg.txt; undefined when neither shows one (no CMA, or a
 * collection that predates cma.txt without the boot's "cma: Reserved" line). `pageSize` is the
 * kernel's page size (4096 on x86_64 and on Debian's arm64 kernels).
 */
export function parseHostCma(
  cmaText: string | undefined,
  dmesg: string | undefined,
  pageSize = 4096,
): HostCma | undefined {
  const files = cmaFiles(cmaText ?? "");
  const sources: string[] = [];
  const notes: string[] = [];
  const sys = "/sys/kernel/mm/cma/reserved";
  const dbg = "/sys/kernel/debug/cma/reserved";
  const line = /cma: Reserved (\d+) MiB at 0x([0-9a-fA-F]+)/.exec(dmesg ?? "");
  const basePfn = count(files, `${dbg}/base_pfn`);
  let start: number | undefined;
  if (basePfn !== undefined) {
    start = basePfn * pageSize;
    sources.push(`base: ${dbg}/base_pfn`);
  } else if (line) {
    start = Number.parseInt(line[2]!, 16);
    sources.push('base: dmesg "cma: Reserved ... at"');
  }
  if (start === undefined) return undefined;
  const pages = count(files, `${dbg}/count`) ?? count(files, `${sys}/total_pages`);
  let size: number | undefined;
  if (pages !== undefined) {
    size = pages * pageSize;
    sources.push(`size: ${files.has(`${dbg}/count`) ? `${dbg}/count` : `${sys}/total_pages`}`);
  } else if (line) {
    size = Number(line[1]) * 2 ** 20;
    sources.push('size: dmesg "cma: Reserved N MiB"');
  }
  if (size === undefined) return undefined;
  const out: HostCma = { area: { start, end: start + size }, sources, notes };
  // Taken pages: debugfs "used", else total - available (newer sysfs), else the allocation counters.
  const dbgUsed = count(files, `${dbg}/used`);
  const total = count(files, `${sys}/total_pages`);
  const avail = count(files, `${sys}/available_pages`);
  const alloc = count(files, `${sys}/alloc_pages_success`);
  const release = count(files, `${sys}/release_pages_success`);
  let usedPages: number | undefined;
  if (dbgUsed !== undefined) {
    usedPages = dbgUsed;
    sources.push(`used: ${dbg}/used`);
  } else if (total !== undefined && avail !== undefined) {
    usedPages = total - avail;
    sources.push(`used: ${sys}/total_pages - available_pages`);
  } else if (alloc !== undefined && release !== undefined) {
    usedPages = alloc - release;
    sources.push(`used: ${sys}/alloc_pages_success - release_pages_success`);
  } else {
    notes.push(
      "the taken pages of the CMA area are not known (no /sys/kernel/mm/cma or debugfs cma counters): placed as if the area were empty",
    );
  }
  if (usedPages !== undefined) out.used = usedPages * pageSize;
  const bitmap = files.get(`${dbg}/bitmap`);
  if (bitmap !== undefined) {
    const order = count(files, `${dbg}/order_per_bit`) ?? 0;
    const use = bitmapUse(bitmap);
    if (!use.prefix) {
      notes.push(
        `the CMA bitmap's ${use.bits * 2 ** order} taken pages are not one run from the area's base: placed as if they were`,
      );
    }
  }
  return out;
}
