/**
 * Verification after a relocation: every destination byte equals its segment, zero padded to memsz.
 *
 * Exact comparison, page by page, with two O(1) shortcuts that are exact too: a destination page that
 * still carries the synthetic identity (payload seed, page index) of the expected content, and a
 * never-written page where zeros are expected. Everything else is compared byte by byte against the
 * expected page rendered into a scratch buffer. The first wrong byte of each segment is named
 * (segment, address, expected, found).
 */

import type { Segment } from "../kimage/kimage.js";
import { firstDifference, type PhysMem } from "../machine/physmem.js";
import type { VerificationFailure } from "./result.js";

export interface VerifyOutcome {
  failures: VerificationFailure[];
  /** Destination pages compared. */
  pagesChecked: number;
  /** Pages with at least one wrong byte. */
  badPages: number;
  /** Pages settled by the O(1) identity shortcut. */
  pagesByIdentity: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** Compare every destination page of every segment with the segment's content. */
export function verifySegments(mem: PhysMem, segments: readonly Segment[], maxFailures = 16): VerifyOutcome {
  const ps = mem.pageSize;
  const want = new Uint8Array(ps);
  const got = new Uint8Array(ps);
  let payload = 0;
  const out: VerifyOutcome = { failures: [], pagesChecked: 0, badPages: 0, pagesByIdentity: 0 };
  for (let si = 0; si < segments.length; si++) {
    const seg = segments[si]!;
    const c = seg.content;
    const bufsz = c.kind === "bytes" ? c.data.length : c.bufsz;
    if (c.kind === "synthetic") payload = mem.addPayload(c.seed);
    let reported = false;
    for (let off = 0; off < seg.memsz; off += ps) {
      const dst = seg.mem + off;
      const chunk = Math.min(ps, Math.max(0, bufsz - off));
      out.pagesChecked++;
      if (chunk === 0 && mem.isZeroPage(dst)) {
        out.pagesByIdentity++;
        continue;
      }
      if (chunk === ps && c.kind === "synthetic" && mem.carriesSynthetic(dst, c.seed, off / ps)) {
        out.pagesByIdentity++;
        continue;
      }
      // expected bytes of this page
      if (chunk === 0) want.fill(0);
      else if (c.kind === "bytes") {
        want.set(c.data.subarray(off, off + chunk));
        if (chunk < ps) want.fill(0, chunk);
      } else {
        mem.renderSynthetic(payload, off / ps, want);
        if (chunk < ps) want.fill(0, chunk);
      }
      if (!mem.readBytes(dst, got)) {
        out.badPages++;
        if (!reported && out.failures.length < maxFailures) {
          reported = true;
          out.failures.push({
            kind: "content",
            message: `segment ${si} (${seg.label ?? "segment"}): destination page ${hex(dst)} is not RAM`,
            segment: si,
            address: hex(dst),
          });
        }
        continue;
      }
      const at = firstDifference(got, want);
      if (at < 0) continue;
      out.badPages++;
      if (!reported && out.failures.length < maxFailures) {
        reported = true;
        out.failures.push({
          kind: "content",
          message:
            `segment ${si} (${seg.label ?? "segment"}): first wrong byte at ${hex(dst + at)}: ` +
            `expected 0x${want[at]!.toString(16).padStart(2, "0")}, found 0x${got[at]!.toString(16).padStart(2, "0")}`,
          segment: si,
          address: hex(dst + at),
          expected: want[at]!,
          found: got[at]!,
        });
      }
    }
  }
  return out;
}
