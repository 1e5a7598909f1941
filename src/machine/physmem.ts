/**
 * Simulated physical memory: a sparse map of page frames over a physical address space of up to
 * 52 bits.
 *
 * Every page frame of RAM has a 32-bit content code in a per-section Int32Array:
 *
 *   code == 0          the page was never written: it reads as zeros and costs nothing
 *   code  > 0          exact content: index of a Uint8Array frame in the frame pool (ref-counted, so
 *                      a copy can share the frame and a later write copies it first: copy-on-write);
 *                      a borrowed frame is a view of a caller's buffer (a loaded segment's bytes), never
 *                      written: its first write copies it, as for a shared frame (borrowPage)
 *   code  < 0          synthetic content: payload number -code; the bytes are generated on demand from
 *                      (payload seed, page index in payload), the index kept in a second Int32Array
 *   code == NOT_RAM    no RAM at this page (only inside a section that RAM covers in part)
 *
 * Sections of 2^16 page frames are created on first write. An access outside RAM never throws: reads
 * return -1 (every valid value is unsigned) and writes return false; the caller turns that into a fault
 * value. Resource exhaustion (the --max-memory budget) is the one thrown error, and it is catalogued.
 */

import { KexecLabError } from "../errors.js";
import { formatBytes } from "../report/format.js";
import { type Range, RangeSet } from "./ranges.js";

export type PageSize = 4096 | 16384 | 65536;
export const PAGE_SIZES: readonly PageSize[] = [4096, 16384, 65536];

export function isPageSize(n: number): n is PageSize {
  return n === 4096 || n === 16384 || n === 65536;
}

export function pageShiftOf(pageSize: PageSize): number {
  return pageSize === 4096 ? 12 : pageSize === 16384 ? 14 : 16;
}

const SECTION_PAGES = 65536;
const NOT_RAM = -0x80000000;
/** Frame storage comes in slabs that grow from 1 MiB to 64 MiB: few allocations for big runs, little waste for small ones. */
const SLAB_MIN_BYTES = 1024 * 1024;
const SLAB_MAX_BYTES = 64 * 1024 * 1024;
const TWO_32 = 4294967296;
/**
 * Reference count bias of a borrowed frame (borrowPage): its count starts at BORROWED + 1, so it is never
 * 1 (the "only owner, write in place" test) and the frame is copied before any write.
 */
const BORROWED = 0x40000000;

interface Section {
  readonly code: Int32Array;
  /** Page index within a synthetic payload; created when the first synthetic page lands here. */
  index: Int32Array | null;
}

export interface PhysMemOptions {
  pageSize: PageSize;
  /** The machine's RAM. Accesses elsewhere fault. */
  ram: RangeSet | Range[];
  /** Physical address bits, 32..52. Default 52. */
  paBits?: number;
  /** When true, copyPage shares the source frame (copy-on-write) instead of copying bytes. */
  shareOnCopy?: boolean;
  /** Upper bound on bytes of frame storage this simulator may allocate. Default 16 GiB. */
  maxBytes?: number;
}

export interface PhysMemStats {
  /** Frames holding exact bytes right now. */
  exactFrames: number;
  /** Bytes of host memory held by frame storage (slabs). */
  storageBytes: number;
  /** Sections (2^16-page index blocks) created. */
  sections: number;
}

/** A synthetic payload: content of page i is a pure function of (seed, i). */
export interface SyntheticPayload {
  readonly seed: number;
}

export class PhysMem {
  readonly pageSize: PageSize;
  readonly pageShift: number;
  readonly pageMask: number;
  readonly ram: RangeSet;
  readonly paBits: number;
  readonly shareOnCopy: boolean;
  readonly maxBytes: number;

  private readonly sections = new Map<number, Section>();
  private cacheKeyA = -1;
  private cacheSecA: Section | undefined;
  private cacheKeyB = -1;
  private cacheSecB: Section | undefined;

  // Frame pool. Frame 0 is never used (code 0 means "zero page").
  private frames: Uint8Array[] = [new Uint8Array(0)];
  private refs = new Int32Array(1024);
  /** Frame numbers with their own slab storage, free for reuse. */
  private freeFrames: number[] = [];
  /** Frame numbers of released borrowed frames: no storage of their own. */
  private freeIds: number[] = [];
  private slab: ArrayBuffer | null = null;
  private slabOffset = 0;
  private storageBytes = 0;
  private exactFrames = 0;

