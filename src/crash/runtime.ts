/**
 * What the crash kernel needs at run time inside its reservation, term by term from the kernel's and
 * the dump tool's own rules, each with its source and its status. Where `crashkernel --verify` runs
 * measured a term for the arch (src/crash/measured.ts: the per-page memory the crash kernel keeps, the
 * per-CPU growth, its run-time use at /init, the growth per GiB of the first kernel), that term is
 * "measured" and the result names the machine; the others stay "from source, not yet measured" or
 * "assumed". Browser-safe.
 */

import type { Arch } from "../kimage/constants.js";
import { type CrashRuntimeFit, measuredCrashRuntime } from "./measured.js";

const MiB = 2 ** 20;

export interface RuntimeInput {
  arch: Arch;
  pageSize: number;
  /** The memory the crash kernel is given (all Crash kernel regions), bytes. */
  crashMemoryBytes: number;
  /** Whether a low region below 4 GiB comes with a high one (crashkernel=X,high or the fall back). */
  lowRegion: boolean;
  /** The crash kernel's CPU count (nr_cpus= on its command line; kdump tools pass nr_cpus=1). */
  nrCpus: number;
  /** The crash kernel's initrd file size and its unpacked size (default: 2 x the file, assumed). */
  initrdBytes: number;
  initrdUnpackedBytes?: number;
  /** The first kernel's highest RAM address (the dump tool's bitmaps cover its pfns). */
  firstKernelMaxAddress: number;
  /** makedumpfile's cyclic mode (the default since 1.5.0): bitmaps in chunks, not for all memory. */
  cyclic?: boolean;
  /** The crash kernel's modules as /proc/modules sizes them. */
  modulesBytes: number;
  /** Measured terms to use (default: measuredCrashRuntime(arch) for 4 KiB pages; null: none). */
  measured?: CrashRuntimeFit | null;
}

export interface RuntimeTerm {
  name: string;
  bytes: number;
  /** Where the rule comes from. */
  source: string;
  status: "from source, not yet measured" | "assumed" | "measured";
  /** Not counted in the main region (lives in the low region). */
  inLowRegion?: boolean;
}

/** The terms, their sum in the main region, and the machine the measured ones come from. */
export function crashRuntimeNeed(i: RuntimeInput): {
  terms: RuntimeTerm[];
  totalBytes: number;
  measuredOn?: string;
} {
  const fit =
    i.measured === null
      ? undefined
      : (i.measured ?? (i.pageSize === 4096 ? measuredCrashRuntime(i.arch) : undefined));
  if (fit !== undefined) return measuredNeed(i, fit);
  const pages = Math.ceil(i.crashMemoryBytes / i.pageSize);
  const terms: RuntimeTerm[] = [];
  terms.push({
    name: `struct page for the crash kernel's ${pages} pages (64 bytes each)`,
    bytes: pages * 64,
    source:
      "sizeof(struct page) = 64 on 64-bit without debug options (include/linux/mm_types.h); the memmap covers the memory the crash kernel is given",
    status: "from source, not yet measured",
  });
  terms.push(perCpuFromSource(i));
  terms.push(...initrdAndModuleTerms(i));
  const maxPfn = Math.ceil(i.firstKernelMaxAddress / i.pageSize);
  const bitmap = 2 * Math.ceil(maxPfn / 8);
  terms.push({
    name:
      i.cyclic === false
        ? "makedumpfile bitmaps (non-cyclic: 2 bitmaps over all pfns)"
        : "makedumpfile bitmaps (cyclic: at most this, less when memory is short)",
    bytes: bitmap,
    source:
      "makedumpfile: two bitmaps of one bit per first-kernel pfn (1st: which pages exist, 2nd: which to dump); in cyclic mode (default since 1.5.0) the buffer is sized from free memory and capped at this",
    status: "from source, not yet measured",
  });
  const swiotlb = 64 * MiB;
  const swiotlbUsed = i.arch === "x86_64" || i.lowRegion;
  if (swiotlbUsed)
    terms.push({
      name: "swiotlb bounce buffer",
      bytes: swiotlb,
      source: i.lowRegion
        ? "kernel/dma/swiotlb.c IO_TLB_DEFAULT_SIZE 64 MiB, allocated below 4 GiB: in the low region (why x86's default low part is max(swiotlb + 8M, 256M))"
        : "kernel/dma/swiotlb.c IO_TLB_DEFAULT_SIZE 64 MiB (x86_64 sets it up when memory extends past the DMA32 limit or the IOMMU is off; counted here as it may)",
      status: "from source, not yet measured",
      ...(i.lowRegion ? { inLowRegion: true } : {}),
    });
  terms.push({
    name: "kernel run time (slab, page tables, user space)",
    bytes: 16 * MiB,
    source: "kdumpctl estimate's runtime term (kdump-utils)",
    status: "assumed",
  });
  const totalBytes = terms.filter((t) => !t.inLowRegion).reduce((a, t) => a + t.bytes, 0);
  return { terms, totalBytes };
}

