/**
 * Node-only: read the files of a plan (kernel, initrd, DTB, iomem) into a PlanInput, inflating a
 * gzip-compressed kernel. For the CLI commands `plan`, `run` and the commands built on plans; the
 * library's planLoad takes bytes.
 *
 * Every file is first checked against the option it was given to (checkInputRole: a DTB passed as
 * --iomem is named as a DTB). With `sizesOnly` (placement needs only headers and sizes) large files are
 * not read: the kernel's first ROLE_HEAD_BYTES and its size (the rest of the array is zeros; an ELF or
 * gzip kernel is read whole, since its layout needs the whole file), the initrd's size from stat.
 * Zero-filled arrays are not touched by planLoad, so the operating system never backs them with memory.
 */

import { KexecLabError } from "../../errors.js";
import type { Arch } from "../../kimage/constants.js";
import type { PlanInput } from "../../loader/plan.js";
import { isGzip } from "../detect.js";
import { isElf } from "../elf.js";
import { checkInputRole, kernelArchOf, ROLE_HEAD_BYTES } from "../role.js";
import { maybeGunzip } from "./decompress.js";
import { inputFileSize, readInputFile as readBytes, readFileHead } from "./files.js";

export interface PlanFiles {
  kernel: string;
  initrd?: string;
  /** An initrd of this many bytes (zeros) instead of a file: --initrd-size. */
  initrdSize?: number;
  dtb?: string;
  iomem?: string;
}

export interface ReadPlanOptions {
  /** Read only what placement needs (headers and sizes); the segment contents are zeros. */
  sizesOnly?: boolean;
}

/** A whole file as bytes; a missing or unreadable file is E_FILE_READ naming it. */
export { readInputFile as readBytes } from "./files.js";

/** Largest DTB or iomem dump read (both are kilobytes; a bigger file is the wrong file). */
export const MAX_SMALL_INPUT = 64 * 1024 * 1024;
/** Largest size-only buffer: a typed array's limit in V8 (4 GiB - 1). */
export const MAX_SIZE_ONLY = 2 ** 32 - 1;

/** `size` zero bytes standing for a file's contents (E_LIMIT past what one array holds). */
function zeros(size: number, what: string, file?: string): Uint8Array {
  if (size > MAX_SIZE_ONLY) {
    throw new KexecLabError(
      "E_LIMIT",
      `${what} of ${size} bytes: kexec-lab holds at most ${MAX_SIZE_ONLY} bytes in one segment`,
      file !== undefined ? { file } : { field: what },
    );
  }
  return new Uint8Array(size);
}

function readSmall(path: string, option: string, role: "dtb" | "iomem"): Uint8Array {
  checkInputRole(readFileHead(path, ROLE_HEAD_BYTES), role, path, option);
  const size = inputFileSize(path);
  if (size > MAX_SMALL_INPUT) {
    throw new KexecLabError(
      "E_WRONG_FILE",
      `${option} is ${size} bytes; a ${role === "dtb" ? "DTB" : "memory map dump"} is kilobytes`,
      { file: path },
    );
  }
  return readBytes(path);
}

/** The kernel file's bytes: whole (gzip inflated), or with sizesOnly its header and size. */
export function readKernelFile(path: string, opts: ReadPlanOptions = {}): Uint8Array {
  const head = readFileHead(path, ROLE_HEAD_BYTES);
  checkInputRole(head, "kernel", path);
  if (!opts.sizesOnly || isGzip(head) || isElf(head)) return maybeGunzip(readBytes(path), path);
  const size = inputFileSize(path);
  const out = zeros(size, "kernel", path);
  out.set(head.subarray(0, Math.min(head.length, size)));
  return out;
}

/** The architecture a kernel file implies (its first bytes; a gzip kernel is not looked into). */
export function kernelFileArch(path: string): Arch | undefined {
  return kernelArchOf(readFileHead(path, ROLE_HEAD_BYTES));
}

/** The file-derived fields of a PlanInput (the caller adds arch, loader, append, ...). */
export function readPlanFiles(
  files: PlanFiles,
  opts: ReadPlanOptions = {},
): Pick<
  PlanInput,
  "kernel" | "kernelName" | "initrd" | "initrdName" | "dtb" | "dtbName" | "iomem" | "iomemName"
> {
  const out: ReturnType<typeof readPlanFiles> = {
    kernel: readKernelFile(files.kernel, opts),
    kernelName: files.kernel,
  };
  if (files.initrd !== undefined) {
    checkInputRole(readFileHead(files.initrd, ROLE_HEAD_BYTES), "initrd", files.initrd);
    out.initrd = opts.sizesOnly
      ? zeros(inputFileSize(files.initrd), "initrd", files.initrd)
      : readBytes(files.initrd);
    out.initrdName = files.initrd;
  } else if (files.initrdSize !== undefined) {
    out.initrd = zeros(files.initrdSize, "--initrd-size");
    out.initrdName = `(${files.initrdSize} bytes)`;
  }
  if (files.dtb !== undefined) {
    out.dtb = readSmall(files.dtb, "--dtb", "dtb");
    out.dtbName = files.dtb;
  }
  if (files.iomem !== undefined) {
    out.iomem = new TextDecoder().decode(readSmall(files.iomem, "--iomem", "iomem"));
    out.iomemName = files.iomem;
  }
  return out;
}
