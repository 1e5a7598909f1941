/**
 * The checks kexec_load makes before it loads anything (kernel/kexec.c, kernel/kexec_core.c
 * sanity_check_segment_list), in the kernel's order and with the kernel's errno.
 *
 * Addresses and sizes arrive as BigInt so the verdict is right for any 64-bit value: a segment at
 * 0xfffffffffffff000 whose end wraps past 2^64 is EADDRNOTAVAIL, as in the kernel, where mem + memsz
 * is computed in unsigned long.
 */

import {
  type Arch,
  archLimits,
  KEXEC_ARCH_DEFAULT,
  KEXEC_ARCH_MASK,
  KEXEC_FLAGS,
  KEXEC_ON_CRASH,
  KEXEC_SEGMENT_MAX,
} from "./constants.js";

export type Errno = "EPERM" | "EINVAL" | "EADDRNOTAVAIL" | "ENOMEM" | "EBUSY";

export interface SegmentRequest {
  mem: bigint;
  memsz: bigint;
  bufsz: bigint;
}

export interface LoadRequest {
  arch: Arch;
  pageSize: number;
  /** totalram_pages() * PAGE_SIZE of the running kernel. */
  ramBytes: bigint;
  segments: SegmentRequest[];
  /** Raw kexec_load flags; KEXEC_ON_CRASH is implied by `crash`. Default: 0 (plus the arch bits). */
  flags?: number;
  /** For crash loads: the crashkernel= region, end inclusive as crashk_res.end. */
  crash?: { start: bigint; end: bigint };
  /** The entry point (only checked for crash loads). Default: the first segment's mem. */
  entry?: bigint;
  /** False models a caller without CAP_SYS_BOOT or with kexec_load_disabled set. Default true. */
  permitted?: boolean;
  /** x86_64 paging levels, which set the memory limits. Default 4. */
  x86Levels?: 4 | 5;
}

export type CheckName =
  | "permission"
  | "flags"
  | "nr_segments"
  | "arch"
  | "crash_entry"
  | "segment_alignment"
  | "segment_overlap"
  | "segment_bufsz"
  | "segment_pages"
  | "crash_region"
  | "ok";

export interface Verdict {
  ok: boolean;
  errno: Errno | null;
  check: CheckName;
  segment: number | null;
  reason: string;
}

const U64 = 1n << 64n;
const hex = (v: bigint) => `0x${v.toString(16)}`;

function refuse(errno: Errno, check: CheckName, segment: number | null, reason: string): Verdict {
  return { ok: false, errno, check, segment, reason };
}

