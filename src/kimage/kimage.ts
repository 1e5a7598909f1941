/**
 * The kimage, built as kernel/kexec_core.c builds it, in simulated RAM.
 *
 * Names follow the kernel so the code maps back to it: kimage_add_entry -> addEntry,
 * kimage_set_destination -> setDestination, kimage_add_page -> addPage, kimage_terminate -> terminate,
 * kimage_alloc_page -> allocPage, kimage_alloc_control_pages -> allocControlPages,
 * kimage_is_destination_range -> isDestinationRange, kimage_dst_used -> dstUsed,
 * kimage_load_segment -> loadSegment.
 *
 * The entry list lives in indirection pages in simulated RAM; image.head is kept as the kernel keeps
 * it. The one liberty taken: kimage_dst_used scans the whole list (O(N) per call, O(N^2) worst case);
 * here a map from destination page to the slot of its SOURCE entry gives the same answer in O(1),
 * and `counters.dstUsedScans` still counts the entries the kernel would have scanned.
 */

import { KexecLabError } from "../errors.js";
import type { PageAllocator } from "../machine/freepages.js";
import type { PhysMem } from "../machine/physmem.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import {
  type Arch,
  archLimits,
  IND_DESTINATION,
  IND_DONE,
  IND_INDIRECTION,
  IND_SOURCE,
} from "./constants.js";

/** What a segment's buffer holds. */
export type SegmentContent =
  /** Real bytes (bufsz = data.length). */
  | { kind: "bytes"; data: Uint8Array }
  /** bufsz bytes of synthetic content: page i is page i of a payload generated from `seed`. */
  | { kind: "synthetic"; seed: number; bufsz: number };

export interface Segment {
  /** Destination physical address (page-aligned). */
  mem: number;
  memsz: number;
  content: SegmentContent;
  /** What the segment is, for reports: kernel, initrd, dtb, purgatory, ... */
  label?: string;
}

export function segmentBufsz(s: Segment): number {
  return s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz;
}

export type ImageType = "normal" | "crash";

/** Why a control page was allocated, for reports and invariant checks. */
export type ControlPurpose = "control-code" | "swap" | "table" | "other";

export interface ControlPage {
  pa: number;
  purpose: ControlPurpose;
}

export interface KimageCounters {
  /** Entries stored with addEntry (DESTINATION + SOURCE). */
  entries: number;
  destinationEntries: number;
  sourcePages: number;
  indirectionPages: number;
  /** Source pages that are their own destination. */
  inPlacePages: number;
  /** Pages parked on dest_pages (allocated, in a destination, not yet needed). */
  parkedPages: number;
  /** Parked pages later used for their own destination. */
  parkedReused: number;
  /** Times kimage_alloc_page swapped an earlier source page into its destination. */
  swaps: number;
  /** Pages above KEXEC_SOURCE_MEMORY_LIMIT set aside. */
  unusablePages: number;
  controlPages: number;
  /** Control-page candidates rejected because they lay in a destination or above the limit. */
  controlRejected: number;
  /** Pages taken from the running kernel's allocator in all. */
  pagesAllocated: number;
  /** Entries the kernel's kimage_dst_used would have scanned. */
  dstUsedScans: number;
}

export interface KimageOptions {
  arch: Arch;
  mem: PhysMem;
  allocator: PageAllocator;
  segments: Segment[];
  type?: ImageType;
  /** Crash region [start, end) for crash images (control pages and segments go there). */
  crashRegion?: Range;
  /** x86_64 paging levels (sets the memory limits). */
  x86Levels?: 4 | 5;
}

const TWO_32 = 4294967296;

/** Sentinel destination for pages that must not be anybody's destination (KIMAGE_NO_DEST). */
export const KIMAGE_NO_DEST = -1;

