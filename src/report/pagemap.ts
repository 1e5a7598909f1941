/**
 * buildPageMap: where a kimage's pages are, as density buckets for the HTML memory map. The entry
 * list is read from simulated RAM (walkEntryList), as the relocation reads it, so the picture shows
 * what the kernel would really have built. Sparse output: only buckets that hold pages.
 */

import type { Kimage } from "../kimage/kimage.js";
import type { PhysMem } from "../machine/physmem.js";
import { walkEntryList } from "../reloc/list.js";
import type { PageMap } from "../reloc/result.js";

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
