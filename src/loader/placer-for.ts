/**
 * The second step of a load: where the chosen syscall looks for holes. kexec_load: kexec-tools'
 * locate_hole over its memory_range list, clipped by --mem-min/--mem-max and, for -p, the crash
 * region. kexec_file_load: the kernel's kexec_locate_mem_hole over the ranges it walks (System RAM
 * resources or free memblock, ascending or, per version, descending; the crash region alone for a crash
 * load), KHO scratch areas (6.16+) and the CMA area first (6.17+). Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import { type KernelPlacerOptions, kernelPlacer, kexecToolsPlacer, type Placer } from "./context.js";
import { atLeast, KERNEL_RULES } from "./kexec-file/version.js";
import type { MachineView } from "./machine-view.js";
import { kernelWalkRanges, kexecToolsRanges } from "./memory.js";
import type { Prepared } from "./prepare.js";
import type { PlacedBy, PlanInput } from "./types.js";

/** kexec-tools' placement for kexec_load (--mem-min/--mem-max, the crash region for -p). */
function kexecToolsPlacerFor(input: PlanInput, view: MachineView, m: Prepared): Placer {
  const { crashRegion } = m;
  const r = kexecToolsRanges(view.arch, view, m.map, crashRegion);
  let memMin = input.memMin ?? 0;
  let memMaxEnd = input.memMax !== undefined ? input.memMax + 1 : Number.POSITIVE_INFINITY;
  if (crashRegion) {
    // Crash loads: every buffer lies in the crash region (x86 get_memory_ranges narrows
    // mem_min/mem_max to it; arm64 passes it as hole_min/hole_max).
    memMin = Math.max(memMin, crashRegion.start);
    memMaxEnd = Math.min(memMaxEnd, crashRegion.end);
  }
  const memOpts = input.memMin !== undefined || input.memMax !== undefined;
  const clippedBy = crashRegion
    ? `the crash kernel region${memOpts ? " and --mem-min/--mem-max" : ""} (kexec-tools searches only it for -p)`
    : "--mem-min/--mem-max";
  return kexecToolsPlacer(r.ranges, memMin, memMaxEnd, r.what, clippedBy);
}

/** The kernel's placement for kexec_file_load, per running-kernel version (version.ts KERNEL_RULES). */
function kernelPlacerFor(input: PlanInput, view: MachineView, m: Prepared): Placer {
  const { crashRegion, notes } = m;
  const version = view.kernelVersion;
  if (input.memMin !== undefined || input.memMax !== undefined)
    notes.push("--mem-min/--mem-max apply to kexec_load only; kexec_file_load places segments in the kernel");
  const walk = kernelWalkRanges(view.arch, view, m.map, notes);
  const rev = view.arch === "arm64" || atLeast(version, ...KERNEL_RULES.walkRev.since);
  const opts: KernelPlacerOptions = { oneByteLow: !atLeast(version, ...KERNEL_RULES.topDownPlusOne.since) };
  const kho = view.khoScratch;
  if (kho) {
    if (!atLeast(version, ...KERNEL_RULES.kho.since)) {
      throw new KexecLabError(
        "E_USAGE",
        `KHO scratch areas were given, but KHO needs kernel 6.16 or later (kernel ${view.kernelVersionName})`,
        {
          field: "kho-scratch",
        },
      );
    }
    if (!crashRegion) opts.khoScratch = kho;
  }
  const cma = view.cma;
  if (cma) {
    if (!atLeast(version, ...KERNEL_RULES.cma.since)) {
      notes.push(
        `a CMA area was given, but kexec_file_load allocates from CMA only from kernel 6.17 (${KERNEL_RULES.cma.commit}): not used`,
      );
    } else if (input.noCma) {
      notes.push("KEXEC_FILE_NO_CMA (--no-cma): the kernel does not try CMA");
    } else if (crashRegion) {
      notes.push("crash loads never use CMA (kexec_alloc_contig returns -EPERM for KEXEC_TYPE_CRASH)");
    } else if (!opts.khoScratch) {
      opts.cma = cma.area;
      if (cma.used) opts.cmaUsed = cma.used;
    }
  }
  return kernelPlacer((topDown) => {
    if (crashRegion) {
      return {
        ranges: [{ ...crashRegion, name: "Crash kernel" }],
        what:
          view.arch === "x86_64"
            ? "the crash kernel resource (walk_iomem_res_desc crashk_res)"
            : "the crash kernel region (crashk_res)",
      };
    }
    if (topDown && rev) {
      return {
        ranges: [...walk.ranges].reverse(),
        what: `${walk.what}, descending (${view.arch === "arm64" ? "for_each_free_mem_range_reverse" : `walk_system_ram_res_rev, ${KERNEL_RULES.walkRev.commit}`})`,
      };
    }
    return {
      ranges: walk.ranges,
      what: `${walk.what}, ascending (${view.arch === "arm64" ? "for_each_free_mem_range" : "walk_system_ram_res"}): the first range that fits wins`,
    };
  }, opts);
}

/** The placer of one syscall's attempt. */
export function placerFor(loader: PlacedBy, input: PlanInput, view: MachineView, m: Prepared): Placer {
  return loader === "kexec-tools" ? kexecToolsPlacerFor(input, view, m) : kernelPlacerFor(input, view, m);
}
