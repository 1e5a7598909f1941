/**
 * planLoad: real files in, the segments a loader would pass to the kernel out. No file I/O here: the
 * caller reads the files (the CLI) and passes bytes; this runs in a browser as well.
 *
 * This file only sequences one load, in the steps the tools take:
 *   the machine, read once:        machine-view.ts (MachineView: memory map texts, memblock, crash
 *                                  regions, CMA, KHO, versions, config)
 *   the syscall (--loader auto):   auto.ts syscallPlan, with kexec-tools' fallback from kexec_file_load
 *   1. inputs and machine:         prepare.ts (the memory map from memory.ts, the crash region)
 *   2. where holes are found:      placer-for.ts (kexec-tools' locate_hole or the kernel's walk)
 *   3. the syscall's own checks:   kexec-file/syscall.ts (ENOSYS, KEXEC_FILE_DEBUG, KHO)
 *   4. wrapped kernels:            plan-accept.ts judgeWrappedFile (accept.ts's table)
 *   5. which loader takes the file: registry.ts, probing kexec-tools' file_type[]
 *                                  (kexec-tools/file-types.ts) or the kernel's kexec_file_loaders[]
 *                                  (kexec-file/loaders.ts); the entry's load places the segments
 *   6. accept or refuse:           plan-verdict.ts (the kernel's segment checks, boot hazards)
 * See docs/loaders.md for every rule and its source.
 */

import { DEFAULT_LOADER } from "../defaults.js";
import { KexecLabError } from "../errors.js";
import { detectKind } from "../formats/detect.js";
import { checkKernelComplete } from "../formats/kernel-extent.js";
import { kernelArchOf, ROLE_HEAD_BYTES } from "../formats/role.js";
import { inferArch } from "../request/plan.js";
import { kexecFileErrno, syscallPlan } from "./auto.js";
import type { Ctx } from "./context.js";
import type { KernelFile } from "./file-ops.js";
import { kexecFileSyscall } from "./kexec-file/syscall.js";
import { type MachineView, machineView } from "./machine-view.js";
import { placerFor } from "./placer-for.js";
import { judgeWrappedFile, NO_FALLBACK, REFUSAL_ERRNO } from "./plan-accept.js";
import { finishPlan } from "./plan-verdict.js";
import { prepareLoad } from "./prepare.js";
import { chooseLoader } from "./registry.js";
import type { PlacedBy, Plan, PlanInput } from "./types.js";

export {
  type Acceptance,
  DEFAULT_KEXEC_TOOLS_VERSION,
  FALLBACK_ERRNOS,
  KernelRefusal,
  kexecFileAcceptance,
} from "./auto.js";
export { DEFAULT_KERNEL_VERSION } from "./kexec-file/version.js";
export { X86_KEXEC_FILE } from "./kexec-file/x86_64.js";
export {
  DEFAULT_PURGATORY,
  PURGATORY_PRESETS,
  purgatoryFromKexecBinary,
  purgatoryPreset,
} from "./kexec-tools/purgatory.js";
export { PURGATORY_CMDLINE_SIZE, X86_INITRD_BASE } from "./kexec-tools/x86_64.js";
export { KEXEC_TOOLS_ARM64_KEPT } from "./memory.js";
export { formatPlacement, formatPrintSegments, planToJson, segmentBufszOf } from "./output.js";
export * from "./types.js";

/** The kernel file as the probes see it; an Image or bzImage must hold its whole kernel. */
function kernelFileOf(input: PlanInput): KernelFile {
  const kind = detectKind(input.kernel);
  if (kind === "arm64-image" || kind === "bzimage") checkKernelComplete(input.kernel, input.kernelName);
  return {
    bytes: input.kernel,
    ...(input.kernelName !== undefined ? { name: input.kernelName } : {}),
    kind,
    where: input.kernelName !== undefined ? { file: input.kernelName, offset: 0 } : { offset: 0 },
    parsed: new Map(),
  };
}

/** Place the load with one syscall's rules (the steps of the file header). */
function placeWith(input: PlanInput, view: MachineView, loader: PlacedBy, selection: string): Plan {
  const m = prepareLoad(input, view);
  const placer = placerFor(loader, input, view, m);
  const ctx: Ctx = { input, view, pageSize: m.pageSize, placer, segments: [], notes: m.notes };
  const file = kernelFileOf(input);
  const kho = loader === "kexec-file" ? kexecFileSyscall(ctx, view, m.crashRegion) : undefined;
  m.notes.unshift(...judgeWrappedFile(input, loader));
  const chosen = chooseLoader(loader, input.arch, file);
  const result = chosen.load({ ctx, view, map: m.map, dtb: m.dtb, crashRegion: m.crashRegion, kho });
  return finishPlan(ctx, view, m, loader, selection, chosen, result);
}

/**
 * planLoad's input as library callers give it: a PlanInput whose `arch` may be left out. It is then
 * inferred from the kernel's bytes as the CLI infers it (inferArch in src/request/plan.ts, with no
 * --arch and no --host): an arm64 Image or arm64 ELF is arm64, a bzImage or x86_64 ELF is x86_64, and
 * anything else (a gzip'ed Image) arm64.
 */
export type PlanLoadInput = Omit<PlanInput, "arch"> & { arch?: PlanInput["arch"] };

/**
 * Place a load as kexec would (see the file header). With `loader: "auto"` (the default) this is
 * kexec-tools' own choice for its version: kexec_file_load first from 2.0.27, falling back to
 * kexec_load on ENOSYS/EINVAL/ENOEXEC/ENOTSUP; `plan.selection` says what happened. Without
 * `input.arch` the architecture is the kernel's (PlanLoadInput).
 * Throws KexecLabError (E_NO_HOLE, E_KERNEL_UNSUPPORTED, ...) when the load cannot be placed.
 */
export function planLoad(request: PlanLoadInput): Plan {
  const input: PlanInput =
    request.arch !== undefined
      ? (request as PlanInput)
      : {
          ...request,
          arch: inferArch({ kernelFileArch: kernelArchOf(request.kernel.subarray(0, ROLE_HEAD_BYTES)) }),
        };
  return planLoadOn(input, machineView(input));
}

/**
 * planLoad on a machine view already made for `input`'s machine (machine-view.ts), so a caller that
 * read the machine first (src/request/gates.ts) does not parse it again.
 */
export function planLoadOn(input: PlanInput, view: MachineView): Plan {
  const choice = syscallPlan(input.loader ?? DEFAULT_LOADER, input.kexecToolsVersion);
  if (!choice.fallback) return placeWith(input, view, choice.first, choice.why);
  try {
    return placeWith(input, view, "kexec-file", `${choice.why}; the kernel accepts this file`);
  } catch (e) {
    if (!(e instanceof KexecLabError) || NO_FALLBACK.has(e)) throw e;
    const errno = REFUSAL_ERRNO.get(e) ?? kexecFileErrno(input.arch, e);
    if (errno === undefined || !["ENOSYS", "EINVAL", "ENOEXEC", "ENOTSUP"].includes(errno)) throw e;
    const plan = placeWith(
      input,
      view,
      "kexec-tools",
      `${choice.why}; kexec_file_load would fail with ${errno} (${e.detail}), so kexec-tools falls back to kexec_load`,
    );
    return plan;
  }
}
