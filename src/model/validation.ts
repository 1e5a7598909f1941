/**
 * Every published kexec timing we know of (kexec-facts.md section 9), predicted by the model on the
 * profile of its machine, with the error. docs/model.md's validation table is generated from this
 * (test/model-validation.test.ts checks the page matches; UPDATE_DOCS=1 rewrites it).
 *
 * Rules: at most one point per machine is used for fitting (the profile file says which); everything
 * else is a prediction, and a point whose machine is not named is predicted on the closest profile and
 * marked so. The relocation of each point is the strategy's loop shape (src/model/shapes.ts) over the
 * published bytes as MiB of 4K pages with contiguous sources; other phases come from phases.ts.
 */

import { modelTrace } from "./model.js";
import { type KernelPayload, type RebootSegment, rebootPhases } from "./phases.js";
import { builtinProfile, type Profile } from "./profiles.js";
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
  role: "fitted" | "predicted";
  /** What is predicted: the relocation alone, a whole reboot, or purgatory's check. */
  quantity: "relocation" | "reboot" | "purgatory";
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
];

export interface ValidationRow {
  point: PublishedPoint;
  /** Predicted seconds (for reboot points: relocation + fixedSeconds). */
  predicted: number;
  /** Relative error (predicted / published - 1), or distance outside a published range. */
  error: number;
  /** Whether the point meets its target (undefined: no target, e.g. a fitted point or unnamed machine). */
  pass?: boolean;
  sampled: boolean;
}

function relocationSeconds(p: PublishedPoint, profile: Profile): { seconds: number; sampled: boolean } {
  const m = modelTrace(shapeTrace(p.strategy, p.bytes).raw(), profile, { sample: VALIDATION_SAMPLE_PAGES });
  return { seconds: m.seconds, sampled: m.sampled };
}

/** Predict one published point. */
export function predictPoint(p: PublishedPoint): ValidationRow {
  const profile = builtinProfile(p.profile);
  let predicted: number;
  let sampled = false;
  if (p.quantity === "purgatory") {
    const segments: RebootSegment[] = [
      { label: "kernel", bytes: 45 * MiB, relocated: true },
      { label: "initrd", bytes: p.bytes - 45 * MiB, relocated: true },
    ];
    const kernel: KernelPayload = {
      format: "Image",
      codec: "none",
      compressedBytes: 45 * MiB,
      uncompressedBytes: 45 * MiB,
      sizeFrom: "file",
    };
    const phases = rebootPhases(
      {
        arch: "arm64",
        call: "kexec_load",
        purgatoryChecks: true,
        segments,
        kernel,
        relocation: { strategy: p.strategy, seconds: 0, bytes: 0, sampled: false },
      },
      profile,
    );
    predicted = phases.find((x) => x.name === "purgatory")!.seconds;
  } else {
    const r = relocationSeconds(p, profile);
    predicted = r.seconds + (p.fixedSeconds ?? 0);
    sampled = r.sampled;
  }
  let error: number;
  if (Array.isArray(p.seconds)) {
    const [lo, hi] = p.seconds;
    error = predicted < lo ? predicted / lo - 1 : predicted > hi ? predicted / hi - 1 : 0;
  } else {
    error = predicted / p.seconds - 1;
  }
  let pass: boolean | undefined;
  const t = p.target;
  if (p.role === "predicted" && t !== undefined) {
    if (t.kind === "relative") pass = Math.abs(error) <= t.limit;
    else if (t.kind === "factor") pass = error + 1 <= t.limit && error + 1 >= 1 / t.limit;
    else pass = error === 0;
  }
  return { point: p, predicted, error, ...(pass !== undefined ? { pass } : {}), sampled };
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
  if (r.point.target?.kind === "range") return e === 0 ? "inside" : pct;
  return pct;
}

/** The validation table as Markdown (docs/model.md). Deterministic. */
export function renderValidationTable(rows: readonly ValidationRow[]): string {
  const head =
    "| published figure | machine | profile | fit or predicted | published | prediction | error | target | note |\n" +
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  const body = rows
    .map((r) => {
      const p = r.point;
      const target =
        p.role === "fitted"
          ? "(fitted)"
          : p.target === undefined || !p.machineKnown
            ? "none (machine not named)"
            : `${r.pass ? "met" : "**missed**"} (${p.target.kind === "relative" ? `within ${p.target.limit * 100}%` : p.target.kind === "factor" ? `within x${p.target.limit}` : "inside range"})`;
      return `| ${p.figure} | ${p.machine} | ${p.profile} | ${p.role} | ${fmtPublished(p.seconds)} | ${fmtSeconds(r.predicted)}${r.sampled ? " (sampled)" : ""} | ${fmtError(r)} | ${target} | ${p.note} |`;
    })
    .join("\n");
  return `${head}${body}\n`;
}