  /**
   * Called before every write with the byte range it covers (whole pages for frameForWrite, zeroPage,
   * setSynthetic and copyPage's destination). The relocation runner uses it for the architectural
   * cache-state check and to hold prepare() to its control pages (src/reloc/run.ts); null: no cost but
   * one test per write. It may throw to refuse the write (nothing is written then).
   */
  writeWatch: ((pa: number, bytes: number) => void) | null = null;

  private readonly payloads: SyntheticPayload[] = [{ seed: 0 }];
  private readonly zeros: Uint8Array;
  private readonly scratch: Uint8Array;
  private readonly scratch32: Uint32Array;

  constructor(opts: PhysMemOptions) {
    this.pageSize = opts.pageSize;
    this.pageShift = pageShiftOf(opts.pageSize);
    this.pageMask = opts.pageSize - 1;
    this.paBits = opts.paBits ?? 52;
    this.ram = opts.ram instanceof RangeSet ? opts.ram.clone() : new RangeSet(opts.ram);
    this.shareOnCopy = opts.shareOnCopy ?? false;
    this.maxBytes = opts.maxBytes ?? 16 * 1024 ** 3;
    const limit = 2 ** this.paBits;
    for (const r of this.ram.ranges) {
      if (r.start % this.pageSize !== 0 || r.end % this.pageSize !== 0) {
        throw new KexecLabError(
          "E_RAM_LAYOUT",
          `RAM range 0x${r.start.toString(16)}-0x${r.end.toString(16)} is not aligned to the ${this.pageSize}-byte page`,
        );
      }
      if (r.end > limit) {
        throw new KexecLabError(
          "E_RAM_LAYOUT",
          `RAM range ends at 0x${r.end.toString(16)}, beyond the ${this.paBits}-bit physical address space`,
        );
      }
    }
    this.zeros = new Uint8Array(this.pageSize);
    this.scratch = new Uint8Array(this.pageSize);
    this.scratch32 = new Uint32Array(this.scratch.buffer);
  }

  // ---- frame index ---------------------------------------------------------------------------------

  /** The section holding pfn, creating it when `create` and pfn is RAM. */
  private section(pfn: number, create: boolean): Section | undefined {
    const key = Math.floor(pfn / SECTION_PAGES);
    if (key === this.cacheKeyA) return this.cacheSecA;
    if (key === this.cacheKeyB) {
      // swap so the most recent stays in A
      const s = this.cacheSecB;
      this.cacheKeyB = this.cacheKeyA;
      this.cacheSecB = this.cacheSecA;
      this.cacheKeyA = key;
      this.cacheSecA = s;
      return s;
    }
    let sec = this.sections.get(key);
    if (sec === undefined) {
      if (!create) return undefined;
      sec = this.createSection(key);
      if (sec === undefined) return undefined;
    }
    this.cacheKeyB = this.cacheKeyA;
    this.cacheSecB = this.cacheSecA;
    this.cacheKeyA = key;
    this.cacheSecA = sec;
    return sec;
  }

  private createSection(key: number): Section | undefined {
    const firstPfn = key * SECTION_PAGES;
    const start = firstPfn * this.pageSize;
    const end = start + SECTION_PAGES * this.pageSize;
    const inRam = this.ram.intersect([{ start, end }]);
    if (inRam.isEmpty()) return undefined;
    const code = new Int32Array(SECTION_PAGES);
    if (inRam.totalBytes !== end - start) {
      code.fill(NOT_RAM);
      for (const r of inRam.ranges) {
        code.fill(0, (r.start - start) / this.pageSize, (r.end - start) / this.pageSize);
      }
    }
    const sec: Section = { code, index: null };
    this.sections.set(key, sec);
    return sec;
  }

  /** Content code of a page frame; NOT_RAM outside RAM. */
  private codeOf(pfn: number): number {
    const sec = this.section(pfn, false);
    if (sec !== undefined) return sec.code[pfn % SECTION_PAGES]!;
    return this.ram.contains(pfn * this.pageSize) ? 0 : NOT_RAM;
  }

  isRam(pa: number): boolean {
    return pa >= 0 && this.codeOf(Math.floor(pa / this.pageSize)) !== NOT_RAM;
  }

  // ---- frame pool ------------------------------------------------------------------------------------

