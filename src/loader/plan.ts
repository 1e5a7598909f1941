/**
 * planLoad: real files in, the segments a loader would pass to the kernel out. No file I/O here: the
 * caller reads the files (the CLI) and passes bytes; this runs in a browser as well.
 *
 * This file only dispatches. The rules live one module per loader and architecture:
 *   kexec-tools (kexec_load):     kexec-tools/arm64.ts, kexec-tools/x86_64.ts, kexec-tools/x86-bzimage32.ts
 *                                 (the 32-bit bzImage loader) (+ crash.ts, purgatory.ts)
 *   kernel (kexec_file_load):     kexec-file/arm64.ts, kexec-file/x86_64.ts (+ version.ts)
 *   syscall choice (--loader auto): auto.ts
 *   wrapped kernels (zboot, UKI, compressed) per loader path and kexec-tools version: accept.ts,
 *     judged here through plan-accept.ts (judgeWrappedFile)
 *   the memory each one sees:      memory.ts;  the hole finders: holes.ts;  shared state: context.ts
 * See docs/loaders.md for every rule and its source.
 */

import { DEFAULT_LOADER } from "../defaults.js";
import { emptyFileError, KexecLabError } from "../errors.js";
import { parseArm64Image } from "../formats/arm64-image.js";
import { hex } from "../formats/bytes.js";
import { parseBzImage } from "../formats/bzimage.js";
import { detectKind } from "../formats/detect.js";
import { parseElf64 } from "../formats/elf.js";
import { parseFdt } from "../formats/fdt.js";
import { parseIomem } from "../formats/iomem.js";
import { checkKernelComplete } from "../formats/kernel-extent.js";
import { kernelArchOf, ROLE_HEAD_BYTES } from "../formats/role.js";
import { rawFormat } from "../formats/unwrap.js";
import { KEXEC_SEGMENT_MAX } from "../kimage/constants.js";
import { validateLoad } from "../kimage/validate.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import { inferArch } from "../request/plan.js";
import { acceptance } from "./accept.js";
import {
  DEFAULT_KEXEC_TOOLS_VERSION,
  KernelRefusal,
  kexecFileAcceptance,
  kexecFileErrno,
  syscallPlan,
  toolsBefore,
} from "./auto.js";
import { x86DecompressorHazards } from "./boot-hazards.js";
import {
  type Ctx,
  type KernelPlacerOptions,
  kernelPlacer,
  kexecToolsPlacer,
  type Placer,
} from "./context.js";
import { checkCrashRegionReservable } from "./crash-reserve.js";
import type { NamedRange } from "./holes.js";
import { arm64ImageKexecFile } from "./kexec-file/arm64.js";
import { addKhoScratchTable } from "./kexec-file/kho.js";
import {
  atLeast,
  DEFAULT_KERNEL_VERSION,
  FILE_LOAD_SYSCALL_SINCE,
  hasFileLoadSyscall,
  KERNEL_RULES,
  parseKernelVersion,
} from "./kexec-file/version.js";
import { x86BzImageKexecFile } from "./kexec-file/x86_64.js";
import { arm64ElfKexecTools, arm64ImageKexecTools } from "./kexec-tools/arm64.js";
import { x86BzImageKexecTools } from "./kexec-tools/x86_64.js";
import { bzImage64Probe, doBzImageLoad } from "./kexec-tools/x86-bzimage32.js";
import { elfX86_64Load } from "./kexec-tools/x86-elf.js";
import {
  crashRegionFor,
  kernelCrashResFor,
  kernelWalkRanges,
  kexecToolsRanges,
  memoryMapFor,
  parseMemblock,
  placementSourceFor,
} from "./memory.js";
import { segmentBufszOf } from "./output.js";
import { checkAcceptance, loaderPathFor } from "./plan-accept.js";
import type { PlacedBy, Plan, PlanInput } from "./types.js";

