/**
 * do_kexec_load on the simulated machine: validate the segment list as the kernel does, then
 * kimage_alloc_init (control code page, swap page), load every segment, terminate.
 */

import { KexecLabError } from "../errors.js";
import type { Machine } from "../machine/machine.js";
import type { Range } from "../machine/ranges.js";
import { formatBytes } from "../report/format.js";
import { type ImageType, Kimage, type Segment, segmentBufsz } from "./kimage.js";
import { type LoadRequest, type Verdict, validateLoad } from "./validate.js";

export interface LoadOptions {
  type?: ImageType;
  /** Crash region [start, end) for crash loads. */
  crashRegion?: Range;
  x86Levels?: 4 | 5;
  /** Hook between kimage_alloc_init and the segment loads (x86_64 builds its page tables here). */
  beforeSegments?: (image: Kimage) => void;
  onProgress?: (pagesLoaded: number, totalPages: number) => void;
}

export type LoadResult = { ok: true; image: Kimage; verdict: Verdict } | { ok: false; verdict: Verdict };

export function loadRequestFor(
  machine: Machine,
  segments: readonly Segment[],
  opts: LoadOptions = {},
): LoadRequest {
  const req: LoadRequest = {
    arch: machine.arch,
    pageSize: machine.pageSize,
    ramBytes: BigInt(machine.ramBytes),
    segments: segments.map((s) => ({
      mem: BigInt(s.mem),
      memsz: BigInt(s.memsz),
      bufsz: BigInt(segmentBufsz(s)),
    })),
  };
  if (opts.crashRegion !== undefined) {
    req.crash = { start: BigInt(opts.crashRegion.start), end: BigInt(opts.crashRegion.end - 1) };
  }
  if (opts.x86Levels !== undefined) req.x86Levels = opts.x86Levels;
  return req;
}

/** Bytes of simulator bookkeeping per listed page: the kimage's per-destination index (slot + parked flag). */
const INDEX_BYTES_PER_PAGE = 9;

/**
 * Fail fast, with E_LIMIT, on a load the kernel would accept but the simulator cannot hold within
 * --max-memory: indirection pages (always exact bytes) plus the kimage's per-page index.
 */
function checkLoadLimits(machine: Machine, segments: readonly Segment[], type: ImageType): void {
  if (type !== "normal") return;
  const ps = machine.pageSize;
  const pages = segments.reduce((n, s) => n + Math.ceil(s.memsz / ps), 0);
  // One entry per page plus one DESTINATION per segment; the last slot of each page is the link.
  const indirectionBytes = Math.ceil((pages + segments.length + 1) / (ps / 8 - 1)) * ps;
  const needed = indirectionBytes + pages * INDEX_BYTES_PER_PAGE;
  if (needed > machine.mem.maxBytes) {
    throw new KexecLabError(
      "E_LIMIT",
      `listing ${pages} pages needs ${formatBytes(needed)} for the entry list and its index, more than the ${formatBytes(machine.mem.maxBytes)} allowed`,
      { field: "--max-memory" },
    );
  }
}

export function kexecLoad(machine: Machine, segments: Segment[], opts: LoadOptions = {}): LoadResult {
  const type = opts.type ?? (opts.crashRegion !== undefined ? "crash" : "normal");
  const verdict = validateLoad(loadRequestFor(machine, segments, opts));
  if (!verdict.ok) return { ok: false, verdict };
  for (const [i, s] of segments.entries()) {
    if (!machine.mem.isRam(s.mem) || !machine.mem.ram.covers({ start: s.mem, end: s.mem + s.memsz })) {
      // The kernel accepts destinations outside RAM; relocation would then write to nothing.
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `segment ${i} [0x${s.mem.toString(16)}, 0x${(s.mem + s.memsz).toString(16)}) is not entirely in RAM`,
        { field: `segments[${i}]` },
      );
    }
  }
  checkLoadLimits(machine, segments, type);
  const image = new Kimage({
    arch: machine.arch,
    mem: machine.mem,
    allocator: machine.allocator,
    segments,
    type,
    ...(opts.crashRegion !== undefined ? { crashRegion: opts.crashRegion } : {}),
    ...(opts.x86Levels !== undefined ? { x86Levels: opts.x86Levels } : {}),
  });
  image.allocInit();
  opts.beforeSegments?.(image);
  const total = segments.reduce((n, s) => n + Math.ceil(s.memsz / machine.pageSize), 0);
  image.loadSegments(opts.onProgress ? (done) => opts.onProgress!(done, total) : undefined);
  return { ok: true, image, verdict };
}
