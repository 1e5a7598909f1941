/**
 * How much memory the running kernel must hold for a load: the answer to "out of memory in
 * kimage_alloc_pages when kexec'ing into an installer". The plan's segments are loaded on a
 * simulated machine (synthetic contents, so a 1 GiB initrd costs no host memory) by the same
 * kimage code `run` uses, and its page counts are read back.
 *
 * Rules (kernel/kexec_core.c, 6.1; derived from source):
 *   - kexec_load / kexec_file_load of a normal image: one source page per destination page of every
 *     segment's memsz (kimage_load_normal_segment), the entry list's indirection pages, the control
 *     code page and the swap page (kimage_alloc_init); pages kimage_alloc_page() took that lie in a
 *     destination (image->dest_pages) or above the source limit (image->unusable_pages) stay
 *     allocated until the image is freed: kimage_terminate() no longer frees them;
 *   - crash loads copy straight into the crashkernel reservation (kimage_load_crash_segment): no
 *     source pages from free memory;
 *   - during the load the file contents exist once more: kexec-tools holds every buffer in the kexec
 *     process (slurp_file), kexec_file_load reads the kernel and initrd into vmalloc'd buffers
 *     (kernel_read_file) that it frees after the load (kimage_file_post_load_cleanup).
 * The MMU-on relocation's page tables (arm64 trans_pgd since 5.13, x86_64's identity map) add a few
 * control pages that are not counted here (`kexec-lab run` counts them per strategy).
 */

import type { Segment } from "../kimage/kimage.js";
import { kexecLoad } from "../kimage/load.js";
import type { Plan } from "../loader/plan.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import { Machine } from "../machine/machine.js";
import type { PageSize } from "../machine/physmem.js";

export interface LoadMemory {
  crash: boolean;
  pageSize: number;
  sourcePages: number;
  indirectionPages: number;
  controlPages: number;
  /** Allocated pages that lie in a destination, kept on image->dest_pages (not yet reused). */
  parkedPages: number;
  /** Pages above the source-memory limit, kept on image->unusable_pages. */
  unusablePages: number;
  /** Bytes the running kernel holds from the load until kexec -e or unload. */
  heldBytes: number;
  /** Bytes of the loader's copies of the files during the load (user space or vmalloc). */
  fileBufferBytes: number;
  /** heldBytes + fileBufferBytes: the most memory the load needs at once. */
  peakBytes: number;
  /** The kernel's kexec_load checks refused the segments (then nothing is counted). */
  refused?: string;
}

export interface LoadMemoryOptions {
  /** Order in which the running kernel hands out free pages (default random, seed 1, as `run`). */
  freePages?: FreePagePolicy;
  /** The running kernel's page size, as the plan was made with (default 4096). */
  pageSize?: number;
}

/** Load `plan` on a simulated machine and count what the running kernel holds. */
export function loadMemory(plan: Plan, opts: LoadMemoryOptions = {}): LoadMemory {
  const ps = opts.pageSize ?? 4096;
  const crash = plan.crashRegion !== undefined;
  const fileBufferBytes = plan.segments.reduce(
    (a, s) => a + (s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz),
    0,
  );
  const machine = new Machine({
    arch: plan.arch,
    pageSize: ps as PageSize,
    memoryMap: plan.memoryMap,
    contentMode: "synthetic",
    freePages: opts.freePages ?? { kind: "random", seed: 1 },
  });
  const segments: Segment[] = plan.segments.map((s, i) => ({
    ...s,
    content: {
      kind: "synthetic",
      seed: i + 1,
      bufsz: s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz,
    },
  }));
  const out = kexecLoad(machine, segments, crash ? { crashRegion: plan.crashRegion! } : {});
  const empty = {
    crash,
    pageSize: ps,
    sourcePages: 0,
    indirectionPages: 0,
    controlPages: 0,
    parkedPages: 0,
    unusablePages: 0,
    heldBytes: 0,
    fileBufferBytes,
    peakBytes: fileBufferBytes,
  };
  if (!out.ok) return { ...empty, refused: `${out.verdict.errno}: ${out.verdict.reason}` };
  const c = out.image.counters;
  const parked = c.parkedPages - c.parkedReused;
  // Crash images take their control pages from the reservation, not from free memory.
  const control = crash ? 0 : c.controlPages;
  const heldPages = c.sourcePages + c.indirectionPages + control + parked + c.unusablePages;
  return {
    ...empty,
    sourcePages: c.sourcePages,
    indirectionPages: c.indirectionPages,
    controlPages: c.controlPages,
    parkedPages: parked,
    unusablePages: c.unusablePages,
    heldBytes: heldPages * ps,
    peakBytes: heldPages * ps + fileBufferBytes,
  };
}
