/**
 * The path from `kexec -e` to the new kernel's entry, phase by phase, on a machine profile.
 *
 * Plain inputs (segment sizes, which of them are relocated at reboot, the load call, purgatory checks,
 * the kernel's compression), so it does not depend on how the loader placed anything. The relocation
 * phase's time comes from the trace model (src/model/model.ts) of the strategy's real access stream;
 * the other phases are closed forms of their access streams, documented per phase below.
 *
 * Phases, in the order the CPU runs them:
 *   shutdown     kernel_kexec (kernel/kexec_core.c): kernel_restart_prepare (reboot notifiers,
 *                device_shutdown: every driver's .shutdown), migrate_to_reboot_cpu, machine_shutdown
 *                (secondary CPUs taken offline). Its time is the machine's drivers, not an access stream,
 *                so it is not modeled: the phase exists only for a profile that carries a published
 *                measurement of its machine (Profile.publishedShutdown), reported as that constant.
 *   relocation   kimage pages copied to their destinations (arch relocate_kernel / arm64_relocate_new_kernel).
 *                Zero when nothing is relocated: an in-place (crash-style) load, or kexec_file segments
 *                placed in CMA at load time (Linux 6.17, commit 07d24902977e).
 *   purgatory    kexec-tools' purgatory (purgatory/purgatory.c verify_sha256_digest) hashes every segment
 *                but its own with util_lib/sha256.c, unless `--no-checks` (skip_checks). arm64: it runs
 *                after arm64_relocate_new_kernel turned the MMU off (SCTLR_EL1.M, C and I clear), so every
 *                data access is Device-nGnRnE and every instruction fetch Non-cacheable: each is one
 *                serialized round trip. x86_64: kexec-tools' purgatory runs with paging on through the
 *                identity map the kernel built, caches on; the kernel's own kexec_file purgatory
 *                (arch/x86/purgatory/purgatory.c) also checks the digests. arm64 kexec_file_load loads
 *                no purgatory (arch/arm64/kernel/kexec_image.c jumps straight to the kernel).
 *   decompress   an x86_64 bzImage decompresses itself (arch/x86/boot/compressed/misc.c extract_kernel:
 *                move the compressed payload out of the way, decompress, lay out the ELF segments),
 *                caches and paging on. An arm64 Image is entered as is; a zboot or Image.gz is
 *                decompressed by the loader at load time, not at reboot.
 * What else runs on the path (barriers, I-cache invalidate, MMU off, the jump) is inside the relocation
 * trace and costs well under 1% on every shipped profile.
 */

import type { Arch } from "../kimage/constants.js";
import type { Profile } from "./profiles.js";

/** The load call: kexec-tools `-c`/kexec_load, or `-s`/kexec_file_load (what systemd uses). */
export type LoadCall = "kexec_load" | "kexec_file_load";

/** Kernel payload compression codecs the x86 decompressor supports (arch/x86/boot/compressed). */
export type Codec = "gzip" | "bzip2" | "lzma" | "xz" | "lzo" | "lz4" | "zstd" | "none";

/**
 * Decompression cost per output byte in core cycles, single-threaded, from lzbench's published table
 * (github.com/inikep/lzbench README, Core i7-6700K at 4.0 GHz: zlib -6 ~400 MB/s, zstd ~1 GB/s, xz -6
 * ~100 MB/s, lzo1x ~1 GB/s, lz4 ~3.5 GB/s, bzip2 ~50 MB/s, converted as 4.0 GHz / speed). The kernel's
 * pre-boot decompressors are the same algorithms without SIMD tuning: approximate.
 */
export const CODEC_CYCLES_PER_BYTE: Record<Codec, number> = {
  gzip: 10,
  bzip2: 80,
  lzma: 40,
  xz: 40,
  lzo: 4,
  lz4: 1.2,
  zstd: 4,
  none: 0,
};

/** Typical vmlinux.bin : payload ratio per codec when the file does not say (gzip states its size). */
export const ASSUMED_RATIO: Record<Codec, number> = {
  gzip: 3.0,
  bzip2: 3.4,
  lzma: 3.8,
  xz: 3.8,
  lzo: 2.4,
  lz4: 2.2,
  zstd: 3.2,
  none: 1,
};

