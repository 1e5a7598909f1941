/**
 * The hook between planLoad and the acceptance table (accept.ts): before placing anything, does the
 * chosen loader take this kernel file with this kexec-tools version? A refusal is E_KERNEL_UNSUPPORTED
 * naming who refuses, the errno, and what `kexec -l` (auto) would do instead; an acceptance returns
 * the notes the plan prints (what was unwrapped, and which rule said so).
 */

import { KexecLabError } from "../errors.js";
import { type KernelFileFormat, rawFormat } from "../formats/unwrap.js";
import type { Arch } from "../kimage/constants.js";
import { acceptance, autoLoad, LATEST_KEXEC_TOOLS, type LoaderPath } from "./accept.js";
import { callerOf } from "./caller.js";
import type { PlacedBy, PlanInput } from "./types.js";

export interface AcceptanceInput {
  arch: Arch;
  /** kexec-lab's placement rules: kexec-tools' kexec_load, or the kernel's kexec_file_load. */
  loader: "kexec-tools" | "kexec-file";
  kernel: Uint8Array;
  kernelName?: string;
  /** The format of the file the user gave, when the caller unwrapped it (unwrapKernel().format). */
  kernelFormat?: KernelFileFormat;
  /** What the caller did to reach `kernel` (describeLayers()). */
  unwrapped?: string[];
  /** kexec-tools release whose rules apply (default LATEST_KEXEC_TOOLS). */
  kexecToolsVersion?: string;
  /** Who calls kexec_file_load: kexec-tools (`kexec -s`, default) or systemd (`systemctl kexec`). */
  via?: "kexec-tools" | "systemd";
}

/** The loader path of accept.ts for a plan's loader choice. */
export function loaderPathFor(
  loader: "kexec-tools" | "kexec-file",
  via: "kexec-tools" | "systemd" = "kexec-tools",
): LoaderPath {
  if (loader === "kexec-tools") return "kexec-tools:kexec_load";
  return via === "systemd" ? "systemd:kexec_file_load" : "kexec-tools:kexec_file_load";
}

/**
 * Throws E_KERNEL_UNSUPPORTED when the loader refuses the file; otherwise returns notes for the plan.
 * A file kexec-lab has not unwrapped (kernelFormat absent) is judged by its raw format.
 */
export function checkAcceptance(input: AcceptanceInput): string[] {
  const version = input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS;
  const format = input.kernelFormat ?? rawFormat(input.kernel);
  if (format.kind === "other") return []; // planLoad's own "not a kernel" error names the file
  const path = loaderPathFor(input.loader, input.via);
  const a = acceptance(input.arch, format, path, version);
  const tool = path.startsWith("systemd") ? "systemd" : `kexec-tools ${version}`;
  if (a.outcome === "refused") {
    const inner0 = innermost(format);
    const field = inner0.kind === "bzimage" ? inner0.field : undefined;
    const auto = path.startsWith("systemd") ? "" : ` ${autoLoad(input.arch, format, version).summary}.`;
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      `${path} (${tool}) refuses this kernel: ${a.reason}${a.errno ? ` (${a.refusedBy} returns ${a.errno})` : ""}.${auto} Source: ${a.sources.join("; ")}`,
      {
        ...(input.kernelName !== undefined ? { file: input.kernelName } : {}),
        offset:
          field === "loadflags" ? 0x211 : field === "xloadflags" ? 0x236 : field === "version" ? 0x206 : 0,
        ...(field !== undefined ? { field } : {}),
      },
    );
  }
  const inner = innermost(format);
  const notes: string[] = [];
  if (inner.kind === "bzimage" && !inner.bzImage64)
    notes.push(
      `${path} (${tool}): bzImage64_probe refuses it (${inner.why64 ?? ""}); bzImage_probe takes it, so kexec-tools' 32-bit bzImage loader places it (${a.sources[0]})`,
    );
  if (a.outcome === "unwrapped") {
    notes.push(`${path} (${tool}) unwraps the file first: ${a.unwrap.join("; ")} (${a.sources[0]})`);
    for (const u of input.unwrapped ?? []) notes.push(`unwrapped by kexec-lab: ${u}`);
    notes.push("the segments are those of the unwrapped kernel");
  }
  return notes;
}

function innermost(f: KernelFileFormat): KernelFileFormat {
  return f.kind === "compressed" || f.kind === "zboot" || f.kind === "uki" ? innermost(f.inner) : f;
}

/** Refusals of a wrapped file that kexec-tools' -a does not fall back from (made before any syscall). */
export const NO_FALLBACK = new WeakSet<Error>();
/** The errno the kernel returns for a wrapped file it refuses (accept.ts), for the -a fallback rule. */
export const REFUSAL_ERRNO = new WeakMap<Error, string>();

/**
 * The acceptance table's judgement (accept.ts via plan-accept.ts checkAcceptance) for a file the
 * plain parsers do not place as given: an EFI zboot image, a UKI or a compressed kernel (unwrapped
 * by the caller: input.kernelFormat), or a bzImage that is not a bzImage64 (kexec-tools'
 * bzImage64_probe). Returns the notes of an accepted file; throws E_KERNEL_UNSUPPORTED naming who
 * refuses (kexec-tools before the syscall: final; the kernel: its errno decides the -a fallback).
 * A plain Image, bzImage64 or ELF is left to the loaders (kexecFileAcceptance and the placement code).
 */
export function judgeWrappedFile(input: PlanInput, loader: PlacedBy): string[] {
  const format = input.kernelFormat ?? rawFormat(input.kernel);
  const wrapped = format.kind === "compressed" || format.kind === "zboot" || format.kind === "uki";
  if (!wrapped && !(format.kind === "bzimage" && !format.bzImage64)) return [];
  try {
    return checkAcceptance({ ...input, kernelFormat: format, loader, via: callerOf(input) });
  } catch (e) {
    if (e instanceof KexecLabError && e.code === "E_KERNEL_UNSUPPORTED") {
      const version = input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS;
      const a = acceptance(input.arch, format, loaderPathFor(loader, callerOf(input)), version);
      if (loader === "kexec-file" && a.refusedBy === "kernel" && a.errno !== undefined)
        REFUSAL_ERRNO.set(e, a.errno);
      else NO_FALLBACK.add(e);
    }
    throw e;
  }
}
