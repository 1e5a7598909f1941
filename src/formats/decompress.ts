/**
 * Streamed decompression with an output cap, in the browser and in Node (no node: imports):
 *
 *   gzip        fflate's Gunzip stream (members after the first are decoded too; bytes after the
 *               last member are ignored, as the kernel's gunzip does)
 *   zstd        fzstd's Decompress stream (one call per block of at most 128 KiB)
 *   xz          xz-decompress (xz-embedded compiled to WebAssembly), read chunk by chunk
 *   lz4         LZ4 frames; lz4-legacy: the kernel's `lz4 -l` format (8 MiB blocks, each with a
 *               32-bit compressed size). Containers read here, blocks decoded by lz4js.
 *   lzma        legacy .lzma through lzma1 (one call, no streaming; capped through the header's size
 *               field and a 1024:1 ratio, see unlzma.ts); `sizeHint` (a zboot payload's appended
 *               size) is the expected size
 *   lzo, bzip2  recognised, not decompressed (E_COMPRESSION_UNSUPPORTED): no maintained
 *               browser-capable decoder with an output cap (seek-bzip, the usual pure-JS bzip2
 *               decoder, needs Node's Buffer: it failed in Chromium; @foxglove/wasm-bz2 wants the
 *               output buffer allocated up front and a bundler for its require()d .wasm; no lzop
 *               decoder for the browser is on npm)
 *
 * The input goes in as slices of at most INPUT_SLICE bytes and every output piece is counted as it
 * comes: the first byte past `maxOutput` ends the run with E_LIMIT naming the file, before any more
 * is produced. So a decompression bomb costs at most maxOutput plus one piece of memory (one gzip
 * slice inflates to at most ~1032 x INPUT_SLICE; a zstd block to 128 KiB; an xz piece to the
 * decoder's 1 MiB buffer; an lz4 block to 4 or 8 MiB).
 */

import { Gunzip } from "fflate";
import { Decompress as ZstdDecompress, decompress as zstdOneShot } from "fzstd";
import * as lz4 from "lz4js";
import xzDecompress from "xz-decompress";
import { KexecLabError } from "../errors.js";
import type { CompressionMethod } from "./compression.js";
import { unlzma } from "./unlzma.js";

/** Default cap on decompressed output: larger than any real kernel Image (tens of MiB). */
export const DEFAULT_MAX_DECOMPRESSED = 512 * 1024 * 1024;
/** Input is fed in slices of this size, so one push produces a bounded amount of output. */
export const INPUT_SLICE = 64 * 1024;

export const DECODABLE_METHODS: readonly CompressionMethod[] = [
  "gzip",
  "zstd",
  "xz",
  "lz4",
  "lz4-legacy",
  "lzma",
];

export interface DecompressOptions {
  /** Cap on the decompressed size in bytes (default DEFAULT_MAX_DECOMPRESSED); past it: E_LIMIT. */
  maxOutput?: number;
  /** File name for errors. */
  file?: string;
  /** Offset of the compressed stream inside the file (for errors). */
  offset?: number;
  /** What the stream is, for errors (default "compressed data"). */
  what?: string;
  /** Called with (compressed bytes consumed, compressed bytes in all) as decoding advances. */
  onProgress?: (done: number, total: number) => void;
  /**
   * The decompressed size when the container records it (a zboot payload's appended size). zstd uses
   * it to decode a one-frame stream without a content size into one buffer of that size instead of
   * through its sliding window (fzstd copies the whole window per block: 13 s instead of 2 s for a
   * 27 MB Image with the kernel's 128 MiB zstd22 window). fzstd does not check the frame's checksum,
   * so a stream longer or shorter than this size is not detected on that path.
   */
  sizeHint?: number;
}

export interface Decompressed {
  method: CompressionMethod;
  bytes: Uint8Array;
  /** Compressed bytes in the input. */
  compressedSize: number;
}

class Sink {
  private readonly chunks: Uint8Array[] = [];
  total = 0;
  constructor(
    private readonly limit: number,
    private readonly fail: (detail: string) => KexecLabError,
  ) {}
  add(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.total += piece.length;
    if (this.total > this.limit) {
      this.chunks.length = 0;
      throw this.fail(
        `decompressed output exceeds the limit of ${this.limit} bytes (${this.limit / (1024 * 1024)} MiB): no real kernel is that large, so this looks like a decompression bomb`,
      );
    }
    this.chunks.push(piece);
  }
  result(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks.length = 0;
    return out;
  }
}