/**
 * kexec-tools' util_lib/sha256.c sha256_process, built as purgatory builds it (aarch64-linux-gnu-gcc 12,
 * -O2 -mcmodel=large -fno-PIC -ffreestanding) and counted in its disassembly: one straight-line
 * function per 64-byte block (the 64 rounds unrolled), 1917 instructions (7668 bytes of code), 31 loads
 * (16 words of the block, the eight state words, spills) and 16 stores (state, spills).
 * bench/purgatory-sha256.sh recounts them when the cross compiler is installed.
 */
export const SHA256_BLOCK = {
  bytes: 64,
  instructions: 1917,
  codeBytes: 7668,
  dataAccesses: 47,
} as const;

/**
 * The same function built for x86_64 purgatory (gcc 12 -O2 with kexec-tools' x86_64 purgatory flags
 * -mcmodel=large -march=x86-64 -mno-sse -mno-sse2 -mno-avx): 3460 instructions per block
 * (`CC=gcc OBJDUMP=objdump X86=1 sh bench/purgatory-sha256.sh`).
 */
export const SHA256_BLOCK_X86_64_INSTRUCTIONS = 3460;

export interface RebootSegment {
  label: string;
  /** Bytes of the segment's buffer (what purgatory hashes). */
  bytes: number;
  /** True when the relocation copies this segment at reboot; false when it is already in place. */
  relocated: boolean;
}

export interface KernelPayload {
  /** "bzImage": decompresses itself at boot; "Image", "zboot", "elf": nothing at reboot. */
  format: "bzImage" | "Image" | "zboot" | "elf" | "unknown";
  codec: Codec;
  compressedBytes: number;
  uncompressedBytes: number;
  /** How uncompressedBytes was found: "file" (the payload says) or "assumed" (ASSUMED_RATIO). */
  sizeFrom: "file" | "assumed";
}

export interface RebootInput {
  arch: Arch;
  call: LoadCall;
  /** False with kexec-tools' --no-checks (kexec_load only). */
  purgatoryChecks: boolean;
  segments: readonly RebootSegment[];
  kernel?: KernelPayload;
  /** The relocation phase: modeled seconds of the strategy's trace and the bytes it relocated. */
  relocation: { strategy: string; seconds: number; bytes: number; sampled: boolean };
}

export type PhaseName = "shutdown" | "relocation" | "purgatory" | "decompress";
/** Every phase name in path order; "shutdown" appears only on profiles with publishedShutdown. */
export const PHASES: readonly PhaseName[] = ["shutdown", "relocation", "purgatory", "decompress"];

export interface Phase {
  name: PhaseName;
  seconds: number;
  /** Bytes the phase moves or reads (relocated, hashed, decompressed output). */
  bytes: number;
  /** One line: how it was modeled, or why it is zero. */
  how: string;
  sampled: boolean;
}

/** Does a purgatory run at all for this call and arch. */
export function hasPurgatory(arch: Arch, call: LoadCall): boolean {
  return call === "kexec_load" || arch === "x86_64";
}

/** Segments purgatory hashes: all but the purgatory's own (kexec-tools kexec/kexec.c skips rhdr.rel_addr). */
export function hashedBytes(segments: readonly RebootSegment[]): number {
  let n = 0;
  for (const s of segments) if (s.label !== "purgatory") n += s.bytes;
  return n;
}

/**
 * SHA-256 over `bytes` on the profile, in seconds.
 * caches off (arm64 purgatory): every block costs (data accesses + code bytes / fetchBytes) serialized
 *   round trips of uncached.loadNs, plus its instructions at cpu.ipc.
 * caches on (x86_64): the instructions (of the profile's arch build) at cpu.ipc, or the read stream at
 *   dram.bandwidthGBps if slower.
 */
