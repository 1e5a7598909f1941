/**
 * "Where does a kexec reboot's time go?" for one run: the phases from `kexec -e` to the new kernel's
 * entry (phases.ts) for every strategy the run modeled, on one profile, and what each change to the
 * scenario would save (kexec_file_load, --no-checks, CMA placement, an uncompressed kernel, a 16K or 64K
 * granule). Reads only the plain RunResult and plain options; nothing of the loader's internals.
 */

import type { Arch } from "../kimage/constants.js";
import type { RunResult, StrategyResult } from "../reloc/result.js";
import { formatBytes } from "../report/format.js";
import { modelTrace } from "./model.js";
import {
  type KernelPayload,
  type LoadCall,
  type Phase,
  phasesTotal,
  type RebootInput,
  type RebootSegment,
  rebootPhases,
} from "./phases.js";
import type { Profile } from "./profiles.js";
import { SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace } from "./shapes.js";

export interface RebootOptions {
  /** kexec-tools' default here is kexec_load (`-c`); the kexec-file loader is kexec_file_load. */
  call: LoadCall;
  purgatoryChecks: boolean;
  /** Linux 6.17+ kexec_file_load: segments placed in CMA at load time, nothing relocated at reboot. */
  cma: boolean;
  kernel?: KernelPayload;
  /**
   * Per kimage segment (same order): false when the segment is already at its destination at reboot
   * (the loader says so, e.g. CMA placement). Default: every segment is relocated unless `cma`.
   */
  relocated?: readonly boolean[];
}

export interface RebootStrategy {
  strategy: string;
  phases: Phase[];
  seconds: number;
  sampled: boolean;
}

export interface RebootSaving {
  /** What changes, as a user would do it. */
  change: string;
  /** Modeled seconds of the whole path with the change (baseline strategy). */
  seconds: number;
  /** Baseline seconds minus `seconds` (negative: the change costs time). */
  saved: number;
  note: string;
}

export interface RebootReport {
  profile: string;
  arch: string;
  call: LoadCall;
  purgatoryChecks: boolean;
  cma: boolean;
  kernel: KernelPayload | null;
  strategies: RebootStrategy[];
  /** The strategy the savings are computed for: the running kernel's own when the run has it. */
  baseline: string;
  baselineSeconds: number;
  savings: RebootSaving[];
}

/** Bytes of pages simulated exactly for the granule what-ifs (the rest is extrapolated; they are ratios). */
const GRANULE_SAMPLE_BYTES = 4 * 1024 * 1024;
/** The granule what-ifs compare loop shapes over at most this many bytes: time is linear in size. */
const GRANULE_SHAPE_BYTES = 16 * 1024 * 1024;

function segmentsOf(r: RunResult, opts: RebootOptions): RebootSegment[] {
  return r.kimage.segments.map((s, i) => ({
    label: s.label,
    bytes: s.bufsz,
    relocated: opts.cma ? false : (opts.relocated?.[i] ?? true),
  }));
}

function relocationOf(s: StrategyResult, profile: string, cma: boolean): RebootInput["relocation"] {
  const m = s.model?.find((x) => x.profile === profile);
  const bytes = cma ? 0 : s.counters.bytesCopied;
  return {
    strategy: s.name,
    seconds: m?.seconds ?? 0,
    bytes: m !== undefined ? bytes : 0,
    sampled: m?.sampled ?? false,
  };
}

/** The running kernel's own strategy on the arch, when the run has it (arm64 >= 5.16, x86_64). */
function baselineOf(r: RunResult): StrategyResult | undefined {
  const own = r.machine.arch === "x86_64" ? "x86-ident" : "linear-map-copy";
  return (
    r.strategies.find((s) => s.name === own) ??
    r.strategies.find((s) => s.name !== "in-place") ??
    r.strategies[0]
  );
}

function shapeOf(name: string): ShapeStrategy | undefined {
  if (name === "x86-ident") return "x86-copy";
  return (SHAPE_STRATEGIES as readonly string[]).includes(name) ? (name as ShapeStrategy) : undefined;
}

/**
 * The reboot report of a run on `profile` (which must be among the run's modeled profiles for the
 * relocation phase to be non-zero). Deterministic.
 */
