/**
 * The memory questions, answered for one load: what the running kernel must hold for it (against
 * MemFree/MemAvailable), how big crashkernel= should be (kdumpctl estimate's formula), and whether the
 * crash load fits the reservation with room left for the crash kernel to run. Browser-safe; the CLI
 * (`kexec-lab memory`) reads the files and renders.
 */

import { type DistroDefault, distroDefaultSizes } from "../crash/defaults.js";
import { crashRuntimeNeed, type RuntimeTerm } from "../crash/runtime.js";
import { KexecLabError } from "../errors.js";
import { parseIomem } from "../formats/iomem.js";
import { type Plan, type PlanInput, planLoad } from "../loader/plan.js";
import type { Range } from "../machine/ranges.js";
import { type CrashkernelEstimate, estimateCrashkernel, type KdumpUtilsTree } from "./crashkernel.js";
import { type LoadMemory, loadMemory } from "./load-memory.js";

const MiB = 1024 * 1024;

export interface MemoryQuestionsInput {
  /** The load (its crash flag says which load "load" describes). */
  plan: PlanInput;
  /** Free memory of the running machine (MemFree), bytes. */
  memFree?: number;
  /** MemAvailable (what the kernel can free up, page cache included), bytes. */
  memAvailable?: number;
  /** Module sizes for the crash kernel (kdumpctl: the kdump initramfs' modules in /proc/modules). */
  modulesBytes?: number;
  /** Where modulesBytes came from, for the notes. */
  modulesSource?: string;
  /** Largest LUKS2 keyslot memory cost. */
  luksBytes?: number;
  /**
   * The machine's /proc/iomem (default: the plan's iomem): the running kernel's image size and the
   * "Crash kernel" reservation come from it.
   */
  iomem?: string;
  /** The crashkernel reservation, if known (else the iomem's "Crash kernel" line). */
  crashRegion?: Range;
  /** kdump-lib's deltas: SME/SEV (x86_64), an SMMU and mlx5 NICs (arm64); which kdump-utils tree. */
  memoryEncryption?: boolean;
  smmu?: boolean;
  mlx5?: boolean;
  kdumpUtils?: KdumpUtilsTree;
  /** The crash kernel's nr_cpus (default 1, as kdump tools pass), its initrd unpacked, makedumpfile's mode. */
  nrCpus?: number;
  initrdUnpackedBytes?: number;
  cyclic?: boolean;
  /** Running kernel MAJOR.MINOR for the distribution tables' range match (default 6.12). */
  kernelVersion?: string;
}

export interface CrashFit {
  region: { start: number; end: number };
  /** The placed crash load, or why it could not be placed. */
  placed: boolean;
  error?: string;
  segmentsBytes: number;
  leftBytes: number;
  /** Estimate: what the crash kernel needs beyond its segments while it runs. */
  runtimeNeedBytes: number;
  fits: boolean;
  /** The run-time need term by term from the kernel's and makedumpfile's rules (src/crash/runtime.ts). */
  runtime: { terms: RuntimeTerm[]; totalBytes: number; fits: boolean };
}

export interface MemoryAnswer {
  /** "refused": the kernel's checks refuse the load before any page is allocated (`refused` says why). */
  load: LoadMemory & {
    verdict: "fits" | "short" | "unknown" | "refused";
    against?: { name: string; bytes: number };
  };
  crashkernel: CrashkernelEstimate & { reservedBytes?: number; kernelSource: string };
  /** Distribution default crashkernel= values and the size each reserves on this machine. */
  defaults: (DistroDefault & { bytes: number })[];
  crashFit?: CrashFit;
  notes: string[];
}

const KERNEL_IOMEM = /^Kernel (code|rodata|data|bss)$/;

/** The running kernel's image in /proc/iomem: Kernel code + rodata + data + bss (kdumpctl's fallback). */
export function iomemKernelBytes(iomem: string): number | undefined {
  let sum = 0;
  let seen = false;
  for (const e of parseIomem(iomem).entries) {
    if (KERNEL_IOMEM.test(e.name)) {
      sum += e.end - e.start;
      seen = true;
    }
  }
  return seen ? sum : undefined;
}

function segmentBytes(plan: Plan): number {
  return plan.segments.reduce((a, s) => a + s.memsz, 0);
}

function versionPair(v: string | undefined): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v ?? "");
  return m ? [Number(m[1]), Number(m[2])] : [6, 12];
}

