/**
 * `in-place`: the segments are already at their destinations (a crash kernel loaded into its reserved
 * region, reserved memory, CMA). The kimage has no source pages: image->head is IND_DONE, and the
 * arm64 kernel skips the relocation tables entirely (machine_kexec_post_load returns early). The
 * runner loads such an image as the kernel loads a crash image: every segment straight into place.
 * The relocation loop still starts: it reads head, sees IND_DONE, and stops. On arm64 the segments,
 * written through the caches at load time, are then cleaned and invalidated to PoC
 * (kexec_segment_flush) and cpu_soft_restart turns the MMU off before the jump.
 */

import { relocateList } from "./cpu.js";
import { enterInPlace } from "./mmu-common.js";
import { noTables, type RelocationStrategy } from "./strategy.js";

export const inPlace: RelocationStrategy = {
  name: "in-place",
  description: "segments loaded straight into their destinations (crash kernel, reserved memory): no copy",
  arches: ["arm64", "x86_64"],
  phase: "after-segments",
  image: "in-place",
  prepare(ctx) {
    const image = ctx.image;
    return {
      pageTables: noTables(),
      livePages: [],
      execute(cpu) {
        relocateList(cpu, {
          head: image.head,
          mmuOn: false,
          half: 0,
          vaOffset: 0,
          copyFlags: 0,
          cmoBefore: 0,
          cmoAfter: 0,
          swapPage: -1,
          maxEntries: 2 * (image.counters.entries + image.counters.indirectionPages) + 64,
        });
        // arm64: kexec_segment_flush, then cpu_soft_restart with the MMU and caches off
        if (ctx.machine.arch === "arm64") enterInPlace(cpu, image);
      },
    };
  },
};
