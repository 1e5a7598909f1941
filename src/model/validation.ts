/**
 * Every published kexec timing we know of (kexec-facts.md section 9), predicted by the model on the
 * profile of its machine, with the error. docs/model.md's validation table is generated from this
 * (test/model-validation.test.ts checks the page matches; UPDATE_DOCS=1 rewrites it).
 *
 * Rules: at most one point per machine is used for fitting (the profile file says which); everything
 * else is a prediction, and a point whose machine is not named is predicted on the closest profile and
 * marked so. The relocation of each point is the strategy's loop shape (src/model/shapes.ts) over the
 * published bytes as MiB of 4K pages with contiguous sources; other phases come from phases.ts.
 *
 * Every prediction is a range (src/model/ranges.ts: the profile's input ranges at both ends), with the
 * most likely value; a point is "inside" when the published figure (or, for a published range, some of
 * it) lies in the predicted range. Points that are the source of a published constant of the model
 * (the CPU teardown figures) are listed as "source", not as checks.
 */

import { modelTraceRange } from "./model.js";
import {
  ARM64_PARALLEL_TEARDOWN_PER_CPU,
  ARM64_SERIAL_TEARDOWN_PER_CPU,
  type KernelPayload,
  type RebootSegment,
  rebootPhases,
} from "./phases.js";
import { builtinProfile, type Profile, withParam } from "./profiles.js";
import { rangeRatio } from "./ranges.js";
import { type ShapeStrategy, shapeTrace } from "./shapes.js";

const MiB = 1024 * 1024;
/** Pages simulated exactly per prediction (32 MiB of 4K pages; the rest extrapolated, labelled sampled). */
export const VALIDATION_SAMPLE_PAGES = 8192;

export interface PublishedPoint {
  id: string;
  /** The figure as published. */
  figure: string;
  source: string;
  machine: string;
  /** Whether the publication (or a later post of the same series) names the machine. */
  machineKnown: boolean;
  profile: string;
  /** "source": the figure is an input of the model (a published constant), listed, not checked. */
  role: "fitted" | "predicted" | "source";
  /**
   * What is predicted: the relocation alone, a whole reboot, purgatory's check, the CPU teardown, or
   * machine_kexec to the new kernel (relocation + purgatory + decompress) on x86_64.
   */
  quantity: "relocation" | "reboot" | "purgatory" | "teardown" | "kexec-to-start";
  strategy: ShapeStrategy;
  bytes: number;
  /** Published seconds: a value, or a range [lo, hi] (error is the distance outside it). */
  seconds: number | [number, number];
  /** How to read the prediction: error limit for a pass (0.25 = within 25%, 2 = within a factor 2). */
  target?: { kind: "relative"; limit: number } | { kind: "factor"; limit: number } | { kind: "range" };
  /** Published seconds outside the modeled phases (shutdown + startup), added for whole reboots. */
  fixedSeconds?: number;
  /** Why a point misses, or what the prediction assumes. */
  note: string;
  /** Bytes hashed (purgatory) or relocated when the publication gives none: the assumption. */
  assumedBytes?: number;
  /** Online CPUs (teardown points). */
  cpus?: number;
  /** Profile fields set for this point (e.g. the published 4.0 GHz clock). */
  overrides?: Record<string, number>;
  /** x86_64 kexec-to-start: purgatory checks on and the kernel compressed (true) or neither. */
  stock?: boolean;
  /** Teardown points: the parallel-shutdown series. */
  parallel?: boolean;
}

/** The 25 MB machine's published shutdown + startup (0.022 + 0.295 s MMU off, 0.032 + 0.296 s MMU on). */
const STINGRAY_SHUTDOWN_STARTUP_OFF = 0.022131328 + 0.294706768;
const STINGRAY_SHUTDOWN_STARTUP_ON = 0.032066576 + 0.29605588;