function where(opts: DecompressOptions, field: string): { file?: string; offset: number; field: string } {
  const w = { offset: opts.offset ?? 0, field };
  return opts.file !== undefined ? { file: opts.file, ...w } : w;
}

/**
 * Decompress `input` (one stream of `method`) into a new buffer.
 * Errors: E_LIMIT (output past maxOutput), E_FORMAT_CORRUPT (the decoder refuses the data, or it ends
 * early), E_COMPRESSION_UNSUPPORTED (lzo, bzip2).
 */
export async function decompress(
  input: Uint8Array,
  method: CompressionMethod,
  opts: DecompressOptions = {},
): Promise<Decompressed> {
  const limit = opts.maxOutput ?? DEFAULT_MAX_DECOMPRESSED;
  const what = opts.what ?? "compressed data";
  const sink = new Sink(
    limit,
    (d) => new KexecLabError("E_LIMIT", `${what} (${method}): ${d}`, where(opts, method)),
  );
  const corrupt = (d: string) =>
    new KexecLabError(
      "E_FORMAT_CORRUPT",
      `${what} (${method}) cannot be decompressed: ${d}`,
      where(opts, method),
    );
  const progress = opts.onProgress ?? (() => {});
  try {
    switch (method) {
      case "gzip":
        gunzipInto(input, sink, progress);
        break;
      case "zstd":
        unzstdInto(
          input,
          sink,
          progress,
          corrupt,
          limit,
          (d) => new KexecLabError("E_LIMIT", `${what} (zstd): ${d}`, where(opts, method)),
          opts.sizeHint,
        );
        break;
      case "xz":
        await unxzInto(input, sink, progress);
        break;
      case "lz4":
        unlz4FrameInto(input, sink, progress, corrupt);
        break;
      case "lz4-legacy":
        unlz4LegacyInto(input, sink, progress, corrupt);
        break;
      case "lzma": {
        const r = unlzma(input, limit, opts.sizeHint);
        if (!r.ok) {
          if (r.reason === "limit")
            throw new KexecLabError("E_LIMIT", `${what} (lzma): ${r.detail}`, where(opts, method));
          if (r.reason === "unsupported")
            throw new KexecLabError(
              "E_COMPRESSION_UNSUPPORTED",
              `${what} (lzma): ${r.detail}`,
              where(opts, method),
            );
          throw corrupt(r.detail);
        }
        sink.add(r.bytes);
        break;
      }
      default:
        throw new KexecLabError(
          "E_COMPRESSION_UNSUPPORTED",
          `${what} is ${method}-compressed: kexec-lab recognises ${method} but has no browser-capable decoder for it (decodable: ${DECODABLE_METHODS.join(", ")})`,
          where(opts, method),
        );
    }
  } catch (e) {
    if (e instanceof KexecLabError) throw e;
    throw corrupt(e instanceof Error ? e.message : String(e));
  }
  progress(input.length, input.length);
  return { method, bytes: sink.result(), compressedSize: input.length };
}

function gunzipInto(input: Uint8Array, sink: Sink, progress: (d: number, t: number) => void): void {
  const g = new Gunzip((data) => sink.add(data));
  let done = 0;
  try {
    for (let at = 0; at < input.length; at += INPUT_SLICE) {
      const end = Math.min(at + INPUT_SLICE, input.length);
      g.push(input.subarray(at, end), end === input.length);
      done = end;
      progress(done, input.length);
    }
    if (input.length === 0) g.push(new Uint8Array(0), true);
  } catch (e) {
    // fflate checks the next member's header after each member: bytes that are no gzip header after
    // a complete member are trailing data (the kernel's build appends the size on some arches).
    if (e instanceof Error && e.message === "invalid gzip data" && sink.total > 0) return;
    throw e;
  }
}

/**
 * The frames of a zstd stream (RFC 8878 section 3.1): [end of the last frame, largest window]. Walks
 * the frame headers and block headers only, so a window the decoder would allocate can be judged
 * before it is; bytes after the last frame (the kernel build's appended size) are left out.
 */