export function answerMemoryQuestions(q: MemoryQuestionsInput): MemoryAnswer {
  const notes: string[] = [];
  const pageSize = q.plan.pageSize ?? 4096;
  // The load itself; a crash load that does not fit its reservation is reported, not thrown (the
  // crash-fit section explains it), and the machine is then read from the same load made normally.
  let plan: Plan;
  let lm: LoadMemory;
  try {
    plan = planLoad(q.plan);
    lm = loadMemory(plan, { pageSize });
  } catch (e) {
    if (!(e instanceof KexecLabError) || !q.plan.crash) throw e;
    plan = planLoad({ ...q.plan, crash: false });
    lm = {
      crash: true,
      pageSize,
      sourcePages: 0,
      indirectionPages: 0,
      controlPages: 0,
      parkedPages: 0,
      unusablePages: 0,
      heldBytes: 0,
      fileBufferBytes: 0,
      peakBytes: 0,
      refused: `${e.code}: ${e.detail}`,
    };
  }
  const against =
    q.memAvailable !== undefined
      ? { name: "MemAvailable", bytes: q.memAvailable }
      : q.memFree !== undefined
        ? { name: "MemFree", bytes: q.memFree }
        : undefined;
  const verdict =
    lm.refused !== undefined
      ? "refused"
      : against === undefined
        ? "unknown"
        : lm.peakBytes <= against.bytes
          ? "fits"
          : "short";
  if (against === undefined)
    notes.push("no MemFree/MemAvailable given (--host with meminfo.txt, or --mem-free)");

  // crashkernel estimate
  const initrdBytes = q.plan.initrd?.length ?? 0;
  const kernelSeg = plan.segments.find((s) => s.label === "kernel");
  let kernelBytes = kernelSeg?.memsz ?? 0;
  let kernelSource = "the kernel segment's memsz (its memory footprint)";
  const iomem = q.iomem ?? q.plan.iomem;
  const fromIomem = iomem !== undefined ? iomemKernelBytes(iomem) : undefined;
  if (fromIomem !== undefined) {
    kernelBytes = fromIomem;
    kernelSource =
      "the running kernel's Kernel code/rodata/data/bss in /proc/iomem (kdumpctl's fallback; exact when the crash kernel is the running one)";
  }
  const modulesBytes = q.modulesBytes ?? 0;
  if (q.modulesBytes === undefined)
    notes.push("modules: none counted (give --modules-size, or --host with modules.txt)");
  else if (q.modulesSource !== undefined) notes.push(`modules: ${q.modulesSource}`);
  const est = estimateCrashkernel({
    arch: plan.arch,
    kernelBytes,
    modulesBytes,
    initrdBytes,
    luksBytes: q.luksBytes ?? 0,
    systemRamBytes: plan.memoryMap.ramBytes,
    pageSize,
    ...(q.memoryEncryption !== undefined ? { memoryEncryption: q.memoryEncryption } : {}),
    ...(q.smmu !== undefined ? { smmu: q.smmu } : {}),
    ...(q.mlx5 !== undefined ? { mlx5: q.mlx5 } : {}),
    ...(q.kdumpUtils !== undefined ? { kdumpUtils: q.kdumpUtils } : {}),
  });
  if (plan.memoryMapSource === "dtb")
    notes.push("RAM size from the DTB; kdumpctl sums /proc/iomem's System RAM (pass --iomem or --host)");

  // the crash load in the reservation
  let region = q.crashRegion;
  if (region === undefined && q.plan.crashRegion !== undefined) region = q.plan.crashRegion;
  const allRegions = q.plan.crashRegions ?? (iomem !== undefined ? parseIomem(iomem).crashKernel : []);
  if (region === undefined && allRegions.length > 0) region = allRegions[allRegions.length - 1];
  const answer: MemoryAnswer = {
    load: { ...lm, verdict, ...(against !== undefined ? { against } : {}) },
    crashkernel: {
      ...est,
      kernelSource,
      ...(region !== undefined ? { reservedBytes: region.end - region.start } : {}),
    },
    defaults: distroDefaultSizes(plan.arch, plan.memoryMap.ramBytes, versionPair(q.kernelVersion)),
    notes,
  };
  if (region !== undefined) {
    const runtimeNeedBytes = 2 * initrdBytes + modulesBytes + 16 * MiB + (q.luksBytes ?? 0);
    const size = region.end - region.start;
    const given = allRegions.some((r) => r.start === region.start && r.end === region.end)
      ? allRegions
      : [region];
    const rt = crashRuntimeNeed({
      arch: plan.arch,
      pageSize,
      crashMemoryBytes: given.reduce((a, r) => a + (r.end - r.start), 0),
      lowRegion: given.length > 1,
      nrCpus: q.nrCpus ?? 1,
      initrdBytes,
      ...(q.initrdUnpackedBytes !== undefined ? { initrdUnpackedBytes: q.initrdUnpackedBytes } : {}),
      firstKernelMaxAddress: Math.max(...plan.memoryMap.ram.ranges.map((r) => r.end)),
      ...(q.cyclic !== undefined ? { cyclic: q.cyclic } : {}),
      modulesBytes,
    });
    try {
      const crash = planLoad({ ...q.plan, crash: true, crashRegion: region });
      const used = segmentBytes(crash);
      answer.crashFit = {
        region: { start: region.start, end: region.end },
        placed: true,
        segmentsBytes: used,
        leftBytes: size - used,
        runtimeNeedBytes,
        fits: size - used >= runtimeNeedBytes,
        runtime: { ...rt, fits: size - used >= rt.totalBytes },
      };
    } catch (e) {
      if (!(e instanceof KexecLabError)) throw e;
      answer.crashFit = {
        region: { start: region.start, end: region.end },
        placed: false,
        error: `${e.code}: ${e.detail}`,
        segmentsBytes: 0,
        leftBytes: size,
        runtimeNeedBytes,
        fits: false,
        runtime: { ...rt, fits: false },
      };
    }
  } else {
    notes.push('no crashkernel reservation known (no "Crash kernel" in the memory map, no --crashkernel)');
  }
  return answer;
}
