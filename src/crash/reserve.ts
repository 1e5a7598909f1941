/**
 * Where the boot reserves crashkernel=, per arch and kernel version, on a memblock model: the free
 * memory is memblock.memory minus memblock.reserved at the time of the reservation, searched top-down
 * as memblock_phys_alloc_range -> memblock_alloc_range_nid -> memblock_find_in_range_node ->
 * __memblock_find_range_top_down does (start raised to PAGE_SIZE; for each free range from the top:
 * candidate = round_down(range end - size, align), taken when it is not below the range start).
 * Browser-safe.
 *
 * Three models (each from source; see docs/kdump.md for which are checked against a recording):
 *   "generic"      kernel/crash_reserve.c reserve_crashkernel_generic (x86_64 from 6.7, arm64 whose
 *                  arch/arm64/mm/init.c had the same rules from 6.2): plain X tries [0, LOW_MAX) then
 *                  [LOW_MAX, HIGH_MAX) with a default low part; X,high tries [LOW_MAX, HIGH_MAX) then
 *                  [0, LOW_MAX) (only when they differ); X@Y only [Y, Y+X); a crash region at or above
 *                  LOW_MAX gets the low part (reserve_crashkernel_low: [0, LOW_MAX), top-down).
 *   "x86-legacy"   arch/x86/kernel/setup.c reserve_crashkernel before 6.7: X tries [CRASH_ALIGN, 4G) then
 *                  [CRASH_ALIGN, 64T); X,high only [CRASH_ALIGN, 64T); X@Y is allocated with 1 MiB
 *                  alignment in [Y, Y+X) and must land at Y; the low part (,low or
 *                  max(swiotlb + 8M, 256M)) only when the region starts at or above 4 GiB; its messages
 *                  "Reserving %ldMB of memory at %ldMB for crashkernel (System RAM: %ldMB)".
 *   "arm64-5.19"   arch/arm64/mm/init.c reserve_crashkernel of 5.19-6.1: X only in [0, LOW_MAX) (no
 *                  fall back to high memory), X,high in [0, HIGH_MAX) with a low part only when X,low is
 *                  given (no default low size before 6.2; recorded on Debian 6.1), X@Y in [Y, Y+X); every
 *                  failure prints "cannot allocate crashkernel (size:0x...)".
 * Constants: x86_64 CRASH_ALIGN 16M, CRASH_ADDR_LOW_MAX 4G, CRASH_ADDR_HIGH_MAX 64T,
 * DEFAULT_CRASH_KERNEL_LOW_SIZE max(swiotlb_size_or_default() + 8M, 256M) (swiotlb 64M by default);
 * arm64 CRASH_ALIGN 2M, LOW_MAX arm64_dma_phys_limit (max_zone_phys(32): min(4G-aligned zone top,
 * end of DRAM); the whole address space without ZONE_DMA/DMA32), HIGH_MAX PHYS_MASK + 1,
 * DEFAULT_CRASH_KERNEL_LOW_SIZE 128M (6.2+).
 */

import type { Arch } from "../kimage/constants.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import { atLeast, type ParsedValue, parseCrashkernelOption, reservesCma } from "./parse.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PAGE_SIZE = 4096;

export type CrashRegionKind = "crash" | "crash-low" | "cma";

/** One reserved region, [start, end) (end exclusive), and what it is. */
export interface CrashRegion {
  start: number;
  end: number;
  kind: CrashRegionKind;
}

export interface ReserveInput {
  arch: Arch;
  /** Kernel MAJOR.MINOR, "6.1". */
  kernelVersion: string;
  /** The kernel command line (only its crashkernel= options matter). */
  cmdline: string;
  /** memblock.memory: the RAM the kernel knows. */
  memory: readonly Range[];
  /** memblock.reserved at the time of the reservation. */
  reserved: readonly Range[];
  /** arm64: the kernel has ZONE_DMA/ZONE_DMA32 (default true): CRASH_ADDR_LOW_MAX is then below 4 GiB. */
  zoneDma?: boolean;
  /** x86_64: swiotlb_size_or_default() (default 64 MiB; swiotlb= changes it). */
  swiotlbBytes?: number;
}

export type ReserveModel = "generic" | "x86-legacy" | "arm64-5.19";

