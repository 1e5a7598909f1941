/**
 * The one error catalog. Every parser, loader and command reports bad input through `KexecLabError`
 * with a code from CATALOG, so the CLI can print one uniform line and exit 2, and tests can trigger
 * every code by name.
 *
 * A catalog entry has a short title (what went wrong, in general) and a hint (what the user can do).
 * The thrown error adds the specifics: the detail sentence and where it happened (file, offset, field).
 */

export interface CatalogEntry {
  readonly title: string;
  readonly hint: string;
}

export const CATALOG = {
  // --- generic input -------------------------------------------------------------------------------
  E_USAGE: { title: "invalid command line", hint: "run the command with --help to see its options" },
  E_FILE_READ: { title: "cannot read file", hint: "check that the path exists and is readable" },
  E_FILE_EMPTY: {
    title: "the file is empty",
    hint: "the file has no bytes: check the path, and that the file was written or copied completely",
  },
  E_FILE_EXISTS: {
    title: "output file exists",
    hint: "pass --force to overwrite it, or choose another path",
  },
  E_FILE_WRITE: { title: "cannot write file", hint: "check that the directory exists and is writable" },
  E_OUTPUT_KIND: {
    title: "output is not a regular file",
    hint: "name a new file or an existing regular file (a symbolic link to one is followed; emit --out takes a directory); a text output also takes - for standard output",
  },
  E_JSON_PARSE: { title: "malformed JSON", hint: "fix the JSON syntax at the position given" },
  E_FIELD_MISSING: { title: "missing field", hint: "add the field; see docs/scenario.md for the format" },
  E_FIELD_TYPE: { title: "field has the wrong type", hint: "see docs/scenario.md for the expected type" },
  E_FIELD_VALUE: { title: "field has an invalid value", hint: "see docs/scenario.md for the allowed values" },
  E_NUMBER_RANGE: {
    title: "number out of range",
    hint: "addresses and sizes are unsigned 64-bit integers (decimal or 0x-prefixed hex)",
  },
  E_UNKNOWN_ARCH: { title: "unknown architecture", hint: "use arm64 or x86_64" },
  E_ARCH_MISMATCH: {
    title: "architectures differ",
    hint: "kexec boots a kernel of the running machine's architecture: give a kernel and a --host (or --iomem/--dtb) of the same one",
  },
  E_PAGE_SIZE: { title: "unsupported page size", hint: "use 4096, 16384 or 65536 (x86_64: 4096 only)" },
  E_LIMIT: {
    title: "input exceeds a resource limit",
    hint: "shrink the input or raise the limit (e.g. --max-memory) if the machine can take it",
  },
  E_NOT_MODELED: {
    title: "not modeled",
    hint: "this case is outside what kexec-lab simulates; see docs/architecture.md",
  },
  E_STRATEGY: {
    title: "a relocation strategy failed",
    hint: "fix the strategy module named (docs/strategies.md lists what a strategy may do); run it from a checkout with tsx to see the stack",
  },
  E_STRATEGY_MODULE: {
    title: "not a relocation-strategy module",
    hint: "export a RelocationStrategy (name, arches, phase, prepare) from the module, as docs/strategies.md's example does",
  },
  // --- simulated machine ---------------------------------------------------------------------------
  E_RAM_LAYOUT: { title: "invalid memory map", hint: "RAM ranges must be page-aligned and must not overlap" },
  E_OUT_OF_MEMORY: {
    title: "the simulated machine ran out of free pages",
    hint: "give the machine more RAM or load smaller segments",
  },
  E_PHYS_FAULT: {
    title: "access outside RAM",
    hint: "a simulated access hit an address with no RAM behind it",
  },
  // --- real inputs (src/formats) and placement (src/loader) ----------------------------------------
  E_WRONG_FILE: {
    title: "this file is not what the option takes",
    hint: "pass each file to its own option: --kernel, --initrd, --dtb, --iomem (`kexec-lab inspect FILE` says what a file is)",
  },
  E_FORMAT_UNKNOWN: {
    title: "unrecognized file format",
    hint: "expected a kernel (arm64 Image, EFI zboot, UKI, compressed Image, bzImage, ELF64), a DTB or a /proc/iomem dump",
  },
  E_FORMAT_TRUNCATED: {
    title: "file is truncated",
    hint: "the file ends before a field it must contain; check that it was copied completely",
  },
  E_FORMAT_CORRUPT: {
    title: "file is corrupt",
    hint: "a header field has an impossible value; check the file (e.g. with `file` or `dtc -I dtb`)",
  },
  E_COMPRESSION_UNSUPPORTED: {
    title: "compression method not decodable",
    hint: "decompress the file with the method's own tool (e.g. lzop -d, unlzma) and pass the result",
  },
  E_KERNEL_UNSUPPORTED: {
    title: "kernel image not supported by this loader",
    hint: "the message names the loader that refuses and its source; try the other --loader, another --kexec-tools-version, or unwrap the file",
  },
  E_NO_MEMORY_MAP: {
    title: "no memory map",
    hint: "pass --iomem (a /proc/iomem or /sys/firmware/memmap dump), or a DTB with memory nodes on arm64",
  },
  E_NO_HOLE: {
    title: "no free memory range fits the segment",
    hint: "free memory, shrink the segment, or widen --mem-min/--mem-max",
  },
  E_CRASH_NOT_RESERVED: {
    title: "no crash kernel region is reserved",
    hint: "a crash load (-p) needs memory the running kernel reserved at boot: boot it with crashkernel=SIZE (or SIZE@OFFSET inside RAM), or model one with --crashkernel SIZE@OFFSET",
  },
  E_INITRD_WINDOW: {
    title: "image + initrd too big (32 GiB window)",
    hint: "arm64 needs kernel and initrd inside one 1 GiB-aligned 32 GiB window; use a smaller initrd",
  },
  E_DTB_TOO_BIG: {
    title: "dtb too big (2 MiB limit)",
    hint: "arm64 requires the DTB to be at most 2 MiB; remove nodes or padding (dtc -p 0)",
  },
  E_TOO_MANY_SEGMENTS: {
    title: "too many segments",
    hint: "kexec_load takes at most KEXEC_SEGMENT_MAX (16) segments",
  },
  E_DTB_KASLR_SEED: {
    title: "kaslr-seed in /chosen is not zero",
    hint: "kexec-tools refuses a DTB whose kaslr-seed was not wiped by a running kernel; pass --wipe-kaslr-seed to model a DTB read from /sys/firmware/fdt",
  },
  E_CMDLINE_TOO_LONG: {
    title: "kernel command line too long",
    hint: "shorten --append (arm64 kexec-tools: 2047 bytes; x86_64: the bzImage's cmdline_size)",
  },
  E_CRASHKERNEL_NOT_RESERVED: {
    title: "the kernel reserves no crash kernel region for this crashkernel=",
    hint: "`kexec-lab crashkernel --host DIR --crashkernel VALUE` shows each search and the kernel's log line; a smaller size, another offset or ,high may fit",
  },
  E_SYSCALL_REFUSED: {
    title: "the kernel refuses the load",
    hint: "the message names the errno the syscall returns; without -s/-c (--loader auto) kexec-tools falls back to kexec_load on ENOSYS, EINVAL, ENOEXEC and ENOTSUP",
  },
  E_GATE_REFUSED: {
    title: "the load is refused before it is placed",
    hint: "the message names the gate (capability, sysctl, lockdown, IMA, signature, ...), the errno and what lets the load through; docs/gates.md",
  },
  // --- translation tables (src/mmu) ----------------------------------------------------------------
  E_MAP_OVERLAP: {
    title: "mapping overlaps an existing mapping",
    hint: "map disjoint VA ranges, or pass overwrite to replace the existing leaves",
  },
  E_MAP_RANGE: {
    title: "mapping outside what the translation format can express",
    hint: "VA, PA and size must be granule-aligned, inside the VA range of the half and below 2^paBits",
  },
  // --- external tools (src/emit) ---------------------------------------------------------------------
  E_TOOL_MISSING: {
    title: "a required external tool is not installed",
    hint: "install it: apt-get install qemu-system-arm qemu-system-x86 binutils-aarch64-linux-gnu",
  },
  E_DOWNLOAD: {
    title: "cannot fetch a Debian package",
    hint: "check network access to the Debian archive the host's apt uses (KEXEC_LAB_DEBIAN_MIRROR names another); downloads are cached in RECORD_CACHE, default ~/.cache/kexec-lab/record (--cache DIR)",
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

/** Where an error is: any of file, byte offset within it, field path (e.g. `segments[2].memsz`). */
export interface ErrorWhere {
  file?: string;
  offset?: number;
  field?: string;
}

/**
 * Codes that mean the real kexec-tools or kernel would refuse the load (a failure kexec itself
 * reports: locate_hole finding no hole, an errno from the syscall, a file type no loader takes),
 * as opposed to input kexec-lab cannot use. The CLI exits 1 for these, 2 for the rest.
 */
export const REFUSAL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "E_KERNEL_UNSUPPORTED",
  "E_NO_HOLE",
  "E_CRASH_NOT_RESERVED",
  "E_INITRD_WINDOW",
  "E_DTB_TOO_BIG",
  "E_TOO_MANY_SEGMENTS",
  "E_DTB_KASLR_SEED",
  "E_CMDLINE_TOO_LONG",
  "E_SYSCALL_REFUSED",
  "E_CRASHKERNEL_NOT_RESERVED",
  "E_GATE_REFUSED",
]);

