/**
 * The path from `kexec -e` to the new kernel's entry, phase by phase, on a machine profile.
 *
 * Plain inputs (segment sizes, which of them are relocated at reboot, the load call, purgatory checks,
 * the kernel's compression), so it does not depend on how the loader placed anything. The relocation
 * phase's time comes from the trace model (src/model/model.ts) of the strategy's real access stream;
 * the other phases are closed forms of their access streams, documented per phase below.
 *
 * Every phase has `seconds` (the most likely value: the profile's own numbers) and `range` [low, high]
 * (src/model/ranges.ts: the profile's input ranges, or the min and max of the published constants);
 * a phase with no figure at all carries `unknown` (why) and is left out of the total.
 *
 * Phases, in the order the CPU runs them:
 *   shutdown     kernel_kexec (kernel/kexec_core.c): kernel_restart_prepare (reboot notifiers,
 *                device_shutdown: every driver's .shutdown). Its time is the machine's drivers, not an
 *                access stream, so it is not modeled: a profile whose machine has a published measurement
 *                (Profile.publishedShutdown) reports that constant; any other is unknown. The crash path
 *                (__crash_kexec) shuts no device down: zero.
 *   cpu-teardown machine_shutdown stops the other CPUs (cpuTeardown below: serial cpu_down per CPU on
 *                arm64, parallel IPI/NMI stops on x86_64 and on every crash path), from published figures.
 *   cma-dma-wait crash path with crashkernel=,cma only: crash_cma_clear_pending_dma (kernel/crash_core.c)
 *                waits CMA_DMA_TIMEOUT_SEC (10 s) for DMA into the CMA ranges to stop.
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
import { addRanges, around, profileBound } from "./ranges.js";
import type { Codec, KernelPayload, LoadCall, Phase, PhaseName, RebootPath } from "./reboot-shapes.js";

export type { Codec, KernelPayload, LoadCall, Phase, PhaseName, RebootPath } from "./reboot-shapes.js";

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

export interface RebootInput {
  arch: Arch;
  call: LoadCall;
  /** Online CPUs at the jump (`--cpus`, or the --host machine's nproc); default 1. */
  cpus?: number;
  /** Default "reboot". */
  path?: RebootPath;
  /** arm64 kexec reboot with the parallel CPU shutdown series applied (a what-if; not in mainline). */
  parallelShutdown?: boolean;
  /** Crash path with crashkernel=,cma reserved ranges: the CMA DMA wait. */
  crashCma?: boolean;
  /** False with kexec-tools' --no-checks (kexec_load only). */
  purgatoryChecks: boolean;
  segments: readonly RebootSegment[];
  kernel?: KernelPayload;
  /** The relocation phase: modeled seconds of the strategy's trace and the bytes it relocated. */
  relocation: {
    strategy: string;
    seconds: number;
    bytes: number;
    sampled: boolean;
    /** [low, high] from the profile's input ranges (ModelSummary.range); default [seconds, seconds]. */
    range?: [number, number];
  };
}

/** Every phase name in path order; "cma-dma-wait" appears only on the crash path with CMA. */
export const PHASES: readonly PhaseName[] = [
  "shutdown",
  "cpu-teardown",
  "cma-dma-wait",
  "relocation",
  "purgatory",
  "decompress",
];

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

/** A published constant: central value, [min, max] over its sources, and the sources. */
export interface PublishedConstant {
  seconds: number;
  range: [number, number];
  source: string;
}

/**
 * arm64 kexec reboot: machine_shutdown (arch/arm64/kernel/process.c) takes every other CPU down one
 * after the other through CPU hotplug (smp_shutdown_nonboot_cpus since Linux 5.7, disable_nonboot_cpus
 * before; each cpu_down runs the hotplug teardown states and waits for the CPU to die). Seconds per CPU
 * taken down, published constants (not modeled): about 250 ms per CPU on one arm64 server, over 30 s on
 * 128 cores (the comment in openEuler's arch/arm64/include/asm/kexec.h: 30 s / 127 = 0.236 s); 80 CPUs
 * about 15 s (linux-ia64 list thread on the parallel-shutdown series: 15 s / 79 = 0.19 s). Range: min
 * and max over the two sources; likely: their geometric mean. Both are many-core servers: the one small
 * machine with a published shutdown, the 8-core Broadcom Stingray, took 22-32 ms for its whole kernel
 * shutdown (devices and 7 CPUs), at most ~4.6 ms per CPU, so the constant is a server figure, not a
 * rule for every arm64 machine (a profile with its own published shutdown uses that instead).
 */
export const ARM64_SERIAL_TEARDOWN_PER_CPU: PublishedConstant = {
  seconds: Math.sqrt((15 / 79) * 0.25),
  range: [15 / 79, 0.25],
  source:
    "published: ~250 ms per CPU, over 30 s on 128 cores (openEuler arch/arm64/include/asm/kexec.h); 80 CPUs ~15 s serially (linux-ia64 list thread)",
};

