/**
 * `kexec-lab inspect`'s verdicts on a kernel file: which loader path takes it with a given kexec-tools
 * release, and what `kexec -l` does (src/loader/accept.ts). Browser-safe.
 */

import type { KernelFileFormat } from "../formats/unwrap.js";
import { acceptance, autoLoad, LOADER_PATHS } from "../loader/accept.js";

/** The architecture a kernel file is for, from its innermost format. */
export function kernelFormatArch(f: KernelFileFormat): "arm64" | "x86_64" | undefined {
  switch (f.kind) {
    case "arm64-image":
      return "arm64";
    case "bzimage":
      return "x86_64";
    case "elf":
      return f.arch === "unknown" ? undefined : f.arch;
    case "compressed":
    case "zboot":
    case "uki":
      return kernelFormatArch(f.inner);
    default:
      return undefined;
  }
}

/**
 * Adds `loaders` (each loader path's outcome, errno, unwrapping steps and reason) and `kexecCommand` (what
 * `kexec -l` does, autoLoad) to an inspect summary of a kernel whose arch is known, as kexec-tools
 * `version` judges it; a summary of anything else is left as it is.
 */
export function judgeLoaders(summary: Record<string, unknown>, version: string): void {
  const format = summary.kernelFormat as KernelFileFormat | undefined;
  const arch = format ? kernelFormatArch(format) : undefined;
  if (format === undefined || arch === undefined) return;
  summary.loaders = LOADER_PATHS.map((p) => {
    const a = acceptance(arch, format, p, version);
    return {
      loader: p,
      outcome: a.outcome,
      errno: a.errno ?? null,
      unwrap: a.unwrap.join("; ") || null,
      reason: a.reason,
    };
  });
  summary.kexecCommand = autoLoad(arch, format, version).summary;
}
