/**
 * Node-only: read the files of a plan (kernel, initrd, DTB, iomem) into a PlanInput. For the CLI
 * commands `plan`, `run` and the commands built on plans; the library's planLoad takes bytes.
 *
 * Every file is first checked against the option it was given to (checkInputRole: a DTB passed as
 * --iomem is named as a DTB). A wrapped kernel (EFI zboot, UKI, compressed) is read whole and unwrapped
 * with the library's unwrapKernel (no node:zlib): the plan places the kernel inside and judges the file
 * the user gave (kernelFormat). A UKI's .initrd is used when no --initrd is given, as kexec-tools
 * (kexec/kexec-uki.c implicit_initrd_fd) and systemd do.
 * With `sizesOnly` (placement needs only headers and sizes) large files are not read: a plain Image's
 * or bzImage's first ROLE_HEAD_BYTES and its size (the rest of the array is zeros; an ELF or wrapped
 * kernel is read whole, since its layout needs the whole file), the initrd's size from stat.
 * Zero-filled arrays are not touched by planLoad, so the operating system never backs them with memory.
 */

import { KexecLabError } from "../../errors.js";
import type { Arch } from "../../kimage/constants.js";
import type { PlanInput } from "../../loader/plan.js";
import { formatBytes } from "../../report/format.js";
import type { DecompressOptions } from "../decompress.js";
import { detectKind } from "../detect.js";
import { checkInputRole, kernelArchOf, ROLE_HEAD_BYTES } from "../role.js";
import { describeLayers, type UnwrappedKernel, unwrapKernel } from "../unwrap.js";
import { inputFileSize, readInputFile as readBytes, readFileHead } from "./files.js";

export interface PlanFiles {
  kernel: string;
  initrd?: string;
  /** An initrd of this many bytes (zeros) instead of a file: --initrd-size. */
  initrdSize?: number;
  dtb?: string;
  iomem?: string;
}

export interface ReadPlanOptions extends Pick<DecompressOptions, "onProgress" | "maxOutput"> {
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
      `${what} of ${formatBytes(size)}: kexec-lab holds at most 4 GiB - 1 byte in one segment (a typed array's limit in V8)`,
      file !== undefined ? { file } : { field: what },
      "this limit is fixed (--max-memory does not raise it): give a segment under 4 GiB",
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
      `${option} is ${formatBytes(size)}; a ${role === "dtb" ? "DTB" : "memory map dump"} is kilobytes`,
      { file: path },
    );
  }
  return readBytes(path);
}

/**
 * The kernel file, unwrapped: a plain Image or bzImage whole, or with sizesOnly its header and size
 * (zeros after the header); anything else (ELF, EFI zboot, UKI, compressed) read whole and peeled
 * with unwrapKernel (errors: unwrapKernel's, E_LIMIT past the decompression cap).
 */
export async function readKernelFile(path: string, opts: ReadPlanOptions = {}): Promise<UnwrappedKernel> {
  const head = readFileHead(path, ROLE_HEAD_BYTES);
  checkInputRole(head, "kernel", path);
  const kind = detectKind(head);
  if (opts.sizesOnly && (kind === "arm64-image" || kind === "bzimage")) {
    const size = inputFileSize(path);
    const out = zeros(size, "kernel", path);
    out.set(head.subarray(0, Math.min(head.length, size)));
    return { format: { kind: "other" }, layers: [], kernel: out };
  }
  const { sizesOnly: _, ...dopts } = opts;
  return unwrapKernel(readBytes(path), path, dopts);
}

/** The architecture a kernel file implies (its first bytes; a wrapped kernel other than zboot is not looked into). */
export function kernelFileArch(path: string): Arch | undefined {
  return kernelArchOf(readFileHead(path, ROLE_HEAD_BYTES));
}

/** The file-derived fields of a PlanInput (the caller adds arch, loader, append, ...). */
export async function readPlanFiles(
  files: PlanFiles,
  opts: ReadPlanOptions = {},
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
  const u = await readKernelFile(files.kernel, opts);
  const out: Awaited<ReturnType<typeof readPlanFiles>> = { kernel: u.kernel, kernelName: files.kernel };
  if (u.layers.length > 0) {
    out.kernelFormat = u.format;
    out.unwrapped = describeLayers(u.layers);
  }
  if (files.initrd !== undefined) {
    checkInputRole(readFileHead(files.initrd, ROLE_HEAD_BYTES), "initrd", files.initrd);
    out.initrd = opts.sizesOnly
      ? zeros(inputFileSize(files.initrd), "initrd", files.initrd)
      : readBytes(files.initrd);
    out.initrdName = files.initrd;
  } else if (files.initrdSize !== undefined) {
    out.initrd = zeros(files.initrdSize, "--initrd-size");
    out.initrdName = `(${files.initrdSize} bytes)`;
  } else if (u.initrd !== undefined) {
    out.initrd = u.initrd;
    out.initrdName = `${files.kernel} (.initrd)`;
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