/**
 * The same with the parallel CPU shutdown series (not in mainline as far as the sources say): 80 CPUs
 * in about 1 s (the same linux-ia64 list thread). One source: taken per CPU (1 s / 79), with a stated
 * uncertainty of x2 each way because how it scales with the CPU count is not published.
 */
export const ARM64_PARALLEL_TEARDOWN_PER_CPU: PublishedConstant = {
  seconds: 1 / 79,
  range: [1 / 79 / 2, (1 / 79) * 2],
  source:
    "published: 80 CPUs ~1 s with the parallel-shutdown series (linux-ia64 list thread); one point, x2 each way for the unpublished scaling",
};

/** kernel/crash_core.c: crash_cma_clear_pending_dma waits CMA_DMA_TIMEOUT_SEC (10) seconds with mdelay. */
export const CMA_DMA_TIMEOUT_SEC = 10;

/**
 * How the other CPUs stop before the jump, and what it costs, per arch and path. Parallel stops (an
 * IPI or NMI to all, then a bounded wait: x86_64 native_stop_other_cpus, arm64 and x86_64
 * crash_smp_send_stop) have no published time: unknown, bounded by the kernel's own 1 s wait.
 */
export function cpuTeardown(
  arch: Arch,
  cpus: number,
  path: RebootPath,
  parallel: boolean,
): Omit<Phase, "bytes" | "sampled" | "name"> {
  const others = Math.max(0, Math.floor(cpus) - 1);
  if (others === 0) {
    return {
      seconds: 0,
      range: [0, 0],
      how: `1 CPU online: no other CPU to stop${cpus <= 1 ? " (give --cpus)" : ""}`,
    };
  }
  if (path === "crash") {
    return {
      seconds: 0,
      range: [0, 1],
      unknown: "no published time for a parallel IPI stop",
      how:
        arch === "arm64"
          ? `crash path: machine_crash_shutdown -> crash_smp_send_stop stops the ${others} other CPUs in parallel by IPI and waits for them up to 1 s (arch/arm64/kernel/smp.c); from source, not yet recorded`
          : `crash path: native_machine_crash_shutdown -> nmi_shootdown_cpus stops the ${others} other CPUs by NMI in parallel, waiting up to 1 s (arch/x86/kernel/reboot.c); from source, not yet recorded`,
    };
  }
  if (arch === "x86_64") {
    return {
      seconds: 0,
      range: [0, 1],
      unknown: "no published time for a parallel IPI stop",
      how: `native_machine_shutdown -> stop_other_cpus: one REBOOT_VECTOR IPI to the ${others} other CPUs, a wait of up to 1 s, then NMI (arch/x86/kernel/smp.c); from source, not yet recorded`,
    };
  }
  const c = parallel ? ARM64_PARALLEL_TEARDOWN_PER_CPU : ARM64_SERIAL_TEARDOWN_PER_CPU;
  return {
    seconds: others * c.seconds,
    range: [others * c.range[0], others * c.range[1]],
    source: c.source,
    how: parallel
      ? `${others} other CPUs taken down in parallel (the parallel-shutdown series): ${c.source}`
      : `machine_shutdown -> smp_shutdown_nonboot_cpus takes the ${others} other CPUs down one by one (cpu_down per CPU): ${c.source}`,
  };
}

/** [low, high] of a closed-form phase: the same function of the profile at both ends of its ranges. */
function closedRange(f: (p: Profile) => number, profile: Profile): [number, number] {
  const likely = f(profile);
  return around(likely, [f(profileBound(profile, "low")), f(profileBound(profile, "high"))]);
}

