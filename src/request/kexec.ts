/**
 * `kexec-lab kexec`: kexec-tools' own command line (parseKexecArgs) run as kexec-tools would run it,
 * printing what `kexec -d` prints for the load (kexec/kexec.c main(), my_load(); the MEMORY RANGES
 * block and "kexec_load: entry = ... flags = ..." with the segment table). Browser-safe: the files come
 * in read.
 */

import { KexecLabError } from "../errors.js";
import { parseIomem } from "../formats/iomem.js";
import { GateRefusalError } from "../gates/error.js";
import type { GateState } from "../gates/types.js";
import type { Host } from "../host/host.js";
import { hostPlanFields } from "../host/plan.js";
import type { KexecArgs } from "../kexectools/args.js";
import { arm64MemoryRanges, formatKexecLoad, kexecLoadFlags, x86MemoryRanges } from "../kexectools/debug.js";
import type { Arch } from "../kimage/constants.js";
import {
  AUTO_DEFAULT_SINCE,
  DEFAULT_KEXEC_TOOLS_VERSION,
  FALLBACK_ERRNOS,
  kexecFileErrno,
  syscallPlan,
  toolsBefore,
} from "../loader/auto.js";
import { NO_HOLE_SEARCH } from "../loader/context.js";
import { KEXEC_TOOLS_NO_CRASH_REGION } from "../loader/crash-reserve.js";
import { kexecToolsReuseCmdline } from "../loader/kexec-tools/cmdline.js";
import { type LoaderKind, type PlanInput, type planLoad, segmentBufszOf } from "../loader/plan.js";
import type { PurgatorySize } from "../loader/types.js";
import { parseSize, toSafeNumber } from "../scenario/numbers.js";
import { gatedPlanLoad } from "./gates.js";
import type { RunPlanFiles } from "./run.js";

/**
 * The crash reservation `kexec --print-ckr-size` prints, bytes: the host's
 * /sys/kernel/kexec_crash_size, else the sum of the "Crash kernel" ranges of the iomem (`iomem`, else
 * the host's), else 0.
 */
export function crashSizeOf(host: Host | undefined, iomem: string | undefined): number {
  if (host?.crashSize !== undefined) return host.crashSize;
  const text = iomem ?? host?.iomem;
  if (text === undefined) return 0;
  return parseIomem(text)
    .crashKernel.map((r) => r.end - r.start)
    .reduce((a, b) => a + b, 0);
}

/**
 * The lines kexec-tools itself prints when a load fails the way `e` says, so that `kexec -d`'s
 * output of a failing load reads as the real one (kexec-lab's own explanation follows on stderr):
 * - kexec_load, no hole (kexec/kexec.c locate_hole): "Could not find a free area of memory of 0x...
 *   bytes..."; then add_buffer_phys_virt dies with "locate_hole failed", except for the arm64
 *   kernel segment, whose arm64_locate_kernel_segment returns to image_arm64_load (EFAILED) and
 *   my_load prints "Cannot load KERNEL";
 * - kexec_file_load, no hole: the kernel returns EADDRNOTAVAIL and kexec-tools prints
 *   "kexec_file_load failed: Cannot assign requested address" (kexec/kexec.c do_kexec_file_load);
 * - a crash load without a reserved region (kexec/kexec.c main): "Memory for crashkernel is not
 *   reserved" and its two lines.
 * Nothing for other errors (kexec-lab's message stands alone).
 */
export function kexecToolsFailureText(e: unknown, arch: Arch, kernel: string, crash: boolean): string[] {
  if (!(e instanceof KexecLabError)) return [];
  if (e.code === "E_CRASH_NOT_RESERVED") return KEXEC_TOOLS_NO_CRASH_REGION.split("\n");
  // a gate: kexec-tools' own refusal (its lines), or the syscall's failure as kexec prints it
  if (e instanceof GateRefusalError) {
    const r = e.refusal;
    const text = r.by === "kexec-tools" ? r.log : r.kexecTools;
    return text !== undefined ? text.split("\n") : [];
  }
  const s = NO_HOLE_SEARCH.get(e);
  if (e.code !== "E_NO_HOLE" || s === undefined) return [];
  if (s.syscall === "kexec_file_load") return ["kexec_file_load failed: Cannot assign requested address"];
  const lines = [`Could not find a free area of memory of 0x${s.size.toString(16)} bytes...`];
  if (arch === "arm64" && s.label === "kernel" && !crash) lines.push(`Cannot load ${kernel}`);
  else lines.push("locate_hole failed");
  return lines;
}