/** Codes whose catalogued hint points at a file format's doc, misleading for a command-line option. */
const OPTION_VALUE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "E_FIELD_MISSING",
  "E_FIELD_TYPE",
  "E_FIELD_VALUE",
  "E_NUMBER_RANGE",
]);

export class KexecLabError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly where: ErrorWhere;

  /** A hint for this occurrence where the code's catalogued hint would mislead (otherwise undefined). */
  readonly specificHint: string | undefined;

  constructor(code: ErrorCode, detail: string, where: ErrorWhere = {}, hint?: string) {
    super(`${CATALOG[code].title}: ${detail}${formatWhere(where)}`);
    this.name = "KexecLabError";
    this.code = code;
    this.detail = detail;
    this.where = where;
    this.specificHint = hint;
  }

  /**
   * What to do: this occurrence's own hint, else, for a value given as a command-line option
   * (field "--..."), that option's --help, else the code's catalogued hint (which may name a file
   * format's doc).
   */
  get hint(): string {
    if (this.specificHint !== undefined) return this.specificHint;
    if (this.where.field?.startsWith("--") && OPTION_VALUE_CODES.has(this.code))
      return `run the command with --help to see what ${this.where.field} takes`;
    return CATALOG[this.code].hint;
  }

  /** A plain object for JSON output. */
  toJSON(): { code: ErrorCode; message: string; hint: string; where: ErrorWhere } {
    return { code: this.code, message: this.message, hint: this.hint, where: this.where };
  }
}

export function formatWhere(where: ErrorWhere): string {
  const parts: string[] = [];
  if (where.file !== undefined) {
    parts.push(where.offset !== undefined ? `${where.file}:0x${where.offset.toString(16)}` : where.file);
  } else if (where.offset !== undefined) {
    parts.push(`offset 0x${where.offset.toString(16)}`);
  }
  if (where.field !== undefined) parts.push(where.field);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** E_FILE_EMPTY naming the file (and the option it was given to). */
export function emptyFileError(file?: string, option?: string): KexecLabError {
  return new KexecLabError(
    "E_FILE_EMPTY",
    `${option !== undefined ? `${option} has` : "it has"} 0 bytes`,
    file !== undefined ? { file } : {},
  );
}

export function isKexecLabError(e: unknown): e is KexecLabError {
  return e instanceof KexecLabError;
}
