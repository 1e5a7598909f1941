/**
 * The running kernel's page allocator, as kexec sees it: a source of free pages, one at a time.
 * Which page comes next depends on the machine's history, so it is a policy:
 *
 *   lowest       ascending physical address
 *   highest      descending physical address
 *   random       a seeded pseudo-random permutation of all free pages
 *   fragmented   a seeded fraction of pages is already in use by the running system; the rest are
 *                handed out lowest first, so consecutive allocations are scattered around the holes
 *
 * The order is computed lazily (a Feistel permutation for random), so a 1 TiB machine costs nothing
 * up front. Freed pages go on a LIFO stack that is served first, as the kernel's per-CPU lists do.
 */

import { KexecLabError } from "../errors.js";
import type { RangeSet } from "./ranges.js";

export type FreePagePolicy =
  | { kind: "lowest" }
  | { kind: "highest" }
  | { kind: "random"; seed: number }
  | { kind: "fragmented"; seed: number; fraction: number };

export function describePolicy(p: FreePagePolicy): string {
  switch (p.kind) {
    case "lowest":
    case "highest":
      return p.kind;
    case "random":
      return `random(seed=${p.seed})`;
    case "fragmented":
      return `fragmented(seed=${p.seed}, ${Math.round(p.fraction * 100)}% in use)`;
  }
}

function hash32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ 0x27d4eb2f, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  h = Math.imul(h, 0x297a2d39);
  h ^= h >>> 15;
  return h >>> 0;
}

/** A bijection on [0, n) from a balanced Feistel network with cycle walking. */
class Permutation {
  private readonly half: number;
  private readonly halfSize: number;

  constructor(
    private readonly n: number,
    private readonly seed: number,
  ) {
    let bits = 2;
    while (2 ** bits < n) bits += 2;
    this.half = bits / 2;
    this.halfSize = 2 ** this.half;
  }

  private round(x: number): number {
    let left = Math.floor(x / this.halfSize);
    let right = x % this.halfSize;
    for (let r = 0; r < 4; r++) {
      const f = hash32(right, this.seed + r) % this.halfSize;
      const next = (left ^ f) % this.halfSize;
      left = right;
      right = next >= 0 ? next : next + this.halfSize;
    }
    return left * this.halfSize + right;
  }

  at(i: number): number {
    let x = this.round(i);
    while (x >= this.n) x = this.round(x);
    return x;
  }
}

export class PageAllocator {
  readonly pageSize: number;
  readonly totalPages: number;
  private readonly starts: number[] = [];
  /** Prefix sums: pages before range i. */
  private readonly before: number[] = [];
  private next = 0;
  private readonly freed: number[] = [];
  private readonly permutation: Permutation | null;
  private allocatedCount = 0;

  constructor(
    free: RangeSet,
    pageSize: number,
    readonly policy: FreePagePolicy,
  ) {
    this.pageSize = pageSize;
    let pages = 0;
    for (const r of free.ranges) {
      const first = Math.ceil(r.start / pageSize);
      const last = Math.floor(r.end / pageSize);
      if (last <= first) continue;
      this.starts.push(first);
      this.before.push(pages);
      pages += last - first;
    }
    this.totalPages = pages;
    if (policy.kind === "fragmented" && !(policy.fraction >= 0 && policy.fraction < 1)) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `fragmented fraction must be in [0, 1), got ${policy.fraction}`,
        {
          field: "freePages.fraction",
        },
      );
    }
    this.permutation = policy.kind === "random" ? new Permutation(pages, policy.seed >>> 0) : null;
  }

  /** pfn of the i-th free page in address order. */
  private pfnAt(i: number): number {
    let lo = 0;
    let hi = this.before.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.before[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]! + (i - this.before[lo]!);
  }

  private inUse(pfn: number): boolean {
    const p = this.policy;
    return p.kind === "fragmented" && hash32(pfn, p.seed) < p.fraction * 4294967296;
  }

  /** Physical address of the next free page, or -1 when memory is exhausted. */
  alloc(): number {
    const again = this.freed.pop();
    if (again !== undefined) {
      this.allocatedCount++;
      return again;
    }
    while (this.next < this.totalPages) {
      const k = this.next++;
      let i: number;
      switch (this.policy.kind) {
        case "highest":
          i = this.totalPages - 1 - k;
          break;
        case "random":
          i = this.permutation!.at(k);
          break;
        default:
          i = k;
      }
      const pfn = this.pfnAt(i);
      if (this.inUse(pfn)) continue;
      this.allocatedCount++;
      return pfn * this.pageSize;
    }
    return -1;
  }

  /** Give a page back; it is the next one handed out. */
  free(pa: number): void {
    this.allocatedCount--;
    this.freed.push(pa);
  }

  get allocated(): number {
    return this.allocatedCount;
  }
}
