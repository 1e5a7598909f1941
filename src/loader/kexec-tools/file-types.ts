/**
 * kexec-tools' file_type[] per architecture (kexec/arch/arm64/kexec-arm64.c,
 * kexec/arch/x86_64/kexec-x86_64.c): the loaders kexec_load goes through, in kexec-tools' order, each
 * with its probe and load. Entries kexec-tools has and kexec-lab does not model (arm64 uImage;
 * x86_64 multiboot, multiboot2, elf-x86, beoboot, nbi) are left out; a file none of the modelled
 * probes takes is E_KERNEL_UNSUPPORTED (FILE_TYPE_KINDS says what each architecture loads).
 */

import { KexecLabError } from "../../errors.js";
import { type Arm64Image, parseArm64Image } from "../../formats/arm64-image.js";
import { type BzImage, parseBzImage } from "../../formats/bzimage.js";
import { type Elf64, parseElf64 } from "../../formats/elf.js";
import type { Arch } from "../../kimage/constants.js";
import { bzImageHazards } from "../boot-hazards.js";
import type { FileType, KernelFile, LoadArgs } from "../file-ops.js";
import { crashRegionsAll } from "../memory.js";
import { arm64ElfKexecTools, arm64ImageKexecTools } from "./arm64.js";
import { x86BzImageKexecTools } from "./x86_64.js";
import { bzImage64Probe, doBzImageLoad } from "./x86-bzimage32.js";
import { elfX86_64Load } from "./x86-elf.js";

/** An ELF64 for `machine` ("AArch64", "x86_64"), or E_KERNEL_UNSUPPORTED naming the ELF's machine. */
function elfFor(file: KernelFile, arch: Arch, machine: string): Elf64 {
  const elf = parseElf64(file.bytes, file.name);
  if (elf.arch !== arch)
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      `an ELF kernel for machine ${elf.machine}, not ${machine}`,
      file.where,
    );
  return elf;
}

/** The x86 crash inputs of kexec-tools' load_crashdump_segments: every crash region and /proc/iomem. */
function x86Crash({ view, crashRegion }: LoadArgs) {
  return crashRegion ? { regions: crashRegionsAll(view, crashRegion), iomem: view.iomemFile } : undefined;
}

const elfArm64: FileType<Elf64> = {
  name: "vmlinux",
  source: "kexec-tools kexec/arch/arm64/kexec-elf-arm64.c elf_arm64_probe, elf_arm64_load",
  probe: (f) => (f.kind === "elf64" ? elfFor(f, "arm64", "AArch64") : undefined),
  load: ({ ctx, dtb, crashRegion, map, view }, elf) =>
    arm64ElfKexecTools(ctx, elf, dtb, crashRegion, map, view.iomemFile),
  usage: "--append, --reuse-cmdline, --initrd, --dtb",
};

const imageArm64: FileType<Arm64Image> = {
  name: "Image",
  source: "kexec-tools kexec/arch/arm64/kexec-image-arm64.c image_arm64_probe, image_arm64_load",
  probe: (f) => (f.kind === "arm64-image" ? parseArm64Image(f.bytes, f.name) : undefined),
  load: ({ ctx, dtb, crashRegion, map, view }, img) =>
    arm64ImageKexecTools(ctx, img, dtb, crashRegion, map, view.iomemFile),
  usage: "--append, --reuse-cmdline, --initrd, --dtb",
};

const elfX86_64: FileType<Elf64> = {
  name: "elf-x86_64",
  source: "kexec-tools kexec/arch/x86_64/kexec-elf-x86_64.c elf_x86_64_probe, elf_x86_64_load",
  probe: (f) => (f.kind === "elf64" ? elfFor(f, "x86_64", "x86_64") : undefined),
  load: (args, elf) => elfX86_64Load(args.ctx, elf, args.ctx.input.elfArgs ?? "elf", x86Crash(args)),
  usage: "--append, --reuse-cmdline, --initrd, --args-elf, --args-linux, --args-none",
};

/** The bzImage header both bzImage entries probe with, parsed once per file. */
function bzImageOf(f: KernelFile): BzImage {
  let bz = f.parsed.get("bzImage") as BzImage | undefined;
  if (bz === undefined) {
    bz = parseBzImage(f.bytes, f.name);
    f.parsed.set("bzImage", bz);
  }
  return bz;
}

const bzImage64: FileType<BzImage> = {
  name: "bzImage64",
  source: "kexec-tools kexec/arch/x86_64/kexec-bzImage64.c bzImage64_probe, bzImage64_load",
  probe(f) {
    if (f.kind !== "bzimage") return undefined;
    const bz = bzImageOf(f);
    return bzImage64Probe(bz) ? bz : undefined;
  },
  // bzImage64_load hands --entry-32bit and --real-mode to do_bzImage_load (x86-bzimage32.ts).
  load: (args, bz) => {
    const entry = args.ctx.input.x86Entry;
    return entry !== undefined
      ? doBzImageLoad(args.ctx, bz, entry, x86Crash(args))
      : x86BzImageKexecTools(args.ctx, bz, x86Crash(args));
  },
  usage: "--append, --reuse-cmdline, --initrd, --entry-32bit, --real-mode",
  bootHazards: bzImageHazards,
};

const bzImage: FileType<BzImage> = {
  name: "bzImage",
  source: "kexec-tools kexec/arch/i386/kexec-bzImage.c bzImage_probe, bzImage_load",
  probe: (f) => (f.kind === "bzimage" ? bzImageOf(f) : undefined),
  load: (args, bz) => doBzImageLoad(args.ctx, bz, args.ctx.input.x86Entry ?? "32bit", x86Crash(args)),
  usage: "--append, --reuse-cmdline, --initrd, --real-mode",
  bootHazards: bzImageHazards,
};

/** file_type[] per architecture, in kexec-tools' order. */
export const FILE_TYPES: Record<Arch, readonly FileType[]> = {
  arm64: [elfArm64, imageArm64] as FileType[],
  x86_64: [elfX86_64, bzImage64, bzImage] as FileType[],
};

/** What each architecture's modelled file_type[] loads, for the message when no probe takes a file. */
export const FILE_TYPE_KINDS: Record<Arch, string> = {
  arm64: "an Image or an ELF64 vmlinux",
  x86_64: "a bzImage or an ELF64 vmlinux",
};