export {
  type Acceptance,
  DEFAULT_KEXEC_TOOLS_VERSION,
  FALLBACK_ERRNOS,
  KernelRefusal,
  kexecFileAcceptance,
} from "./auto.js";
export { DEFAULT_KERNEL_VERSION } from "./kexec-file/version.js";
export { X86_KEXEC_FILE } from "./kexec-file/x86_64.js";
export {
  DEFAULT_PURGATORY,
  PURGATORY_PRESETS,
  purgatoryFromKexecBinary,
  purgatoryPreset,
} from "./kexec-tools/purgatory.js";
export { PURGATORY_CMDLINE_SIZE, X86_INITRD_BASE } from "./kexec-tools/x86_64.js";
export { KEXEC_TOOLS_ARM64_KEPT } from "./memory.js";
export { formatPlacement, formatPrintSegments, planToJson, segmentBufszOf } from "./output.js";
export * from "./types.js";

type Result = Pick<Plan, "entry" | "kernelEntry" | "dtbAddress" | "initrd" | "patchedDtb" | "cmdline">;

/** Place the load with one syscall's rules. */
function placeWith(input: PlanInput, loader: PlacedBy, selection: string): Plan {
  const pageSize = input.pageSize ?? 4096;
  if (![4096, 16384, 65536].includes(pageSize) || (input.arch === "x86_64" && pageSize !== 4096)) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${pageSize}`, { field: "pageSize" });
  }
  checkInputsNotEmpty(input);
  const notes: string[] = [];
  const dtb = input.dtb ? parseFdt(input.dtb, input.dtbName) : undefined;
  if (input.dtb && input.arch === "x86_64") notes.push("a DTB is ignored on x86_64");
  const { map, source } = memoryMapFor(input, dtb, notes);
  const crashRegion = crashRegionFor(input);
  // A crashkernel=SIZE@OFFSET the kernel could not have reserved (not all RAM): no crash load.
  if (crashRegion && input.crashRegion) checkCrashRegionReservable(crashRegion, map);
  if (input.memMin !== undefined && input.memMax !== undefined && input.memMax < input.memMin) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `--mem-max ${hex(input.memMax)} is below --mem-min ${hex(input.memMin)}`,
      {
        field: "mem-max",
      },
    );
  }
  const version = parseKernelVersion(input.kernelVersion);
  const iomem =
    input.iomem !== undefined && !/^\s*(MEMORY RANGES|System RAM ranges;)\s*$/m.test(input.iomem)
      ? parseIomem(input.iomem, input.iomemName)
      : undefined;
  let placer: Placer;
  if (loader === "kexec-tools") {
    const r = kexecToolsRanges(input.arch, input, map, crashRegion);
    let memMin = input.memMin ?? 0;
    let memMaxEnd = input.memMax !== undefined ? input.memMax + 1 : Number.POSITIVE_INFINITY;
    if (crashRegion) {
      // Crash loads: every buffer lies in the crash region (x86 get_memory_ranges narrows
      // mem_min/mem_max to it; arm64 passes it as hole_min/hole_max).
      memMin = Math.max(memMin, crashRegion.start);
      memMaxEnd = Math.min(memMaxEnd, crashRegion.end);
    }
    const memOpts = input.memMin !== undefined || input.memMax !== undefined;
    const clippedBy = crashRegion
      ? `the crash kernel region${memOpts ? " and --mem-min/--mem-max" : ""} (kexec-tools searches only it for -p)`
      : "--mem-min/--mem-max";
    placer = kexecToolsPlacer(r.ranges, memMin, memMaxEnd, r.what, clippedBy);
  } else {
    if (input.memMin !== undefined || input.memMax !== undefined)
      notes.push(
        "--mem-min/--mem-max apply to kexec_load only; kexec_file_load places segments in the kernel",
      );
    const walk = kernelWalkRanges(input.arch, input, map, notes);
    const rev = input.arch === "arm64" || atLeast(version, ...KERNEL_RULES.walkRev.since);
    const opts: KernelPlacerOptions = { oneByteLow: !atLeast(version, ...KERNEL_RULES.topDownPlusOne.since) };
    if (input.khoScratch) {
      if (!atLeast(version, ...KERNEL_RULES.kho.since)) {
        throw new KexecLabError(
          "E_USAGE",
          `KHO scratch areas were given, but KHO needs kernel 6.16 or later (kernel ${input.kernelVersion ?? DEFAULT_KERNEL_VERSION})`,
          {
            field: "kho-scratch",
          },
        );
      }
      if (!crashRegion) opts.khoScratch = input.khoScratch;
    }
    if (input.cma) {
      if (!atLeast(version, ...KERNEL_RULES.cma.since)) {
        notes.push(
          `a CMA area was given, but kexec_file_load allocates from CMA only from kernel 6.17 (${KERNEL_RULES.cma.commit}): not used`,
        );
      } else if (input.noCma) {
        notes.push("KEXEC_FILE_NO_CMA (--no-cma): the kernel does not try CMA");
      } else if (crashRegion) {
        notes.push("crash loads never use CMA (kexec_alloc_contig returns -EPERM for KEXEC_TYPE_CRASH)");
      } else if (!opts.khoScratch) {
        opts.cma = input.cma;
        if (input.cmaUsed) opts.cmaUsed = input.cmaUsed;
      }
    }
    placer = kernelPlacer((topDown) => {
      if (crashRegion) {
        return {
          ranges: [{ ...crashRegion, name: "Crash kernel" }],
          what:
            input.arch === "x86_64"
              ? "the crash kernel resource (walk_iomem_res_desc crashk_res)"
              : "the crash kernel region (crashk_res)",
        };
      }
      if (topDown && rev) {
        return {
          ranges: [...walk.ranges].reverse(),
          what: `${walk.what}, descending (${input.arch === "arm64" ? "for_each_free_mem_range_reverse" : `walk_system_ram_res_rev, ${KERNEL_RULES.walkRev.commit}`})`,
        };
      }
      return {
        ranges: walk.ranges,
        what: `${walk.what}, ascending (${input.arch === "arm64" ? "for_each_free_mem_range" : "walk_system_ram_res"}): the first range that fits wins`,
      };
    }, opts);
  }
  const ctx: Ctx = { input, pageSize, placer, segments: [], notes };
  const kind = detectKind(input.kernel);
  if (kind === "arm64-image" || kind === "bzimage") checkKernelComplete(input.kernel, input.kernelName);
  const where = input.kernelName !== undefined ? { file: input.kernelName, offset: 0 } : { offset: 0 };
  let result: Result;
  /** The bzImage header, for the decompressor check after placement (boot-hazards.ts). */
  let bzHeader: { kernelAlignment: number; initSize: number } | undefined;
  const kho =
    loader === "kexec-file" && input.khoScratch && !crashRegion
      ? addKhoScratchTable(ctx, input.khoScratch)
      : undefined;
  if (loader === "kexec-file") {
    if (input.kexecFileSyscall === false)
      throw new KernelRefusal(
        "ENOSYS",
        "the running kernel has no kexec_file_load (CONFIG_KEXEC_FILE is off)",
      );
    if (!hasFileLoadSyscall(input.arch, version)) {
      const { since, source } = FILE_LOAD_SYSCALL_SINCE[input.arch];
      throw new KernelRefusal(
        "ENOSYS",
        `a ${input.kernelVersion ?? DEFAULT_KERNEL_VERSION} kernel has no kexec_file_load on ${input.arch} (from ${since.join(".")} on: ${source})`,
      );
    }
    // kexec-tools 2.0.29+ (9d9cf8d) passes KEXEC_FILE_DEBUG (0x8) with -d; kernels before 6.8 do not
    // know the flag and refuse it (flags & ~KEXEC_FILE_FLAGS): EINVAL, so -a falls back to kexec_load.
    if (
      input.kexecDebug &&
      !toolsBefore(input.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION, "2.0.29") &&
      !atLeast(version, ...KERNEL_RULES.fileDebugFlag.since)
    ) {
      throw new KernelRefusal(
        "EINVAL",
        `kexec -d passes KEXEC_FILE_DEBUG (kexec-tools ${input.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION}), which a ${input.kernelVersion ?? DEFAULT_KERNEL_VERSION} kernel does not know (added in 6.8)`,
      );
    }
  }
  notes.unshift(...judgeWrappedFile(input, loader));
  if (loader === "kexec-file") {
    const acc = kexecFileAcceptance(input.arch, kind);
    if (!acc.accepted) throw new KernelRefusal(acc.errno, acc.reason, where);
  }
  if (input.arch === "arm64") {
    if (kind === "arm64-image") {
      const img = parseArm64Image(input.kernel, input.kernelName);
      result =
        loader === "kexec-tools"
          ? arm64ImageKexecTools(ctx, img, dtb, crashRegion, map, iomem)
          : arm64ImageKexecFile(
              ctx,
              img,
              dtb,
              crashRegion
                ? { region: crashRegion, memRanges: memblockRangesOutside(input, map, crashRegion) }
                : undefined,
              kho,
            );
    } else if (kind === "elf64") {
      const elf = parseElf64(input.kernel, input.kernelName);
      if (elf.arch !== "arm64")
        throw new KexecLabError(
          "E_KERNEL_UNSUPPORTED",
          `an ELF kernel for machine ${elf.machine}, not AArch64`,
          where,
        );
      result = arm64ElfKexecTools(ctx, elf, dtb, crashRegion, map, iomem);
    } else {
      throw new KexecLabError(
        "E_KERNEL_UNSUPPORTED",
        `arm64 loads an Image or an ELF64 vmlinux; this file is ${kind ?? "not a kernel"}`,
        where,
      );
    }
  } else if (kind === "bzimage") {
    const bz = parseBzImage(input.kernel, input.kernelName);
    bzHeader = bz;
    // kexec-x86_64.c's file_type order: bzImage64 first; what bzImage64_probe refuses, and a bzImage64
    // with --entry-32bit / --real-mode, goes to the 32-bit bzImage loader (kexec-tools/x86-bzimage32.ts).
    const bz32 = loader === "kexec-tools" && (!bzImage64Probe(bz) || input.x86Entry !== undefined);
    if (input.x86Entry !== undefined && loader === "kexec-file")
      notes.push(
        `--${input.x86Entry === "real-mode" ? "real-mode" : "entry-32bit"} applies to kexec_load only; kexec_file_load enters the kernel's 64-bit entry`,
      );
    result = bz32
      ? doBzImageLoad(
          ctx,
          bz,
          input.x86Entry ?? "32bit",
          crashRegion ? { regions: crashRegionsAll(input, crashRegion), iomem } : undefined,
        )
      : loader === "kexec-tools"
        ? x86BzImageKexecTools(
            ctx,
            bz,
            crashRegion ? { regions: crashRegionsAll(input, crashRegion), iomem } : undefined,
          )
        : x86BzImageKexecFile(
            ctx,
            bz,
            version,
            crashRegion
              ? { region: crashRegion, ramRanges: x86CrashRamRanges(input, map, crashRegion) }
              : undefined,
          );
  } else if (kind === "elf64") {
    const elf = parseElf64(input.kernel, input.kernelName);
    if (elf.arch !== "x86_64")
      throw new KexecLabError(
        "E_KERNEL_UNSUPPORTED",
        `an ELF kernel for machine ${elf.machine}, not x86_64`,
        where,
      );
    result = elfX86_64Load(
      ctx,
      elf,
      input.elfArgs ?? "elf",
      crashRegion ? { regions: crashRegionsAll(input, crashRegion), iomem } : undefined,
    );
  } else {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      `x86_64 loads a bzImage or an ELF64 vmlinux; this file is ${kind ?? "not a kernel"}`,
      where,
    );
  }
  if (ctx.segments.length > KEXEC_SEGMENT_MAX) {
    throw new KexecLabError(
      "E_TOO_MANY_SEGMENTS",
      `the load needs ${ctx.segments.length} segments (${ctx.segments.map((s) => s.label).join(", ")}); kexec_load takes at most ${KEXEC_SEGMENT_MAX}`,
      { field: "segments" },
    );
  }
  const segments = loader === "kexec-tools" ? [...ctx.segments].sort((a, b) => a.mem - b.mem) : ctx.segments;
  for (const s of segments) {
    for (const r of map.regions) {
      // a crash load is meant to lie in the crash kernel region
      if (crashRegion && r.name.startsWith("Crash kernel")) continue;
      if (r.type === "reserved" && s.mem < r.end && r.start < s.mem + s.memsz) {
        notes.push(
          `${s.label} [${hex(s.mem)}, ${hex(s.mem + s.memsz)}) overlaps the running kernel's "${r.name}" [${hex(r.start)}, ${hex(r.end)}): allowed, the copy happens after the running kernel has stopped`,
        );
      }
    }
  }
  const totalRam: Plan["totalRam"] =
    input.memTotal !== undefined
      ? { bytes: input.memTotal, source: "MemTotal" }
      : { bytes: map.ramBytes, source: "memory map" };
  const verdict = validateLoad({
    arch: input.arch,
    pageSize,
    ramBytes: BigInt(totalRam.bytes),
    segments: segments.map((s) => ({
      mem: BigInt(s.mem),
      memsz: BigInt(s.memsz),
      bufsz: BigInt(segmentBufszOf(s)),
    })),
    ...(crashRegion
      ? {
          crash: {
            start: BigInt(kernelCrashResFor(input, crashRegion).start),
            end: BigInt(kernelCrashResFor(input, crashRegion).end - 1),
          },
          entry: BigInt(result.entry),
        }
      : {}),
  });
  const plan: Plan = {
    arch: input.arch,
    loader,
    selection,
    memoryMap: map,
    memoryMapSource: source,
    placementSource: placementSourceFor(input.arch, loader, input, source),
    totalRam,
    segments,
    notes,
    verdict,
    ...result,
  };
  if (loader === "kexec-file") plan.kernelVersion = input.kernelVersion ?? DEFAULT_KERNEL_VERSION;
  if (crashRegion) plan.crashRegion = crashRegion;
  if (bzHeader !== undefined) {
    const kernelSegment = segments.find((s) => s.label === "kernel");
    const hazards = kernelSegment
      ? x86DecompressorHazards(segments, kernelSegment, bzHeader.kernelAlignment, bzHeader.initSize)
      : [];
    if (hazards.length > 0) {
      plan.bootHazards = hazards;
      for (const h of hazards)
        notes.unshift(`the loaded kernel will damage its ${h.segment} at boot: ${h.mechanism} (${h.source})`);
    }
  }
  return plan;
}