  private newFrame(): number {
    let id = this.freeFrames.pop();
    if (id === undefined) {
      if (this.slab === null || this.slabOffset + this.pageSize > this.slab.byteLength) {
        const slabBytes = Math.max(
          this.pageSize,
          Math.min(
            SLAB_MAX_BYTES,
            Math.max(SLAB_MIN_BYTES, this.storageBytes),
            this.maxBytes - this.storageBytes,
          ),
        );
        if (this.storageBytes + slabBytes > this.maxBytes || slabBytes < this.pageSize) {
          throw new KexecLabError(
            "E_LIMIT",
            `the simulator needs more than ${formatBytes(this.maxBytes)} for exact page contents`,
            { field: "--max-memory" },
          );
        }
        this.slab = new ArrayBuffer(slabBytes - (slabBytes % this.pageSize));
        this.slabOffset = 0;
        this.storageBytes += this.slab.byteLength;
      }
      id = this.frameId(new Uint8Array(this.slab, this.slabOffset, this.pageSize));
      this.slabOffset += this.pageSize;
    }
    this.refs[id] = 1;
    this.exactFrames++;
    return id;
  }

  /** A frame number for `frame` (a released borrowed frame's number, else a new one). */
  private frameId(frame: Uint8Array): number {
    let id = this.freeIds.pop();
    if (id !== undefined) {
      this.frames[id] = frame;
      return id;
    }
    id = this.frames.length;
    this.frames.push(frame);
    if (id >= this.refs.length) {
      const grown = new Int32Array(this.refs.length * 2);
      grown.set(this.refs);
      this.refs = grown;
    }
    return id;
  }

  private release(code: number): void {
    if (code <= 0) return;
    const left = --this.refs[code]!;
    if (left === 0) {
      this.freeFrames.push(code);
      this.exactFrames--;
    } else if (left === BORROWED) {
      // the last page that held a borrowed frame let go: drop the view of the caller's buffer
      this.frames[code] = this.zeros;
      this.refs[code] = 0;
      this.freeIds.push(code);
      this.exactFrames--;
    }
  }

