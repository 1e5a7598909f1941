/**
 * Which syscall kexec-tools makes, as kexec/kexec.c main() and do_kexec_file_load decide it:
 *
 * - `-s` (kexec_file_load only) and `-c` (kexec_load only) force one syscall;
 * - from 2.0.27 (commit 29fe506 "kexec: make -a the default") plain `kexec -l/-p` behaves as `-a`:
 *   try kexec_file_load, and fall back to kexec_load when it fails with ENOSYS, EINVAL, ENOEXEC or
 *   ENOTSUP (the switch in do_kexec_file_load returns EFALLBACK for those); any other errno
 *   (EADDRNOTAVAIL, EKEYREJECTED, ...) is final. Crash loads (-p) follow the same rule;
 * - before 2.0.27 plain `kexec -l/-p` uses kexec_load only.
 *
 * kexecFileAcceptance says which kernel files the kernel's kexec_file loaders take, from the probes of
 * each architecture's kexec_file_loaders[] (kexec-file/loaders.ts); a new file kind is a new entry there.
 */

import { KexecLabError } from "../errors.js";
import type { FileKind } from "../formats/detect.js";
import type { Arch } from "../kimage/constants.js";
import { KEXEC_FILE_LOADERS } from "./kexec-file/loaders.js";
import type { LoaderKind, PlacedBy } from "./types.js";

export const DEFAULT_KEXEC_TOOLS_VERSION = "2.0.32";
/** First kexec-tools release where kexec_file_load is tried first (kexec -a is the default). */
export const AUTO_DEFAULT_SINCE = "2.0.27";

/** errnos for which kexec-tools falls back from kexec_file_load to kexec_load. */
export const FALLBACK_ERRNOS = ["ENOSYS", "EINVAL", "ENOEXEC", "ENOTSUP"] as const;

export type Acceptance = { accepted: true } | { accepted: false; errno: string; reason: string };

/**
 * Does the running kernel's kexec_file_load take this kernel file? The probes of the architecture's
 * kexec_file_loaders[] (kexec-file/loaders.ts) in order, as kexec_image_probe_default tries them: the
 * first that takes the file's kind accepts it; when none does, the refusal of the last one (arm64
 * image_probe: EINVAL without an Image; x86_64 bzImage64_probe: ENOEXEC without a bzImage). Further
 * checks of an accepted kind (bzImage64_probe's flags, image_load's image_size) are made by the
 * loads, which report the same errnos.
 */
export function kexecFileAcceptance(arch: Arch, kind: FileKind | undefined): Acceptance {
  let refusal: Acceptance = { accepted: false, errno: "ENOEXEC", reason: `no kexec_file loader for ${arch}` };
  for (const ops of KEXEC_FILE_LOADERS[arch]) {
    const r = ops.probe(kind);
    if (r === undefined) return { accepted: true };
    refusal = { accepted: false, errno: r.errno, reason: r.reason };
  }
  return refusal;
}

export function parseToolsVersion(v: string): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) {
    throw new KexecLabError("E_USAGE", `--kexec-tools-version wants X.Y.Z (e.g. 2.0.25), got "${v}"`, {
      field: "kexec-tools-version",
    });
  }
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function versionBefore(a: number[], b: number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/** kexec-tools version a is older than b ("2.0.25" < "2.0.29"). */
export function toolsBefore(a: string, b: string): boolean {
  return versionBefore(parseToolsVersion(a), parseToolsVersion(b));
}

/** The first syscall to try and whether kexec-tools would fall back to kexec_load. */
export function syscallPlan(
  loader: LoaderKind,
  toolsVersion: string | undefined,
): { first: PlacedBy; fallback: boolean; why: string } {
  const v = toolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION;
  if (loader === "kexec-tools")
    return { first: "kexec-tools", fallback: false, why: "kexec_load (--loader kexec-tools, as kexec -c)" };
  if (loader === "kexec-file")
    return {
      first: "kexec-file",
      fallback: false,
      why: "kexec_file_load (--loader kexec-file, as kexec -s)",
    };
  if (loader === "systemd")
    return {
      first: "kexec-file",
      fallback: false,
      why: "kexec_file_load (--loader systemd: systemctl kexec calls it itself and, when the kernel refuses the file, unwraps it once and retries; systemd PRs 41390 and 42234)",
    };
  if (versionBefore(parseToolsVersion(v), parseToolsVersion(AUTO_DEFAULT_SINCE))) {
    return {
      first: "kexec-tools",
      fallback: false,
      why: `kexec_load: kexec-tools ${v} uses kexec_load unless -s is given (kexec_file_load first only from ${AUTO_DEFAULT_SINCE})`,
    };
  }
  return {
    first: "kexec-file",
    fallback: true,
    why: `kexec_file_load: kexec-tools ${v} tries it first (-a is the default from ${AUTO_DEFAULT_SINCE})`,
  };
}

/** A refusal by the kernel with a known errno (E_SYSCALL_REFUSED). */
export class KernelRefusal extends KexecLabError {
  readonly errno: string;
  constructor(errno: string, detail: string, where: ConstructorParameters<typeof KexecLabError>[2] = {}) {
    super("E_SYSCALL_REFUSED", `${errno}: ${detail}`, where);
    this.errno = errno;
  }
}

/** The errno the kernel's kexec_file_load returns for a placement error, where one maps. */
export function kexecFileErrno(arch: Arch, e: KexecLabError): string | undefined {
  if (e instanceof KernelRefusal) return e.errno;
  switch (e.code) {
    case "E_KERNEL_UNSUPPORTED":
      return arch === "arm64" ? "EINVAL" : "ENOEXEC";
    case "E_CMDLINE_TOO_LONG":
      return "EINVAL";
    case "E_NO_HOLE":
    case "E_INITRD_WINDOW":
      return "EADDRNOTAVAIL";
    default:
      return undefined;
  }
}