export function sha256Seconds(bytes: number, profile: Profile, cachesOn: boolean): number {
  const blocks = Math.ceil(bytes / SHA256_BLOCK.bytes);
  const instructions =
    profile.arch === "x86_64" ? SHA256_BLOCK_X86_64_INSTRUCTIONS : SHA256_BLOCK.instructions;
  const computeNs = instructions / profile.cpu.ipc / profile.cpu.ghz;
  if (!cachesOn) {
    const trips = SHA256_BLOCK.dataAccesses + Math.ceil(SHA256_BLOCK.codeBytes / profile.uncached.fetchBytes);
    return blocks * (trips * profile.uncached.loadNs + computeNs) * 1e-9;
  }
  const streamNs = bytes / profile.dram.bandwidthGBps;
  return Math.max(blocks * computeNs, streamNs) * 1e-9;
}

/**
 * An x86_64 bzImage's self-decompression: copy the payload aside, decompress at the codec's cycles per
 * output byte, move the ELF segments into place (each copy at the profile's copy bandwidth).
 */
export function decompressSeconds(k: KernelPayload, profile: Profile): number {
  if (k.format !== "bzImage" || k.codec === "none") return 0;
  const copyNs = (2 * (k.compressedBytes + k.uncompressedBytes)) / profile.dram.bandwidthGBps;
  const decodeNs = (k.uncompressedBytes * CODEC_CYCLES_PER_BYTE[k.codec]) / profile.cpu.ghz;
  return (copyNs + decodeNs) * 1e-9;
}

/** The phases of one reboot. Pure and deterministic. */
export function rebootPhases(input: RebootInput, profile: Profile): Phase[] {
  const phases: Phase[] = [];
  const shutdown = profile.publishedShutdown;
  if (shutdown !== undefined) {
    phases.push({
      name: "shutdown",
      seconds: shutdown.seconds,
      bytes: 0,
      how: `published constant of this machine, not modeled (device_shutdown, secondary CPUs offline): ${shutdown.source}`,
      sampled: false,
    });
  }
  const reloc = input.relocation;
  phases.push({
    name: "relocation",
    seconds: reloc.bytes > 0 ? reloc.seconds : 0,
    bytes: reloc.bytes,
    how:
      reloc.bytes > 0
        ? `${reloc.strategy}: the relocation's access stream through the timing model`
        : "nothing to relocate: every segment is already at its destination",
    sampled: reloc.bytes > 0 && reloc.sampled,
  });
  const hashed = hashedBytes(input.segments);
  if (!hasPurgatory(input.arch, input.call)) {
    phases.push({
      name: "purgatory",
      seconds: 0,
      bytes: 0,
      how: "arm64 kexec_file_load: no purgatory, the kernel is entered directly",
      sampled: false,
    });
  } else if (!input.purgatoryChecks) {
    phases.push({
      name: "purgatory",
      seconds: 0,
      bytes: 0,
      how: "--no-checks: purgatory skips the SHA-256 check",
      sampled: false,
    });
  } else {
    const cachesOn = input.arch === "x86_64";
    phases.push({
      name: "purgatory",
      seconds: sha256Seconds(hashed, profile, cachesOn),
      bytes: hashed,
      how: cachesOn
        ? "SHA-256 of every segment, paging and caches on (identity map)"
        : "SHA-256 of every segment with MMU and caches off: Device-nGnRnE loads, Non-cacheable fetches",
      sampled: false,
    });
  }
  const k = input.kernel;
  if (input.arch === "x86_64" && k !== undefined && k.format === "bzImage" && k.codec !== "none") {
    phases.push({
      name: "decompress",
      seconds: decompressSeconds(k, profile),
      bytes: k.uncompressedBytes,
      how: `bzImage decompresses its ${k.codec} payload (${k.sizeFrom === "file" ? "size from the payload" : "ratio assumed"}), caches on`,
      sampled: false,
    });
  } else {
    phases.push({
      name: "decompress",
      seconds: 0,
      bytes: 0,
      how:
        k === undefined || k.format === "unknown"
          ? "kernel format not known: no self-decompression modeled"
          : k.format === "bzImage"
            ? "uncompressed bzImage payload"
            : `${k.format}: entered as loaded (a compressed arm64 kernel is unpacked at load time)`,
      sampled: false,
    });
  }
  return phases;
}

export function phasesTotal(phases: readonly Phase[]): number {
  let s = 0;
  for (const p of phases) s += p.seconds;
  return s;
}