  /** Fill `out` with the bytes of a page given its code (and synthetic index). */
  private render(code: number, index: number, out: Uint8Array): void {
    if (code === 0) out.fill(0);
    else if (code > 0) out.set(this.frames[code]!);
    else
      this.generate(
        -code,
        index,
        out === this.scratch ? this.scratch32 : new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2),
      );
  }

  /** Synthetic content: a xorshift32 stream seeded by a hash of (payload seed, page index). */
  private generate(payload: number, index: number, out: Uint32Array): void {
    let x =
      Math.imul(this.payloads[payload]!.seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) | 1;
    for (let i = 0; i < out.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x;
    }
  }

  /**
   * A writable frame for pfn: materializes zero, shared and synthetic pages. Undefined outside RAM.
   * The whole page counts as written (writeWatch).
   */
  frameForWrite(pfn: number): Uint8Array | undefined {
    if (this.writeWatch !== null && this.isRam(pfn * this.pageSize))
      this.writeWatch(pfn * this.pageSize, this.pageSize);
    return this.writableFrame(pfn);
  }

  private writableFrame(pfn: number): Uint8Array | undefined {
    const sec = this.section(pfn, true);
    if (sec === undefined) return undefined;
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    if (code === NOT_RAM) return undefined;
    if (code > 0 && this.refs[code] === 1) return this.frames[code];
    const id = this.newFrame();
    const frame = this.frames[id]!;
    if (code !== 0) this.render(code, sec.index === null ? 0 : sec.index[slot]!, frame);
    this.release(code);
    sec.code[slot] = id;
    return frame;
  }

  /**
   * The bytes of page pfn for reading. For zero and synthetic pages this is a shared scratch or zero
   * buffer, valid until the next call; do not keep it or write to it. Undefined outside RAM.
   */
  frameForRead(pfn: number): Uint8Array | undefined {
    const sec = this.section(pfn, false);
    let code: number;
    let index = 0;
    if (sec !== undefined) {
      const slot = pfn % SECTION_PAGES;
      code = sec.code[slot]!;
      if (code === NOT_RAM) return undefined;
      if (code < 0) index = sec.index![slot]!;
    } else {
      if (!this.ram.contains(pfn * this.pageSize)) return undefined;
      code = 0;
    }
    if (code === 0) return this.zeros;
    if (code > 0) return this.frames[code];
    this.render(code, index, this.scratch);
    return this.scratch;
  }

  // ---- word access (descriptors, entries) --------------------------------------------------------------

  /** Unsigned 32-bit little-endian load from a 4-aligned pa; -1 outside RAM. */
  read32(pa: number): number {
    const pfn = Math.floor(pa / this.pageSize);
    const off = pa - pfn * this.pageSize;
    const sec = this.section(pfn, false);
    if (sec !== undefined) {
      const code = sec.code[pfn % SECTION_PAGES]!;
      if (code > 0) {
        const f = this.frames[code]!;
        return (f[off]! | (f[off + 1]! << 8) | (f[off + 2]! << 16) | (f[off + 3]! << 24)) >>> 0;
      }
      if (code === 0) return 0;
      if (code === NOT_RAM) return -1;
    } else {
      return this.ram.contains(pa) ? 0 : -1;
    }
    const f = this.frameForRead(pfn)!;
    return (f[off]! | (f[off + 1]! << 8) | (f[off + 2]! << 16) | (f[off + 3]! << 24)) >>> 0;
  }

  /** 32-bit little-endian store to a 4-aligned pa; false outside RAM. */
  write32(pa: number, value: number): boolean {
    const pfn = Math.floor(pa / this.pageSize);
    if (this.writeWatch !== null && this.isRam(pa)) this.writeWatch(pa, 4);
    const f = this.writableFrame(pfn);
    if (f === undefined) return false;
    const off = pa - pfn * this.pageSize;
    f[off] = value & 0xff;
    f[off + 1] = (value >>> 8) & 0xff;
    f[off + 2] = (value >>> 16) & 0xff;
    f[off + 3] = (value >>> 24) & 0xff;
    return true;
  }

  /**
   * A 64-bit load as a JS number: exact for values below 2^53 (kimage entries: a PA | IND_* flags).
   * Use read32 on both halves for descriptors with high attribute bits. -1 outside RAM.
   */
  read64(pa: number): number {
    const lo = this.read32(pa);
    if (lo < 0) return -1;
    const hi = this.read32(pa + 4);
    if (hi < 0) return -1;
    return hi * TWO_32 + lo;
  }

  /** A 64-bit store of a non-negative number below 2^53 (or use write32 twice). */
  write64(pa: number, value: number): boolean {
    const hi = Math.floor(value / TWO_32);
    return this.write32(pa, value - hi * TWO_32) && this.write32(pa + 4, hi);
  }

  // ---- byte access -------------------------------------------------------------------------------------

  /** Copy bytes out of RAM into `out`; false (and `out` partly written) if any byte is outside RAM. */
  readBytes(pa: number, out: Uint8Array): boolean {
    let done = 0;
    while (done < out.length) {
      const at = pa + done;
      const pfn = Math.floor(at / this.pageSize);
      const off = at - pfn * this.pageSize;
      const n = Math.min(this.pageSize - off, out.length - done);
      const f = this.frameForRead(pfn);
      if (f === undefined) return false;
      out.set(f.subarray(off, off + n), done);
      done += n;
    }
    return true;
  }

  /** Write bytes into RAM; false if any page is outside RAM (pages before it are written). */
  writeBytes(pa: number, data: Uint8Array): boolean {
    let done = 0;
    while (done < data.length) {
      const at = pa + done;
      const pfn = Math.floor(at / this.pageSize);
      const off = at - pfn * this.pageSize;
      const n = Math.min(this.pageSize - off, data.length - done);
      if (this.writeWatch !== null && this.isRam(at)) this.writeWatch(at, n);
      if (off === 0 && n === this.pageSize && this.shareOnCopy && isAllZero(data, done, n)) {
        if (!this.setZero(pfn)) return false;
      } else {
        const f = this.writableFrame(pfn);
        if (f === undefined) return false;
        f.set(data.subarray(done, done + n), off);
      }
      done += n;
    }
    return true;
  }

  /**
   * Make page `pa` hold `bytes` (exactly one page) without copying them: the page's frame is a view of
   * the caller's buffer, which must not change while the machine lives. Nothing ever writes through
   * it: a write to the page copies the frame first (copy-on-write), so the caller's bytes stay as they
   * are. For loading a segment whose buffer outlives the machine (kimage_load_normal_segment's
   * copy_from_user of a whole page): the source pages of a 1 GiB initrd cost no second GiB. With
   * shareOnCopy an all-zero page becomes a zero page, as writeBytes makes it. False outside RAM.
   */
  borrowPage(pa: number, bytes: Uint8Array): boolean {
    if (bytes.length !== this.pageSize) throw new RangeError("borrowPage takes exactly one page");
    const pfn = Math.floor(pa / this.pageSize);
    if (this.shareOnCopy && isAllZero(bytes, 0, bytes.length)) return this.setZero(pfn);
    const sec = this.section(pfn, true);
    if (sec === undefined) return false;
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    if (code === NOT_RAM) return false;
    this.release(code);
    const id = this.frameId(bytes);
    this.refs[id] = BORROWED + 1;
    this.exactFrames++;
    sec.code[slot] = id;
    return true;
  }

  /** Make a whole page read as zeros (clear_page); false outside RAM. */
  zeroPage(pa: number): boolean {
    if (this.writeWatch !== null && this.isRam(pa)) {
      this.writeWatch(Math.floor(pa / this.pageSize) * this.pageSize, this.pageSize);
    }
    return this.setZero(Math.floor(pa / this.pageSize));
  }

  private setZero(pfn: number): boolean {
    const sec = this.section(pfn, false);
    if (sec === undefined) return this.ram.contains(pfn * this.pageSize);
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    if (code === NOT_RAM) return false;
    if (code > 0 && this.refs[code] === 1 && !this.shareOnCopy) {
      this.frames[code]!.fill(0);
      return true;
    }
    this.release(code);
    sec.code[slot] = 0;
    return true;
  }

  // ---- synthetic content -------------------------------------------------------------------------------

  /** Register a synthetic payload; its pages are generated from (seed, index). Returns its number. */
  addPayload(seed: number): number {
    this.payloads.push({ seed: seed | 0 });
    return this.payloads.length - 1;
  }

  /** Make page `pa` hold page `index` of a synthetic payload. False outside RAM. */
  setSynthetic(pa: number, payload: number, index: number): boolean {
    const pfn = Math.floor(pa / this.pageSize);
    if (this.writeWatch !== null && this.isRam(pa)) this.writeWatch(pfn * this.pageSize, this.pageSize);
    const sec = this.section(pfn, true);
    if (sec === undefined) return false;
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    if (code === NOT_RAM) return false;
    this.release(code);
    if (sec.index === null) sec.index = new Int32Array(SECTION_PAGES);
    sec.code[slot] = -payload;
    sec.index[slot] = index;
    return true;
  }

  /**
   * The frame of page pfn when it holds exact bytes (code > 0), for repeated word reads of one page
   * (the relocation's entry loads). Valid until the page is next written; undefined otherwise.
   */
  exactFrame(pfn: number): Uint8Array | undefined {
    const sec = this.section(pfn, false);
    if (sec === undefined) return undefined;
    const code = sec.code[pfn % SECTION_PAGES]!;
    return code > 0 ? this.frames[code] : undefined;
  }

  /** The seed a payload was registered with. */
  payloadSeed(payload: number): number {
    return this.payloads[payload]?.seed ?? 0;
  }

  /**
   * O(1), no byte comparison: true when page pa still carries the identity of page `index` of a
   * synthetic payload generated from `seed` (any payload registered with that seed). False does not
   * mean the bytes differ, only that a byte comparison is needed.
   */
  carriesSynthetic(pa: number, seed: number, index: number): boolean {
    const pfn = Math.floor(pa / this.pageSize);
    const sec = this.section(pfn, false);
    if (sec === undefined) return false;
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    return (
      code < 0 && code !== NOT_RAM && sec.index![slot] === index && this.payloads[-code]!.seed === (seed | 0)
    );
  }

  /** True when the page holds no data (never written or cleared): it reads as zeros. O(1). */
  isZeroPage(pa: number): boolean {
    const pfn = Math.floor(pa / this.pageSize);
    const sec = this.section(pfn, false);
    if (sec === undefined) return this.ram.contains(pa);
    return sec.code[pfn % SECTION_PAGES] === 0;
  }

  /** Fill `out` (one page long) with page `index` of payload `payload`, as setSynthetic would show it. */
  renderSynthetic(payload: number, index: number, out: Uint8Array): void {
    this.render(-payload, index, out);
  }

  // ---- page operations -----------------------------------------------------------------------------------

  /**
   * copy_page(dst, src): copy one whole page. With shareOnCopy the destination shares the source's
   * frame (or synthetic identity) in O(1). False if either page is outside RAM.
   */
  copyPage(dstPa: number, srcPa: number): boolean {
    const srcPfn = Math.floor(srcPa / this.pageSize);
    const dstPfn = Math.floor(dstPa / this.pageSize);
    // (outside RAM the copy fails below and the CPU faults; the watch may see that address first)
    if (this.writeWatch !== null) this.writeWatch(dstPfn * this.pageSize, this.pageSize);
    if (srcPfn === dstPfn) return this.isRam(srcPa);
    if (!this.shareOnCopy) {
      // Fast path (exact mode, the relocation's hot loop): both sections in the two-entry cache and
      // both pages already exact frames, the destination unshared: one Uint8Array.set.
      const sk = Math.floor(srcPfn / SECTION_PAGES);
      const dk = Math.floor(dstPfn / SECTION_PAGES);
      const ss = sk === this.cacheKeyA ? this.cacheSecA : sk === this.cacheKeyB ? this.cacheSecB : undefined;
      const ds = dk === this.cacheKeyA ? this.cacheSecA : dk === this.cacheKeyB ? this.cacheSecB : undefined;
      if (ss !== undefined && ds !== undefined) {
        const sc = ss.code[srcPfn - sk * SECTION_PAGES]!;
        const dc = ds.code[dstPfn - dk * SECTION_PAGES]!;
        if (sc > 0 && dc > 0 && this.refs[dc] === 1) {
          this.frames[dc]!.set(this.frames[sc]!);
          return true;
        }
      }
    }
    const srcSec = this.section(srcPfn, false);
    let srcCode = 0;
    let srcIndex = 0;
    if (srcSec !== undefined) {
      const slot = srcPfn % SECTION_PAGES;
      srcCode = srcSec.code[slot]!;
      if (srcCode === NOT_RAM) return false;
      if (srcCode < 0) srcIndex = srcSec.index![slot]!;
    } else if (!this.ram.contains(srcPfn * this.pageSize)) {
      return false;
    }
    if (this.shareOnCopy) {
      const dstSec = this.section(dstPfn, true);
      if (dstSec === undefined) return false;
      const slot = dstPfn % SECTION_PAGES;
      const old = dstSec.code[slot]!;
      if (old === NOT_RAM) return false;
      if (srcCode > 0) this.refs[srcCode]!++;
      this.release(old);
      dstSec.code[slot] = srcCode;
      if (srcCode < 0) {
        if (dstSec.index === null) dstSec.index = new Int32Array(SECTION_PAGES);
        dstSec.index[slot] = srcIndex;
      }
      return true;
    }
    const dst = this.writableFrame(dstPfn);
    if (dst === undefined) return false;
    if (srcCode > 0) dst.set(this.frames[srcCode]!);
    else this.render(srcCode, srcIndex, dst);
    return true;
  }

  /**
   * True when page dstPa holds the same bytes as page `index` of `payload` (synthetic) — O(1) when the
   * page still carries that identity, otherwise a byte comparison.
   */
  pageMatchesSynthetic(dstPa: number, payload: number, index: number): boolean {
    const pfn = Math.floor(dstPa / this.pageSize);
    const sec = this.section(pfn, false);
    if (sec !== undefined) {
      const slot = pfn % SECTION_PAGES;
      if (sec.code[slot] === -payload && sec.index![slot] === index) return true;
    }
    const got = this.frameForRead(pfn);
    if (got === undefined) return false;
    const want = new Uint8Array(this.pageSize);
    this.render(-payload, index, want);
    return firstDifference(got, want) < 0;
  }

  /** Identity of a page's content for O(1) comparisons: [code, index]. Codes are only comparable, not stable. */
  contentTag(pa: number): [number, number] {
    const pfn = Math.floor(pa / this.pageSize);
    const sec = this.section(pfn, false);
    if (sec === undefined) return [this.ram.contains(pa) ? 0 : NOT_RAM, 0];
    const slot = pfn % SECTION_PAGES;
    const code = sec.code[slot]!;
    return [code, code < 0 ? sec.index![slot]! : 0];
  }

  stats(): PhysMemStats {
    return { exactFrames: this.exactFrames, storageBytes: this.storageBytes, sections: this.sections.size };
  }
}

function isAllZero(data: Uint8Array, from: number, n: number): boolean {
  for (let i = from; i < from + n; i++) if (data[i] !== 0) return false;
  return true;
}

/** Index of the first differing byte, or -1 when equal (lengths must match). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && n % 4 === 0) {
    const a32 = new Uint32Array(a.buffer, a.byteOffset, n >>> 2);
    const b32 = new Uint32Array(b.buffer, b.byteOffset, n >>> 2);
    for (let i = 0; i < a32.length; i++) {
      if (a32[i] !== b32[i]) {
        for (let j = i * 4; j < i * 4 + 4; j++) if (a[j] !== b[j]) return j;
      }
    }
    return a.length === b.length ? -1 : n;
  }
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