export class Kimage {
  readonly arch: Arch;
  readonly type: ImageType;
  readonly mem: PhysMem;
  readonly allocator: PageAllocator;
  readonly pageSize: number;
  readonly segments: readonly Segment[];
  readonly crashRegion: Range | undefined;
  /** The destinations of all segments. */
  readonly destinations: RangeSet;

  /** image->head: pa(first indirection page) | IND_INDIRECTION, or IND_DONE when nothing was added. */
  head = 0;
  /** Where the next entry goes: a PA in an indirection page, or -1 for &image->head. */
  private entry = -1;
  /** The reserved last slot of the current indirection page, or -1 for &image->head. */
  private lastEntry = -1;

  /** The destination that the next SOURCE entry will fill (tracks kimage_set_destination). */
  private buildDest = 0;
  /**
   * Per-destination-page state, indexed by (segment, page within segment) in typed arrays, so a
   * 64 GiB load costs 9 bytes a page and no hash table:
   *   sourceSlot[s][i]  PA of the slot holding the SOURCE entry for that page, -1 when none yet
   *                     (the kernel's kimage_dst_used finds it by scanning the list)
   *   parked[s][i]      1 while the page itself sits on image->dest_pages
   */
  private readonly destSegments: {
    start: number;
    end: number;
    sourceSlot: Float64Array;
    parked: Uint8Array;
  }[];
  private parkedNow = 0;
  private readonly unusablePages: number[] = [];
  readonly controlPages: ControlPage[] = [];
  readonly indirectionPages: number[] = [];
  /** Next candidate for crash control pages (image->control_page). */
  private crashControlNext = 0;
  private readonly sourceLimit: number;
  private readonly controlLimit: number;
  controlCodePage = -1;
  swapPage = -1;
  terminated = false;

  readonly counters: KimageCounters = {
    entries: 0,
    destinationEntries: 0,
    sourcePages: 0,
    indirectionPages: 0,
    inPlacePages: 0,
    parkedPages: 0,
    parkedReused: 0,
    swaps: 0,
    unusablePages: 0,
    controlPages: 0,
    controlRejected: 0,
    pagesAllocated: 0,
    dstUsedScans: 0,
  };

  constructor(opts: KimageOptions) {
    this.arch = opts.arch;
    this.type = opts.type ?? "normal";
    this.mem = opts.mem;
    this.allocator = opts.allocator;
    this.pageSize = opts.mem.pageSize;
    this.segments = opts.segments;
    this.crashRegion = opts.crashRegion;
    this.destinations = new RangeSet(opts.segments.map((s) => ({ start: s.mem, end: s.mem + s.memsz })));
    this.destSegments = opts.segments
      .filter((s) => s.memsz > 0)
      .map((s) => {
        const pages = Math.ceil(s.memsz / this.pageSize);
        return {
          start: s.mem,
          end: s.mem + pages * this.pageSize,
          sourceSlot: new Float64Array(pages).fill(-1),
          parked: new Uint8Array(pages),
        };
      })
      .sort((a, b) => a.start - b.start);
    const limits = archLimits(opts.arch, opts.x86Levels ?? 4);
    this.sourceLimit = Number(limits.sourceLimit);
    this.controlLimit = Number(limits.controlLimit);
    if (this.type === "crash") {
      if (this.crashRegion === undefined) {
        throw new KexecLabError("E_FIELD_MISSING", "a crash image needs a crash region", { field: "crash" });
      }
      this.crashControlNext = this.crashRegion.start;
    }
  }

  /**
   * kimage_alloc_init: the control code page and, for normal images, the swap page. Later control
   * pages (x86_64's init_pgtable, arm64's trans_pgd tables) come from allocControlPages too.
   */
  allocInit(): void {
    this.controlCodePage = this.allocControlPages(0, "control-code");
    if (this.type === "normal") this.swapPage = this.allocControlPages(0, "swap");
  }

  // ---- destination ranges ------------------------------------------------------------------------