/**
 * E_FILE_EMPTY for an empty kernel, initrd, DTB or memory map: bad input, never a file silently
 * dropped (an empty initrd would otherwise be no initrd at all).
 */
function checkInputsNotEmpty(input: PlanInput): void {
  const files: [Uint8Array | string | undefined, string | undefined, string][] = [
    [input.kernel, input.kernelName, "--kernel"],
    [input.initrd, input.initrdName, "--initrd"],
    [input.dtb, input.dtbName, "--dtb"],
    [input.iomem, input.iomemName, "--iomem"],
    [input.memmap, input.memmapName, "--memmap"],
  ];
  for (const [data, name, option] of files) {
    if (data !== undefined && data.length === 0) throw emptyFileError(name, option);
  }
}

/** Refusals of a wrapped file that kexec-tools' -a does not fall back from (made before any syscall). */
const NO_FALLBACK = new WeakSet<Error>();
/** The errno the kernel returns for a wrapped file it refuses (accept.ts), for the -a fallback rule. */
const REFUSAL_ERRNO = new WeakMap<Error, string>();

/**
 * The acceptance table's judgement (accept.ts via plan-accept.ts checkAcceptance) for a file the
 * plain parsers do not place as given: an EFI zboot image, a UKI or a compressed kernel (unwrapped
 * by the caller: input.kernelFormat), or a bzImage that is not a bzImage64 (kexec-tools'
 * bzImage64_probe). Returns the notes of an accepted file; throws E_KERNEL_UNSUPPORTED naming who
 * refuses (kexec-tools before the syscall: final; the kernel: its errno decides the -a fallback).
 * A plain Image, bzImage64 or ELF is left to the loaders (kexecFileAcceptance and the placement code).
 */
