/**
 * The shapes planLoad takes and returns. Browser-safe (no I/O); addresses and sizes are byte numbers.
 */

import type { KernelConfig } from "../formats/kconfig.js";
import type { KernelFileFormat } from "../formats/unwrap.js";
import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import type { Verdict } from "../kimage/validate.js";
import type { MemoryMap } from "../machine/memmap.js";
import type { Range } from "../machine/ranges.js";

/**
 * Which placement rules: "kexec-tools" = kexec-tools' own placement for the kexec_load syscall (-c);
 * "kexec-file" = the kernel's placement for kexec_file_load (-s); "auto" = kexec-tools' -a: try
 * kexec_file_load, fall back to kexec_load on the errnos kexec-tools falls back on (src/loader/auto.ts);
 * "systemd" = `systemctl kexec`'s own kexec_file_load, which unwraps a file the kernel refuses once and
 * retries (systemd PRs 41390 and 42234; the same as "kexec-file" with `via: "systemd"`).
 */
export type LoaderKind = "kexec-tools" | "kexec-file" | "auto" | "systemd";
export const LOADERS: readonly LoaderKind[] = ["auto", "kexec-tools", "kexec-file", "systemd"];

/** The syscall a plan was placed for. */
export type PlacedBy = "kexec-tools" | "kexec-file";

/** Sizes of the purgatory segment. */
export interface PurgatorySize {
  bufsz: number;
  memsz: number;
  /** Where the size comes from (preset name, the kexec binary, or "model"). */
  source?: string;
  /** Largest section alignment (elf_rel_load aligns the purgatory's base to it). */
  align?: number;
  /** Offset of purgatory_start from the purgatory's base (the kexec entry), when known. */
  entryOffset?: number;
}

/** One range of the kernel's memblock view (/sys/kernel/debug/memblock/{memory,reserved}). */
export interface MemblockRegion {
  start: number;
  /** Exclusive. */
  end: number;
}