  /** kimage_is_destination_range(image, start, end): end is inclusive, as in the kernel. */
  isDestinationRange(start: number, endInclusive: number): boolean {
    return this.destinations.overlaps({ start, end: endInclusive + 1 });
  }

  // ---- page allocation ---------------------------------------------------------------------------

  private takePage(): number {
    const pa = this.allocator.alloc();
    if (pa < 0) {
      throw new KexecLabError(
        "E_OUT_OF_MEMORY",
        `the running kernel has no free page left after ${this.counters.pagesAllocated} allocations`,
      );
    }
    this.counters.pagesAllocated++;
    return pa;
  }

  /**
   * kimage_alloc_control_pages(image, order). Only order 0 is modeled: KEXEC_CONTROL_PAGE_SIZE is one
   * page on arm64 and x86_64, and table pages are single pages.
   */
  allocControlPages(order: number, purpose: ControlPurpose = "other"): number {
    if (order !== 0) {
      throw new KexecLabError("E_NOT_MODELED", `control pages of order ${order}`, { field: "order" });
    }
    const pa = this.type === "crash" ? this.allocCrashControlPage() : this.allocNormalControlPage();
    this.controlPages.push({ pa, purpose });
    this.counters.controlPages++;
    return pa;
  }

  /**
   * kimage_alloc_normal_control_pages: take pages until one lies below the control limit and in no
   * destination; the rejected ones are held aside and given back at the end.
   */
  private allocNormalControlPage(): number {
    const extra: number[] = [];
    let pa: number;
    for (;;) {
      pa = this.takePage();
      const tooHigh = pa + this.pageSize - 1 > this.controlLimit;
      if (!tooHigh && !this.isDestinationRange(pa, pa + this.pageSize - 1)) break;
      extra.push(pa);
      this.counters.controlRejected++;
    }
    for (const p of extra) {
      this.allocator.free(p);
      this.counters.pagesAllocated--;
    }
    this.mem.zeroPage(pa);
    return pa;
  }

  /** kimage_alloc_crash_control_pages: a bump allocator inside the crash region, skipping segments. */
  private allocCrashControlPage(): number {
    const region = this.crashRegion!;
    let hole = Math.ceil(this.crashControlNext / this.pageSize) * this.pageSize;
    while (hole + this.pageSize <= region.end) {
      const clash = this.segments.find((s) => hole < s.mem + s.memsz && s.mem < hole + this.pageSize);
      if (clash === undefined) {
        this.crashControlNext = hole + this.pageSize;
        this.mem.zeroPage(hole);
        return hole;
      }
      hole = Math.ceil((clash.mem + clash.memsz) / this.pageSize) * this.pageSize;
    }
    throw new KexecLabError("E_OUT_OF_MEMORY", "no room left for a control page in the crash region");
  }

  /**
   * kimage_alloc_page(image, gfp, destination): a page that is either `destination` itself or in no
   * destination range at all. destination = KIMAGE_NO_DEST for indirection pages.
   */
  allocPage(destination: number): number {
    // A page parked earlier for exactly this destination?
    const wanted = this.destSegmentOf(destination);
    if (wanted !== undefined) {
      const i = (destination - wanted.start) / this.pageSize;
      if (wanted.parked[i] === 1) {
        wanted.parked[i] = 0;
        this.parkedNow--;
        this.counters.parkedReused++;
        return destination;
      }
    }
    for (;;) {
      const pa = this.takePage();
      if (pa + this.pageSize - 1 > this.sourceLimit) {
        this.unusablePages.push(pa);
        this.counters.unusablePages++;
        continue;
      }
      if (pa === destination) return pa;
      if (!this.isDestinationRange(pa, pa + this.pageSize - 1)) return pa;
      // pa is somebody's destination. Is a source page already listed for it?
      const slot = this.dstUsed(pa);
      if (slot >= 0) {
        // Move that page's data here (now in place) and hand out the old source page instead.
        const entry = this.mem.read64(slot);
        const oldPa = entry - (entry % this.pageSize);
        this.mem.copyPage(pa, oldPa);
        this.mem.write64(slot, pa + (entry - oldPa));
        this.counters.swaps++;
        this.counters.inPlacePages++;
        return oldPa;
      }
      const seg = this.destSegmentOf(pa)!;
      seg.parked[(pa - seg.start) / this.pageSize] = 1;
      this.parkedNow++;
      this.counters.parkedPages++;
    }
  }

