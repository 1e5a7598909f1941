/**
 * Who calls kexec_file_load for a loader choice, and which crash-region rule that choice follows. A
 * leaf module (types only), read by the loader's modules and by src/request. Browser-safe.
 */

import type { LoaderKind } from "./types.js";

/**
 * Who makes the kexec_file_load call: systemd for --loader systemd (or `via: "systemd"`), else
 * kexec-tools. The gates and the acceptance table (accept.ts) differ by caller.
 */
export function callerOf(input: {
  loader?: LoaderKind;
  via?: "kexec-tools" | "systemd";
}): "kexec-tools" | "systemd" {
  return input.loader === "systemd" ? "systemd" : (input.via ?? "kexec-tools");
}

/** The loader kind crash-region choice reads (src/crash/choose.ts): systemd calls kexec_file_load. */
export function crashLoaderOf(loader: LoaderKind | undefined): "kexec-tools" | "kexec-file" | "auto" {
  return loader === "systemd" ? "kexec-file" : (loader ?? "auto");
}