function judgeWrappedFile(input: PlanInput, loader: PlacedBy): string[] {
  const format = input.kernelFormat ?? rawFormat(input.kernel);
  const wrapped = format.kind === "compressed" || format.kind === "zboot" || format.kind === "uki";
  if (!wrapped && !(format.kind === "bzimage" && !format.bzImage64)) return [];
  try {
    return checkAcceptance({ ...input, kernelFormat: format, loader });
  } catch (e) {
    if (e instanceof KexecLabError && e.code === "E_KERNEL_UNSUPPORTED") {
      const version = input.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION;
      const a = acceptance(input.arch, format, loaderPathFor(loader, input.via), version);
      if (loader === "kexec-file" && a.refusedBy === "kernel" && a.errno !== undefined)
        REFUSAL_ERRNO.set(e, a.errno);
      else NO_FALLBACK.add(e);
    }
    throw e;
  }
}

/** Every crash kernel region (crash_reserved_mem): the "Crash kernel" lines of the iomem input, or the one given. */
function crashRegionsAll(input: PlanInput, crash: Range): Range[] {
  if (input.crashRegions) return [...input.crashRegions];
  if (input.crashRegion || input.iomem === undefined) return [crash];
  const ck = parseIomem(input.iomem, input.iomemName).crashKernel;
  return ck.length > 0 ? ck : [crash];
}

