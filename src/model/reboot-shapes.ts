/**
 * The plain shapes of the reboot model's output (phases.ts, reboot.ts): what RunResult.reboot holds and
 * what the renderers read. A leaf module (it imports nothing), so src/reloc/result.ts can name the
 * reboot report without importing the model that computes it.
 */

/** The load call: kexec-tools `-c`/kexec_load, or `-s`/kexec_file_load (what systemd uses). */
export type LoadCall = "kexec_load" | "kexec_file_load";

/** Kernel payload compression codecs the x86 decompressor supports (arch/x86/boot/compressed). */
export type Codec = "gzip" | "bzip2" | "lzma" | "xz" | "lzo" | "lz4" | "zstd" | "none";

export interface KernelPayload {
  /** "bzImage": decompresses itself at boot; "Image", "zboot", "elf": nothing at reboot. */
  format: "bzImage" | "Image" | "zboot" | "elf" | "unknown";
  codec: Codec;
  compressedBytes: number;
  uncompressedBytes: number;
  /** How uncompressedBytes was found: "file" (the payload says) or "assumed" (ASSUMED_RATIO). */
  sizeFrom: "file" | "assumed";
}

/** `kexec -e` (kernel_kexec) or a panic into a loaded crash kernel (`kexec -p`, __crash_kexec). */
export type RebootPath = "reboot" | "crash";

export type PhaseName =
  | "shutdown"
  | "cpu-teardown"
  | "cma-dma-wait"
  | "relocation"
  | "purgatory"
  | "decompress";

export interface Phase {
  name: PhaseName;
  /** The most likely seconds (the profile's own values; published constants' central value). */
  seconds: number;
  /** [low, high] seconds (src/model/ranges.ts); [seconds, seconds] where the rule is exact. */
  range: [number, number];
  /** Set when the phase has no figure to predict with (why); it is then left out of the total. */
  unknown?: string;
  /** Where a published constant comes from (phases that are not modeled from an access stream). */
  source?: string;
  /** Bytes the phase moves or reads (relocated, hashed, decompressed output). */
  bytes: number;
  /** One line: how it was modeled, or why it is zero. */
  how: string;
  sampled: boolean;
}

export interface RebootStrategy {
  strategy: string;
  phases: Phase[];
  /** Most likely total of the phases with a figure. */
  seconds: number;
  /** [low, high] of that total (phases' ranges added). */
  range: [number, number];
  /** Phases left out of the total: nothing predicts them (Phase.unknown says why). */
  unknown: PhaseName[];
  sampled: boolean;
}

export interface RebootSaving {
  /** What changes, as a user would do it. */
  change: string;
  /** Modeled seconds of the whole path with the change (baseline strategy). */
  seconds: number;
  /** Baseline seconds minus `seconds` (negative: the change costs time). */
  saved: number;
  /** [low, high] of the total with the change. */
  range: [number, number];
  /**
   * [low, high] of `saved`: the baseline minus the change at the same end of every input range (both
   * fast, both slow), since the same machine runs both; widened to contain `saved`.
   */
  savedRange: [number, number];
  note: string;
}

export interface RebootReport {
  profile: string;
  arch: string;
  call: LoadCall;
  purgatoryChecks: boolean;
  cma: boolean;
  /** Online CPUs at the jump (1 when not given). */
  cpus: number;
  path: RebootPath;
  kernel: KernelPayload | null;
  strategies: RebootStrategy[];
  /** The strategy the savings are computed for: the running kernel's own when the run has it. */
  baseline: string;
  baselineSeconds: number;
  baselineRange: [number, number];
  /** Ranked by the saving's range: largest low end first (the saving the inputs guarantee), then likely. */
  savings: RebootSaving[];
}
