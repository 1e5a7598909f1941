/**
 * Node-only: `kexec-lab plan`'s options (and those of every command that plans from real files: diff,
 * memory) as a PlanInput: the files they name are read here; the rules are the library's.
 */

import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { kernelFileArch, type ReadPlanOptions, readPlanFiles } from "../../formats/node/plan-files.js";
import { kernelArchOf, ROLE_HEAD_BYTES } from "../../formats/role.js";
import type { Host } from "../../host/host.js";
import { readHostDir } from "../../host/node/read.js";
import { hostPlanFields } from "../../host/plan.js";
import type { Arch } from "../../kimage/constants.js";
import { LATEST_KEXEC_TOOLS } from "../../loader/accept.js";
import { crashLoaderOf } from "../../loader/caller.js";
import { kexecToolsReuseCmdline } from "../../loader/kexec-tools/cmdline.js";
import { purgatoryFromKexecBinary, purgatoryPreset } from "../../loader/kexec-tools/purgatory.js";
import type { LoaderKind, PlanInput } from "../../loader/plan.js";
import type { PurgatorySize } from "../../loader/types.js";
import type { Range } from "../../machine/ranges.js";
import { parseSize, parseU64, toSafeNumber } from "../../scenario/numbers.js";
import { crashRegionsForPlan } from "../crashkernel.js";
import { inferArch, parseCpuCount, parseSizeAt } from "../plan.js";
import type { GateOptions } from "./gate-state.js";

/** The architecture the kernel file's first bytes imply (kernelFileArch), as inferArch's evidence. */
export function fileArch(kernel: string): { kernelFileArch?: Arch } {
  const a = kernelFileArch(kernel);
  return a !== undefined ? { kernelFileArch: a } : {};
}

/**
 * What read kernel files say of their architecture (inferArch's evidence): the kernel inside a
 * wrapper (UKI, zboot, compressed) when one was unwrapped, else the file's own kind.
 */
export function kernelArchEvidence(
  files: { kernel: Uint8Array; kernelFormat?: unknown },
  kernelPath: string,
): { innerKernelArch?: Arch; kernelFileArch?: Arch } {
  const inner =
    files.kernelFormat !== undefined ? kernelArchOf(files.kernel.subarray(0, ROLE_HEAD_BYTES)) : undefined;
  return inner !== undefined ? { innerKernelArch: inner } : fileArch(kernelPath);
}

/** `plan`'s options as commander gives them (strings as typed), the gate options (gate-state.ts) among them. */
export interface PlanOptions extends GateOptions {
  /** The host's /proc/cmdline as the command line (kexec --reuse-cmdline). */
  reuseCmdline?: boolean;
  /** --arch as typed (arm64, aarch64, x86_64, amd64); absent: from the kernel file. */
  arch?: string;
  kernel: string;
  initrd?: string;
  initrdSize?: string;
  dtb?: string;
  iomem?: string;
  memmap?: string;
  memblockMemory?: string;
  memblockReserved?: string;
  append?: string;
  loader: LoaderKind;
  kernelVersion?: string;
  kexecToolsVersion?: string;
  kexecBinary?: string;
  purgatory?: string;
  cpus?: string;
  crngNotReady?: boolean;
  kexecFileSyscall?: boolean;
  khoScratch?: string;
  /** --cma SIZE@ADDR gives a string; --no-cma sets false. */
  cma?: string | boolean;
  /** Bytes at the CMA area's base taken before the load (PlanInput.cmaUsed). */
  cmaUsed?: string;
  kexecDebug?: boolean;
  realMode?: boolean;
  entry32bit?: boolean;
  elfArgs?: "elf" | "linux" | "none";
  acpiRsdp?: string;
  memMin?: string;
  memMax?: string;
  crash?: boolean;
  crashkernel?: string;
  pageSize?: string;
  seed?: string;
  wipeKaslrSeed?: boolean;
  outDtb?: string;
  force?: boolean;
  json?: boolean;
  printSegments?: boolean;
  explain?: boolean;
  via?: "kexec-tools" | "systemd";
}

