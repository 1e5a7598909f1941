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
  phasesRange,
  phasesTotal,
  phasesUnknown,
  type RebootInput,
  type RebootPath,
  type RebootSegment,
  rebootPhases,
} from "./phases.js";
import type { Profile } from "./profiles.js";
import type { RebootReport, RebootSaving, RebootStrategy } from "./reboot-shapes.js";
import { SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace } from "./shapes.js";

export type { RebootReport, RebootSaving, RebootStrategy } from "./reboot-shapes.js";

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
  /** Online CPUs at the jump (`run --cpus`, --host's nproc); default 1. */
  cpus?: number;
  /** "reboot" (kexec -e, default) or "crash" (a panic into the loaded crash kernel). */
  path?: RebootPath;
  /** Crash path with crashkernel=,cma: the 10 s CMA DMA wait. */
  crashCma?: boolean;
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
    ...(m?.range !== undefined ? { range: m.range } : {}),
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
  const path = opts.path ?? "reboot";
  const cpus = opts.cpus ?? 1;
  const crashIn = path === "crash";
  const base = (s: StrategyResult, over: Partial<RebootInput> = {}): RebootInput => ({
    arch,
    call: opts.call,
    cpus,
    path,
    ...(opts.crashCma === true ? { crashCma: true } : {}),
    purgatoryChecks: opts.purgatoryChecks,
    segments,
    ...(opts.kernel !== undefined ? { kernel: opts.kernel } : {}),
    relocation: crashIn
      ? { ...relocationOf(s, profile.name, opts.cma), seconds: 0, bytes: 0, range: [0, 0] }
      : relocationOf(s, profile.name, opts.cma),
    ...over,
  });
  const strategies: RebootStrategy[] = r.strategies.map((s) => {
    const phases = rebootPhases(base(s), profile);
    return {
      strategy: s.name,
      phases,
      seconds: phasesTotal(phases),
      range: phasesRange(phases),
      unknown: phasesUnknown(phases),
      sampled: phases.some((p) => p.sampled),
    };
  });
  const b = baselineOf(r);
  const savings: RebootSaving[] = [];
  let baselineSeconds = 0;
  let baselineRange: [number, number] = [0, 0];
  if (b !== undefined) {
    const input = base(b);
    const basePhases = rebootPhases(input, profile);
    baselineSeconds = phasesTotal(basePhases);
    baselineRange = phasesRange(basePhases);
    const add = (change: string, changed: RebootInput, note: string) => {
      const phases = rebootPhases(changed, profile);
      const seconds = phasesTotal(phases);
      const range = phasesRange(phases);
      const saved = baselineSeconds - seconds;
      const a = baselineRange[0] - range[0];
      const z = baselineRange[1] - range[1];
      savings.push({
        change,
        seconds,
        saved,
        range,
        savedRange: [Math.min(a, z, saved), Math.max(a, z, saved)],
        note,
      });
    };
    if (arch === "arm64" && !crashIn && cpus > 1) {
      add(
        "parallel CPU shutdown (the parallel-shutdown series)",
        { ...input, parallelShutdown: true },
        "the other CPUs are taken down together instead of one cpu_down after another (published: 80 CPUs ~15 s -> ~1 s)",
      );
    }
    if (!crashIn) {
      add(
        "the crash path instead (kexec -p, then a panic; the crash kernel boots with nr_cpus=1)",
        {
          ...input,
          path: "crash",
          relocation: { ...input.relocation, seconds: 0, bytes: 0, range: [0, 0] },
        },
        "no device shutdown, the other CPUs stopped by IPI in parallel (no published time: left out), nothing relocated (loaded in place); kdump's nr_cpus=1 keeps the crash kernel's own CPU bring-up short",
      );
    } else if (opts.crashCma === true) {
      add(
        "crashkernel without ,cma",
        { ...input, crashCma: false },
        "no CMA ranges to wait for: crash_cma_clear_pending_dma returns at once",
      );
    }
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
          relocation: { ...scaleRelocation(rel, scale), bytes: rel.bytes + extra },
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
          { ...input, relocation: scaleRelocation(rel, ratio) },
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
    cpus,
    path,
    strategies,
    baseline: b?.name ?? "",
    baselineSeconds,
    baselineRange,
    savings: rankSavings(savings),
  };
}

/** The relocation phase's input scaled by `f` (seconds and range). */
function scaleRelocation(rel: RebootInput["relocation"], f: number): RebootInput["relocation"] {
  return {
    ...rel,
    seconds: rel.seconds * f,
    ...(rel.range !== undefined ? { range: [rel.range[0] * f, rel.range[1] * f] as [number, number] } : {}),
  };
}

/** Savings ranked by their range: the largest guaranteed saving (low end) first, then the likely one. */
export function rankSavings(savings: readonly RebootSaving[]): RebootSaving[] {
  return savings
    .map((s, i) => ({ s, i }))
    .sort((x, y) => y.s.savedRange[0] - x.s.savedRange[0] || y.s.saved - x.s.saved || x.i - y.i)
    .map((x) => x.s);
}
