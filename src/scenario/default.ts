/**
 * The embedded default scenario: what `kexec-lab run` (and `npm start`) runs with no arguments.
 *
 * arm64: QEMU's virt machine with 4 GiB of RAM at 0x40000000 and a 4K granule, 48-bit VA; the running
 * kernel's image and firmware reservations as a Debian 6.1 kernel reports them in /proc/iomem on that
 * machine (../shared/data/iomem/arm64-qemu-virt-4g.txt). The new kernel is 28 MiB, the initrd 64 MiB,
 * the DTB 64 KiB, placed as kexec-tools places them (kernel at the lowest 2 MiB-aligned hole, initrd
 * and DTB page-aligned lowest fits above the kernel).
 *
 * x86_64: a 4 GiB PC (RAM below the 3 GiB PCI hole and 1 GiB above 4 GiB), with the same sizes.
 */

import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import type { ContentMode } from "../machine/machine.js";
import { MemoryMap, type Region } from "../machine/memmap.js";
import type { PageSize } from "../machine/physmem.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface DefaultScenario {
  name: string;
  arch: Arch;
  pageSize: PageSize;
  vaBits: number;
  memoryMap: MemoryMap;
  segments: Segment[];
  contentMode: ContentMode;
  seed: number;
}

function ram(start: number, end: number): Region {
  return { start, end, type: "ram", name: "System RAM" };
}
function reserved(start: number, end: number, name = "reserved"): Region {
  return { start, end, type: "reserved", name };
}

/** /proc/iomem of a Debian 6.1 arm64 kernel on QEMU virt with 4 GiB (RAM and its nested carve-outs). */
export function qemuVirt4gMap(): MemoryMap {
  return new MemoryMap([
    ram(0x40000000, 0x140000000),
    reserved(0x41a10000, 0x42d80000, "Kernel code"),
    reserved(0x42d80000, 0x43200000),
    reserved(0x43200000, 0x434a0000, "Kernel data"),
    reserved(0x434a0000, 0x43666000),
    reserved(0xf8000000, 0x100000000),
    reserved(0x13b000000, 0x13f600000),
    reserved(0x13f6f5000, 0x13f7d4000),
    reserved(0x13f7d6000, 0x140000000),
  ]);
}

export function pc4gMap(): MemoryMap {
  return new MemoryMap([
    ram(0x1000, 0x9f000),
    ram(0x100000, 0xc0000000),
    reserved(0x1000000, 0x3c58000, "Kernel code"),
    ram(0x100000000, 0x140000000),
  ]);
}

export interface DefaultScenarioOptions {
  /** arm64 granule (default 4K). x86_64 is always 4K. */
  pageSize?: PageSize;
  /** arm64 VA bits (default 48); x86_64: 48 (4-level) or 57 (5-level). */
  vaBits?: number;
}

export function defaultScenario(
  arch: Arch = "arm64",
  contentMode: ContentMode = "exact",
  seed = 1,
  opts: DefaultScenarioOptions = {},
): DefaultScenario {
  const seg = (mem: number, memsz: number, bufsz: number, label: string, salt: number): Segment => ({
    mem,
    memsz,
    label,
    content: { kind: "synthetic", seed: seed * 7919 + salt, bufsz },
  });
  if (arch === "arm64") {
    // Kernel: lowest 2 MiB-aligned hole of 28 MiB above the running kernel's reservations.
    const kernel = 0x43800000;
    const initrd = kernel + 28 * MiB;
    const dtb = initrd + 64 * MiB;
    return {
      name: "default-arm64-qemu-virt-4g",
      arch,
      pageSize: opts.pageSize ?? 4096,
      vaBits: opts.vaBits ?? 48,
      memoryMap: qemuVirt4gMap(),
      contentMode,
      seed,
      segments: [
        seg(kernel, 28 * MiB, 28 * MiB - 123 * 1024, "kernel", 1),
        seg(initrd, 64 * MiB, 64 * MiB - 5000, "initrd", 2),
        seg(dtb, 64 * 1024, 64 * 1024, "dtb", 3),
      ],
    };
  }
  // x86_64: bzImage rules put the kernel at the highest fit; the initrd and boot params below it.
  const kernel = 0xc0000000 - 32 * MiB;
  const initrd = kernel - 64 * MiB;
  const params = initrd - 64 * 1024;
  return {
    name: "default-x86_64-pc-4g",
    arch,
    pageSize: 4096,
    vaBits: opts.vaBits ?? 48,
    memoryMap: pc4gMap(),
    contentMode,
    seed,
    segments: [
      seg(params, 64 * 1024, 64 * 1024, "boot-params", 3),
      seg(initrd, 64 * MiB, 64 * MiB - 5000, "initrd", 2),
      seg(kernel, 28 * MiB, 28 * MiB - 123 * 1024, "kernel", 1),
    ],
  };
}

export const DEFAULT_GIB = GiB;