/**
 * A PlanInput for planLoad from `plan`'s options: the files read (readPlanFiles; `read.sizesOnly`
 * reads only the headers and sizes placement needs; a wrapped kernel (zboot, UKI, compressed) is
 * decompressed, reporting to `read.onProgress`), the --host directory read (readHostDir), the
 * architecture inferred (inferArch), sizes and addresses parsed. Errors: E_USAGE for options that
 * exclude each other (--initrd/--initrd-size, --reuse-cmdline/--append, --kexec-binary/--purgatory)
 * or --reuse-cmdline without a host cmdline; the readers' and parsers' catalogued errors.
 */
export async function planInputFromOptions(
  opts: PlanOptions,
  read: ReadPlanOptions = {},
): Promise<PlanInput> {
  if (opts.initrd !== undefined && opts.initrdSize !== undefined) {
    throw new KexecLabError("E_USAGE", "--initrd and --initrd-size exclude each other", {
      field: "--initrd-size",
    });
  }
  const host = opts.host !== undefined ? readHostDir(opts.host) : undefined;
  if (opts.reuseCmdline && host?.cmdline === undefined) {
    throw new KexecLabError("E_USAGE", "--reuse-cmdline needs --host with a cmdline.txt", {
      field: "--reuse-cmdline",
    });
  }
  const files = await readPlanFiles(
    {
      kernel: opts.kernel,
      ...(opts.initrd !== undefined ? { initrd: opts.initrd } : {}),
      ...(opts.initrdSize !== undefined
        ? {
            initrdSize: toSafeNumber(parseSize(opts.initrdSize, "--initrd-size"), "--initrd-size"),
          }
        : {}),
      ...(opts.dtb !== undefined ? { dtb: opts.dtb } : {}),
      ...(opts.iomem !== undefined ? { iomem: opts.iomem } : {}),
    },
    read,
  );
  const arch = inferArch({
    ...(opts.arch !== undefined ? { arch: opts.arch } : kernelArchEvidence(files, opts.kernel)),
    ...(host?.arch !== undefined ? { hostArch: host.arch } : {}),
  });
  const input: PlanInput = {
    arch,
    loader: opts.loader,
    ...(host !== undefined ? hostPlanFields(host, arch, opts.loader) : {}),
    ...files,
  };
  if (opts.via !== undefined) input.via = opts.via;
  if (opts.reuseCmdline && opts.append !== undefined) {
    throw new KexecLabError("E_USAGE", "--reuse-cmdline and --append exclude each other", {
      field: "--append",
    });
  }
  if (opts.reuseCmdline) {
    // kexec-tools' get_command_line: BOOT_IMAGE and (crash loads) crashkernel= removed, per version
    input.append = kexecToolsReuseCmdline(
      host!.cmdline!,
      !!(opts.crash || opts.crashkernel !== undefined),
      opts.kexecToolsVersion ?? input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS,
    );
  }
  if (opts.append !== undefined) input.append = opts.append;
  if (opts.memMin !== undefined) input.memMin = toSafeNumber(parseSize(opts.memMin, "mem-min"), "mem-min");
  if (opts.memMax !== undefined) input.memMax = toSafeNumber(parseSize(opts.memMax, "mem-max"), "mem-max");
  if (opts.crash || opts.crashkernel !== undefined) input.crash = true;
  if (opts.crashkernel !== undefined) {
    const where = crashkernelPlanRegions(opts, host, arch);
    input.crashRegion = where.region;
    if (where.regions !== undefined) input.crashRegions = where.regions;
  }
  if (opts.pageSize !== undefined)
    input.pageSize = toSafeNumber(parseSize(opts.pageSize, "page-size"), "page-size");
  if (opts.seed !== undefined) input.seed = toSafeNumber(parseU64(opts.seed, "seed"), "seed", 0xffffffffn);
  if (opts.wipeKaslrSeed) input.wipeKaslrSeed = true;
  const text = (f: string) => new TextDecoder().decode(readInputFile(f));
  if (opts.memmap !== undefined) {
    input.memmap = text(opts.memmap);
    input.memmapName = opts.memmap;
  }
  if (opts.memblockMemory !== undefined) input.memblockMemory = text(opts.memblockMemory);
  if (opts.memblockReserved !== undefined) input.memblockReserved = text(opts.memblockReserved);
  if (opts.kernelVersion !== undefined) input.kernelVersion = opts.kernelVersion;
  if (opts.crngNotReady) input.crngReady = false;
  if (opts.khoScratch !== undefined)
    input.khoScratch = opts.khoScratch.split(",").map((x) => parseSizeAt(x, "kho-scratch"));
  if (typeof opts.cma === "string") input.cma = parseSizeAt(opts.cma, "cma");
  if (opts.cmaUsed !== undefined)
    input.cmaUsed = toSafeNumber(parseSize(opts.cmaUsed, "cma-used"), "cma-used");
  if (opts.cma === false) input.noCma = true;
  if (opts.kexecDebug) input.kexecDebug = true;
  if (opts.realMode || opts.entry32bit) input.x86Entry = opts.realMode ? "real-mode" : "32bit";
  if (opts.elfArgs !== undefined) input.elfArgs = opts.elfArgs;
  if (opts.acpiRsdp !== undefined)
    input.acpiRsdp = toSafeNumber(parseU64(opts.acpiRsdp, "acpi-rsdp"), "acpi-rsdp");
  if (opts.kexecFileSyscall === false) input.kexecFileSyscall = false;
  if (opts.kexecToolsVersion !== undefined) input.kexecToolsVersion = opts.kexecToolsVersion;
  if (opts.cpus !== undefined) input.cpus = parseCpuCount(opts.cpus);
  const purgatory = purgatoryOption(opts, arch);
  if (purgatory !== undefined) input.purgatory = purgatory;
  return input;
}