/** The published points, in the order of kexec-facts.md section 9. */
export const PUBLISHED_POINTS: readonly PublishedPoint[] = [
  {
    id: "stingray-25-off",
    figure: "25 MB relocation, MMU off: 0.4405 s",
    source: "arm64 relocation series, RFC v2 (2019) .. v12 cover letters",
    machine: "Broadcom Stingray (8x Cortex-A72)",
    machineKnown: true,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "relocation",
    strategy: "mmu-off",
    bytes: 25 * MiB,
    seconds: 0.440510736,
    target: { kind: "relative", limit: 0.25 },
    note: "Device round trip = the A72 boards' idle DRAM latency (130 ns), not fitted",
  },
  {
    id: "stingray-25-on",
    figure: "25 MB relocation, MMU on: 0.0222 s",
    source: "same cover letters",
    machine: "Broadcom Stingray (8x Cortex-A72)",
    machineKnown: true,
    profile: "broadcom-stingray",
    role: "fitted",
    quantity: "relocation",
    strategy: "linear-map-copy",
    bytes: 25 * MiB,
    seconds: 0.022158152,
    note: "the one fitted point of this machine: dram.bandwidthGBps",
  },
  {
    id: "reserve-37-off",
    figure: "13 MB Image + 24 MB initramfs, MMU off: 0.35 s",
    source: "arm64 reserve-memory series v2 (2019)",
    machine: "the same author's arm64 machine, not named",
    machineKnown: false,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "relocation",
    strategy: "mmu-off",
    bytes: 37 * MiB,
    seconds: 0.35,
    note:
      "misses: 9.5 ms/MB against 17.6 ms/MB at 25 MB; no model linear in bytes fits both on one machine, " +
      "so this was another machine or configuration (the post does not name it)",
  },
  {
    id: "v9-120-off",
    figure: "~120 MB initramfs, MMU off: ~580 ms",
    source: "arm64 relocation series v9 changelog",
    machine: "not named",
    machineKnown: false,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "relocation",
    strategy: "mmu-off",
    bytes: 120 * MiB,
    seconds: 0.58,
    note: "misses: 4.8 ms/MB implies a ~36 ns Device round trip per 16 bytes, not a Stingray-class machine",
  },
  {
    id: "v9-120-on",
    figure: "~120 MB initramfs, MMU on: ~60 ms",
    source: "arm64 relocation series v9 changelog",
    machine: "not named",
    machineKnown: false,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "relocation",
    strategy: "linear-map-copy",
    bytes: 120 * MiB,
    seconds: 0.06,
    note: "machine not named; predicted on the Stingray profile",
  },
  {
    id: "fit-380-off",
    figure: "380 MB fitImage, whole reboot, MMU off: 3.9 s",
    source: "arm64 relocation series v2 .. v12",
    machine: "not named",
    machineKnown: false,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "reboot",
    strategy: "mmu-off",
    bytes: 380 * MiB,
    seconds: 3.9,
    fixedSeconds: STINGRAY_SHUTDOWN_STARTUP_OFF,
    note:
      "misses: the modeled relocation alone is longer than the published reboot, so this machine's " +
      "Device accesses are faster; reboot = relocation + the 25 MB machine's shutdown and startup",
  },
  {
    id: "fit-380-on",
    figure: "380 MB fitImage, whole reboot, MMU on: 0.33 s",
    source: "arm64 relocation series v2 .. v12",
    machine: "not named",
    machineKnown: false,
    profile: "broadcom-stingray",
    role: "predicted",
    quantity: "reboot",
    strategy: "linear-map-copy",
    bytes: 380 * MiB,
    seconds: 0.33,
    fixedSeconds: STINGRAY_SHUTDOWN_STARTUP_ON,
    note: "machine not named; reboot = relocation + the 25 MB machine's shutdown and startup",
  },
  {
    id: "tx2-84-off",
    figure: "38 MB kernel + 46 MB initrd, MMU off: 7.4895 s",
    source: "arm64 relocation series v13 cover letter (2021)",
    machine: "Marvell (Cavium) ThunderX2",
    machineKnown: true,
    profile: "thunderx2-server",
    role: "predicted",
    quantity: "relocation",
    strategy: "mmu-off",
    bytes: 84 * MiB,
    seconds: 7.4895,
    target: { kind: "relative", limit: 0.25 },
    note:
      "misses: 7.4895 s over 84 MiB is 5.44 us per 64-byte iteration of copy_page (4 ldp + 4 stnp, 12 " +
      "instructions, kernels before 5.15), 47 round trips of the 115 ns the profile takes as its idle DRAM " +
      "latency; the model charges 8 (one per 16-byte Device access, the rule that predicts Stingray within " +
      "0.5%). The most the sources allow is 28 (16 if each ldp/stnp is split into two 8-byte Device " +
      "accesses, which the Arm ARM permits, plus 12 Non-cacheable instruction fetches, since SCTLR_ELx.I " +
      "was cleared with M): still -41%. Needed: on a ThunderX2, the time of one Device-nGnRnE ldp and stnp " +
      "to local DRAM with SCTLR_EL2.{M,C,I} = 0 (a timed bare-metal loop), and which socket's memory " +
      "held the 84 MB",
  },
  {
    id: "tx2-84-on",
    figure: "38 MB kernel + 46 MB initrd, MMU on: 0.0395 s",
    source: "arm64 relocation series v13 cover letter (2021)",
    machine: "Marvell (Cavium) ThunderX2",
    machineKnown: true,
    profile: "thunderx2-server",
    role: "predicted",
    quantity: "relocation",
    strategy: "linear-map-copy",
    bytes: 84 * MiB,
    seconds: 0.0395,
    target: { kind: "relative", limit: 0.25 },
    note:
      "misses: 39.5 ms is 28.7 ns per copied and cleaned 64-byte line; the model gives 19.0 ns (6.2 ns " +
      "copy at the estimated 12 GB/s single-core bandwidth, 12.6 ns dc civac at the estimated 8 " +
      "cleans to PoC in flight per 115 ns). Needed: a single-core copy bandwidth (STREAM copy, one " +
      "thread) and the time of dc civac over dirty lines with a dsb sy per 4 KiB page, both on a ThunderX2",
  },
  ...(["ampere-altra", "thunderx2-server", "broadcom-stingray"] as const).map(
    (profile): PublishedPoint => ({
      id: `cma-100-${profile}`,
      figure: '"4-50 ms per 100 MiB", relocation copy, caches on',
      source: "kexec CMA series (2025)",
      machine: "not named",
      machineKnown: false,
      profile,
      role: "predicted",
      quantity: "relocation",
      strategy: "linear-map-copy",
      bytes: 100 * MiB,
      seconds: [0.004, 0.05],
      target: { kind: "range" },
      note: "a range over unnamed machines: the error is the distance outside it",
    }),
  ),
  {
    id: "altra-purgatory",
    figure: "kexec reboot spends minutes (4 min) in purgatory, seconds with --no-checks",
    source: "nix-community/nixos-images PR #102 (2023, Hetzner CAX21/CAX41)",
    machine: "Ampere Altra (Neoverse N1), KVM guest",
    machineKnown: true,
    profile: "ampere-altra",
    role: "predicted",
    quantity: "purgatory",
    strategy: "linear-map-copy",
    bytes: 395 * MiB,
    seconds: 240,
    target: { kind: "factor", limit: 2 },
    note:
      "the report gives no sizes: assumed a 45 MiB Image + 350 MiB initrd (NixOS kexec installer); " +
      "a guest's MMU-off accesses are Device-nGnRnE too (stage 1 Device wins over stage 2 without FWB)",
  },
  {
    id: "x86-purgatory-250",
    figure: 'x86 purgatory SHA-256: "saves ~250ms on my 4.0 GHz CPU" when skipped',
    source: "kexec list, 2026-06",
    machine: "not named (a 4.0 GHz x86_64 CPU)",
    machineKnown: false,
    profile: "x86_64-server",
    role: "predicted",
    quantity: "purgatory",
    strategy: "x86-copy",
    bytes: 64 * MiB,
    assumedBytes: 64 * MiB,
    overrides: { "cpu.ghz": 4.0 },
    seconds: 0.25,
    note: "no size given: assumed 64 MiB hashed (a 13 MiB bzImage and a 50 MiB initrd, the Debian 6.1 amd64 pair); cpu.ghz set to the published 4.0",
  },
  {
    id: "bytedance-500",
    figure: "machine_kexec to start_kernel: 500 ms (stock)",
    source: "ByteDance x86 kexec talk/posts (kexec-facts.md section 11)",
    machine: "not named (x86_64)",
    machineKnown: false,
    profile: "x86_64-server",
    role: "predicted",
    quantity: "kexec-to-start",
    strategy: "x86-copy",
    bytes: 64 * MiB,
    assumedBytes: 64 * MiB,
    stock: true,
    seconds: 0.5,
    note: "no sizes given: assumed 64 MiB relocated and hashed, a 13 MiB lz4 bzImage decompressing to 51 MiB; relocation + purgatory + decompress",
  },
  {
    id: "bytedance-15",
    figure: "machine_kexec to start_kernel: 15 ms (optimized: no purgatory check, uncompressed kernel)",
    source: "ByteDance x86 kexec talk/posts (kexec-facts.md section 11)",
    machine: "not named (x86_64)",
    machineKnown: false,
    profile: "x86_64-server",
    role: "predicted",
    quantity: "kexec-to-start",
    strategy: "x86-copy",
    bytes: 64 * MiB,
    assumedBytes: 64 * MiB,
    stock: false,
    seconds: 0.015,
    note: "no sizes given: the same 64 MiB relocated, no check, nothing to decompress; their relocation may also have been avoided",
  },
  {
    id: "teardown-128",
    figure: "CPU teardown: ~250 ms per CPU, over 30 s on 128 cores",
    source: "openEuler arch/arm64/include/asm/kexec.h",
    machine: "an arm64 server, not named",
    machineKnown: false,
    profile: "ampere-altra",
    role: "source",
    quantity: "teardown",
    strategy: "linear-map-copy",
    bytes: 0,
    cpus: 128,
    seconds: 30,
    note: "an input of the model (ARM64_SERIAL_TEARDOWN_PER_CPU), so not a check; shown for its range",
  },
  {
    id: "teardown-80-serial",
    figure: "CPU teardown: 80 CPUs ~15 s serially",
    source: "linux-ia64 list thread on the parallel CPU shutdown series",
    machine: "not named",
    machineKnown: false,
    profile: "ampere-altra",
    role: "source",
    quantity: "teardown",
    strategy: "linear-map-copy",
    bytes: 0,
    cpus: 80,
    seconds: 15,
    note: "an input of the model (ARM64_SERIAL_TEARDOWN_PER_CPU), so not a check",
  },
  {
    id: "teardown-80-parallel",
    figure: "CPU teardown: 80 CPUs ~1 s with the parallel-shutdown series",
    source: "linux-ia64 list thread on the parallel CPU shutdown series",
    machine: "not named",
    machineKnown: false,
    profile: "ampere-altra",
    role: "source",
    quantity: "teardown",
    strategy: "linear-map-copy",
    bytes: 0,
    cpus: 80,
    parallel: true,
    seconds: 1,
    note: "an input of the model (ARM64_PARALLEL_TEARDOWN_PER_CPU), so not a check",
  },
];

