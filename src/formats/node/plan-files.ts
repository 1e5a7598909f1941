/**
 * Node-only: read the files of a plan (kernel, initrd, DTB, iomem) into a PlanInput, inflating a
 * gzip-compressed kernel. For the CLI commands `plan` and `run`; the library's planLoad takes bytes.
 */

import type { PlanInput } from "../../loader/plan.js";
import { maybeGunzip } from "./decompress.js";
import { readInputFile as readBytes } from "./files.js";

export interface PlanFiles {
  kernel: string;
  initrd?: string;
  dtb?: string;
  iomem?: string;
}

/** A whole file as bytes; a missing or unreadable file is E_FILE_READ naming it. */
export { readInputFile as readBytes } from "./files.js";

/** The file-derived fields of a PlanInput (the caller adds arch, loader, append, ...). */
export function readPlanFiles(
  files: PlanFiles,
): Pick<
  PlanInput,
  "kernel" | "kernelName" | "initrd" | "initrdName" | "dtb" | "dtbName" | "iomem" | "iomemName"
> {
  const out: ReturnType<typeof readPlanFiles> = {
    kernel: maybeGunzip(readBytes(files.kernel), files.kernel),
    kernelName: files.kernel,
  };
  if (files.initrd !== undefined) {
    out.initrd = readBytes(files.initrd);
    out.initrdName = files.initrd;
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