  /** kimage_dst_used: the slot of the SOURCE entry whose destination is `page`, or -1. */
  private dstUsed(page: number): number {
    this.counters.dstUsedScans += this.counters.entries;
    const seg = this.destSegmentOf(page);
    return seg === undefined ? -1 : seg.sourceSlot[(page - seg.start) / this.pageSize]!;
  }

  /** The destination segment containing page `pa`, or undefined (segments are disjoint and sorted). */
  private destSegmentOf(pa: number): (typeof this.destSegments)[number] | undefined {
    const segs = this.destSegments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = segs[mid]!;
      if (pa < s.start) hi = mid - 1;
      else if (pa >= s.end) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  // ---- the entry list -----------------------------------------------------------------------------

  private readSlot(slot: number): number {
    return slot < 0 ? this.head : this.mem.read64(slot);
  }

  private writeSlot(slot: number, value: number): void {
    if (slot < 0) this.head = value;
    else this.mem.write64(slot, value);
  }

  /** kimage_add_entry: store one entry, opening a new indirection page when the current one is full. */
  addEntry(entry: number): number {
    if (this.readSlot(this.entry) !== 0) this.entry += 8;
    if (this.entry === this.lastEntry) {
      const indPage = this.allocPage(KIMAGE_NO_DEST);
      this.mem.zeroPage(indPage);
      this.writeSlot(this.entry, indPage + IND_INDIRECTION);
      this.indirectionPages.push(indPage);
      this.counters.indirectionPages++;
      this.entry = indPage;
      this.lastEntry = indPage + this.pageSize - 8;
    }
    const slot = this.entry;
    this.mem.write64(slot, entry);
    this.entry += 8;
    this.mem.write64(this.entry, 0);
    this.counters.entries++;
    return slot;
  }

  /** kimage_set_destination */
  setDestination(destination: number): void {
    const page = destination - (destination % this.pageSize);
    this.buildDest = page;
    this.addEntry(page + IND_DESTINATION);
    this.counters.destinationEntries++;
  }

  /** kimage_add_page */
  addPage(page: number): void {
    const pa = page - (page % this.pageSize);
    const slot = this.addEntry(pa + IND_SOURCE);
    const seg = this.destSegmentOf(this.buildDest);
    if (seg !== undefined) seg.sourceSlot[(this.buildDest - seg.start) / this.pageSize] = slot;
    if (pa === this.buildDest) this.counters.inPlacePages++;
    this.buildDest += this.pageSize;
    this.counters.sourcePages++;
  }

  /** kimage_terminate */
  terminate(): void {
    if (this.readSlot(this.entry) !== 0) this.entry += 8;
    this.writeSlot(this.entry, IND_DONE);
    this.terminated = true;
  }

  // ---- loading segments -------------------------------------------------------------------------

  /** kimage_load_segment for every segment, then kimage_terminate. */
  loadSegments(onPage?: (done: number) => void): void {
    let done = 0;
    for (let i = 0; i < this.segments.length; i++) {
      done = this.loadSegment(i, done, onPage);
    }
    this.terminate();
  }

  /** kimage_load_segment: normal images build entries; crash images write straight to the destination. */
  loadSegment(index: number, doneBefore = 0, onPage?: (done: number) => void): number {
    const seg = this.segments[index]!;
    const ps = this.pageSize;
    const payload = seg.content.kind === "synthetic" ? this.mem.addPayload(seg.content.seed) : 0;
    const bufsz = segmentBufsz(seg);
    let done = doneBefore;
    if (this.type === "normal") this.setDestination(seg.mem);
    for (let off = 0; off < seg.memsz; off += ps) {
      const maddr = seg.mem + off;
      const page = this.type === "normal" ? this.allocPage(maddr) : maddr;
      if (this.type === "normal") this.addPage(page);
      this.fillSourcePage(page, seg, off, bufsz, payload);
      done++;
      if (onPage !== undefined && (done & 0xfff) === 0) onPage(done);
    }
    return done;
  }

  /** clear_page + copy_from_user of up to one page of the buffer. */
  private fillSourcePage(page: number, seg: Segment, off: number, bufsz: number, payload: number): void {
    const ps = this.pageSize;
    const chunk = Math.min(ps, Math.max(0, bufsz - off));
    if (seg.content.kind === "synthetic" && chunk === ps) {
      this.mem.setSynthetic(page, payload, off / ps);
      return;
    }
    if (seg.content.kind === "bytes" && chunk === ps) {
      // copy_from_user of a whole page: the page views the caller's buffer (copy-on-write, PhysMem.borrowPage)
      this.mem.borrowPage(page, seg.content.data.subarray(off, off + ps));
      return;
    }
    this.mem.zeroPage(page);
    if (chunk === 0) return;
    if (seg.content.kind === "bytes") {
      this.mem.writeBytes(page, seg.content.data.subarray(off, off + chunk));
    } else {
      const tmp = new Uint8Array(ps);
      this.mem.renderSynthetic(payload, off / ps, tmp);
      this.mem.writeBytes(page, tmp.subarray(0, chunk));
    }
  }

  // ---- reading the list back ----------------------------------------------------------------------

  /** The entries as the relocation code sees them, read from simulated RAM. */
  *entries(): Generator<KimageEntry> {
    yield* iterateEntries(this.mem, this.head);
  }

  /** Every source page with its destination, in list order (for_each_kimage_entry with dest tracking). */
  sourcePairs(): { dest: number; src: number }[] {
    const out: { dest: number; src: number }[] = [];
    let dest = 0;
    for (const e of this.entries()) {
      if (e.flag === IND_DESTINATION) dest = e.addr;
      else if (e.flag === IND_SOURCE) {
        out.push({ dest, src: e.addr });
        dest += this.pageSize;
      }
    }
    return out;
  }

  /** Pages still parked on dest_pages, in address order. */
  get parkedPages(): readonly number[] {
    const out: number[] = [];
    if (this.parkedNow === 0) return out;
    for (const seg of this.destSegments) {
      for (let i = 0; i < seg.parked.length; i++)
        if (seg.parked[i] === 1) out.push(seg.start + i * this.pageSize);
    }
    return out;
  }

  get unusable(): readonly number[] {
    return this.unusablePages;
  }
}

export interface KimageEntry {
  /** PA of the slot the entry was read from (-1 for image->head). */
  slot: number;
  /** The raw entry value. */
  value: number;
  /** The page address: value & PAGE_MASK. */
  addr: number;
  /** The IND_* flag, or 0 for a zero entry. */
  flag: number;
}

/**
 * Walk an entry list in simulated RAM as the relocation code does. Stops at IND_DONE or a zero entry;
 * a slot outside RAM ends the walk with a `flag` of -1.
 */
export function* iterateEntries(mem: PhysMem, head: number): Generator<KimageEntry> {
  let slot = -1;
  let value = head;
  for (;;) {
    if (value < 0) {
      yield { slot, value, addr: -1, flag: -1 };
      return;
    }
    const low = value % TWO_32;
    const flag = low & 0xf;
    const addr = value - (low % mem.pageSize);
    yield { slot, value, addr, flag };
    if (flag === IND_DONE || value === 0) return;
    if (flag === IND_INDIRECTION) slot = addr;
    else slot += 8;
    value = mem.read64(slot);
  }
}
