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