/** What `kexec` would print, and how the load ended. */
export interface KexecOutcome {
  /** What kexec -d prints on stdout (empty without -d). */
  stdout: string;
  /** kexec-lab's own remarks (what it does not print and why), one line each with its newline. */
  stderr: string[];
  /** The load's error (a catalogued KexecLabError), printed after stdout. */
  error?: unknown;
  /** Whether the kernel's kexec_load checks accept the placed load (set when there is no error). */
  accepted?: boolean;
}

/** The files and the machine of a `kexec` call, read. */
export interface KexecInputs {
  arch: Arch;
  files: RunPlanFiles;
  host?: Host;
  /** --iomem's text and its name. */
  iomem?: { text: string; name: string };
  /** The purgatory of the kexec that runs (--kexec-binary or --purgatory); else the host's preset or the model. */
  purgatory?: PurgatorySize;
  /** What the gates read (src/gates); default the host's (host.gates). */
  gates?: GateState;
}

/**
 * Run kexec-tools' command line `a` on `inputs`: the syscall as kexec/kexec.c main() picks it (-c
 * kexec_load, -s kexec_file_load; -a and, from 2.0.27, no flag: kexec_file_load first with the
 * fallback, src/loader/auto.ts syscallPlan), the load planned (planLoad), and with -d the lines kexec
 * prints: the memory ranges (read before anything is placed, so printed even when the load fails on
 * the kexec_load path) and the segment table. Errors: E_USAGE for --reuse-cmdline without a host
 * cmdline, parseSize's for --mem-min/--mem-max; a failed load is returned as `error`.
 */