export interface ValidationRow {
  point: PublishedPoint;
  /** Most likely predicted seconds (for reboot points: relocation + fixedSeconds). */
  predicted: number;
  /** [low, high] predicted seconds over the profile's input ranges. */
  range: [number, number];
  /** Whether the published figure lies in the predicted range (a published range: overlaps it). */
  inside: boolean;
  /** range[1] / range[0]. */
  width: number;
  /** Relative error of the likely value (predicted / published - 1), or distance outside a published range. */
  error: number;
  /** Whether the likely value meets its target (undefined: no target, a fitted or source point). */
  pass?: boolean;
  sampled: boolean;
}

function relocationRange(
  p: PublishedPoint,
  profile: Profile,
): { seconds: number; range: [number, number]; sampled: boolean } {
  const m = modelTraceRange(shapeTrace(p.strategy, p.bytes).raw(), profile, {
    sample: VALIDATION_SAMPLE_PAGES,
  });
  return { seconds: m.seconds, range: m.range ?? [m.seconds, m.seconds], sampled: m.sampled };
}

/** The Debian 6.1 amd64 bzImage's lz4 payload (docs/model.md): 13.4 MiB -> 50.8 MiB. */
const X86_KERNEL: KernelPayload = {
  format: "bzImage",
  codec: "lz4",
  compressedBytes: 13.4 * MiB,
  uncompressedBytes: 50.8 * MiB,
  sizeFrom: "file",
};