export function zstdFrames(
  b: Uint8Array,
  corrupt: (d: string) => KexecLabError,
): { end: number; window: number; frames: number; contentSize: number | undefined } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 0;
  let window = 0;
  let frames = 0;
  let contentSize: number | undefined;
  while (at + 4 <= b.length) {
    const magic = dv.getUint32(at, true);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      if (at + 8 > b.length) break;
      at += 8 + dv.getUint32(at + 4, true);
      continue;
    }
    if (magic !== 0xfd2fb528) {
      if (frames > 0) break;
      throw corrupt("no zstd frame magic");
    }
    const fhd = b[at + 4];
    if (fhd === undefined) throw corrupt("the frame header ends early");
    const single = (fhd & 0x20) !== 0;
    const fcsSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
    const dictSize = [0, 1, 2, 4][fhd & 3]!;
    let p = at + 5;
    let w = 0;
    if (!single) {
      const wd = b[p++];
      if (wd === undefined) throw corrupt("the frame header ends early");
      const base = 2 ** (10 + (wd >> 3));
      w = base + (base / 8) * (wd & 7);
    }
    p += dictSize;
    if (p + fcsSize > b.length) throw corrupt("the frame header ends early");
    let fcs: number | undefined;
    if (fcsSize > 0) {
      fcs = 0;
      for (let i = fcsSize - 1; i >= 0; i--) fcs = fcs * 256 + b[p + i]!;
      if (fcsSize === 2) fcs += 256;
    }
    if (single) w = fcs ?? 0;
    if (frames === 0) contentSize = fcs;
    p += fcsSize;
    window = Math.max(window, w);
    for (;;) {
      if (p + 3 > b.length) throw corrupt(`a block header at ${p} ends early`);
      const h = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16);
      const type = (h >> 1) & 3;
      if (type === 3) throw corrupt(`reserved block type at ${p}`);
      p += 3 + (type === 1 ? 1 : h >>> 3);
      if (h & 1) break;
    }
    p += (fhd & 4) !== 0 ? 4 : 0;
    if (p > b.length) throw corrupt("the last block ends past the data");
    at = p;
    frames++;
  }
  if (frames === 0) throw corrupt("no complete zstd frame");
  return { end: Math.min(at, b.length), window, frames, contentSize: frames === 1 ? contentSize : undefined };
}

/** The one frame of `b` with an 8-byte Frame_Content_Size of `size` put into its header. */
function withContentSize(b: Uint8Array, size: number): Uint8Array {
  const fhd = b[4]!;
  const headerEnd = 4 + 1 + ((fhd & 0x20) !== 0 ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  const out = new Uint8Array(b.length + 8);
  out.set(b.subarray(0, headerEnd));
  out[4] = fhd | 0xc0;
  const dv = new DataView(out.buffer);
  dv.setUint32(headerEnd, size % 2 ** 32, true);
  dv.setUint32(headerEnd + 4, Math.floor(size / 2 ** 32), true);
  out.set(b.subarray(headerEnd), headerEnd + 8);
  return out;
}

function unzstdInto(
  input: Uint8Array,
  sink: Sink,
  progress: (d: number, t: number) => void,
  corrupt: (d: string) => KexecLabError,
  limit: number,
  fail: (d: string) => KexecLabError,
  sizeHint: number | undefined,
): void {
  const { end, window, frames, contentSize } = zstdFrames(input, corrupt);
  const data = input.subarray(0, end);
  // One frame whose size is known (its own Frame_Content_Size, or the container's record): decode it
  // in one go into a buffer of that size (no window copying).
  const size = contentSize ?? sizeHint;
  if (frames === 1 && size !== undefined && size > 0) {
    if (size > limit)
      throw fail(`the zstd frame declares ${size} bytes, above the output limit of ${limit} bytes`);
    const frame = contentSize !== undefined ? data : withContentSize(data, size);
    progress(0, input.length);
    sink.add(zstdOneShot(frame));
    return;
  }
  // fzstd allocates the window up front: one larger than the output cap is refused before that.
  if (window > limit)
    throw fail(`the zstd window of ${window} bytes exceeds the output limit of ${limit} bytes`);
  const z = new ZstdDecompress((d) => sink.add(d));
  for (let at = 0; at < data.length; at += INPUT_SLICE) {
    const stop = Math.min(at + INPUT_SLICE, data.length);
    z.push(data.subarray(at, stop), stop === data.length);
    progress(stop, input.length);
  }
}

async function unxzInto(
  input: Uint8Array,
  sink: Sink,
  progress: (d: number, t: number) => void,
): Promise<void> {
  let fed = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (fed >= input.length) {
        controller.close();
        return;
      }
      const end = Math.min(fed + INPUT_SLICE, input.length);
      controller.enqueue(input.slice(fed, end));
      fed = end;
      progress(fed, input.length);
    },
  });
  const reader = new xzDecompress.XzReadableStream(source).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      sink.add(value);
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    if (e instanceof TypeError && fed >= input.length) throw new Error("the xz stream ends early");
    throw e;
  }
}