export function kexecLoadOutput(a: KexecArgs, inputs: KexecInputs): KexecOutcome {
  const { arch, files, host } = inputs;
  const iomemText = inputs.iomem?.text;
  const stderr: string[] = [];
  const toolsVersion = host?.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION;
  const loader: LoaderKind =
    a.syscallGiven && a.syscall === "kexec_load"
      ? "kexec-tools"
      : a.syscall === "kexec_file_load"
        ? "kexec-file"
        : "auto";
  const autoVersion =
    a.syscallGiven && a.syscall === "auto" && toolsBefore(toolsVersion, AUTO_DEFAULT_SINCE)
      ? AUTO_DEFAULT_SINCE
      : toolsVersion;
  const crash = a.action === "load-panic";
  if (a.reuseCmdline && host?.cmdline === undefined)
    throw new KexecLabError("E_USAGE", "--reuse-cmdline needs --host with a cmdline.txt", {
      field: "--reuse-cmdline",
    });
  const input: PlanInput = {
    arch,
    loader,
    ...(host !== undefined ? hostPlanFields(host, arch, loader) : {}),
    ...files,
  };
  if (inputs.purgatory !== undefined) input.purgatory = inputs.purgatory;
  if (iomemText !== undefined) {
    input.iomem = iomemText;
    input.iomemName = inputs.iomem!.name;
  }
  // kexec-tools: --append and --reuse-cmdline combine (the old command line first, less BOOT_IMAGE and, for -p,
  // crashkernel=: get_command_line, per version).
  const append = [
    a.reuseCmdline ? kexecToolsReuseCmdline(host!.cmdline!, crash, toolsVersion) : undefined,
    a.append,
  ].filter((x) => x !== undefined);
  if (append.length > 0) input.append = append.join(" ");
  if (a.memMin !== undefined) input.memMin = toSafeNumber(parseSize(a.memMin, "--mem-min"), "--mem-min");
  if (a.memMax !== undefined) input.memMax = toSafeNumber(parseSize(a.memMax, "--mem-max"), "--mem-max");
  if (crash) input.crash = true;
  input.kexecToolsVersion = autoVersion;
  if (a.debug) input.kexecDebug = true;
  if (a.x86Entry !== undefined) input.x86Entry = a.x86Entry;
  if (a.elfArgs !== undefined) input.elfArgs = a.elfArgs;
  // kexec-tools reads the memory ranges before it places anything: they are printed even when
  // the load then fails.
  const out: string[] = [];
  if (a.debug && loader !== "kexec-file") {
    if (arch === "x86_64") {
      if (host?.memmap !== undefined)
        out.push(...x86MemoryRanges(host.memmap, `${host.source}/memmap.txt`).lines);
      else
        stderr.push(
          "kexec-lab: no memmap.txt (--host): the MEMORY RANGES block is printed only from /sys/firmware/memmap\n",
        );
    } else {
      const iomem = iomemText ?? host?.iomem;
      const ck = crash && iomem !== undefined ? parseIomem(iomem).crashKernel.at(-1) : undefined;
      if (iomem !== undefined) out.push(...arm64MemoryRanges(iomem, ck).lines);
    }
  }
  let plan: ReturnType<typeof planLoad>;
  try {
    plan = gatedPlanLoad(input, inputs.gates ?? host?.gates ?? {}).plan;
  } catch (e) {
    // Refused at a kernel gate of kexec_load: kexec-tools had read the ranges and placed the load,
    // then prints the syscall's failure; refused by kexec-tools itself (-p without a reservation):
    // only its own lines, before any range was read.
    if (e instanceof GateRefusalError) {
      const ranges = e.refusal.syscall === "kexec_load" && e.refusal.by === "kernel" ? out : [];
      const lines = [...ranges, ...kexecToolsFailureText(e, arch, files.kernelName ?? "kernel", crash)];
      return { stdout: lines.length > 0 ? `${lines.join("\n")}\n` : "", stderr, error: e };
    }
    // The error is kexec_load's when kexec_load came first, or when kexec_file_load's errno is
    // one kexec-tools falls back on (the error then is the fallback's): the ranges were read.
    const choice = syscallPlan(loader, autoVersion);
    const errno = e instanceof KexecLabError ? kexecFileErrno(arch, e) : undefined;
    const viaKexecLoad =
      choice.first === "kexec-tools" ||
      (choice.fallback && errno !== undefined && (FALLBACK_ERRNOS as readonly string[]).includes(errno));
    // kexec-tools checks for a crash region before it reads the memory ranges.
    if (!viaKexecLoad || (e instanceof KexecLabError && e.code === "E_CRASH_NOT_RESERVED")) out.length = 0;
    out.push(...kexecToolsFailureText(e, arch, files.kernelName ?? "kernel", crash));
    return { stdout: out.length > 0 ? `${out.join("\n")}\n` : "", stderr, error: e };
  }
  // kexec_load's ranges are read only on the kexec_load path (also after a fallback).
  if (plan.loader !== "kexec-tools") out.length = 0;
  if (a.debug && plan.loader === "kexec-tools") {
    if (input.purgatory === undefined)
      stderr.push(
        "kexec-lab: the purgatory segment's size and purgatory_start (the entry) are a model: give --kexec-binary (the kexec-path.txt of a collected host names it) or --purgatory for your kexec's own\n",
      );
    out.push(
      ...formatKexecLoad(
        plan.entry,
        kexecLoadFlags(arch, crash),
        plan.segments.map((s) => ({ mem: s.mem, memsz: s.memsz, bufsz: segmentBufszOf(s) })),
      ),
    );
  } else if (a.debug) {
    stderr.push(
      `kexec-lab: kexec-tools prints no segment table for a kexec_file_load with -d (the kernel chooses the addresses; see \`kexec-lab plan --loader kexec-file\`); ${plan.selection}\n`,
    );
  }
  if (a.noCma) stderr.push("kexec-lab: --no-cma changes nothing before Linux 6.17 (KEXEC_FILE_NO_CMA)\n");
  return { stdout: out.length > 0 ? `${out.join("\n")}\n` : "", stderr, accepted: plan.verdict.ok };
}