/** Predict one published point. */
export function predictPoint(p: PublishedPoint): ValidationRow {
  let profile = builtinProfile(p.profile);
  for (const [k, v] of Object.entries(p.overrides ?? {})) profile = withParam(profile, k, v);
  let predicted: number;
  let range: [number, number];
  let sampled = false;
  if (p.quantity === "purgatory") {
    const x86 = profile.arch === "x86_64";
    const kernelBytes = x86 ? 13.4 * MiB : 45 * MiB;
    const segments: RebootSegment[] = [
      { label: "kernel", bytes: kernelBytes, relocated: true },
      { label: "initrd", bytes: p.bytes - kernelBytes, relocated: true },
    ];
    const kernel: KernelPayload = x86
      ? X86_KERNEL
      : {
          format: "Image",
          codec: "none",
          compressedBytes: 45 * MiB,
          uncompressedBytes: 45 * MiB,
          sizeFrom: "file",
        };
    const phases = rebootPhases(
      {
        arch: profile.arch,
        call: "kexec_load",
        purgatoryChecks: true,
        segments,
        kernel,
        relocation: { strategy: p.strategy, seconds: 0, bytes: 0, sampled: false },
      },
      profile,
    );
    const ph = phases.find((x) => x.name === "purgatory")!;
    predicted = ph.seconds;
    range = ph.range;
  } else if (p.quantity === "teardown") {
    const per = p.parallel === true ? ARM64_PARALLEL_TEARDOWN_PER_CPU : ARM64_SERIAL_TEARDOWN_PER_CPU;
    const others = (p.cpus ?? 1) - 1;
    predicted = others * per.seconds;
    range = [others * per.range[0], others * per.range[1]];
  } else if (p.quantity === "kexec-to-start") {
    const r = relocationRange(p, profile);
    sampled = r.sampled;
    const stock = p.stock === true;
    const kernel: KernelPayload = stock
      ? X86_KERNEL
      : { ...X86_KERNEL, codec: "none", compressedBytes: X86_KERNEL.uncompressedBytes };
    const phases = rebootPhases(
      {
        arch: "x86_64",
        call: "kexec_load",
        purgatoryChecks: stock,
        segments: [
          { label: "kernel", bytes: kernel.compressedBytes, relocated: true },
          { label: "initrd", bytes: p.bytes - 13.4 * MiB, relocated: true },
        ],
        kernel,
        relocation: {
          strategy: p.strategy,
          seconds: r.seconds,
          bytes: p.bytes,
          sampled: r.sampled,
          range: r.range,
        },
      },
      profile,
    );
    const counted = phases.filter(
      (x) => x.name === "relocation" || x.name === "purgatory" || x.name === "decompress",
    );
    predicted = counted.reduce((a, x) => a + x.seconds, 0);
    range = [counted.reduce((a, x) => a + x.range[0], 0), counted.reduce((a, x) => a + x.range[1], 0)];
  } else {
    const r = relocationRange(p, profile);
    const fixed = p.fixedSeconds ?? 0;
    predicted = r.seconds + fixed;
    range = [r.range[0] + fixed, r.range[1] + fixed];
    sampled = r.sampled;
  }
  let error: number;
  let inside: boolean;
  if (Array.isArray(p.seconds)) {
    const [lo, hi] = p.seconds;
    error = predicted < lo ? predicted / lo - 1 : predicted > hi ? predicted / hi - 1 : 0;
    inside = range[0] <= hi * (1 + 1e-9) && range[1] >= lo * (1 - 1e-9);
  } else {
    error = predicted / p.seconds - 1;
    // a relative 1e-9 for floating-point rounding of products like 79 x (15 s / 79)
    inside = range[0] <= p.seconds * (1 + 1e-9) && p.seconds * (1 - 1e-9) <= range[1];
  }
  let pass: boolean | undefined;
  const t = p.target;
  if (p.role === "predicted" && t !== undefined) {
    if (t.kind === "relative") pass = Math.abs(error) <= t.limit;
    else if (t.kind === "factor") pass = error + 1 <= t.limit && error + 1 >= 1 / t.limit;
    else pass = error === 0;
  }
  return {
    point: p,
    predicted,
    range,
    inside,
    width: rangeRatio(range),
    error,
    ...(pass !== undefined ? { pass } : {}),
    sampled,
  };
}