/** x86 crash elfcorehdr: System RAM resources with [0, 1 MiB) and the crash region cut out. */
function x86CrashRamRanges(input: PlanInput, map: Plan["memoryMap"], crash: Range): number {
  const notes: string[] = [];
  const ram: NamedRange[] = kernelWalkRanges("x86_64", input, map, notes).ranges;
  return ram.flatMap((r) => [...new RangeSet([r]).subtract([{ start: 0, end: 0x100000 }, crash]).ranges])
    .length;
}

/** arm64 crash elfcorehdr: memblock memory ranges (or the RAM ranges) with the crash region cut out. */
function memblockRangesOutside(input: PlanInput, map: Plan["memoryMap"], crash: Range): number {
  const mem =
    input.memblockMemory !== undefined
      ? new RangeSet(parseMemblock(input.memblockMemory, "memblock memory")).ranges
      : map.ram.ranges;
  return mem.flatMap((r) => [...new RangeSet([r]).subtract([crash]).ranges]).length;
}

/**
 * planLoad's input as library callers give it: a PlanInput whose `arch` may be left out. It is then
 * inferred from the kernel's bytes as the CLI infers it (inferArch in src/request/plan.ts, with no
 * --arch and no --host): an arm64 Image or arm64 ELF is arm64, a bzImage or x86_64 ELF is x86_64, and
 * anything else (a gzip'ed Image) arm64.
 */
