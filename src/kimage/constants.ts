/**
 * Constants of the kexec ABI and of kernel/kexec_core.c, under the kernel's own names.
 */

/** Entry flags in the low bits of a kimage entry (include/linux/kexec.h). */
export const IND_DESTINATION = 0x1;
export const IND_INDIRECTION = 0x2;
export const IND_DONE = 0x4;
export const IND_SOURCE = 0x8;
export const IND_FLAGS = IND_DESTINATION | IND_INDIRECTION | IND_DONE | IND_SOURCE;

/** Most segments one kexec_load may pass. */
export const KEXEC_SEGMENT_MAX = 16;

/** kexec_load flags (include/uapi/linux/kexec.h). */
export const KEXEC_ON_CRASH = 0x1;
export const KEXEC_PRESERVE_CONTEXT = 0x2;
export const KEXEC_UPDATE_ELFCOREHDR = 0x4;
export const KEXEC_FLAGS = KEXEC_ON_CRASH | KEXEC_PRESERVE_CONTEXT | KEXEC_UPDATE_ELFCOREHDR;
export const KEXEC_ARCH_MASK = 0xffff0000;
export const KEXEC_ARCH_DEFAULT = 0;
export const KEXEC_ARCH_X86_64 = 62 << 16;
export const KEXEC_ARCH_AARCH64 = 183 << 16;

/** Control pages are PAGE_SIZE pages, allocated at order get_order(KEXEC_CONTROL_PAGE_SIZE). */
export const KEXEC_CONTROL_PAGE_SIZE = 4096;

export type Arch = "arm64" | "x86_64";
export const ARCHES: readonly Arch[] = ["arm64", "x86_64"];

export interface ArchLimits {
  /** Highest usable address + 1 for source, destination and control pages (exclusive bound on mend). */
  readonly sourceLimit: bigint;
  readonly destinationLimit: bigint;
  readonly controlLimit: bigint;
  readonly kexecArch: number;
}

const ALL_ONES = (1n << 64n) - 1n;

/**
 * arm64: KEXEC_{SOURCE,DESTINATION,CONTROL}_MEMORY_LIMIT are all ones (-1UL).
 * x86_64: MAXMEM - 1, where MAXMEM is 2^46 with 4-level paging and 2^52 with 5-level.
 */
export function archLimits(arch: Arch, x86Levels: 4 | 5 = 4): ArchLimits {
  if (arch === "arm64") {
    return {
      sourceLimit: ALL_ONES,
      destinationLimit: ALL_ONES,
      controlLimit: ALL_ONES,
      kexecArch: KEXEC_ARCH_AARCH64,
    };
  }
  const limit = (1n << (x86Levels === 5 ? 52n : 46n)) - 1n;
  return { sourceLimit: limit, destinationLimit: limit, controlLimit: limit, kexecArch: KEXEC_ARCH_X86_64 };
}
