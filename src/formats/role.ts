/**
 * First contact with a user's files: is this file the kind the option wants ("this is a DTB, not an
 * /proc/iomem dump"), which architecture does a kernel file imply, and which names of an architecture
 * do people type (uname -m's aarch64/x86_64, Debian's arm64/amd64). Looks at a file's first bytes only
 * (ROLE_HEAD_BYTES), so a caller can check a large file before reading the rest of it.
 */

import { emptyFileError, KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import { detectKind, type FileKind } from "./detect.js";

/** How many leading bytes checkInputRole and kernelArchOf look at. */
export const ROLE_HEAD_BYTES = 64 * 1024;

/** The inputs of a load, as the options name them. */
export type InputRole = "kernel" | "initrd" | "dtb" | "iomem";

const ROLE_NAMES: Record<InputRole, string> = {
  kernel:
    "a kernel (arm64 Image, x86_64 bzImage, ELF64 vmlinux, EFI zboot image, UKI, or a compressed Image)",
  initrd: "an initrd",
  dtb: "a DTB (flattened device tree)",
  iomem: "a /proc/iomem or /sys/firmware/memmap dump",
};

const KIND_NAMES: Record<FileKind, string> = {
  "arm64-image": "an arm64 kernel Image",
  bzimage: "an x86_64 bzImage kernel",
  elf64: "an ELF file",
  dtb: "a DTB (flattened device tree)",
  iomem: "a /proc/iomem or /sys/firmware/memmap dump",
  zboot: "an EFI zboot kernel image",
  uki: "a unified kernel image (UKI)",
  pe: "a PE/COFF (EFI) file",
  compressed: "a compressed file (gzip, zstd, xz, lzma, lz4, bzip2 or lzo)",
};

/** A human name for what detectKind found ("a DTB (flattened device tree)"), or "not a format kexec-lab knows". */
export function describeKind(kind: FileKind | undefined): string {
  return kind === undefined ? "not a format kexec-lab knows" : KIND_NAMES[kind];
}

/** The kinds each role accepts; anything else detectKind recognises is the wrong file. */
const ACCEPTS: Record<InputRole, readonly (FileKind | undefined)[]> = {
  kernel: ["arm64-image", "bzimage", "elf64", "zboot", "uki", "pe", "compressed"],
  // An initrd is a cpio archive, compressed or not: anything but a file we know to be something else.
  initrd: [undefined, "compressed"],
  dtb: ["dtb"],
  iomem: ["iomem"],
};

/**
 * Throw E_WRONG_FILE when `head` (a file's first bytes; ROLE_HEAD_BYTES are enough) is a kind of file
 * kexec-lab recognises but `role` does not take: "this is a DTB (flattened device tree), not a
 * /proc/iomem ... dump". A file of no known kind is left to the role's own parser, which says what it
 * expected without echoing the bytes.
 */
export function checkInputRole(head: Uint8Array, role: InputRole, file?: string, option?: string): void {
  if (head.length === 0) throw emptyFileError(file, option ?? `--${role}`);
  const kind = detectKind(head);
  if (kind === undefined && role !== "initrd") return;
  if (ACCEPTS[role].includes(kind)) return;
  const right = Object.entries(ACCEPTS)
    .filter(([r, kinds]) => r !== "initrd" && kinds.includes(kind))
    .map(([r]) => `--${r}`);
  const suggestion = right.length > 0 ? `; did you mean to pass it as ${right.join(" or ")}?` : "";
  throw new KexecLabError(
    "E_WRONG_FILE",
    `${option ?? `--${role}`} wants ${ROLE_NAMES[role]}: this is ${describeKind(kind)}${suggestion}`,
    file !== undefined ? { file } : {},
  );
}

/** The architecture a kernel file implies from its first bytes: Image -> arm64, bzImage -> x86_64, ELF by e_machine. */
export function kernelArchOf(head: Uint8Array): Arch | undefined {
  const kind = detectKind(head);
  if (kind === "arm64-image" || kind === "zboot") return "arm64"; // EFI zboot: arm64 of the two arches modelled
  if (kind === "bzimage") return "x86_64";
  if (kind === "elf64" && head.length >= 20) {
    const le = head[5] === 1;
    const machine = le ? head[18]! | (head[19]! << 8) : (head[18]! << 8) | head[19]!;
    if (machine === 183) return "arm64"; // EM_AARCH64
    if (machine === 62) return "x86_64"; // EM_X86_64
  }
  return undefined;
}

/** Architecture names as uname -m, Debian and the kernel spell them. */
const ARCH_ALIASES: Record<string, Arch> = {
  arm64: "arm64",
  aarch64: "arm64",
  x86_64: "x86_64",
  amd64: "x86_64",
  "x86-64": "x86_64",
  x64: "x86_64",
};

/** All names parseArch accepts. */
export const ARCH_NAMES: readonly string[] = Object.keys(ARCH_ALIASES);

/** "aarch64", "arm64", "amd64", "x86_64" (any case) as an Arch; anything else E_USAGE naming the accepted ones. */
export function parseArch(text: string): Arch {
  const a = ARCH_ALIASES[text.trim().toLowerCase()];
  if (a === undefined) {
    throw new KexecLabError(
      "E_USAGE",
      `--arch "${text}" is not an architecture kexec-lab models (accepted: ${ARCH_NAMES.join(", ")})`,
      { field: "--arch" },
    );
  }
  return a;
}
