/**
 * Analytical accounting of translation-table pages for a set of mappings, without building anything.
 *
 * Each mapping is cut into runs of equal leaves exactly as the builder cuts it (the largest leaf that
 * VA alignment, PA alignment and the remaining size allow). A run of leaves at level index f spanning
 * [a, b) needs, at every level index 0 < i <= f, one table per level-(i-1) entry it touches:
 *
 *   tables at level i  =  | union over runs with f >= i of [ floor(a / S(i-1)), floor((b-1) / S(i-1)) ] |
 *
 * where S(i) = 2^shift(i) is the size one level-i entry maps, counted per root (arm64: per TTBR half;
 * x86_64: one root for both halves). Plus one root table per root in use. The union is taken over index
 * intervals, so the cost is O(mappings * levels * log) whatever the mapped size.
 *
 * Closed forms for one range of size N at VA 0 with one leaf size s (page-granular: s = granule):
 *   last-level tables = ceil(N / (s * entries)),  each upper level = ceil(N / S(level-1)), root = 1.
 */

import { leafLevels } from "./builder.js";
import type { MapOptions, TranslationFormat, VaHalf } from "./types.js";

export interface CountMapping {
  half: VaHalf;
  va: number;
  pa: number;
  size: number;
}

export interface CountResult {
  pages: number;
  bytes: number;
  byLevel: Record<string, number>;
  /** Leaves written, by leaf size in bytes. */
  leaves: Record<string, number>;
}

/** Calls `run(levelIndex, start, end)` for each run of equal leaves the builder would write. */
export function decompose(
  format: TranslationFormat,
  m: CountMapping,
  opts: MapOptions,
  run: (li: number, start: number, end: number) => void,
): void {
  const ok = leafLevels(format, opts);
  const lis: number[] = [];
  for (let i = 0; i < ok.length; i++) if (ok[i]) lis.push(i);
  const sizeOf = (li: number) => 2 ** format.levels[li]!.shift;
  const end = m.va + m.size;
  const delta = m.pa - m.va;
  let addr = m.va;
  while (addr < end) {
    let chosen = lis[lis.length - 1]!;
    for (const li of lis) {
      const s = sizeOf(li);
      if (addr % s === 0 && (addr + delta) % s === 0 && addr + s <= end) {
        chosen = li;
        break;
      }
    }
    const s = sizeOf(chosen);
    let stop = addr + Math.floor((end - addr) / s) * s;
    for (const li of lis) {
      if (li >= chosen) break;
      const big = sizeOf(li);
      if (delta % big !== 0) continue;
      const boundary = (Math.floor(addr / big) + 1) * big;
      if (boundary + big <= end && boundary < stop) stop = boundary;
    }
    run(chosen, addr, stop);
    addr = stop;
  }
}

export function countTablePages(
  format: TranslationFormat,
  mappings: readonly CountMapping[],
  opts: MapOptions = {},
): CountResult {
  const n = format.levels.length;
  // Per (root, level index): index intervals [first, last].
  const intervals = new Map<string, [number, number][]>();
  const roots = new Set<number>();
  const leaves: Record<string, number> = {};
  for (const m of mappings) {
    if (m.size <= 0) continue;
    const root = format.arch === "x86_64" ? 0 : m.half;
    roots.add(root);
    decompose(format, m, opts, (f, a, b) => {
      const s = 2 ** format.levels[f]!.shift;
      leaves[String(s)] = (leaves[String(s)] ?? 0) + (b - a) / s;
      for (let i = 1; i <= f; i++) {
        const span = 2 ** format.levels[i - 1]!.shift;
        const key = `${root}:${i}`;
        let list = intervals.get(key);
        if (list === undefined) {
          list = [];
          intervals.set(key, list);
        }
        list.push([Math.floor(a / span), Math.ceil(b / span) - 1]);
      }
    });
  }
  const perLevel = new Array<number>(n).fill(0);
  perLevel[0] = roots.size;
  for (const [key, list] of intervals) {
    const i = Number(key.slice(key.indexOf(":") + 1));
    list.sort((x, y) => x[0] - y[0]);
    let total = 0;
    let curStart = -1;
    let curEnd = -2;
    for (const [s, e] of list) {
      if (s > curEnd + 1) {
        if (curEnd >= curStart && curStart >= 0) total += curEnd - curStart + 1;
        curStart = s;
        curEnd = e;
      } else if (e > curEnd) {
        curEnd = e;
      }
    }
    if (curStart >= 0) total += curEnd - curStart + 1;
    perLevel[i]! += total;
  }
  const byLevel: Record<string, number> = {};
  let pages = 0;
  format.levels.forEach((l, i) => {
    byLevel[String(l.level)] = perLevel[i]!;
    pages += perLevel[i]!;
  });
  return { pages, bytes: pages * format.granule, byLevel, leaves };
}