export interface ReserveResult {
  arch: Arch;
  kernelVersion: string;
  model: ReserveModel;
  /** The kernel source the model follows. */
  source: string;
  /** memblock_phys_mem_size(): what the RAM-size ranges are matched against. */
  systemRam: number;
  /** What parse_crashkernel found (sizes in bytes). */
  parsed: {
    size: number;
    base: number;
    lowSize: number;
    cmaSize: number;
    high: boolean;
    syntax?: string;
    /** The option text that was used. */
    text?: string;
  };
  /** CRASH_ADDR_LOW_MAX / CRASH_ADDR_HIGH_MAX / CRASH_ALIGN for this arch. */
  limits: { lowMax: number; highMax: number; align: number };
  /** Regions in address order. */
  regions: CrashRegion[];
  /**
   * /sys/kernel/kexec_crash_size: resource_size(&crashk_res), 0 without a reservation; from 6.7 on the low
   * part (crashk_low_res) counts too: recorded on Debian 6.12 and 7.3 x86_64 (crashkernel=512M,high on
   * 8 GiB shows 805306368, 512 MiB + the 256 MiB low part), while 6.1 shows crashk_res alone. The version
   * where it changed is taken as 6.7 (x86's move to the generic reservation), not pinned to a commit.
   */
  kexecCrashSize: number;
  /** The kernel's log lines for the reservation (pr_info/pr_warn/pr_err text). */
  log: string[];
  /** Each search the kernel made: window, result. */
  steps: string[];
  /** Set when no crash region was reserved: why. */
  failure?: string;
}

/** memblock_phys_alloc_range on a free list (ascending, disjoint): the top-down fit, or 0. */
export function memblockFindTopDown(
  free: readonly Range[],
  size: number,
  align: number,
  start: number,
  end: number,
): number {
  const lo = Math.max(start, PAGE_SIZE);
  const hi = Math.max(lo, end);
  for (let i = free.length - 1; i >= 0; i--) {
    const r = free[i]!;
    const s = Math.max(r.start, lo);
    const e = Math.min(r.end, hi);
    if (e < size || e <= s) continue;
    const cand = Math.floor((e - size) / align) * align;
    if (cand >= s) return cand;
  }
  return 0;
}

/** The same search bottom-up (__memblock_find_range_bottom_up), for CMA's first try above 4 GiB. */
function memblockFindBottomUp(
  free: readonly Range[],
  size: number,
  align: number,
  start: number,
  end: number,
) {
  const lo = Math.max(start, PAGE_SIZE);
  for (const r of free) {
    const s = Math.max(r.start, lo);
    const e = Math.min(r.end, end);
    const cand = Math.ceil(s / align) * align;
    if (cand < e && e - cand >= size) return cand;
  }
  return 0;
}

