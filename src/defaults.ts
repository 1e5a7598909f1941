/**
 * The defaults every command and the library share, in one place: `run`, `plan`, `sweep`, scenario
 * files and the library's request functions read them from here, so the same inputs give the same
 * placement, the same free pages and the same timing model whichever command runs them. Browser-safe.
 */

import type { Arch } from "./kimage/constants.js";
import type { LoaderKind } from "./loader/types.js";
import type { FreePagePolicy } from "./machine/freepages.js";

/**
 * The syscall choice for real files: "auto", as kexec-tools itself chooses (kexec_file_load first
 * from 2.0.27, falling back to kexec_load on ENOSYS/EINVAL/ENOEXEC/ENOTSUP; src/loader/auto.ts).
 * `plan`, `run --kernel`, `memory`, `diff` and scenario `files` default to it. (The embedded default
 * scenario is a fixed model and names kexec-tools' kexec_load itself.)
 */
export const DEFAULT_LOADER: LoaderKind = "auto";

/** The free-page order's name as the options write it (`--free-pages`). */
export const DEFAULT_FREE_PAGES_TEXT = "random";

/**
 * The running kernel's free-page order when none is given: random, seeded by the scenario's seed (a
 * machine that has run a while hands out pages in no particular order). `run`, `sweep` and scenario
 * files default to it.
 */
export function defaultFreePages(seed: number): FreePagePolicy {
  return { kind: "random", seed };
}

/**
 * The timing-model profile when none is named: a Neoverse N1-class server on arm64, an x86_64
 * server on x86_64 (profiles/ and src/model/builtin-profiles.ts). `run`, `sweep` and `report` model
 * with it.
 */
export function defaultProfileName(arch: Arch): string {
  return arch === "x86_64" ? "x86_64-server" : "neoverse-n1-server";
}
