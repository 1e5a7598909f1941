/**
 * buildPageMap: where a kimage's pages are, as density buckets for the HTML memory map. The entry
 * list is read from simulated RAM (walkEntryList), as the relocation reads it, so the picture shows
 * what the kernel would really have built. Sparse output: only buckets that hold pages.
 */

import type { Kimage, Segment } from "../kimage/kimage.js";
import { kexecLoad } from "../kimage/load.js";
import { summarizeKimage } from "../kimage/summary.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import { Machine } from "../machine/machine.js";
import { MemoryMap } from "../machine/memmap.js";
import { isPageSize, type PhysMem } from "../machine/physmem.js";
import { walkEntryList } from "../reloc/list.js";
import type { PageMap, RunResult } from "../reloc/result.js";

/** Smallest power of two >= max(pageSize, span / maxBuckets). */
export function bucketBytesFor(spanBytes: number, pageSize: number, maxBuckets = 2048): number {
  let b = pageSize;
  while (b * maxBuckets < spanBytes) b *= 2;
  return b;
}

class Buckets {
  private readonly counts = new Map<number, number>();
  constructor(private readonly bucketBytes: number) {}
  add(pa: number): void {
    const i = Math.floor(pa / this.bucketBytes);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
  }
  out(): [string, number][] {
    return [...this.counts.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, n]) => [`0x${(i * this.bucketBytes).toString(16)}`, n]);
  }
}

/**
 * The page map of a built image. Bucket size: the smallest power of two (at least a page) that cuts
 * `spanBytes` (default: the span from the lowest to the highest page shown) into at most maxBuckets.
 */
export function buildPageMap(image: Kimage, mem: PhysMem, spanBytes?: number, maxBuckets = 1024): PageMap {
  const ps = mem.pageSize;
  // Bucket size from the span of everything shown: segments, listed pages, control pages.
  let lo = Infinity;
  let hi = 0;
  const take = (s: number, e: number) => {
    if (s < lo) lo = s;
    if (e > hi) hi = e;
  };
  for (const s of image.segments) take(s.mem, s.mem + s.memsz);
  for (const c of image.controlPages) take(c.pa, c.pa + ps);
  walkEntryList(mem, image.head, {
    source: (_dest, src) => take(src, src + ps),
    indirection: (page) => take(page, page + ps),
  });
  const bucketBytes = bucketBytesFor(spanBytes ?? Math.max(hi - lo, ps), ps, maxBuckets);
  const source = new Buckets(bucketBytes);
  const inPlace = new Buckets(bucketBytes);
  const indirection = new Buckets(bucketBytes);
  const control = new Buckets(bucketBytes);
  walkEntryList(mem, image.head, {
    source: (dest, src) => {
      source.add(src);
      if (dest === src) inPlace.add(src);
    },
    indirection: (page) => indirection.add(page),
  });
  for (const c of image.controlPages) {
    if (c.purpose === "control-code" || c.purpose === "swap") control.add(c.pa);
  }
  return {
    bucketBytes,
    pageSize: ps,
    source: source.out(),
    inPlace: inPlace.out(),
    indirection: indirection.out(),
    control: control.out(),
  };
}

/** The free-page policy back from its description in RunResult.scenario.freePages. */
export function parseFreePagesDescription(text: string): FreePagePolicy | undefined {
  if (text === "lowest" || text === "highest") return { kind: text };
  const random = /^random\(seed=(\d+)\)$/.exec(text);
  if (random) return { kind: "random", seed: Number(random[1]) };
  const frag = /^fragmented\(seed=(\d+), (?:fraction=([0-9.]+)|(\d+)% in use)\)$/.exec(text);
  if (frag) {
    return {
      kind: "fragmented",
      seed: Number(frag[1]),
      fraction: frag[2] !== undefined ? Number(frag[2]) : Number(frag[3]) / 100,
    };
  }
  return undefined;
}

/**
 * Rebuild the page map of a RunResult that has none (e.g. from an older `run --json`): load the same
 * segments on the same memory map with the same free-page policy. Where source pages land does not
 * depend on their contents, so a synthetic load builds the same entry list. The rebuilt kimage must
 * match the result's (head, page and entry counts, control pages); otherwise undefined is returned,
 * never a wrong picture.
 */
export function reconstructPageMap(result: RunResult): PageMap | undefined {
  if (result.kimage.type !== "normal") return undefined;
  const freePages = parseFreePagesDescription(result.scenario.freePages);
  const arch = result.machine.arch;
  const pageSize = result.machine.pageSize;
  if (freePages === undefined || (arch !== "arm64" && arch !== "x86_64") || !isPageSize(pageSize))
    return undefined;
  const num = (h: string) => Number.parseInt(h, 16);
  try {
    const machine = new Machine({
      arch,
      pageSize,
      memoryMap: new MemoryMap(
        result.machine.memoryMap.map((r) => ({
          start: num(r.start),
          end: num(r.end),
          type: r.type,
          name: r.name,
        })),
      ),
      contentMode: "synthetic",
      freePages,
    });
    const segments: Segment[] = result.kimage.segments.map((s, i) => ({
      mem: num(s.mem),
      memsz: s.memsz,
      label: s.label,
      content: { kind: "synthetic", seed: i + 1, bufsz: s.bufsz },
    }));
    // x86_64 builds its tables (control pages) before the segments are loaded (init_pgtable): the
    // result's kimage comes from the first normal-image strategy, so allocate as many pages first.
    const first = result.strategies.find((st) => !st.name.startsWith("in-place"));
    const early = arch === "x86_64" && first !== undefined ? first.controlPages.length : 0;
    const loaded = kexecLoad(
      machine,
      segments,
      early > 0
        ? {
            beforeSegments: (image) => {
              for (let i = 0; i < early; i++) image.allocControlPages(0, "table");
            },
          }
        : {},
    );
    if (!loaded.ok) return undefined;
    const again = summarizeKimage(loaded.image);
    const k = result.kimage;
    const same =
      again.head === k.head &&
      again.sourcePages === k.sourcePages &&
      again.entries === k.entries &&
      again.indirectionPages === k.indirectionPages &&
      again.inPlacePages === k.inPlacePages &&
      again.swaps === k.swaps &&
      again.controlCodePage === k.controlCodePage &&
      again.swapPage === k.swapPage;
    return same ? buildPageMap(loaded.image, machine.mem) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The page map of a scenario as run would load it: one more kexec_load on a fresh machine (no
 * relocation). Undefined when the kernel would refuse the load.
 */
export function scenarioPageMap(
  machine: Machine,
  segments: Segment[],
  x86Levels?: 4 | 5,
): PageMap | undefined {
  const loaded = kexecLoad(machine, segments, x86Levels !== undefined ? { x86Levels } : {});
  return loaded.ok ? buildPageMap(loaded.image, machine.mem) : undefined;
}
