/**
 * QEMU's memory against the simulator's, byte for byte, streamed: each checked range is read in
 * chunks from both sides, so a check over hundreds of MiB costs two chunk buffers, not two copies.
 * Browser-safe: QEMU's side comes through a reader (src/emit/node/qemu.ts reads the RAM image file).
 */

import { hexAddr } from "../report/format.js";
import type { QemuRange } from "./arm64.js";
import type { StrategyEmission } from "./strategy.js";

/** Reads guest-physical memory after a run: fills `out` with the bytes at [addr, addr + out.length). */
export interface MemoryReader {
  read(addr: number, out: Uint8Array): void;
}

export interface CompareOptions {
  /** Bytes per chunk (default 1 MiB). */
  chunkBytes?: number;
  /** Ranges to leave out of the comparison (e.g. the routine's own page). */
  ignore?: readonly { addr: number; size: number }[];
}

/**
 * The first difference in each range, as messages "label: first difference at 0x... (QEMU 0x.., simulator 0x..)";
 * empty when every range is equal.
 */
export function compareRanges(
  ranges: readonly QemuRange[],
  qemu: MemoryReader,
  simulator: MemoryReader,
  opts: CompareOptions = {},
): string[] {
  const chunk = opts.chunkBytes ?? 1024 * 1024;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  const out: string[] = [];
  for (const r of ranges) {
    for (let off = 0; off < r.size; off += chunk) {
      const n = Math.min(chunk, r.size - off);
      const qa = a.subarray(0, n);
      const sb = b.subarray(0, n);
      qemu.read(r.addr + off, qa);
      simulator.read(r.addr + off, sb);
      for (const g of opts.ignore ?? []) {
        const from = Math.max(g.addr, r.addr + off);
        const to = Math.min(g.addr + g.size, r.addr + off + n);
        if (from < to) {
          qa.fill(0, from - r.addr - off, to - r.addr - off);
          sb.fill(0, from - r.addr - off, to - r.addr - off);
        }
      }
      let d = -1;
      for (let i = 0; i < n; i++) {
        if (qa[i] !== sb[i]) {
          d = i;
          break;
        }
      }
      if (d >= 0) {
        out.push(
          `${r.label}: first difference at ${hexAddr(r.addr + off + d)} (QEMU 0x${qa[d]!.toString(16)}, simulator 0x${sb[d]!.toString(16)})`,
        );
        break;
      }
    }
  }
  return out;
}

/**
 * Compare every checked range of an emission with the simulator's memory after its relocation. On
 * arm64 the routine's own page (the control code page: code and parameters the simulator does not
 * have) is left out.
 */
export function compareEmission(
  e: StrategyEmission,
  qemu: MemoryReader,
  opts: CompareOptions = {},
): string[] {
  const ignore =
    e.image.target === "qemu-virt-arm64" ? [{ addr: e.kimage.controlCodePage, size: e.kimage.pageSize }] : [];
  const sim: MemoryReader = {
    read(addr, out) {
      e.machine.mem.readBytes(addr, out);
    },
  };
  return compareRanges(e.image.checks, qemu, sim, { ...opts, ignore: [...ignore, ...(opts.ignore ?? [])] });
}
