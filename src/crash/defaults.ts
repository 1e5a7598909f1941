/**
 * The default crashkernel= values distributions write on the kernel command line, each with where it
 * comes from, and the size the kernel reserves for it on a given machine (parse_crashkernel's range
 * match, with the 128 MiB round-up). Browser-safe.
 */

import type { Arch } from "../kimage/constants.js";
import { kdumpRecommendCrashkernel } from "../memory/crashkernel.js";
import { parseCrashkernelOption } from "./parse.js";

export interface DistroDefault {
  name: string;
  /** The crashkernel= value. */
  value: string;
  source: string;
}

/** The tables, per arch (the kdump-utils ones without deltas: `memory` adds those for the host). */
export function distroDefaults(arch: Arch): DistroDefault[] {
  const kdump = kdumpRecommendCrashkernel({ arch, pageSize: 4096 }).text;
  return [
    {
      name: "Fedora / RHEL (kdump-utils)",
      value: kdump,
      source:
        "kdump-utils kdump-lib.sh kdump_get_arch_recommend_crashkernel (kdumpctl get-default-crashkernel; reset-crashkernel writes it), 4K pages, no deltas",
    },
    {
      name: "Ubuntu 26.04 (kdump-tools)",
      value: "2G-4G:320M,4G-32G:512M,32G-64G:1G,64G-128G:2G,128G-:4G",
      source:
        "Ubuntu 26.04's kdump-tools default, as issue #24 and the project's kexec-facts quote it (not read from the package here)",
    },
    {
      name: "Debian (kdump-tools)",
      value: "384M-:128M",
      source:
        "Debian kdump-tools' /etc/default/grub.d/kdump-tools.cfg (bookworm), as public pages quote it (not read from the package here)",
    },
  ];
}

/** The size each default reserves on a machine with `systemRamBytes` (memblock_phys_mem_size). */
export function distroDefaultSizes(
  arch: Arch,
  systemRamBytes: number,
  kernelVersion: [number, number] = [6, 12],
): (DistroDefault & { bytes: number })[] {
  return distroDefaults(arch).map((d) => ({
    ...d,
    bytes: parseCrashkernelOption(`crashkernel=${d.value}`, systemRamBytes, undefined, {
      version: kernelVersion,
      arch,
    }).size,
  }));
}
