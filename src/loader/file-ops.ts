/**
 * The shapes of the loader registry (registry.ts): one entry per kernel format, as the two tools
 * build their tables.
 *
 * - kexec-tools (kexec_load): `struct file_type` (kexec/kexec.h) { name, probe, load, usage }, one
 *   array per architecture (kexec/arch/<arch>/kexec-<arch>.c file_type[]). kexec/kexec.c my_load
 *   probes the file with each entry in order and loads it with the first whose probe takes it
 *   ("Cannot determine the file type" when none does).
 * - the kernel (kexec_file_load): `struct kexec_file_ops` (include/linux/kexec.h) { probe, load,
 *   cleanup, verify_sig }, one array per architecture (arch/<arch>/kernel/machine_kexec_file.c
 *   kexec_file_loaders[]). kernel/kexec_file.c kexec_image_probe_default probes with each in order;
 *   the first whose probe returns 0 loads the image; when none does, the syscall fails with the last
 *   probe's errno.
 *
 * Adding a kernel format is adding one entry to a table; a rule that differs by version goes inside
 * the entry's load (the MachineView carries the versions). Browser-safe.
 */

import type { FileKind } from "../formats/detect.js";
import type { Fdt } from "../formats/fdt.js";
import type { MemoryMap } from "../machine/memmap.js";
import type { Range } from "../machine/ranges.js";
import type { Ctx } from "./context.js";
import type { KhoChosen } from "./kexec-file/kho.js";
import type { MachineView } from "./machine-view.js";
import type { BootHazard, Plan, PlannedSegment } from "./types.js";

/** The kernel file a probe looks at: its bytes, its name, its kind (src/formats/detect.ts). */
export interface KernelFile {
  bytes: Uint8Array;
  name?: string;
  kind: FileKind | undefined;
  /** Where a message about the file points (its name and offset 0). */
  where: { file?: string; offset: number };
  /** Headers already parsed by a probe, by format, so the next probe does not parse them again. */
  parsed: Map<string, unknown>;
}

/** What one load gives besides its segments (they are in ctx.segments). */
export type LoadResult = Pick<
  Plan,
  "entry" | "kernelEntry" | "dtbAddress" | "initrd" | "patchedDtb" | "cmdline"
>;

/** What every entry's load reads: the shared placement state, the machine, the DTB, the crash region. */
export interface LoadArgs {
  ctx: Ctx;
  view: MachineView;
  /** The machine's memory map (memory.ts memoryMapFor). */
  map: MemoryMap;
  dtb: Fdt | undefined;
  /** The crash kernel region of a crash load (kexec -p), else undefined. */
  crashRegion: Range | undefined;
  /** kexec_file_load with KHO on: the scratch table the kernel added first (kexec-file/kho.ts). */
  kho?: KhoChosen | undefined;
}

/**
 * kexec-tools' struct file_type. `probe` returns the parsed kernel when this loader takes the file and
 * undefined when it does not (the next entry is tried); it throws a catalogued error where kexec-lab
 * names a reason the file cannot be loaded at all (an ELF for another machine). `load` places the
 * segments (add_buffer -> locate_hole). `K` is the parsed kernel the probe hands to load.
 */
export interface FileType<K = unknown> {
  /** The name kexec-tools gives the entry ("Image", "bzImage64", ...; `kexec --type`). */
  name: string;
  /** The kexec-tools file and function of probe and load. */
  source: string;
  probe(file: KernelFile): K | undefined;
  load(args: LoadArgs, kernel: K): LoadResult;
  /** The options this loader reads (its usage() in kexec-tools, as far as kexec-lab models them). */
  usage: string;
  /** Segments the loaded kernel damages at boot (boot-hazards.ts), checked after placement. */
  bootHazards?(segments: readonly PlannedSegment[], kernel: K): BootHazard[];
}

/** A kexec_file_ops probe's refusal: the errno the syscall returns and why. */
export interface ProbeRefusal {
  errno: "EINVAL" | "ENOEXEC";
  reason: string;
}

/**
 * The kernel's struct kexec_file_ops. `probe` answers from the file's kind (0 in the kernel: the
 * parsed kernel here; or the refusal with its errno); `load` places the segments (kexec_add_buffer ->
 * kexec_locate_mem_hole); `verifySig` names the signature check the entry has (checked by the
 * signature gate, src/gates/signature.ts, with src/signature).
 */
export interface KexecFileOps<K = unknown> {
  /** The kernel's name of the ops ("kexec_image_ops", "kexec_bzImage64_ops"). */
  name: string;
  /** The kernel file of probe and load. */
  source: string;
  /** undefined when the file is of a kind this probe takes (then `parse` reads it), else the refusal. */
  probe(kind: FileKind | undefined): ProbeRefusal | undefined;
  /** Read the header of a file the probe took (E_FORMAT_CORRUPT where it is broken). */
  parse(file: KernelFile): K;
  load(args: LoadArgs, kernel: K): LoadResult;
  /** The verify_sig of the ops and the config item that builds it in. */
  verifySig: { fn: string; config: string };
  bootHazards?(segments: readonly PlannedSegment[], kernel: K): BootHazard[];
}
