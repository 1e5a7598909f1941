/**
 * Set-associative, write-back, LRU data caches at line granularity, indexed by physical line number
 * (PA / lineBytes). Flat typed arrays per level; nothing is allocated per access.
 *
 * The hierarchy is filled inclusively (a line fetched from memory is placed in every level), write-back
 * (a store marks the line dirty in the innermost level; a dirty victim moves down one level; a dirty
 * victim of the last level is written back to memory). Back-invalidation of inner copies on an outer
 * eviction is not modeled.
 */

export interface CacheLevelShape {
  name: string;
  bytes: number;
  ways: number;
  latencyCycles: number;
}

export class CacheLevel {
  readonly name: string;
  readonly sets: number;
  readonly ways: number;
  /** Line number per way, -1 when empty. */
  private readonly tags: Float64Array;
  /** Last-use stamp per way (LRU). */
  private readonly stamps: Float64Array;
  private readonly dirty: Uint8Array;
  private clock = 0;
  /** Set by insert(): the line evicted to make room (-1 when none) and whether it was dirty. */
  victimLine = -1;
  victimDirty = false;

  constructor(shape: CacheLevelShape, lineBytes: number) {
    this.name = shape.name;
    this.ways = shape.ways;
    this.sets = shape.bytes / lineBytes / shape.ways;
    const n = this.sets * this.ways;
    this.tags = new Float64Array(n).fill(-1);
    this.stamps = new Float64Array(n);
    this.dirty = new Uint8Array(n);
  }

  /** Index of the way holding `line`, or -1. A hit refreshes its LRU stamp. */
  lookup(line: number): number {
    const base = (line % this.sets) * this.ways;
    const tags = this.tags;
    for (let w = base, end = base + this.ways; w < end; w++) {
      if (tags[w] === line) {
        this.stamps[w] = ++this.clock;
        return w;
      }
    }
    return -1;
  }

  /** Like lookup but without touching LRU state. */
  find(line: number): number {
    const base = (line % this.sets) * this.ways;
    const tags = this.tags;
    for (let w = base, end = base + this.ways; w < end; w++) if (tags[w] === line) return w;
    return -1;
  }

  /** Place a line that is not present; reports the victim in victimLine/victimDirty. Returns its way. */
  insert(line: number, dirty: boolean): number {
    const base = (line % this.sets) * this.ways;
    let victim = base;
    let oldest = Number.POSITIVE_INFINITY;
    for (let w = base, end = base + this.ways; w < end; w++) {
      if (this.tags[w] === -1) {
        victim = w;
        oldest = -1;
        break;
      }
      if (this.stamps[w]! < oldest) {
        oldest = this.stamps[w]!;
        victim = w;
      }
    }
    this.victimLine = this.tags[victim]!;
    this.victimDirty = this.victimLine !== -1 && this.dirty[victim] === 1;
    this.tags[victim] = line;
    this.stamps[victim] = ++this.clock;
    this.dirty[victim] = dirty ? 1 : 0;
    return victim;
  }

  isDirty(way: number): boolean {
    return this.dirty[way] === 1;
  }

  setDirty(way: number, dirty: boolean): void {
    this.dirty[way] = dirty ? 1 : 0;
  }

  /** Drop the line at `way`. */
  evict(way: number): void {
    this.tags[way] = -1;
    this.dirty[way] = 0;
  }

  /** Add the line numbers of this level's dirty ways to `out`. */
  collectDirty(out: Set<number>): void {
    for (let w = 0; w < this.tags.length; w++) if (this.dirty[w] === 1) out.add(this.tags[w]!);
  }

  /** Number of valid lines (for tests). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.tags.length; i++) if (this.tags[i] !== -1) n++;
    return n;
  }
}

/** Where an access was satisfied: level index 0..levels-1, or `levels` for memory. */
export class CacheHierarchy {
  readonly levels: CacheLevel[];
  /** Dirty lines written back to memory since the last takeWritebacks(). */
  private writebacks = 0;

  constructor(shapes: readonly CacheLevelShape[], lineBytes: number) {
    this.levels = shapes.map((s) => new CacheLevel(s, lineBytes));
  }

  get depth(): number {
    return this.levels.length;
  }

  /**
   * Distinct lines that hold data not yet in memory (dirty in any level; a line dirty in two levels
   * counts once). Allocates one Set: for the end of a run, not per access.
   */
  dirtyLines(): number {
    const seen = new Set<number>();
    for (const lv of this.levels) lv.collectDirty(seen);
    return seen.size;
  }

  takeWritebacks(): number {
    const n = this.writebacks;
    this.writebacks = 0;
    return n;
  }

  /**
   * A cacheable access to `line`. Returns the level that held it (depth = memory). The line ends up in
   * every level above the one that held it; a store leaves it dirty in L1.
   */
  access(line: number, store: boolean): number {
    const levels = this.levels;
    const depth = levels.length;
    let hit = depth;
    for (let i = 0; i < depth; i++) {
      if (levels[i]!.lookup(line) >= 0) {
        hit = i;
        break;
      }
    }
    if (hit === 0) {
      if (store) levels[0]!.setDirty(levels[0]!.find(line), true);
      return 0;
    }
    for (let i = hit - 1; i >= 0; i--) {
      const lv = levels[i]!;
      lv.insert(line, store && i === 0);
      if (lv.victimDirty) this.writeDown(i + 1, lv.victimLine);
    }
    return hit;
  }

  /** A dirty line leaving level i-1 arrives at level i (or memory). */
  private writeDown(i: number, line: number): void {
    const levels = this.levels;
    while (i < levels.length) {
      const lv = levels[i]!;
      const w = lv.find(line);
      if (w >= 0) {
        lv.setDirty(w, true);
        return;
      }
      lv.insert(line, true);
      if (!lv.victimDirty) return;
      line = lv.victimLine;
      i++;
    }
    this.writebacks++;
  }

  /**
   * Maintenance of one line. `clean`: write dirty data back to memory; `invalidate`: drop the line.
   * `toLevel`: clean only the levels above it (Point of Unification), keeping the data in that level.
   * Returns true when the line was dirty somewhere in the affected levels.
   */
  maintain(line: number, clean: boolean, invalidate: boolean, toLevel = this.levels.length): boolean {
    let wasDirty = false;
    const levels = this.levels;
    const limit = Math.min(toLevel, levels.length);
    for (let i = 0; i < limit; i++) {
      const lv = levels[i]!;
      const w = lv.find(line);
      if (w < 0) continue;
      if (lv.isDirty(w)) {
        wasDirty = true;
        lv.setDirty(w, false);
      }
      if (invalidate) lv.evict(w);
    }
    if (wasDirty && clean) {
      if (limit >= levels.length) this.writebacks++;
      else this.writeDown(limit, line);
    }
    return wasDirty;
  }
}