class Memblock {
  private free: RangeSet;
  constructor(memory: readonly Range[], reserved: readonly Range[]) {
    this.free = new RangeSet(memory).subtract(reserved);
  }
  alloc(size: number, align: number, start: number, end: number): number {
    const at = memblockFindTopDown(this.free.ranges, size, align, start, end);
    if (at !== 0) this.free = this.free.subtract([{ start: at, end: at + size }]);
    return at;
  }
  allocBottomUp(size: number, align: number, start: number, end: number): number {
    const at = memblockFindBottomUp(this.free.ranges, size, align, start, end);
    if (at !== 0) this.free = this.free.subtract([{ start: at, end: at + size }]);
    return at;
  }
  release(start: number, size: number): void {
    this.free = this.free.union([{ start, end: start + size }]);
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
const hex16 = (n: number) => `0x${n.toString(16).padStart(16, "0")}`;
const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
const mb = (n: number) => Math.floor(n / MiB);

/** arm64 max_zone_phys(32) as zone_sizes_init sets arm64_dma_phys_limit (5.x-6.x). */
export function arm64DmaPhysLimit(memory: readonly Range[], zoneDma: boolean): number {
  const PHYS_END = 2 ** 48;
  if (!zoneDma || memory.length === 0) return PHYS_END;
  const start = memory[0]!.start;
  const end = memory[memory.length - 1]!.end;
  let mask = 2 ** 32 - 1;
  if (start > 2 ** 32 - 1) mask = Number.MAX_SAFE_INTEGER;
  else if (start > mask) mask = 2 ** 32 - 1;
  return Math.min(mask, end - 1) + 1;
}

export function reserveModel(arch: Arch, v: [number, number]): ReserveModel {
  if (arch === "x86_64") return atLeast(v, 6, 7) ? "generic" : "x86-legacy";
  return atLeast(v, 6, 2) ? "generic" : "arm64-5.19";
}

const SOURCES: Record<ReserveModel, string> = {
  generic:
    "kernel/crash_reserve.c parse_crashkernel + reserve_crashkernel_generic (6.7+; arm64's arch code from 6.2)",
  "x86-legacy": "arch/x86/kernel/setup.c reserve_crashkernel / reserve_crashkernel_low (before 6.7)",
  "arm64-5.19": "arch/arm64/mm/init.c reserve_crashkernel / reserve_crashkernel_low (5.19 to 6.1)",
};

function versionOf(s: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(s);
  return m ? [Number(m[1]), Number(m[2])] : [6, 1];
}

/** Where the kernel of `input.kernelVersion` reserves crashkernel= on this memory. */
export function reserveCrashkernel(input: ReserveInput): ReserveResult {
  const v = versionOf(input.kernelVersion);
  const arch = input.arch;
  const model = reserveModel(arch, v);
  const popts = { version: v, arch };
  const systemRam = input.memory.reduce((a, r) => a + (r.end - r.start), 0);
  const mem = new Memblock(input.memory, input.reserved);
  const align = arch === "x86_64" ? 16 * MiB : 2 * MiB;
  const lowMax = arch === "x86_64" ? 4 * GiB : arm64DmaPhysLimit(input.memory, input.zoneDma ?? true);
  const highMax = arch === "x86_64" ? 64 * 2 ** 40 : 2 ** 48;
  const swiotlb = input.swiotlbBytes ?? 64 * MiB;
  const defaultLow = arch === "x86_64" ? Math.max(swiotlb + 8 * MiB, 256 * MiB) : 128 * MiB;
  const log: string[] = [];
  const steps: string[] = [];
  const result: ReserveResult = {
    arch,
    kernelVersion: `${v[0]}.${v[1]}`,
    model,
    source: SOURCES[model],
    systemRam,
    parsed: { size: 0, base: 0, lowSize: 0, cmaSize: 0, high: false },
    limits: { lowMax, highMax, align },
    regions: [],
    kexecCrashSize: 0,
    log,
    steps,
  };
  const fail = (why: string) => {
    result.failure = why;
    return result;
  };
  const take = (p: ParsedValue) => {
    log.push(...p.messages);
    return p;
  };
  const win = (a: number, b: number) => `[${hex(a)}, ${hex(b)})`;
  const tryAlloc = (size: number, al: number, a: number, b: number, what: string) => {
    const at = mem.alloc(size, al, a, b);
    steps.push(
      `${what}: ${hex(size)} bytes, align ${hex(al)}, top-down in ${win(a, b)}: ${at ? `at ${hex(at)}` : "no room"}`,
    );
    return at;
  };

  // parse_crashkernel (plain), then ,high / ,low as the model's code does
  const plain = take(parseCrashkernelOption(input.cmdline, systemRam, undefined, popts));
  let size = plain.size;
  let base = plain.base;
  let high = false;
  let lowSize = 0;
  let cmaSize = 0;
  let used: ParsedValue = plain;
  const plainMissing = plain.ret === "ENOENT" || (plain.ret === "EINVAL" && plain.text === undefined);
  if (model === "x86-legacy") {
    if (plain.ret !== 0 || size <= 0) {
      const h = take(parseCrashkernelOption(input.cmdline, systemRam, "high", popts));
      if (h.ret !== 0 || h.size <= 0) return fail(describeNoOption(plain, h));
      size = h.size;
      base = 0;
      high = true;
      used = h;
    }
  } else {
    if (plainMissing) {
      const h = take(parseCrashkernelOption(input.cmdline, 0, "high", popts));
      if (h.ret !== 0 || h.size === 0) return fail(describeNoOption(plain, h));
      size = h.size;
      base = 0;
      used = h;
      const l = take(parseCrashkernelOption(input.cmdline, 0, "low", popts));
      // arm64 5.19-6.1 has no default low size: without ,low no low part (recorded on Debian 6.1 arm64,
      // crashkernel=512M,high: one region); DEFAULT_CRASH_KERNEL_LOW_SIZE came with 6.2's rework
      if (l.ret === "ENOENT" || (l.ret === "EINVAL" && l.text === undefined))
        lowSize = model === "arm64-5.19" ? 0 : defaultLow;
      else if (l.ret !== 0) return fail(`crashkernel=${l.text ?? ""} (the ,low option) is invalid`);
      else lowSize = l.size;
      high = true;
    } else if (plain.ret !== 0) return fail(`crashkernel=${plain.text ?? ""} is invalid`);
    if (model === "generic" && reservesCma(popts)) {
      const c = take(parseCrashkernelOption(input.cmdline, 0, "cma", popts));
      if (c.ret === 0) cmaSize = c.size;
    }
    if (size === 0) return fail("crashkernel= gives a size of 0 for this RAM size (no range matched)");
    if (model === "generic" && size >= systemRam)
      return fail(`crashkernel size ${hex(size)} is not below the RAM size ${hex(systemRam)}`);
  }
  if (model === "arm64-5.19") size = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  result.parsed = {
    size,
    base,
    lowSize,
    cmaSize,
    high,
    ...(used.syntax !== undefined ? { syntax: used.syntax } : {}),
    ...(used.text !== undefined ? { text: used.text } : {}),
  };

  const reserveLow = (lsize: number): boolean => {
    if (model === "x86-legacy") {
      const limit = Math.min(systemRam, lowMax);
      const at = tryAlloc(lsize, align, align, lowMax, "low part");
      if (!at) {
        log.push(`Cannot reserve ${mb(lsize)}MB crashkernel low memory, please try smaller size.`);
        return false;
      }
      log.push(
        `Reserving ${mb(lsize)}MB of low memory at ${mb(at)}MB for crashkernel (low RAM limit: ${mb(limit)}MB)`,
      );
      result.regions.push({ start: at, end: at + lsize, kind: "crash-low" });
      return true;
    }
    const at = tryAlloc(lsize, align, 0, lowMax, "low part");
    if (!at) {
      log.push(`cannot allocate crashkernel low memory (size:${hex(lsize)}).`);
      return false;
    }
    log.push(`crashkernel low memory reserved: ${hex8(at)} - ${hex8(at + lsize)} (${mb(lsize)} MB)`);
    result.regions.push({ start: at, end: at + lsize, kind: "crash-low" });
    return true;
  };

  let at = 0;
  if (model === "x86-legacy") {
    if (base === 0) {
      if (!high) at = tryAlloc(size, align, align, lowMax, "crashkernel=X below 4 GiB");
      if (!at)
        at = tryAlloc(size, align, align, highMax, high ? "crashkernel=X,high" : "fall back to all memory");
      if (!at) {
        log.push("crashkernel reservation failed - No suitable area found.");
        return fail("no free range fits");
      }
    } else {
      const got = tryAlloc(size, MiB, base, base + size, "crashkernel=X@Y");
      if (got !== base) {
        if (got) mem.release(got, size);
        log.push("crashkernel reservation failed - memory is in use.");
        return fail(`[${hex(base)}, ${hex(base + size)}) is not free`);
      }
      at = base;
    }
    if (at >= 2 ** 32) {
      const l = take(parseCrashkernelOption(input.cmdline, Math.min(systemRam, lowMax), "low", popts));
      // any parse failure (absent or invalid) gives the default; crashkernel=0,low none at all
      const lsize = l.ret !== 0 ? defaultLow : l.size;
      result.parsed.lowSize = lsize;
      if (lsize > 0 && !reserveLow(lsize)) {
        mem.release(at, size);
        return fail("the low part could not be reserved");
      }
    }
    log.push(
      `Reserving ${mb(size)}MB of memory at ${mb(at)}MB for crashkernel (System RAM: ${mb(systemRam)}MB)`,
    );
  } else if (model === "arm64-5.19") {
    const fixed = base !== 0;
    const a = fixed ? base : 0;
    const b = fixed ? base + size : high ? highMax : lowMax;
    at = tryAlloc(
      size,
      align,
      a,
      b,
      fixed ? "crashkernel=X@Y" : high ? "crashkernel=X,high" : "crashkernel=X",
    );
    if (!at) {
      log.push(`cannot allocate crashkernel (size:${hex(size)})`);
      return fail("no free range fits");
    }
    // 6.0-6.1: the low part only for a main region at or above CRASH_ADDR_LOW_MAX ("ignored when ...
    // memory reserved is located in the DMA zones"; 5.19 reserved it wherever the main region landed)
    if (at >= lowMax && lowSize > 0 && !reserveLow(lowSize)) {
      mem.release(at, size);
      return fail("the low part could not be reserved");
    }
    log.push(`crashkernel reserved: ${hex16(at)} - ${hex16(at + size)} (${mb(size)} MB)`);
  } else {
    let searchBase = 0;
    let searchEnd = lowMax;
    const fixed = base !== 0;
    let low = lowSize;
    if (fixed) {
      searchBase = base;
      searchEnd = base + size;
    } else if (high) {
      searchBase = lowMax;
      searchEnd = highMax;
    }
    for (;;) {
      at = tryAlloc(
        size,
        align,
        searchBase,
        searchEnd,
        fixed ? "crashkernel=X@Y" : searchEnd === lowMax ? "low memory" : "high memory",
      );
      if (at) break;
      if (fixed) {
        log.push("crashkernel reservation failed - memory is in use.");
        return fail(`[${hex(base)}, ${hex(base + size)}) is not free`);
      }
      if (!high && searchEnd === lowMax) {
        searchEnd = highMax;
        searchBase = lowMax;
        low = defaultLow;
        continue;
      }
      if (high && searchEnd === highMax) {
        searchEnd = lowMax;
        searchBase = 0;
        if (searchEnd !== highMax) continue;
      }
      log.push(`cannot allocate crashkernel (size:${hex(size)})`);
      return fail("no free range fits");
    }
    result.parsed.lowSize = at >= lowMax ? low : 0;
    if (at >= lowMax && low > 0 && !reserveLow(low)) {
      mem.release(at, size);
      return fail("the low part could not be reserved");
    }
    log.push(`crashkernel reserved: ${hex16(at)} - ${hex16(at + size)} (${mb(size)} MB)`);
  }
  result.regions.push({ start: at, end: at + size, kind: "crash" });
  const lowPart = result.regions
    .filter((r) => r.kind === "crash-low")
    .reduce((sum, r) => sum + (r.end - r.start), 0);
  result.kexecCrashSize = size + (v[0] > 6 || (v[0] === 6 && v[1] >= 7) ? lowPart : 0);
  if (cmaSize > 0) reserveCma(mem, cmaSize, result);
  result.regions.sort((x, y) => x.start - y.start);
  return result;
}

/**
 * reserve_crashkernel_cma (kernel/crash_reserve.c, 6.17+): cma_declare_contiguous blocks of the
 * requested size, halved (rounded up to a page) after each failure, at most 4 ranges
 * (CRASHKERNEL_CMA_RANGES_MAX). cma_declare_contiguous_nid's placement (mm/cma.c, as recalled, not
 * re-read here): 2 MiB (pageblock) alignment, bottom-up above 4 GiB first when memory reaches
 * 4 GiB + size, else top-down anywhere.
 */
function reserveCma(mem: Memblock, cmaSize: number, result: ReserveResult): void {
  let request = Math.ceil(cmaSize / PAGE_SIZE) * PAGE_SIZE;
  let reserved = 0;
  let count = 0;
  const align = 2 * MiB;
  while (cmaSize > reserved && count < 4) {
    const size = Math.ceil(request / align) * align;
    let at = mem.allocBottomUp(size, align, 4 * GiB, Number.MAX_SAFE_INTEGER);
    if (!at) at = mem.alloc(size, align, 0, Number.MAX_SAFE_INTEGER);
    result.steps.push(`crashkernel CMA block of ${hex(size)} bytes: ${at ? `at ${hex(at)}` : "no room"}`);
    if (!at) {
      if (request <= PAGE_SIZE) break;
      request = Math.ceil(request / 2 / PAGE_SIZE) * PAGE_SIZE;
      continue;
    }
    result.regions.push({ start: at, end: at + size, kind: "cma" });
    count++;
    reserved += request;
  }
  if (cmaSize > reserved)
    result.log.push(
      `crashkernel CMA reservation failed: ${mb(cmaSize)} MB requested, ${mb(reserved)} MB reserved in ${count} ranges`,
    );
  else result.log.push(`crashkernel CMA reserved: ${mb(reserved)} MB in ${count} ranges`);
}

function describeNoOption(plain: ParsedValue, high: ParsedValue): string {
  if (plain.text !== undefined && plain.ret !== 0) return `crashkernel=${plain.text} is invalid`;
  if (plain.text !== undefined && plain.size === 0)
    return "crashkernel= gives a size of 0 for this RAM size (no range matched)";
  if (high.text !== undefined) return `crashkernel=${high.text} is invalid`;
  return "no crashkernel= option on the command line";
}

/** The lines /proc/iomem shows for the regions (nested under System RAM: two spaces). */
export function iomemLines(regions: readonly CrashRegion[]): string[] {
  return regions
    .filter((r) => r.kind !== "cma")
    .map(
      (r) =>
        `  ${r.start.toString(16).padStart(8, "0")}-${(r.end - 1).toString(16).padStart(8, "0")} : Crash kernel`,
    );
}