export function validationRows(points: readonly PublishedPoint[] = PUBLISHED_POINTS): ValidationRow[] {
  return points.map(predictPoint);
}

function fmtSeconds(s: number): string {
  if (s >= 60) return `${(s / 60).toFixed(1)} min`;
  if (s >= 1) return `${s.toFixed(3)} s`;
  return `${(s * 1e3).toFixed(1)} ms`;
}

function fmtPublished(v: number | [number, number]): string {
  return Array.isArray(v) ? `${fmtSeconds(v[0])} .. ${fmtSeconds(v[1])}` : fmtSeconds(v);
}

function fmtError(r: ValidationRow): string {
  const e = r.error;
  const pct = `${e >= 0 ? "+" : ""}${(e * 100).toFixed(1)}%`;
  if (r.point.target?.kind === "factor") return `x${(e + 1).toFixed(2)}`;
  if (Array.isArray(r.point.seconds)) return e === 0 ? "inside" : pct;
  return pct;
}

/** The validation table as Markdown (docs/model.md). Deterministic. */
export function renderValidationTable(rows: readonly ValidationRow[]): string {
  const head =
    "| published figure | machine | profile | role | published | predicted: likely [low .. high] | inside? | width | likely vs published | note |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  const body = rows
    .map((r) => {
      const p = r.point;
      const inside =
        p.role === "source"
          ? "(source)"
          : p.role === "fitted"
            ? `${r.inside ? "yes" : "no"} (fitted)`
            : r.inside
              ? "yes"
              : p.machineKnown
                ? "**no**"
                : "no (machine not named)";
      const width = r.width === Infinity ? "-" : `x${r.width.toFixed(2)}${r.width > 10 ? " (unknown)" : ""}`;
      return `| ${p.figure} | ${p.machine} | ${p.profile} | ${p.role} | ${fmtPublished(p.seconds)} | ${fmtSeconds(r.predicted)} [${fmtSeconds(r.range[0])} .. ${fmtSeconds(r.range[1])}]${r.sampled ? " (sampled)" : ""} | ${inside} | ${width} | ${fmtError(r)} | ${p.note} |`;
    })
    .join("\n");
  return `${head}${body}\n`;
}
