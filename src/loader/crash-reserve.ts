/**
 * Whether the running kernel could have reserved a crash kernel region, and what kexec -p does when
 * it has none. Browser-safe.
 *
 * - crashkernel=SIZE@OFFSET asks for a fixed range: the kernel's reservation
 *   (kernel/crash_reserve.c reserve_crashkernel_generic, used by arm64 and, from Linux 6.9, x86)
 *   calls memblock_phys_alloc_range(size, CRASH_ALIGN, offset, offset + size), which finds nothing
 *   when the range is not all memory; it prints "crashkernel reservation failed - memory is in use."
 *   and returns, so crashk_res stays empty and /proc/iomem has no "Crash kernel" line.
 * - kexec -p on such a machine: kexec-tools' main() (kexec/kexec.c) checks
 *   is_crashkernel_mem_reserved() first and dies with "Memory for crashkernel is not reserved",
 *   before any syscall.
 *
 * Only "outside RAM" is judged here: a range inside RAM may still collide with memory the kernel
 * holds at boot, which a memory map does not show.
 */

import { KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import type { MemoryMap } from "../machine/memmap.js";
import { type Range, RangeSet } from "../machine/ranges.js";

/** What kexec-tools prints when the running kernel has no crash kernel region (kexec/kexec.c main). */
export const KEXEC_TOOLS_NO_CRASH_REGION =
  'Memory for crashkernel is not reserved\nPlease reserve memory by passing"crashkernel=Y@X" parameter to kernel\nThen try to loading kdump kernel';

/** What the kernel prints when crashkernel=SIZE@OFFSET cannot be reserved (kernel/crash_reserve.c). */
export const KERNEL_CRASH_RESERVE_FAILED = "crashkernel reservation failed - memory is in use.";

/**
 * The part of `region` [start, end) that is not RAM in `map`, or undefined when it all is.
 * For callers that judge a crashkernel=SIZE@OFFSET request (a `crashkernel` command, a plan).
 */
export function crashRegionOutsideRam(region: Range, map: MemoryMap): Range[] | undefined {
  const outside = [...new RangeSet([region]).subtract(map.ram).ranges];
  return outside.length > 0 ? outside : undefined;
}

/** A size as crashkernel= writes it: 256M, 1G, else hex bytes. */
function sizeArg(n: number): string {
  if (n > 0 && n % 2 ** 30 === 0) return `${n / 2 ** 30}G`;
  if (n > 0 && n % 2 ** 20 === 0) return `${n / 2 ** 20}M`;
  return hex(n);
}

/**
 * E_CRASH_NOT_RESERVED when the crashkernel=SIZE@OFFSET region `region` is not all RAM of `map`:
 * the kernel would not have reserved it, so kexec -p fails (see the file header).
 */
export function checkCrashRegionReservable(region: Range, map: MemoryMap, field = "--crashkernel"): void {
  const outside = crashRegionOutsideRam(region, map);
  if (outside === undefined) return;
  const ramEnd = map.ram.ranges.at(-1)?.end ?? 0;
  const where =
    region.start >= ramEnd
      ? `above the end of RAM (${hex(ramEnd)})`
      : `not all RAM: ${outside.map((r) => `[${hex(r.start)}, ${hex(r.end)})`).join(", ")} ${outside.length > 1 ? "are" : "is"} no RAM (a hole or device memory)`;
  throw new KexecLabError(
    "E_CRASH_NOT_RESERVED",
    `crashkernel=${sizeArg(region.end - region.start)}@${hex(region.start)}: [${hex(region.start)}, ${hex(region.end)}) is ${where}; the kernel's reservation fails ("${KERNEL_CRASH_RESERVE_FAILED}", kernel/crash_reserve.c reserve_crashkernel_generic), so there is no "Crash kernel" region and kexec -p stops with "Memory for crashkernel is not reserved" (kexec-tools kexec/kexec.c main)`,
    { field },
  );
}

/**
 * E_CRASH_NOT_RESERVED for a crash load on a machine whose /proc/iomem (`file`) has no "Crash kernel"
 * line, when planLoad runs without the gates: on the gated paths (src/request/gates.ts gatedPlanLoad,
 * every command) the crash-reserved gate (src/gates/crash-reserved.ts) refuses the load first.
 */
export function noCrashReservation(file: string | undefined): never {
  throw new KexecLabError(
    "E_CRASH_NOT_RESERVED",
    `${file ?? "the /proc/iomem given"} has no "Crash kernel" line: the running kernel reserved no crash region (booted without crashkernel=, or the reservation failed), so kexec -p stops with "Memory for crashkernel is not reserved" (kexec-tools kexec/kexec.c main, is_crashkernel_mem_reserved)`,
    file !== undefined ? { file } : {},
  );
}
