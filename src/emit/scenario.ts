/**
 * A small scenario that fits QEMU: a few MiB of seeded segments on a machine whose RAM is laid out as
 * QEMU's (arm64 virt: RAM at 0x40000000 with QEMU's DTB area reserved; x86_64 pc: RAM from 1 MiB with
 * the boot stub's area and the top reserved), pages handed out in a seeded random order so the entry
 * list has swaps, parked pages and several indirection pages. Browser-safe (no files).
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import { MemoryMap, type Region } from "../machine/memmap.js";
import type { PageSize } from "../machine/physmem.js";
import type { RelocScenario } from "../reloc/run.js";
import { formatBytes } from "../report/format.js";
import { QEMU_VIRT_DTB_RESERVE, QEMU_VIRT_RAM_BASE } from "./arm64.js";
import { QEMU_PC_EXTRA_RAM, QEMU_PC_LOW_RESERVE_END, QEMU_PC_TOP_RESERVE } from "./x86.js";

const MiB = 1024 * 1024;

export function qemuMemoryMap(arch: Arch, ramMiB: number): MemoryMap {
  if (arch === "arm64") {
    const start = QEMU_VIRT_RAM_BASE;
    return new MemoryMap([
      { start, end: start + ramMiB * MiB, type: "ram", name: "System RAM" },
      { start, end: start + QEMU_VIRT_DTB_RESERVE, type: "reserved", name: "QEMU DTB" },
    ]);
  }
  const end = ramMiB * MiB;
  return new MemoryMap([
    { start: 0x100000, end, type: "ram", name: "System RAM" },
    { start: 0x100000, end: QEMU_PC_LOW_RESERVE_END, type: "reserved", name: "boot stub and firmware" },
    { start: end - QEMU_PC_TOP_RESERVE, end, type: "reserved", name: "top of RAM" },
  ]);
}

export interface QemuDemoOptions {
  arch: Arch;
  pageSize: PageSize;
  seed?: number;
  /** Simulated RAM in MiB (default 64 on arm64, 128 on x86_64). */
  ramMiB?: number;
  /** Size of the initrd segment's buffer in MiB (default 1 MiB + 12345 bytes; memsz rounds up to 2 MiB). */
  initrdMiB?: number;
}

/** kernel 4 MiB (3 MiB of bytes), initrd 2 MiB (1 MiB + 12345 bytes), dtb 2 MiB (64 KiB): seeded content. */
export function qemuDemoScenario(opts: QemuDemoOptions): RelocScenario {
  const seed = opts.seed ?? 1;
  const ramMiB = opts.ramMiB ?? (opts.arch === "arm64" ? 64 : 128);
  const base = opts.arch === "arm64" ? QEMU_VIRT_RAM_BASE + 8 * MiB : 32 * MiB;
  const initrdBytes = opts.initrdMiB !== undefined ? opts.initrdMiB * MiB : MiB + 12345;
  const initrdMemsz = Math.ceil(initrdBytes / (2 * MiB)) * 2 * MiB;
  const segments: Segment[] = [
    { mem: base, memsz: 4 * MiB, content: { kind: "synthetic", seed, bufsz: 3 * MiB }, label: "kernel" },
    {
      mem: base + 4 * MiB,
      memsz: initrdMemsz,
      content: { kind: "synthetic", seed: seed + 1, bufsz: initrdBytes },
      label: "initrd",
    },
    {
      mem: base + 4 * MiB + initrdMemsz,
      memsz: 2 * MiB,
      content: { kind: "synthetic", seed: seed + 2, bufsz: 64 * 1024 },
      label: "dtb",
    },
  ];
  return {
    name: `qemu demo ${opts.arch} ${opts.pageSize / 1024}K`,
    arch: opts.arch,
    pageSize: opts.pageSize,
    vaBits: 48,
    memoryMap: qemuMemoryMap(opts.arch, ramMiB),
    segments,
    contentMode: "exact",
    seed,
    freePages: { kind: "random", seed },
  };
}

/** Most RAM an emission target may ask QEMU for (TCG allocates it lazily, but -m must fit the host). */
export const QEMU_MAX_RAM_BYTES = 8 * 1024 * MiB;

/**
 * A scenario made fit for a QEMU target: the areas QEMU and the boot path write (arm64 virt: the DTB at
 * the start of RAM; x86_64 pc: below 16 MiB) are added as reserved regions, so neither the running
 * kernel's allocator nor the emitter puts anything there, and the RAM must lie where QEMU has it.
 */
export function fitScenarioForQemu(sc: RelocScenario): RelocScenario {
  const ram = sc.memoryMap.ram.ranges;
  const first = ram[0]?.start ?? 0;
  const end = ram[ram.length - 1]?.end ?? 0;
  const hex = (n: number) => `0x${n.toString(16)}`;
  const extra =
    sc.arch === "arm64"
      ? { start: QEMU_VIRT_RAM_BASE, end: QEMU_VIRT_RAM_BASE + QEMU_VIRT_DTB_RESERVE, name: "QEMU DTB" }
      : { start: 0, end: QEMU_PC_LOW_RESERVE_END, name: "boot stub and firmware" };
  if (sc.arch === "arm64" && first < QEMU_VIRT_RAM_BASE) {
    throw new KexecLabError(
      "E_NOT_MODELED",
      `RAM starts at ${hex(first)}; QEMU virt's RAM starts at ${hex(QEMU_VIRT_RAM_BASE)}`,
      { field: "machine.memoryMap" },
    );
  }
  const base = sc.arch === "arm64" ? QEMU_VIRT_RAM_BASE : 0;
  if (end - base > QEMU_MAX_RAM_BYTES) {
    throw new KexecLabError(
      "E_LIMIT",
      `QEMU would need ${formatBytes(end - base)} of RAM to reach ${hex(end)} (at most ${formatBytes(QEMU_MAX_RAM_BYTES)})`,
      { field: "machine.memoryMap" },
    );
  }
  if (sc.arch === "x86_64" && end + QEMU_PC_EXTRA_RAM > 0xc0000000) {
    // QEMU pc splits larger RAM at 3 GiB and SeaBIOS writes below that split: keep it all low.
    throw new KexecLabError(
      "E_NOT_MODELED",
      `RAM ends at ${hex(end)}; x86_64 emission needs all RAM (plus ${formatBytes(QEMU_PC_EXTRA_RAM)} for SeaBIOS) below 3 GiB`,
      { field: "machine.memoryMap" },
    );
  }
  const regions: Region[] = [...sc.memoryMap.regions];
  const overlapRam = sc.memoryMap.ram.intersect([{ start: extra.start, end: extra.end }]);
  for (const r of overlapRam.ranges) regions.push({ ...r, type: "reserved", name: extra.name });
  return { ...sc, memoryMap: new MemoryMap(regions) };
}