export interface PlanInput {
  arch: Arch;
  loader?: LoaderKind;
  kernel: Uint8Array;
  kernelName?: string;
  initrd?: Uint8Array;
  initrdName?: string;
  dtb?: Uint8Array;
  dtbName?: string;
  /** /proc/iomem, /sys/firmware/memmap or `kexec -d` MEMORY RANGES text. */
  iomem?: string;
  iomemName?: string;
  /** /sys/firmware/memmap text (x86_64 kexec-tools prefers it over /proc/iomem for its ranges). */
  memmap?: string;
  memmapName?: string;
  /** /sys/kernel/debug/memblock/memory and .../reserved dumps (kexec_file_load on arm64 walks them). */
  memblockMemory?: string;
  memblockReserved?: string;
  /** A memory map given directly (wins over iomem and the DTB). */
  memoryMap?: MemoryMap;
  /** Kernel command line (--append). */
  append?: string;
  /**
   * totalram_pages() x PAGE_SIZE of the running kernel: /proc/meminfo's MemTotal (what --host's
   * meminfo.txt gives). kexec_load's and kexec_file_load's "half of RAM" check
   * (kernel/kexec_core.c sanity_check_segment_list) counts it; default: the RAM of the memory map
   * (a little more than MemTotal, which leaves out memory the kernel reserved at boot).
   */
  memTotal?: number;
  /** kexec-tools --mem-min: lowest address a segment may use. */
  memMin?: number;
  /** kexec-tools --mem-max: highest address (inclusive) a segment may use. */
  memMax?: number;
  /** A crash (kexec -p) load into the crash kernel region. */
  crash?: boolean;
  /** Crash region [start, end); default: the "Crash kernel" range of the iomem input. */
  crashRegion?: Range;
  /**
   * Every "Crash kernel" region of the running kernel (crashk_res and crashk_low_res), e.g. as
   * src/crash/reserve.ts predicts them for a crashkernel= value; default: the iomem input's lines.
   */
  crashRegions?: Range[];
  /** crashkernel=X,high's low part [start, end) (x86_64 "Crash kernel" below 4 GiB next to a high one). */
  crashLowRegion?: Range;
  /** Page size of the running kernel (getpagesize() / PAGE_SIZE): rounding and minimum alignment. */
  pageSize?: number;
  /** Seed for the random bytes written into the DTB (kaslr-seed, rng-seed). */
  seed?: number;
  /** kexec-tools: treat a non-zero /chosen/kaslr-seed as wiped (DTB dumped outside a running kernel). */
  wipeKaslrSeed?: boolean;
  purgatory?: PurgatorySize;
  /** CPUs of the running machine (kexec-tools: sysconf(_SC_NPROCESSORS_CONF); kernel: possible CPUs). */
  cpus?: number;
  /** Running kernel version for kexec_file_load rules, "6.1" (default), "6.8", "6.16", ... */
  kernelVersion?: string;
  /**
   * The running kernel's build config (src/formats/kconfig.ts parseKernelConfig), for the rules that
   * depend on it (crash hotplug's elfcorehdr size). Unset: the rule says what it assumed.
   */
  kernelConfig?: KernelConfig;
  /**
   * kexec-tools release, "2.0.32" (default) ... "2.0.25": decides what --loader auto does and which
   * wrapped kernels (zboot, UKI, compressed) kexec-tools unwraps (accept.ts).
   */
  kexecToolsVersion?: string;
  /** The file the user gave, when `kernel` was unwrapped from it (zboot, UKI, compressed): see accept.ts. */
  kernelFormat?: KernelFileFormat;
  /** What was done to reach `kernel` (describeLayers()). */
  unwrapped?: string[];
  /** Who calls kexec_file_load (placement "kexec-file"): kexec-tools (default) or systemd. */
  via?: "kexec-tools" | "systemd";
  /**
   * The running kernel's random pool is initialized (default true). kexec-tools' x86 setup_rng_seed
   * asks getrandom(GRND_NONBLOCK) for a seed and adds no setup_data segment when it is not; the
   * kernel's kexec_file FDT gets no kaslr-seed and no rng-seed when it is not.
   */
  crngReady?: boolean;
  /**
   * x86: the ACPI RSDP address kexec-tools' get_acpi_rsdp finds (dmesg "ACPI: RSDP 0x..."); crash
   * loads through kexec_load append " acpi_rsdp=0x..." to the command line on a non-EFI machine.
   */
  acpiRsdp?: number;
  /**
   * x86 kexec_load: enter the kernel through kexec-tools' 32-bit bzImage loader (do_bzImage_load)
   * with its 32-bit protected-mode entry (`--entry-32bit`, the default for a bzImage that is not a
   * bzImage64) or its 16-bit real-mode setup (`--real-mode`). Unset: bzImage64 for a bzImage64.
   */
  x86Entry?: "32bit" | "real-mode";
  /**
   * x86_64 ELF vmlinux through kexec-tools' elf_x86_64_load: the argument style (--args-elf, the
   * default; --args-linux; --args-none).
   */
  elfArgs?: "elf" | "linux" | "none";
  /** kexec runs with -d (kexec-tools 2.0.29+ then passes KEXEC_FILE_DEBUG to kexec_file_load). */
  kexecDebug?: boolean;
  /** Size of the running kernel's own purgatory (kexec_file_load on x86_64); default: a model. */
  kernelPurgatory?: PurgatorySize;
  /**
   * KHO scratch areas of the running kernel, in index order (kho=on; kernel 6.16+). With them every
   * kexec_file_load segment must lie in a scratch area.
   */
  khoScratch?: Range[];
  /**
   * Where khoScratch came from when the host gave no kho-scratch.txt: the boot-time model's line
   * (src/kho/host.ts), shown in the plan's notes.
   */
  khoScratchFrom?: string;
  /** The default CMA area [start, end) (kernel 6.17+ places kexec_file_load buffers there first). */
  cma?: Range;
  /**
   * Bytes of the CMA area already taken when kexec loads (boot-time cma_alloc users such as the DMA atomic
   * pools), as a run at the area's base: cma_alloc is first-fit from the base, so with nothing released
   * the taken pages are a prefix. Where the kernel has CMA_SYSFS this is (alloc_pages_success -
   * release_pages_success) pages of /sys/kernel/mm/cma/NAME; the exact bitmap needs CMA_DEBUGFS.
   */
  cmaUsed?: number;
  /** KEXEC_FILE_NO_CMA (0x10): kexec_file_load does not use CMA. */
  noCma?: boolean;
  /** The running kernel has kexec_file_load (CONFIG_KEXEC_FILE; default true). Without it: ENOSYS. */
  kexecFileSyscall?: boolean;
}

