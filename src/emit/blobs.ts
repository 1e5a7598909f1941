/**
 * An emitted bare-metal image is a set of (physical address, bytes) blobs. This module turns a set of
 * simulated RAM pages into blobs (adjacent pages merge; by default nothing else, so an image holds
 * only the populated pages: a kimage scattered over 4 GiB is about the size of its segments, not of
 * the RAM between them), overlays extra blobs (the routine, its parameters) and hands the result to a
 * target (src/emit/arm64.ts, src/emit/x86.ts).
 */

import { KexecLabError } from "../errors.js";
import type { Kimage } from "../kimage/kimage.js";
import type { PhysMem } from "../machine/physmem.js";

export interface EmitBlob {
  /** Physical address of the first byte. */
  addr: number;
  bytes: Uint8Array;
  /** What it holds, for manifests and error messages. */
  label: string;
}

export interface BlobOptions {
  /**
   * Merge two runs of pages when the hole between them is at most this many bytes (the hole becomes
   * zeros, as unwritten RAM is in the simulator and in QEMU). Default 0: adjacent pages only.
   */
  maxGap?: number;
}

/** Every RAM page the kimage populated: indirection pages, source pages, control pages (tables too). */
export function kimagePages(image: Kimage): number[] {
  const pages = new Set<number>();
  for (const p of image.indirectionPages) pages.add(p);
  for (const c of image.controlPages) pages.add(c.pa);
  for (const { src } of image.sourcePairs()) pages.add(src);
  return [...pages].sort((a, b) => a - b);
}

/**
 * Read the given pages out of simulated RAM as blobs. Pages are page-aligned PAs; duplicates are fine.
 * A page outside RAM is an error: the image would place bytes where the machine has none.
 */
export function pagesToBlobs(mem: PhysMem, pages: Iterable<number>, opts: BlobOptions = {}): EmitBlob[] {
  const ps = mem.pageSize;
  const maxGap = opts.maxGap ?? 0;
  const sorted = [...new Set(pages)].sort((a, b) => a - b);
  const runs: { start: number; end: number }[] = [];
  for (const p of sorted) {
    if (p % ps !== 0) {
      throw new KexecLabError("E_FIELD_VALUE", `page 0x${p.toString(16)} is not page-aligned`);
    }
    const last = runs[runs.length - 1];
    if (last !== undefined && p - last.end <= maxGap) last.end = p + ps;
    else runs.push({ start: p, end: p + ps });
  }
  const blobs: EmitBlob[] = [];
  for (const r of runs) {
    const bytes = new Uint8Array(r.end - r.start);
    if (!mem.readBytes(r.start, bytes)) {
      // A merged hole may cross a RAM gap: read page by page and keep holes outside RAM as zeros
      // only when no populated page is there (they are not: only gaps are).
      for (let pa = r.start; pa < r.end; pa += ps) {
        if (mem.isRam(pa)) mem.readBytes(pa, bytes.subarray(pa - r.start, pa - r.start + ps));
        else if (sorted.includes(pa)) {
          throw new KexecLabError("E_PHYS_FAULT", `page 0x${pa.toString(16)} is not RAM`);
        }
      }
    }
    blobs.push({ addr: r.start, bytes, label: `ram 0x${r.start.toString(16)}` });
  }
  return blobs;
}

/** Write `patch` over the blobs (copy-on-write), adding a blob when no existing one covers it. */
export function overlay(blobs: EmitBlob[], patch: EmitBlob): EmitBlob[] {
  const end = patch.addr + patch.bytes.length;
  const out: EmitBlob[] = [];
  let placed = false;
  for (const b of blobs) {
    const bEnd = b.addr + b.bytes.length;
    if (patch.addr >= b.addr && end <= bEnd) {
      const bytes = b.bytes.slice();
      bytes.set(patch.bytes, patch.addr - b.addr);
      out.push({ addr: b.addr, bytes, label: `${b.label} + ${patch.label}` });
      placed = true;
    } else if (patch.addr < bEnd && b.addr < end) {
      throw new KexecLabError(
        "E_NOT_MODELED",
        `${patch.label} at 0x${patch.addr.toString(16)} straddles the edge of ${b.label}`,
      );
    } else {
      out.push(b);
    }
  }
  if (!placed) out.push(patch);
  return out.sort((a, b) => a.addr - b.addr);
}

/** Little-endian 64-bit store of a bigint into a byte array (parameter blocks; not a hot path). */
export function put64(bytes: Uint8Array, offset: number, value: bigint | number): void {
  let v = BigInt.asUintN(64, BigInt(value));
  for (let i = 0; i < 8; i++) {
    bytes[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Little-endian 64-bit load as a bigint. */
export function get64(bytes: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]!);
  return v;
}

/** Decode base64 without Node's Buffer (the library runs in browsers too). */
export function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
