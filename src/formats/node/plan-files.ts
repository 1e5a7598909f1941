/**
 * Node-only: read the files of a plan (kernel, initrd, DTB, iomem) into a PlanInput. The kernel is
 * unwrapped with the library's unwrapKernel (zboot, UKI, compressed; no node:zlib): the plan places
 * the kernel inside and judges the file the user gave (kernelFormat). A UKI's .initrd is used when no
 * --initrd is given, as kexec-tools (kexec/kexec-uki.c implicit_initrd_fd) and systemd do.
 * For the CLI commands `plan` and `run`; the library's planLoad takes bytes.
 */

import { readInputFile as readBytes } from "../../cli/files.js";
import type { PlanInput } from "../../loader/plan.js";
import type { DecompressOptions } from "../decompress.js";
import { describeLayers, unwrapKernel } from "../unwrap.js";

export interface PlanFiles {
  kernel: string;
  initrd?: string;
  dtb?: string;
  iomem?: string;
}

/** A whole file as bytes; a missing or unreadable file is E_FILE_READ naming it. */
export { readInputFile as readBytes } from "../../cli/files.js";

/** The file-derived fields of a PlanInput (the caller adds arch, loader, append, ...). */
export async function readPlanFiles(
  files: PlanFiles,
  opts: Pick<DecompressOptions, "onProgress" | "maxOutput"> = {},
): Promise<
  Pick<
    PlanInput,
    | "kernel"
    | "kernelName"
    | "initrd"
    | "initrdName"
    | "dtb"
    | "dtbName"
    | "iomem"
    | "iomemName"
    | "kernelFormat"
    | "unwrapped"
  >
> {
  const u = await unwrapKernel(readBytes(files.kernel), files.kernel, opts);
  const out: Awaited<ReturnType<typeof readPlanFiles>> = { kernel: u.kernel, kernelName: files.kernel };
  if (u.layers.length > 0) {
    out.kernelFormat = u.format;
    out.unwrapped = describeLayers(u.layers);
  }
  if (files.initrd !== undefined) {
    out.initrd = readBytes(files.initrd);
    out.initrdName = files.initrd;
  } else if (u.initrd !== undefined) {
    out.initrd = u.initrd;
    out.initrdName = `${files.kernel} (.initrd)`;
  }
  if (files.dtb !== undefined) {
    out.dtb = readBytes(files.dtb);
    out.dtbName = files.dtb;
  }
  if (files.iomem !== undefined) {
    out.iomem = new TextDecoder().decode(readBytes(files.iomem));
    out.iomemName = files.iomem;
  }
  return out;
}