/**
 * One segment the loaded kernel damages before it reads it. (boot-hazards.ts). Addresses are physical,
 * end exclusive.
 */
export interface BootHazard {
  /** The segment whose bytes are overwritten ("initrd", ...). */
  segment: string;
  /** The overwritten range, clipped to that segment. */
  start: number;
  end: number;
  /** Who writes there and why, in one sentence. */
  mechanism: string;
  /** The code that does the writing. */
  source: string;
}

/** Why a segment sits where it does. Addresses are byte numbers; `window` is [min, max). */
export interface Placement {
  syscall: "kexec_load" | "kexec_file_load";
  /** The function chain in kexec-tools or the kernel that placed it. */
  source: string;
  window: { min: number; max: number };
  align: number;
  direction: "top-down" | "bottom-up" | "fixed";
  /** Which memory was searched and in which order. */
  walk: string;
  /** Free ranges the search passed over before this one, and why (in walk order). */
  skipped: string[];
  /** Copied to its destination at reboot (false: already in place when loaded, as CMA pages are). */
  relocated: boolean;
}

/** A placed segment: a kimage Segment plus why it is there. */
export interface PlannedSegment extends Segment {
  label: string;
  placement: Placement;
}

export interface Plan {
  arch: Arch;
  /** The rules that placed the segments (the syscall kexec would make). */
  loader: PlacedBy;
  /** Why that syscall: the loader asked for, and for auto what kexec-tools would do. */
  selection: string;
  memoryMap: MemoryMap;
  memoryMapSource: "memoryMap" | "iomem" | "memmap" | "dtb" | "memblock" | "kexec-debug";
  /**
   * What the loader's hole search read, when it is not memoryMapSource: x86_64 kexec-tools reads
   * /sys/firmware/memmap ("memmap") before /proc/iomem; arm64 kexec_file_load walks memblock.
   */
  placementSource: "memoryMap" | "iomem" | "memmap" | "dtb" | "memblock" | "kexec-debug";
  /**
   * The totalram the "half of RAM" check counted (bytes) and where it came from: "MemTotal" (the
   * running kernel's totalram_pages, from meminfo) or "memory map" (the RAM of memoryMap).
   */
  totalRam: { bytes: number; source: "MemTotal" | "memory map" };
  /** In the order the loader passes them (kexec-tools sorts by address; kexec_file keeps load order). */
  segments: PlannedSegment[];
  /** Where the kernel's kexec jump lands: purgatory_start for kexec-tools, the kernel for kexec_file. */
  entry: number;
  /** The new kernel's own entry point (what purgatory jumps to). */
  kernelEntry: number;
  dtbAddress?: number;
  initrd?: { start: number; end: number };
  crashRegion?: Range;
  /** Command line as the loaded kernel gets it (kexec-tools' crash loads append to it). */
  cmdline?: string;
  notes: string[];
  patchedDtb?: Uint8Array;
  /** What the kernel's kexec_load checks (sanity_check_segment_list, ...) say about these segments. */
  verdict: Verdict;
  /** Running kernel version whose kexec_file rules were used (kexec_file_load plans). */
  kernelVersion?: string;
  /**
   * Segments the loaded kernel overwrites itself before it reads them (boot-hazards.ts): the kernel
   * accepts the load, the new kernel then finds them damaged. Absent when there are none.
   */
  bootHazards?: BootHazard[];
}