/** The per-CPU areas from mm/percpu.c's rules (assumed static size). */
/** The unpacked initrd and the modules: the same terms whether the rest is measured or from source. */
function initrdAndModuleTerms(i: RuntimeInput): RuntimeTerm[] {
  const given = i.initrdUnpackedBytes !== undefined;
  return [
    {
      name: "the initrd unpacked into rootfs",
      bytes: i.initrdUnpackedBytes ?? 2 * i.initrdBytes,
      source: given
        ? "init/initramfs.c unpack_to_rootfs: the cpio contents live in the rootfs (tmpfs/ramfs) page cache; the loaded initrd segment is freed after unpacking (free_initrd_mem)"
        : "init/initramfs.c unpack_to_rootfs; unpacked size assumed 2 x the file (give --initrd-unpacked)",
      status: given ? "from source, not yet measured" : "assumed",
    },
    {
      name: "modules",
      bytes: i.modulesBytes,
      source: "the kdump initramfs' modules as /proc/modules sizes them (kdumpctl estimate's term)",
      status: "from source, not yet measured",
    },
  ];
}

function perCpuFromSource(i: RuntimeInput): RuntimeTerm {
  // setup_per_cpu_areas / pcpu_embed_first_chunk: static per-CPU data + PERCPU_MODULE_RESERVE (8 KiB)
  // + PERCPU_DYNAMIC_RESERVE (28 KiB x BITS_PER_LONG/32), per possible CPU, in units of at least a page.
  const staticPercpu = 256 * 1024;
  const unit = Math.ceil((staticPercpu + 8 * 1024 + 56 * 1024) / i.pageSize) * i.pageSize;
  return {
    name: `per-CPU areas for nr_cpus=${i.nrCpus} (${Math.round(unit / 1024)} KiB per unit)`,
    bytes: unit * i.nrCpus,
    source:
      "mm/percpu.c pcpu_embed_first_chunk: static per-CPU data (assumed 256 KiB; the vmlinux's .data..percpu gives it) + PERCPU_MODULE_RESERVE 8 KiB + PERCPU_DYNAMIC_RESERVE 56 KiB on 64-bit, per CPU",
    status: "assumed",
  };
}

/** The terms with the measured ones in place of struct page, per-CPU and the kernel's run time. */
function measuredNeed(
  i: RuntimeInput,
  fit: CrashRuntimeFit,
): { terms: RuntimeTerm[]; totalBytes: number; measuredOn: string } {
  const src = `crashkernel --verify runs on ${fit.measuredOn} (src/crash/measured.ts)`;
  const perPage = fit.keptPerByte * i.pageSize;
  const terms: RuntimeTerm[] = [
    {
      name: `per-page memory for the crash kernel's ${Math.ceil(i.crashMemoryBytes / i.pageSize)} pages (${perPage.toFixed(0)} bytes each)`,
      bytes: Math.round(fit.keptPerByte * i.crashMemoryBytes),
      source: `struct page and what else the boot keeps in proportion to the memory: the slope of reservation - MemTotal over the reservations probed; ${src}`,
      status: "measured",
    },
  ];
  terms.push(
    fit.perCpuBytes !== undefined
      ? {
          name: `per-CPU memory for nr_cpus=${i.nrCpus} (${Math.round(fit.perCpuBytes / 1024)} KiB a CPU)`,
          bytes: Math.max(0, fit.perCpuBytes) * i.nrCpus,
          source: `what the crash kernel keeps (reservation - MemTotal) at nr_cpus=2 less at nr_cpus=1; ${src}`,
          status: "measured",
        }
      : perCpuFromSource(i),
  );
  terms.push(...initrdAndModuleTerms(i));
  if (fit.perFirstKernelGiBBytes !== undefined)
    terms.push({
      name:
        fit.perFirstKernelGiBBytes > 0
          ? `growth with the first kernel's RAM (${Math.round(fit.perFirstKernelGiBBytes / 1024)} KiB a GiB)`
          : "growth with the first kernel's RAM (none measured from 1 to 2 GiB)",
      bytes: Math.max(0, Math.round((fit.perFirstKernelGiBBytes * i.firstKernelMaxAddress) / 2 ** 30)),
      source: `reservation - MemFree with 2 GiB less with 1 GiB of first-kernel RAM; ${src}`,
      status: "measured",
    });
  const maxPfn = Math.ceil(i.firstKernelMaxAddress / i.pageSize);
  terms.push({
    name:
      i.cyclic === false
        ? "makedumpfile bitmaps (non-cyclic: 2 bitmaps over all pfns)"
        : "makedumpfile bitmaps (cyclic: at most this, less when memory is short)",
    bytes: 2 * Math.ceil(maxPfn / 8),
    source:
      "makedumpfile: two bitmaps of one bit per first-kernel pfn; not in the measured runs (busybox dd copied the dump)",
    status: "from source, not yet measured",
  });
  if (i.lowRegion)
    terms.push({
      name: "swiotlb bounce buffer",
      bytes: 64 * MiB,
      source:
        "kernel/dma/swiotlb.c IO_TLB_DEFAULT_SIZE 64 MiB, allocated below 4 GiB: in the low region (not in the measured runs, which had one region below 4 GiB)",
      status: "from source, not yet measured",
      inLowRegion: true,
    });
  terms.push({
    name: "kernel run time at /init (slab, page tables, user space)",
    bytes: Math.max(0, fit.runningBytes - fit.testInitrdBytes),
    source: `MemTotal - MemFree when the crash kernel's /init starts, less the test initrd's ${Math.round(fit.testInitrdBytes / 1024)} KiB of files; ${src}`,
    status: "measured",
  });
  const totalBytes = terms.filter((t) => !t.inLowRegion).reduce((a, t) => a + t.bytes, 0);
  return { terms, totalBytes, measuredOn: fit.measuredOn };
}
