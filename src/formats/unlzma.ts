/**
 * Legacy .lzma ("LZMA alone": what xz-utils' `lzma` and the kernel's `cmd_lzma` write) decoded by the
 * lzma1 npm package (a TypeScript port of the LZMA SDK's decoder; pure JS, runs in a browser).
 *
 * lzma1 decodes in one call into a growing buffer; it has no streaming output. The cap comes from
 * the format instead: the 13-byte header holds the properties (1 byte), the dictionary size (4) and
 * the uncompressed size (8; all ones = unknown, the stream then ends with an end marker), and the
 * decoder stops once it has produced that many bytes (LZMA SDK semantics: its last match may run
 * up to 273 bytes past). So the header's size is rewritten before decoding to the bound
 *   known size (the header's own, else the container's record: a zboot payload's appended size),
 *   or min(cap, MAX_LZMA_RATIO x compressed size) when neither is known.
 * A known size above the cap or past the ratio is E_LIMIT before any decoding; an unknown-size stream
 * that reaches its bound is E_LIMIT (no kernel compresses past MAX_LZMA_RATIO: a decompression bomb,
 * or a damaged stream that never reaches its end marker); a stream that ends before its known size is
 * damaged. The dictionary is cut to the bound as well (a window larger than the whole output is never
 * reached back into; lzma1 allocates it up front). A read past the input's end is caught (endGuard):
 * a truncated stream is E_FORMAT_CORRUPT at once instead of decoding garbage up to its bound.
 * Memory: lzma1's buffer doubles as it grows and its result is a copy, so a run peaks at about
 * 3 x the bound plus the window: with the 512 MiB default cap, under 2 GiB for any input, and about
 * 4 x 1024 x the input size for an unknown-size bomb smaller than cap / 1024.
 */

import { decompress as lzma1Decompress } from "lzma1";

const PAST_END = new Error("read past the end of the stream");

/**
 * The input as lzma1 reads it, one byte past its end included: reading that byte throws PAST_END.
 * lzma1 (like the LZMA SDK) treats the end of its input as -1 and keeps decoding, so a truncated
 * stream would otherwise produce garbage up to its bound; a valid stream never reads past its end.
 */
function endGuard(bytes: Uint8Array): Uint8Array {
  // An object whose prototype is the bytes: lzma1's `buf[pos]` reads fall through to the typed array
  // (about 1.5 x the plain speed; a Proxy costs 4 x), and the one own index past the end throws.
  const guarded = Object.create(bytes) as Uint8Array;
  Object.defineProperty(guarded, "length", { value: bytes.length + 1 });
  Object.defineProperty(guarded, String(bytes.length), {
    get() {
      throw PAST_END;
    },
  });
  return guarded;
}

/** Largest decompressed:compressed ratio accepted; kernels compress about 4:1 with lzma -9. */
export const MAX_LZMA_RATIO = 1024;
const HEADER = 13;

export type LzmaOutcome =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; reason: "limit" | "corrupt" | "unsupported"; detail: string };

/**
 * Decode one legacy .lzma stream. `cap` is the output limit; `sizeHint` a size the container records.
 * The caller turns a failure into its catalogued error (limit: E_LIMIT, corrupt: E_FORMAT_CORRUPT,
 * unsupported: E_COMPRESSION_UNSUPPORTED).
 */
export function unlzma(input: Uint8Array, cap: number, sizeHint?: number): LzmaOutcome {
  if (input.length < HEADER)
    return { ok: false, reason: "corrupt", detail: "shorter than the 13-byte header" };
  // The properties byte is (pb x 5 + lp) x 9 + lc: at most 224 (liblzma's lzma_lzma_lclppb_decode).
  // lzma1 reads it as a signed byte, so from 0x80 on (pb 3 with lp 4, or pb 4) it computes negative
  // lc/lp and allocates without bound: those streams are refused here rather than handed to it.
  const props = input[0]!;
  if (props > 224)
    return { ok: false, reason: "corrupt", detail: `properties byte 0x${props.toString(16)} > 0xe0` };
  if (props >= 0x80)
    return {
      ok: false,
      reason: "unsupported",
      detail: `properties byte 0x${props.toString(16)} (lc ${props % 9}, lp ${Math.floor(props / 9) % 5}, pb ${Math.floor(props / 45)}): lzma1 misreads properties from 0x80 on (the kernel's and xz-utils' default is 0x5d)`,
    };
  const dv = new DataView(input.buffer, input.byteOffset, input.length);
  const lo = dv.getUint32(5, true);
  const hi = dv.getUint32(9, true);
  const declared = lo === 0xffffffff && hi === 0xffffffff ? undefined : hi * 2 ** 32 + lo;
  const known = declared ?? sizeHint;
  const ratioBound = Math.max(64 * 1024, (input.length - HEADER) * MAX_LZMA_RATIO);
  if (known !== undefined && known > cap)
    return {
      ok: false,
      reason: "limit",
      detail: `the stream declares ${known} bytes of output, more than the limit of ${cap} bytes`,
    };
  if (known !== undefined && known > ratioBound)
    return {
      ok: false,
      reason: "limit",
      detail: `the stream declares ${known} bytes from ${input.length} compressed bytes, past ${MAX_LZMA_RATIO}:1: no kernel compresses that well`,
    };
  const bound = known ?? Math.min(cap, ratioBound);
  const patched = input.slice();
  const pv = new DataView(patched.buffer);
  if (pv.getUint32(1, true) > Math.max(bound, 4096)) pv.setUint32(1, Math.max(bound, 4096), true);
  pv.setUint32(5, bound % 2 ** 32, true);
  pv.setUint32(9, Math.floor(bound / 2 ** 32), true);
  let out: Uint8Array;
  try {
    out = lzma1Decompress(endGuard(patched));
  } catch (e) {
    if (e === PAST_END)
      return { ok: false, reason: "corrupt", detail: "the stream ends before its end marker (truncated)" };
    return { ok: false, reason: "corrupt", detail: e instanceof Error ? e.message : String(e) };
  }
  if (known === undefined) {
    if (out.length >= bound)
      return {
        ok: false,
        reason: "limit",
        detail:
          bound === cap
            ? `decompressed output reaches the limit of ${cap} bytes (${cap / (1024 * 1024)} MiB): no real kernel is that large, so this looks like a decompression bomb`
            : `the stream expands past ${MAX_LZMA_RATIO}:1 without reaching its end marker: a decompression bomb or a damaged stream`,
      };
    return { ok: true, bytes: out };
  }
  if (out.length < known)
    return {
      ok: false,
      reason: "corrupt",
      detail: `the stream ends after ${out.length} bytes; the ${declared !== undefined ? "header" : "container"} declares ${known}`,
    };
  // The decoder may finish its last match past the size: the size wins, as in the LZMA SDK.
  return { ok: true, bytes: out.length > known ? out.subarray(0, known) : out };
}
