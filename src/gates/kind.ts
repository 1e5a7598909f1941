import { detectKind, type FileKind } from "../formats/detect.js";

/**
 * What kexec_file_load's probe sees: the file the user gave. A wrapped kernel (zboot, UKI,
 * compressed; `wrapped` is PlanInput.kernelFormat's kind) keeps its wrapper's kind; otherwise the
 * kind of the bytes (detectKind on the first MiB).
 */
export function gateKernelKind(kernel: Uint8Array, wrapped?: string): FileKind | undefined {
  if (wrapped === "zboot" || wrapped === "uki" || wrapped === "compressed") return wrapped;
  return detectKind(kernel.subarray(0, Math.min(kernel.length, 1 << 20)));
}
