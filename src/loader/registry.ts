/**
 * The loader registry: for one syscall and architecture, which entry takes the kernel file, chosen as
 * the tools choose it (file-ops.ts): kexec_load walks kexec-tools' file_type[] (kexec-tools/
 * file-types.ts FILE_TYPES) and takes the first entry whose probe takes the file; kexec_file_load walks
 * the kernel's kexec_file_loaders[] (kexec-file/loaders.ts KEXEC_FILE_LOADERS) the same way and fails
 * with the probe's errno when none does. Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import { KernelRefusal } from "./auto.js";
import type { FileType, KernelFile, KexecFileOps, LoadArgs, LoadResult, ProbeRefusal } from "./file-ops.js";
import { KEXEC_FILE_LOADERS } from "./kexec-file/loaders.js";
import { FILE_TYPE_KINDS, FILE_TYPES } from "./kexec-tools/file-types.js";
import type { BootHazard, PlacedBy, PlannedSegment } from "./types.js";

export { KEXEC_FILE_LOADERS } from "./kexec-file/loaders.js";
export { FILE_TYPE_KINDS, FILE_TYPES } from "./kexec-tools/file-types.js";

/** The entry that takes the file, with the parsed kernel bound to it. */
export interface ChosenLoader {
  /** "kexec-tools file_type Image", "kernel kexec_file_ops kexec_bzImage64_ops", ... */
  name: string;
  source: string;
  load(args: LoadArgs): LoadResult;
  bootHazards(segments: readonly PlannedSegment[]): BootHazard[];
}

function bind<K>(name: string, entry: FileType<K> | KexecFileOps<K>, kernel: K): ChosenLoader {
  return {
    name,
    source: entry.source,
    load: (args) => entry.load(args, kernel),
    bootHazards: (segments) => entry.bootHazards?.(segments, kernel) ?? [],
  };
}

/**
 * kexec-tools' my_load: the first file_type whose probe takes the file. E_KERNEL_UNSUPPORTED when none
 * does (kexec-tools: "Cannot determine the file type"), or when a probe names why the file cannot be
 * loaded (an ELF for another machine).
 */
export function probeFileTypes(arch: Arch, file: KernelFile): ChosenLoader {
  for (const t of FILE_TYPES[arch]) {
    const kernel = t.probe(file);
    if (kernel !== undefined) return bind(`kexec-tools file_type ${t.name}`, t, kernel);
  }
  throw new KexecLabError(
    "E_KERNEL_UNSUPPORTED",
    `${arch} loads ${FILE_TYPE_KINDS[arch]}; this file is ${file.kind ?? "not a kernel"}`,
    file.where,
  );
}

/**
 * The kernel's kexec_image_probe_default: the first kexec_file_ops whose probe takes the file, its
 * header read. KernelRefusal (E_SYSCALL_REFUSED) with the probe's errno when none does.
 */
export function probeKexecFileLoaders(arch: Arch, file: KernelFile): ChosenLoader {
  let refusal: ProbeRefusal | undefined;
  for (const ops of KEXEC_FILE_LOADERS[arch]) {
    refusal = ops.probe(file.kind);
    if (refusal === undefined) return bind(`kernel kexec_file_ops ${ops.name}`, ops, ops.parse(file));
  }
  throw new KernelRefusal(
    refusal?.errno ?? "ENOEXEC",
    refusal?.reason ?? `no kexec_file loader for ${arch}`,
    file.where,
  );
}

/** The loader of one syscall's attempt for the file. */
export function chooseLoader(loader: PlacedBy, arch: Arch, file: KernelFile): ChosenLoader {
  return loader === "kexec-file" ? probeKexecFileLoaders(arch, file) : probeFileTypes(arch, file);
}
