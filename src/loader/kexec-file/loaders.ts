/**
 * The kernel's kexec_file_loaders[] per architecture (arch/arm64/kernel/machine_kexec_file.c: one
 * entry, kexec_image_ops; arch/x86/kernel/machine_kexec_64.c: one entry, kexec_bzImage64_ops), each a
 * struct kexec_file_ops with its probe, load and verify_sig. kernel/kexec_file.c
 * kexec_image_probe_default tries them in order; none taking the file fails the syscall with the
 * probe's errno (arm64 image_probe: EINVAL; x86_64 bzImage64_probe: ENOEXEC). Further checks of an
 * accepted kind (bzImage64_probe's header flags, image_load's image_size) are made by the loads, which
 * report the same errnos.
 */

import { type Arm64Image, parseArm64Image } from "../../formats/arm64-image.js";
import { type BzImage, parseBzImage } from "../../formats/bzimage.js";
import type { Arch } from "../../kimage/constants.js";
import { bzImageHazards } from "../boot-hazards.js";
import type { KexecFileOps } from "../file-ops.js";
import { crashLowResFor, memblockRangesOutside, x86CrashRamRanges } from "../memory.js";
import { arm64ImageKexecFile } from "./arm64.js";
import { x86BzImageKexecFile } from "./x86_64.js";

const kexecImageOps: KexecFileOps<Arm64Image> = {
  name: "kexec_image_ops",
  source: "arch/arm64/kernel/kexec_image.c image_probe, image_load",
  probe: (kind) =>
    kind === "arm64-image"
      ? undefined
      : {
          errno: "EINVAL",
          reason: `arm64 kexec_file_load takes an Image; image_probe refuses ${kind ?? "this file"}`,
        },
  parse: (f) => parseArm64Image(f.bytes, f.name),
  load: ({ ctx, dtb, crashRegion, map, view, kho }, img) => {
    const low = crashRegion ? crashLowResFor(view, crashRegion) : undefined;
    return arm64ImageKexecFile(
      ctx,
      img,
      dtb,
      crashRegion
        ? {
            region: crashRegion,
            memRanges: memblockRangesOutside(view, map, crashRegion, low),
            ...(low !== undefined ? { low } : {}),
          }
        : undefined,
      kho,
    );
  },
  verifySig: {
    fn: "image_verify_sig -> kexec_kernel_verify_pe_sig",
    config: "CONFIG_KEXEC_IMAGE_VERIFY_SIG",
  },
};

const kexecBzImage64Ops: KexecFileOps<BzImage> = {
  name: "kexec_bzImage64_ops",
  source: "arch/x86/kernel/kexec-bzimage64.c bzImage64_probe, bzImage64_load",
  probe: (kind) =>
    kind === "bzimage"
      ? undefined
      : {
          errno: "ENOEXEC",
          reason: `x86_64 kexec_file_load takes a bzImage; bzImage64_probe refuses ${kind ?? "this file"}`,
        },
  parse: (f) => parseBzImage(f.bytes, f.name),
  load: ({ ctx, crashRegion, map, view }, bz) => {
    const entry = ctx.input.x86Entry;
    if (entry !== undefined)
      ctx.notes.push(
        `--${entry === "real-mode" ? "real-mode" : "entry-32bit"} applies to kexec_load only; kexec_file_load enters the kernel's 64-bit entry`,
      );
    return x86BzImageKexecFile(
      ctx,
      bz,
      view.kernelVersion,
      crashRegion ? { region: crashRegion, ramRanges: x86CrashRamRanges(view, map, crashRegion) } : undefined,
    );
  },
  verifySig: {
    fn: "bzImage64_verify_sig -> kexec_kernel_verify_pe_sig",
    config: "CONFIG_KEXEC_BZIMAGE_VERIFY_SIG",
  },
  bootHazards: bzImageHazards,
};

/** kexec_file_loaders[] per architecture, in the kernel's order. */
export const KEXEC_FILE_LOADERS: Record<Arch, readonly KexecFileOps[]> = {
  arm64: [kexecImageOps] as KexecFileOps[],
  x86_64: [kexecBzImage64Ops] as KexecFileOps[],
};