/** LZ4 frame format (lz4_Frame_format.md): magic, FLG, BD, [content size], HC, blocks, end mark. */
function unlz4FrameInto(
  input: Uint8Array,
  sink: Sink,
  progress: (d: number, t: number) => void,
  corrupt: (d: string) => KexecLabError,
): void {
  const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  let at = 0;
  const u32 = (o: number) => {
    if (o + 4 > input.length) throw corrupt(`the frame ends at byte ${input.length} inside a field at ${o}`);
    return dv.getUint32(o, true);
  };
  while (at < input.length) {
    if (u32(at) !== 0x184d2204) {
      if (at > 0) return; // trailing bytes after the last frame
      throw corrupt("no LZ4 frame magic");
    }
    const flg = input[at + 4] ?? 0;
    const bd = input[at + 5] ?? 0;
    if ((flg & 0xc0) !== 0x40) throw corrupt(`frame version ${(flg >> 6) & 3} is not 1`);
    const blockMax = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024][(bd >> 4) & 7]!;
    if (blockMax === 0) throw corrupt(`invalid block maximum size code ${(bd >> 4) & 7}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    at += 6 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1;
    // Linked blocks may refer to the previous 64 KiB: keep it in front of each block's output.
    const HISTORY = 64 * 1024;
    const buf = new Uint8Array(HISTORY + blockMax);
    let history = 0;
    for (;;) {
      const size = u32(at);
      at += 4;
      if (size === 0) break;
      const raw = (size & 0x80000000) !== 0;
      const n = size & 0x7fffffff;
      if (n > blockMax || at + n > input.length)
        throw corrupt(`block at ${at - 4} of ${n} bytes does not fit`);
      let out: Uint8Array;
      if (raw) out = input.subarray(at, at + n);
      else {
        const end = lz4.decompressBlock(input, buf, at, n, HISTORY);
        if (!(end >= HISTORY && end <= HISTORY + blockMax))
          throw corrupt(`block at ${at - 4} decodes past its maximum size`);
        out = buf.slice(HISTORY, end);
      }
      at += n + (blockChecksum ? 4 : 0);
      sink.add(raw ? out.slice() : out);
      // Slide the last 64 KiB of output into the history area.
      const keep = Math.min(HISTORY, history + out.length);
      const tail = new Uint8Array(keep);
      const fromOut = Math.min(keep, out.length);
      tail.set(buf.subarray(HISTORY - (keep - fromOut), HISTORY), 0);
      tail.set(out.subarray(out.length - fromOut), keep - fromOut);
      buf.set(tail, HISTORY - keep);
      history = keep;
      progress(at, input.length);
    }
    at += contentChecksum ? 4 : 0;
  }
}

/** The legacy LZ4 format (`lz4 -l`, the kernel's lib/decompress_unlz4.c): magic, then blocks of u32 size + data. */
function unlz4LegacyInto(
  input: Uint8Array,
  sink: Sink,
  progress: (d: number, t: number) => void,
  corrupt: (d: string) => KexecLabError,
): void {
  const LEGACY_MAGIC = 0x184c2102;
  const BLOCK = 8 * 1024 * 1024;
  const dv = new DataView(input.buffer, input.byteOffset, input.byteLength);
  if (input.length < 4 || dv.getUint32(0, true) !== LEGACY_MAGIC) throw corrupt("no legacy LZ4 magic");
  let at = 4;
  let buf: Uint8Array | undefined;
  while (at + 4 <= input.length) {
    const size = dv.getUint32(at, true);
    if (size === LEGACY_MAGIC) {
      at += 4; // concatenated streams
      continue;
    }
    // The kernel's build may append the uncompressed size (4 bytes): a size that does not fit the
    // rest of the input ends the stream, as in unlz4().
    if (size === 0 || at + 4 + size > input.length) break;
    buf ??= new Uint8Array(BLOCK);
    const end = lz4.decompressBlock(input, buf, at + 4, size, 0);
    if (!(end >= 0 && end <= BLOCK)) throw corrupt(`block at ${at} decodes past 8 MiB`);
    sink.add(buf.slice(0, end));
    at += 4 + size;
    progress(at, input.length);
  }
  if (sink.total === 0) throw corrupt("no complete block");
}