/**
 * The purgatory segment's size from --kexec-binary FILE (the purgatory embedded in that kexec, laid
 * out as kexec-tools' elf_rel_load does) or --purgatory PRESET (a measured distribution build);
 * undefined when neither is given (the loader's default model). Errors: E_USAGE for both at once or
 * an unknown preset; the file's read errors and purgatoryFromKexecBinary's.
 */
export function purgatoryOption(
  opts: { kexecBinary?: string; purgatory?: string },
  arch: Arch,
): PurgatorySize | undefined {
  if (opts.kexecBinary !== undefined && opts.purgatory !== undefined)
    throw new KexecLabError("E_USAGE", "give --kexec-binary or --purgatory, not both", {
      field: "purgatory",
    });
  if (opts.kexecBinary !== undefined) {
    const p = purgatoryFromKexecBinary(readInputFile(opts.kexecBinary), arch, opts.kexecBinary);
    return {
      bufsz: p.bufsz,
      memsz: p.memsz,
      ...(p.align !== undefined ? { align: p.align } : {}),
      ...(p.entryOffset !== undefined ? { entryOffset: p.entryOffset } : {}),
      ...(p.source !== undefined ? { source: p.source } : {}),
    };
  }
  if (opts.purgatory !== undefined) return purgatoryPreset(opts.purgatory, arch);
  return undefined;
}

/**
 * `--crashkernel VALUE` of plan/memory: SIZE@OFFSET is the region itself (as before: the kernel puts an
 * @offset reservation exactly there when it is free); any other crashkernel= syntax (a size, ranges,
 * ,high/,low, several options) is reserved as the host's kernel would at boot (src/crash/reserve.ts)
 * and the crash load goes into the region kexec-tools / the kernel choose (src/crash/choose.ts).
 */
function crashkernelPlanRegions(
  opts: PlanOptions,
  host: Host | undefined,
  arch: Arch,
): { region: Range; regions?: Range[] } {
  const v = opts.crashkernel!.trim().replace(/^crashkernel=/, "");
  if (/^[^@\s,:]+@[^@\s,:]+$/.test(v)) return { region: parseSizeAt(v) };
  if (host === undefined)
    throw new KexecLabError(
      "E_USAGE",
      `--crashkernel ${opts.crashkernel}: where the kernel reserves it depends on the machine's memory: give --host (or SIZE@OFFSET)`,
      { field: "--crashkernel" },
    );
  return crashRegionsForPlan({
    host,
    arch,
    crashkernel: opts.crashkernel!,
    ...(opts.kernelVersion !== undefined ? { kernelVersion: opts.kernelVersion } : {}),
    loader: crashLoaderOf(opts.loader),
    ...(opts.kexecToolsVersion !== undefined ? { kexecToolsVersion: opts.kexecToolsVersion } : {}),
  });
}
