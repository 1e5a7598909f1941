/**
 * The last step of a load: the placed segments judged as the kernel judges them and turned into the
 * Plan. KEXEC_SEGMENT_MAX; kexec-tools sorts its segments by address (kexec_file keeps load order);
 * notes for segments over the running kernel's reserved regions; the kernel's checks of the segment
 * list (src/kimage/validate.ts: sanity_check_segment_list with the "half of RAM" total, the crash
 * region); the segments the loaded kernel damages at boot (boot-hazards.ts). Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import { KEXEC_SEGMENT_MAX } from "../kimage/constants.js";
import { validateLoad } from "../kimage/validate.js";
import type { Ctx } from "./context.js";
import type { LoadResult } from "./file-ops.js";
import type { MachineView } from "./machine-view.js";
import { kernelCrashResIn, placementSourceFor } from "./memory.js";
import { segmentBufszOf } from "./output.js";
import type { Prepared } from "./prepare.js";
import type { ChosenLoader } from "./registry.js";
import type { PlacedBy, Plan } from "./types.js";

/** Accept (a Plan with the kernel's verdict) or refuse (E_TOO_MANY_SEGMENTS) the placed load. */
export function finishPlan(
  ctx: Ctx,
  view: MachineView,
  m: Prepared,
  loader: PlacedBy,
  selection: string,
  chosen: ChosenLoader,
  result: LoadResult,
): Plan {
  const { input } = ctx;
  const { map, crashRegion, notes } = m;
  if (ctx.segments.length > KEXEC_SEGMENT_MAX) {
    throw new KexecLabError(
      "E_TOO_MANY_SEGMENTS",
      `the load needs ${ctx.segments.length} segments (${ctx.segments.map((s) => s.label).join(", ")}); kexec_load takes at most ${KEXEC_SEGMENT_MAX}`,
      { field: "segments" },
    );
  }
  const segments = loader === "kexec-tools" ? [...ctx.segments].sort((a, b) => a.mem - b.mem) : ctx.segments;
  for (const s of segments) {
    for (const r of map.regions) {
      // a crash load is meant to lie in the crash kernel region
      if (crashRegion && r.name.startsWith("Crash kernel")) continue;
      if (r.type === "reserved" && s.mem < r.end && r.start < s.mem + s.memsz) {
        notes.push(
          `${s.label} [${hex(s.mem)}, ${hex(s.mem + s.memsz)}) overlaps the running kernel's "${r.name}" [${hex(r.start)}, ${hex(r.end)}): allowed, the copy happens after the running kernel has stopped`,
        );
      }
    }
  }
  const memTotal = view.memTotal;
  const totalRam: Plan["totalRam"] =
    memTotal !== undefined
      ? { bytes: memTotal, source: "MemTotal" }
      : { bytes: map.ramBytes, source: "memory map" };
  const crashRes = crashRegion ? kernelCrashResIn(view, crashRegion) : undefined;
  const verdict = validateLoad({
    arch: input.arch,
    pageSize: ctx.pageSize,
    ramBytes: BigInt(totalRam.bytes),
    segments: segments.map((s) => ({
      mem: BigInt(s.mem),
      memsz: BigInt(s.memsz),
      bufsz: BigInt(segmentBufszOf(s)),
    })),
    ...(crashRes
      ? {
          crash: { start: BigInt(crashRes.start), end: BigInt(crashRes.end - 1) },
          entry: BigInt(result.entry),
        }
      : {}),
  });
  const plan: Plan = {
    arch: input.arch,
    loader,
    selection,
    memoryMap: map,
    memoryMapSource: m.mapSource,
    placementSource: placementSourceFor(input.arch, loader, view, m.mapSource),
    totalRam,
    segments,
    notes,
    verdict,
    ...result,
  };
  if (loader === "kexec-file") plan.kernelVersion = view.kernelVersionName;
  if (crashRegion) plan.crashRegion = crashRegion;
  const hazards = chosen.bootHazards(segments);
  if (hazards.length > 0) {
    plan.bootHazards = hazards;
    for (const h of hazards)
      notes.unshift(`the loaded kernel will damage its ${h.segment} at boot: ${h.mechanism} (${h.source})`);
  }
  return plan;
}