/** The phases of one reboot. Pure and deterministic. */
export function rebootPhases(input: RebootInput, profile: Profile): Phase[] {
  const phases: Phase[] = [];
  const path = input.path ?? "reboot";
  const cpus = input.cpus ?? 1;
  const shutdown = profile.publishedShutdown;
  if (path === "crash") {
    phases.push({
      name: "shutdown",
      seconds: 0,
      range: [0, 0],
      bytes: 0,
      how: "crash path: __crash_kexec shuts no device down (kernel/crash_core.c)",
      sampled: false,
    });
  } else if (shutdown !== undefined) {
    const lo = profileBound(profile, "low").publishedShutdown?.seconds ?? shutdown.seconds;
    const hi = profileBound(profile, "high").publishedShutdown?.seconds ?? shutdown.seconds;
    phases.push({
      name: "shutdown",
      seconds: shutdown.seconds,
      range: around(shutdown.seconds, [lo, hi]),
      bytes: 0,
      source: shutdown.source,
      how: `published constant of this machine, not modeled (kernel_restart_prepare: device_shutdown): ${shutdown.source}`,
      sampled: false,
    });
  } else {
    phases.push({
      name: "shutdown",
      seconds: 0,
      range: [0, 0],
      unknown: "no published device-shutdown time for this machine",
      bytes: 0,
      how: "kernel_restart_prepare -> device_shutdown runs every driver's .shutdown: a property of the drivers, published for one machine only (broadcom-stingray)",
      sampled: false,
    });
  }
  if (path === "reboot" && shutdown !== undefined && cpus > 1) {
    // The machine's published "kernel shutdown" interval runs up to machine_kexec, so it already
    // holds machine_shutdown's CPU teardown: counting it again would double it.
    phases.push({
      name: "cpu-teardown",
      seconds: 0,
      range: [0, 0],
      bytes: 0,
      how: "included in this machine's published shutdown figure (measured up to machine_kexec, its CPUs taken down included)",
      sampled: false,
    });
  } else {
    phases.push({
      name: "cpu-teardown",
      bytes: 0,
      sampled: false,
      ...cpuTeardown(input.arch, cpus, path, input.parallelShutdown === true),
    });
  }
  if (path === "crash" && input.crashCma === true) {
    phases.push({
      name: "cma-dma-wait",
      seconds: CMA_DMA_TIMEOUT_SEC,
      range: [CMA_DMA_TIMEOUT_SEC, CMA_DMA_TIMEOUT_SEC],
      bytes: 0,
      source: "kernel/crash_core.c: CMA_DMA_TIMEOUT_SEC",
      how: "crashkernel=,cma: crash_cma_clear_pending_dma waits CMA_DMA_TIMEOUT_SEC (10 s) for DMA into the CMA ranges to stop (kernel/crash_core.c)",
      sampled: false,
    });
  }
  const reloc = input.relocation;
  const relocSeconds = reloc.bytes > 0 ? reloc.seconds : 0;
  phases.push({
    name: "relocation",
    seconds: relocSeconds,
    range: reloc.bytes > 0 ? around(relocSeconds, reloc.range ?? [relocSeconds, relocSeconds]) : [0, 0],
    bytes: reloc.bytes,
    how:
      reloc.bytes > 0
        ? `${reloc.strategy}: the relocation's access stream through the timing model`
        : path === "crash"
          ? "crash path: the crash kernel was loaded in place, nothing to relocate"
          : "nothing to relocate: every segment is already at its destination",
    sampled: reloc.bytes > 0 && reloc.sampled,
  });
  const hashed = hashedBytes(input.segments);
  if (!hasPurgatory(input.arch, input.call)) {
    phases.push({
      name: "purgatory",
      seconds: 0,
      range: [0, 0],
      bytes: 0,
      how: "arm64 kexec_file_load: no purgatory, the kernel is entered directly",
      sampled: false,
    });
  } else if (!input.purgatoryChecks) {
    phases.push({
      name: "purgatory",
      seconds: 0,
      range: [0, 0],
      bytes: 0,
      how: "--no-checks: purgatory skips the SHA-256 check",
      sampled: false,
    });
  } else {
    const cachesOn = input.arch === "x86_64";
    const f = (p: Profile) => sha256Seconds(hashed, p, cachesOn);
    phases.push({
      name: "purgatory",
      seconds: f(profile),
      range: closedRange(f, profile),
      bytes: hashed,
      how: cachesOn
        ? "SHA-256 of every segment, paging and caches on (identity map)"
        : "SHA-256 of every segment with MMU and caches off: Device-nGnRnE loads, Non-cacheable fetches",
      sampled: false,
    });
  }
  const k = input.kernel;
  if (input.arch === "x86_64" && k !== undefined && k.format === "bzImage" && k.codec !== "none") {
    const f = (p: Profile) => decompressSeconds(k, p);
    phases.push({
      name: "decompress",
      seconds: f(profile),
      range: closedRange(f, profile),
      bytes: k.uncompressedBytes,
      how: `bzImage decompresses its ${k.codec} payload (${k.sizeFrom === "file" ? "size from the payload" : "ratio assumed"}), caches on`,
      sampled: false,
    });
  } else {
    phases.push({
      name: "decompress",
      seconds: 0,
      range: [0, 0],
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

/** Most likely total of the phases with a figure (unknown phases are left out: see phasesUnknown). */
export function phasesTotal(phases: readonly Phase[]): number {
  let s = 0;
  for (const p of phases) if (p.unknown === undefined) s += p.seconds;
  return s;
}

/** [low, high] of the total of the phases with a figure (interval addition). */
export function phasesRange(phases: readonly Phase[]): [number, number] {
  return addRanges(phases.filter((p) => p.unknown === undefined).map((p) => p.range));
}

/** Names of the phases left out of the total because nothing predicts them. */
export function phasesUnknown(phases: readonly Phase[]): PhaseName[] {
  return phases.filter((p) => p.unknown !== undefined).map((p) => p.name);
}
