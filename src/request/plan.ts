/**
 * Rules behind `kexec-lab plan`'s options that are not kexec's own: which architecture a load is
 * for, and the SIZE@OFFSET regions of crashkernel=, --cma and --kho-scratch. Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import { parseArch } from "../formats/role.js";
import type { Arch } from "../kimage/constants.js";
import { parseSize, toSafeNumber } from "../scenario/numbers.js";

/** What the architecture of a load can be inferred from, strongest first. */
export interface ArchEvidence {
  /** --arch as typed (any name parseArch takes: arm64, aarch64, x86_64, amd64). */
  arch?: string;
  /** What the kernel inside a wrapper (UKI, compressed, zboot) is (kernelArchOf on its first bytes). */
  innerKernelArch?: Arch;
  /** What the kernel file itself is: an Image arm64, a bzImage x86_64, an ELF by e_machine. */
  kernelFileArch?: Arch;
  /** The --host machine's uname -m. */
  hostArch?: Arch;
}

/**
 * The architecture of a load: --arch, else the kernel's (the one inside a wrapper first, then the
 * file's), else the host's, else arm64 (a gzip kernel with nothing else to go on is an Image.gz,
 * since x86_64 kernels are bzImages). Errors: parseArch's for an --arch it does not know;
 * E_ARCH_MISMATCH when --arch or the kernel names another architecture than the host's uname -m.
 */
export function inferArch(e: ArchEvidence): Arch {
  const given = e.arch !== undefined ? parseArch(e.arch) : undefined;
  const kernel = e.innerKernelArch ?? e.kernelFileArch;
  // kexec has no cross-architecture load: the running machine (the host) and the kernel must agree.
  if (e.hostArch !== undefined) {
    const other = given ?? kernel;
    if (other !== undefined && other !== e.hostArch)
      throw new KexecLabError(
        "E_ARCH_MISMATCH",
        `${given !== undefined ? `--arch ${given}` : `the kernel is an ${kernel} kernel`}, but the --host machine is ${e.hostArch} (its uname -m)`,
        { field: given !== undefined ? "--arch" : "--kernel" },
      );
  }
  return given ?? kernel ?? e.hostArch ?? "arm64";
}

/**
 * "SIZE@OFFSET" as in crashkernel=256M@0x80000000 (sizes as parseSize takes them: 256M, 0x10000000):
 * the region [OFFSET, OFFSET + SIZE). `field` names the option in errors (E_USAGE for another shape,
 * parseSize's errors for a bad number).
 */
export function parseSizeAt(text: string, field = "crashkernel"): { start: number; end: number } {
  const m = /^([^@]+)@(.+)$/.exec(text.trim());
  if (!m)
    throw new KexecLabError("E_USAGE", `--${field} wants SIZE@OFFSET (e.g. 256M@0x80000000), got "${text}"`, {
      field,
    });
  const size = toSafeNumber(parseSize(m[1], `${field} size`), `${field} size`);
  const start = toSafeNumber(parseSize(m[2], `${field} offset`), `${field} offset`);
  return { start, end: start + size };
}

/** The largest CONFIG_NR_CPUS any modelled architecture builds (x86_64 MAXSMP: 8192; arm64: 4096). */
export const MAX_CPUS = 8192;

/**
 * A CPU count as typed (`--cpus`): a decimal integer from 1 to MAX_CPUS. E_FIELD_VALUE when it is no
 * integer, E_NUMBER_RANGE outside the range, both naming the option (so the hint points at its --help).
 */
export function parseCpuCount(text: string, field = "--cpus"): number {
  const t = text.trim();
  if (!/^\d+$/.test(t))
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `${field} wants a number of CPUs (1 to ${MAX_CPUS}), got "${t.slice(0, 40)}"`,
      {
        field,
      },
    );
  const n = Number(t);
  if (n < 1 || n > MAX_CPUS)
    throw new KexecLabError(
      "E_NUMBER_RANGE",
      `${field} ${t}: a machine has 1 to ${MAX_CPUS} CPUs (the largest CONFIG_NR_CPUS)`,
      { field },
    );
  return n;
}