export function validateLoad(req: LoadRequest): Verdict {
  const pageSize = BigInt(req.pageSize);
  const limits = archLimits(req.arch, req.x86Levels ?? 4);
  const crash = req.crash !== undefined;
  const flags = (req.flags ?? 0) | (crash ? KEXEC_ON_CRASH : 0);
  const segs = req.segments;

  // 1. Permission.
  if (req.permitted === false) {
    return refuse("EPERM", "permission", null, "the caller lacks CAP_SYS_BOOT or kexec_load is disabled");
  }
  // 2. Unknown flag bits, ignoring the arch field.
  const unknown = (flags & ~KEXEC_ARCH_MASK & ~KEXEC_FLAGS) >>> 0;
  if (unknown !== 0) {
    return refuse("EINVAL", "flags", null, `unknown flag bits 0x${unknown.toString(16)}`);
  }
  // 3. Number of segments (0 means unload, which is always accepted here).
  if (segs.length > KEXEC_SEGMENT_MAX) {
    return refuse(
      "EINVAL",
      "nr_segments",
      null,
      `${segs.length} segments, more than KEXEC_SEGMENT_MAX (${KEXEC_SEGMENT_MAX})`,
    );
  }
  // 4. Arch field.
  const archField = (flags & KEXEC_ARCH_MASK) >>> 0;
  if (archField !== KEXEC_ARCH_DEFAULT && archField !== limits.kexecArch) {
    return refuse(
      "EINVAL",
      "arch",
      null,
      `arch field 0x${archField.toString(16)} is not ${req.arch}'s (0x${limits.kexecArch.toString(16)})`,
    );
  }
  if (segs.length === 0) {
    return {
      ok: true,
      errno: null,
      check: "ok",
      segment: null,
      reason: "no segments: this unloads the current image",
    };
  }
  // 5. Crash entry inside the crash region.
  if (req.crash !== undefined) {
    const entry = req.entry ?? segs[0]!.mem;
    if (entry < req.crash.start || entry > req.crash.end) {
      return refuse(
        "EADDRNOTAVAIL",
        "crash_entry",
        null,
        `entry ${hex(entry)} lies outside the crash region ${hex(req.crash.start)}-${hex(req.crash.end)}`,
      );
    }
  }
  // 6. sanity_check_segment_list, pass by pass.
  // Pass 1: wrap, alignment, destination limit.
  for (let i = 0; i < segs.length; i++) {
    const mstart = segs[i]!.mem;
    const mend = (mstart + segs[i]!.memsz) % U64;
    if (mstart > mend) {
      return refuse(
        "EADDRNOTAVAIL",
        "segment_alignment",
        i,
        `mem ${hex(mstart)} + memsz ${hex(segs[i]!.memsz)} wraps past the end of the address space`,
      );
    }
    if (mstart % pageSize !== 0n || mend % pageSize !== 0n) {
      const what = mstart % pageSize !== 0n ? `mem ${hex(mstart)}` : `end ${hex(mend)}`;
      return refuse(
        "EADDRNOTAVAIL",
        "segment_alignment",
        i,
        `${what} is not aligned to the ${req.pageSize}-byte page`,
      );
    }
    if (mend >= limits.destinationLimit) {
      return refuse(
        "EADDRNOTAVAIL",
        "segment_alignment",
        i,
        `end ${hex(mend)} is at or above KEXEC_DESTINATION_MEMORY_LIMIT ${hex(limits.destinationLimit)}`,
      );
    }
  }
  // Pass 2: overlaps (half-open), each segment against the ones before it.
  for (let i = 0; i < segs.length; i++) {
    const mstart = segs[i]!.mem;
    const mend = mstart + segs[i]!.memsz;
    for (let j = 0; j < i; j++) {
      const pstart = segs[j]!.mem;
      const pend = pstart + segs[j]!.memsz;
      if (mend > pstart && mstart < pend) {
        return refuse(
          "EINVAL",
          "segment_overlap",
          i,
          `segment ${i} [${hex(mstart)}, ${hex(mend)}) overlaps segment ${j} [${hex(pstart)}, ${hex(pend)})`,
        );
      }
    }
  }
  // Pass 3: the buffer must fit in memory.
  for (let i = 0; i < segs.length; i++) {
    if (segs[i]!.bufsz > segs[i]!.memsz) {
      return refuse(
        "EINVAL",
        "segment_bufsz",
        i,
        `bufsz ${segs[i]!.bufsz} is larger than memsz ${segs[i]!.memsz}`,
      );
    }
  }
  // Pass 4: at most half of RAM, per segment and in total.
  const nrPages = req.ramBytes / pageSize;
  const half = nrPages / 2n;
  let total = 0n;
  for (let i = 0; i < segs.length; i++) {
    const pages = (segs[i]!.memsz + pageSize - 1n) / pageSize;
    if (pages > half) {
      return refuse(
        "EINVAL",
        "segment_pages",
        i,
        `segment ${i} needs ${pages} pages, more than half of RAM (${half} of ${nrPages} pages)`,
      );
    }
    total += pages;
    if (total > half) {
      return refuse(
        "EINVAL",
        "segment_pages",
        i,
        `segments 0..${i} need ${total} pages, more than half of RAM (${half} of ${nrPages} pages)`,
      );
    }
  }
  // Crash images: every segment inside the crash region.
  if (req.crash !== undefined) {
    for (let i = 0; i < segs.length; i++) {
      const mstart = segs[i]!.mem;
      const mend = mstart + segs[i]!.memsz - 1n;
      if (mstart < req.crash.start || mend > req.crash.end) {
        return refuse(
          "EADDRNOTAVAIL",
          "crash_region",
          i,
          `segment ${i} [${hex(mstart)}, ${hex(mend + 1n)}) is not inside the crash region ${hex(req.crash.start)}-${hex(req.crash.end)}`,
        );
      }
    }
  }
  return {
    ok: true,
    errno: null,
    check: "ok",
    segment: null,
    reason: `the kernel accepts ${segs.length} segment${segs.length === 1 ? "" : "s"}`,
  };
}
