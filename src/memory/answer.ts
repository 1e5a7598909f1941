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
import { NO_HOLE_SEARCH } from "../loader/context.js";
import { type Plan, type PlanInput, planLoad } from "../loader/plan.js";
import type { Range } from "../machine/ranges.js";
import { formatBytes } from "../report/format.js";
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
  runtime: { terms: RuntimeTerm[]; totalBytes: number; fits: boolean; measuredOn?: string };
}

export interface MemoryAnswer {
  /** "refused": the kernel's checks refuse the load before any page is allocated (`refused` says why). */
  load: LoadMemory & {
    verdict: "fits" | "short" | "unknown" | "refused";
    /**
     * The crash load could not be placed (before any syscall or page allocation: nothing is counted),
     * and who refuses it: kexec-tools' locate_hole, the kernel's kexec_locate_mem_hole, ...
     */
    notLoaded?: string;
    against?: { name: string; bytes: number };
  };
  /** `warning`: the recommendation is a large share of RAM (crashkernelShareWarning). */
  crashkernel: CrashkernelEstimate & { reservedBytes?: number; kernelSource: string; warning?: string };
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

/**
 * A warning when crashkernel= of `recommended` bytes would take a large share of `ram` (more than a
 * quarter: kdump's default ranges reserve 6-13%): the running system keeps the rest; at or above RAM
 * the kernel refuses the value (kernel/crash_reserve.c parse_crashkernel: crash_size >= system_ram ->
 * -EINVAL). Undefined when the share is small.
 */
export function crashkernelShareWarning(
  recommended: number,
  ram: number,
  initrdBytes: number,
): string | undefined {
  if (ram <= 0 || recommended * 4 <= ram) return undefined;
  const pct = Math.round((recommended / ram) * 100);
  const tail =
    recommended >= ram
      ? "; the kernel refuses a crashkernel= of the RAM size or more (kernel/crash_reserve.c parse_crashkernel: -EINVAL), so no region is reserved"
      : `; the running system would keep ${formatBytes(ram - recommended)}`;
  const why =
    initrdBytes * 3 > recommended / 2
      ? " The initrd counts three times: a smaller kdump initrd (only the dump target's modules) shrinks it."
      : "";
  return `the recommended crashkernel= (${formatBytes(recommended)}) is ${pct}% of RAM (${formatBytes(ram)})${tail}.${why}`;
}

/** Who refuses a load that could not be placed, with the source function. */
export function loadFailureBy(e: KexecLabError): string {
  const s = NO_HOLE_SEARCH.get(e);
  if (e.code === "E_NO_HOLE" && s?.syscall === "kexec_load")
    return "kexec-tools' locate_hole (kexec/kexec.c) finds no room, before any syscall";
  if (e.code === "E_NO_HOLE" && s?.syscall === "kexec_file_load")
    return "the kernel's kexec_locate_mem_hole (kernel/kexec_file.c) finds no room: EADDRNOTAVAIL";
  if (e.code === "E_NO_HOLE") return "the loader finds no room";
  if (e.code === "E_CRASH_NOT_RESERVED") return "no crash kernel region is reserved";
  return "the loader refuses it";
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
  let notLoaded: string | undefined;
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
    };
    notLoaded = `${loadFailureBy(e)}: ${e.code}: ${e.detail}`;
  }
  const against =
    q.memAvailable !== undefined
      ? { name: "MemAvailable", bytes: q.memAvailable }
      : q.memFree !== undefined
        ? { name: "MemFree", bytes: q.memFree }
        : undefined;
  const verdict =
    lm.refused !== undefined || notLoaded !== undefined
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
  // The crash kernel is the --kernel file: its own footprint (kdumpctl sizes the crash kernel it will
  // load, not the running one; the running kernel's iomem lines stand for it only when they are the same).
  const kernelSegs = plan.segments.filter((s) => s.label === "kernel" || s.label.startsWith("kernel["));
  const kernelBytes = kernelSegs.reduce((a, s) => a + s.memsz, 0);
  const kernelSource =
    "the --kernel file's memory footprint (its kernel segment's memsz: image_size for an arm64 Image, init_size for a bzImage, the PT_LOADs of an ELF)";
  const iomem = q.iomem ?? q.plan.iomem;
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
  const ram = plan.memoryMap.ramBytes;
  const warning = crashkernelShareWarning(est.recommendedBytes, ram, initrdBytes);

  // the crash load in the reservation
  let region = q.crashRegion;
  if (region === undefined && q.plan.crashRegion !== undefined) region = q.plan.crashRegion;
  const allRegions = q.plan.crashRegions ?? (iomem !== undefined ? parseIomem(iomem).crashKernel : []);
  if (region === undefined && allRegions.length > 0) region = allRegions[allRegions.length - 1];
  const answer: MemoryAnswer = {
    load: {
      ...lm,
      verdict,
      ...(against !== undefined ? { against } : {}),
      ...(notLoaded !== undefined ? { notLoaded } : {}),
    },
    crashkernel: {
      ...est,
      kernelSource,
      ...(warning !== undefined ? { warning } : {}),
      ...(region !== undefined ? { reservedBytes: region.end - region.start } : {}),
    },
    defaults: distroDefaultSizes(plan.arch, plan.memoryMap.ramBytes, versionPair(q.kernelVersion)),
    notes,
  };
  if (region !== undefined) {
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
    // measured terms (crashkernel --verify runs) where the arch has them, else kdumpctl estimate's rough sum
    const runtimeNeedBytes =
      rt.measuredOn !== undefined
        ? rt.totalBytes + (q.luksBytes ?? 0)
        : 2 * initrdBytes + modulesBytes + 16 * MiB + (q.luksBytes ?? 0);
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