export function rebootReport(r: RunResult, profile: Profile, opts: RebootOptions): RebootReport {
  const arch = r.machine.arch as Arch;
  const segments = segmentsOf(r, opts);
  const base = (s: StrategyResult, over: Partial<RebootInput> = {}): RebootInput => ({
    arch,
    call: opts.call,
    purgatoryChecks: opts.purgatoryChecks,
    segments,
    ...(opts.kernel !== undefined ? { kernel: opts.kernel } : {}),
    relocation: relocationOf(s, profile.name, opts.cma),
    ...over,
  });
  const strategies: RebootStrategy[] = r.strategies.map((s) => {
    const phases = rebootPhases(base(s), profile);
    return { strategy: s.name, phases, seconds: phasesTotal(phases), sampled: phases.some((p) => p.sampled) };
  });
  const b = baselineOf(r);
  const savings: RebootSaving[] = [];
  let baselineSeconds = 0;
  if (b !== undefined) {
    const input = base(b);
    baselineSeconds = phasesTotal(rebootPhases(input, profile));
    const add = (change: string, changed: RebootInput, note: string) => {
      const seconds = phasesTotal(rebootPhases(changed, profile));
      savings.push({ change, seconds, saved: baselineSeconds - seconds, note });
    };
    if (opts.call === "kexec_load") {
      add(
        "kexec_file_load instead of kexec_load (kexec -s)",
        { ...input, call: "kexec_file_load" },
        arch === "arm64"
          ? "arm64 kexec_file_load has no purgatory, so no SHA-256 with caches off"
          : "x86_64 kexec_file_load's purgatory checks the digests too",
      );
      if (opts.purgatoryChecks) {
        add("kexec --no-checks", { ...input, purgatoryChecks: false }, "purgatory skips the SHA-256 check");
      } else {
        add(
          "kexec with the checks (without --no-checks)",
          { ...input, purgatoryChecks: true },
          "purgatory hashes every segment but its own",
        );
      }
    } else {
      add(
        "kexec_load instead of kexec_file_load (kexec -c)",
        { ...input, call: "kexec_load", purgatoryChecks: true },
        arch === "arm64"
          ? "kexec-tools' arm64 purgatory then hashes every segment with MMU and caches off"
          : "kexec-tools' purgatory checks the digests as the kernel's does",
      );
      add(
        "kexec --no-checks",
        input,
        arch === "arm64"
          ? "nothing: kexec_file_load loads no purgatory on arm64, there is no check to skip"
          : "nothing: --no-checks is kexec-tools' purgatory option (kexec_load); the kernel's kexec_file purgatory always checks",
      );
    }
    if (opts.cma) {
      const uncma = relocationOf(b, profile.name, false);
      add(
        "without CMA placement (KEXEC_FILE_NO_CMA, kexec --no-cma)",
        { ...input, segments: segmentsOf(r, { ...opts, cma: false }), relocation: uncma },
        "the segments are relocated at reboot again",
      );
    } else {
      add(
        "kexec_file_load with CMA placement (Linux 6.17+)",
        {
          ...input,
          call: "kexec_file_load",
          segments: segments.map((s) => ({ ...s, relocated: false })),
          relocation: { ...input.relocation, seconds: 0, bytes: 0 },
        },
        "segments are copied to their destinations at load time: nothing is relocated at reboot",
      );
    }
    const k = opts.kernel;
    if (k !== undefined && k.format === "bzImage" && k.codec !== "none") {
      // More bytes to relocate and hash, nothing to decompress.
      const extra = k.uncompressedBytes - k.compressedBytes;
      const rel = input.relocation;
      const scale = rel.bytes > 0 ? (rel.bytes + extra) / rel.bytes : 1;
      add(
        "an uncompressed kernel payload",
        {
          ...input,
          kernel: { ...k, codec: "none", compressedBytes: k.uncompressedBytes },
          segments: segments.map((s) => (s.label === "kernel" ? { ...s, bytes: s.bytes + extra } : s)),
          relocation: { ...rel, seconds: rel.seconds * scale, bytes: rel.bytes + extra },
        },
        `no decompression, but ${formatBytes(extra)} more to relocate and hash`,
      );
    }
    if (arch === "arm64") {
      add(
        "an uncompressed kernel",
        input,
        "nothing: arm64 kernels are entered uncompressed (kexec-tools and systemd unpack Image.gz or zboot at load time)",
      );
    } else if (!(k !== undefined && k.format === "bzImage" && k.codec !== "none")) {
      add(
        "an uncompressed kernel payload",
        input,
        k === undefined || k.format === "unknown"
          ? "not modeled: the kernel's format is not known"
          : `nothing: the ${k.format} is not compressed`,
      );
    }
    const shape = shapeOf(b.name);
    const rel = input.relocation;
    if (arch !== "arm64") {
      add(
        "16K or 64K granule",
        input,
        "not available: x86_64 has 4 KiB base pages only (its relocation walks 4 KiB entries)",
      );
    } else if (shape === undefined || rel.bytes === 0) {
      add(
        "16K or 64K granule",
        input,
        rel.bytes === 0
          ? "nothing: nothing is relocated at reboot and purgatory does not depend on the granule"
          : `not modeled: ${b.name} has no loop shape to compare granules with`,
      );
    } else {
      const at = (pageSize: number) =>
        modelTrace(shapeTrace(shape, Math.min(rel.bytes, GRANULE_SHAPE_BYTES), { pageSize }).raw(), profile, {
          sample: Math.max(64, GRANULE_SAMPLE_BYTES / pageSize),
        }).seconds;
      const now = at(r.machine.pageSize);
      for (const g of [16384, 65536]) {
        if (g === r.machine.pageSize) continue;
        const ratio = now > 0 ? at(g) / now : 1;
        add(
          `${g / 1024}K granule (CONFIG_ARM64_${g / 1024}K_PAGES)`,
          { ...input, relocation: { ...rel, seconds: rel.seconds * ratio } },
          `relocation x${ratio.toFixed(3)} (${shape} loop shape at ${g / 1024}K vs ${r.machine.pageSize / 1024}K); purgatory unchanged`,
        );
      }
    }
  }
  return {
    profile: profile.name,
    arch,
    call: opts.call,
    purgatoryChecks: opts.purgatoryChecks,
    cma: opts.cma,
    kernel: opts.kernel ?? null,
    strategies,
    baseline: b?.name ?? "",
    baselineSeconds,
    savings,
  };
}