export type PlanLoadInput = Omit<PlanInput, "arch"> & { arch?: PlanInput["arch"] };

/**
 * Place a load as kexec would (see the file header). With `loader: "auto"` (the default) this is
 * kexec-tools' own choice for its version: kexec_file_load first from 2.0.27, falling back to
 * kexec_load on ENOSYS/EINVAL/ENOEXEC/ENOTSUP; `plan.selection` says what happened. Without
 * `input.arch` the architecture is the kernel's (PlanLoadInput).
 * Throws KexecLabError (E_NO_HOLE, E_KERNEL_UNSUPPORTED, ...) when the load cannot be placed.
 */
export function planLoad(request: PlanLoadInput): Plan {
  const input: PlanInput =
    request.arch !== undefined
      ? (request as PlanInput)
      : {
          ...request,
          arch: inferArch({ kernelFileArch: kernelArchOf(request.kernel.subarray(0, ROLE_HEAD_BYTES)) }),
        };
  const choice = syscallPlan(input.loader ?? DEFAULT_LOADER, input.kexecToolsVersion);
  if (!choice.fallback) return placeWith(input, choice.first, choice.why);
  try {
    return placeWith(input, "kexec-file", `${choice.why}; the kernel accepts this file`);
  } catch (e) {
    if (!(e instanceof KexecLabError) || NO_FALLBACK.has(e)) throw e;
    const errno = REFUSAL_ERRNO.get(e) ?? kexecFileErrno(input.arch, e);
    if (errno === undefined || !["ENOSYS", "EINVAL", "ENOEXEC", "ENOTSUP"].includes(errno)) throw e;
    const plan = placeWith(
      input,
      "kexec-tools",
      `${choice.why}; kexec_file_load would fail with ${errno} (${e.detail}), so kexec-tools falls back to kexec_load`,
    );
    return plan;
  }
}
