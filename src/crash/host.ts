/**
 * The memblock state at the time of the crashkernel reservation, as far as a collected host shows it
 * (kexec-lab-collect's files, or a recording's). Browser-safe.
 *
 * memblock.memory:
 *   arm64: memblock-memory.txt (/sys/kernel/debug/memblock/memory), else the System RAM lines of
 *   /proc/iomem, else the DTB's memory nodes;
 *   x86_64: the RAM entries of /sys/firmware/memmap (the e820 table e820__memblock_setup adds), trimmed
 *   to pages (memblock_trim_memory), else /proc/iomem's System RAM.
 * memblock.reserved at the time of the reservation, built from what is known:
 *   - memblock-reserved.txt (arm64 keeps memblock after boot) minus the host's current "Crash kernel"
 *     regions (those are what is being predicted) and minus what dmesg shows was allocated after the
 *     reservation (swiotlb: "software IO TLB: mapped [mem ...]", allocated in mem_init);
 *   - the running kernel's image (/proc/iomem Kernel code .. Kernel bss);
 *   - x86_64: the first 1 MiB (reserved since 5.13), dmesg's "RAMDISK: [mem a-b]" (reserve_initrd) and
 *     "NODE_DATA(n) allocated [mem a-b]" (both before reserve_crashkernel in setup_arch);
 *   - dmesg's "cma: Reserved N MiB at 0x..." (dma_contiguous_reserve runs before the reservation on
 *     both arches) and arm64 "NUMA: NODE_DATA [mem a-b]";
 *   - arm64: the initrd in the DTB's /chosen linux,initrd-start/-end.
 * Anything else the boot allocated before the reservation and freed or hid afterwards is not known
 * (for x86 without a full dmesg that includes the initrd, which QEMU and boot loaders put at the top of
 * low memory): the prediction then lies higher than the kernel's, and `notes` says so.
 */

import { findNode, getProp, parseFdt, propNumber } from "../formats/fdt.js";
import type { Host } from "../host/host.js";
import { hostKernelVersion, hostMachineView } from "../host/plan.js";
import type { Arch } from "../kimage/constants.js";
import { type Range, RangeSet } from "../machine/ranges.js";
import type { ReserveInput } from "./reserve.js";

export interface HostMemblock {
  memory: Range[];
  reserved: Range[];
  /** Where each part came from. */
  sources: string[];
  notes: string[];
  /** arm64: the kernel has ZONE_DMA/DMA32, when dmesg's "Zone ranges:" block says. */
  zoneDma?: boolean;
  /** The host's current "Crash kernel" regions, [start, end). */
  current: Range[];
}

const MEM = /\[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\]/;

function dmesgRange(dmesg: string, re: RegExp): Range[] {
  const out: Range[] = [];
  for (const l of dmesg.split("\n")) {
    if (!re.test(l)) continue;
    const m = MEM.exec(l);
    if (m) out.push({ start: Number.parseInt(m[1]!, 16), end: Number.parseInt(m[2]!, 16) + 1 });
  }
  return out;
}

/** "cma: Reserved 64 MiB at 0x00000000fc000000" lines. */
function dmesgCma(dmesg: string): Range[] {
  const out: Range[] = [];
  for (const m of dmesg.matchAll(/cma: Reserved (\d+) MiB at (0x[0-9a-fA-F]+)/g)) {
    const start = Number.parseInt(m[2]!, 16);
    out.push({ start, end: start + Number(m[1]) * 2 ** 20 });
  }
  return out;
}

/** arm64: whether dmesg's "Zone ranges:" block lists a DMA or DMA32 zone (undefined: no block). */
export function dmesgZoneDma(dmesg: string): boolean | undefined {
  const lines = dmesg.split("\n");
  const i = lines.findIndex((l) => /Zone ranges:/.test(l));
  if (i < 0) return undefined;
  for (let j = i + 1; j < Math.min(lines.length, i + 6); j++) {
    if (/\]\s+(DMA|DMA32)\s/.test(lines[j]!)) return true;
  }
  return false;
}

export function hostMemblock(host: Host, arch: Arch, dmesgText?: string): HostMemblock {
  const sources: string[] = [];
  const notes: string[] = [];
  // The host's files through the loaders' machine view: one reader of iomem's "Crash kernel" lines.
  const view = hostMachineView(host, arch);
  const iomem = view.iomemFile;
  const current = view.crashRegions.map((r) => ({ start: r.start, end: r.end }));
  let memory: Range[] = [];
  if (arch === "arm64" && host.memblockMemory !== undefined) {
    memory = view.memblockMemory ?? [];
    sources.push("memory: memblock-memory.txt");
  } else if (arch === "x86_64" && host.memmap !== undefined) {
    memory = (view.memmapFile?.entries ?? [])
      .filter((e) => e.name === "System RAM")
      .map((e) => ({ start: Math.ceil(e.start / 4096) * 4096, end: Math.floor(e.end / 4096) * 4096 }))
      .filter((r) => r.end > r.start);
    sources.push("memory: the System RAM entries of memmap.txt (e820), trimmed to pages");
  } else if (iomem !== undefined) {
    memory = iomem.entries.filter((e) => e.depth === 0 && e.name === "System RAM").map((e) => ({ ...e }));
    sources.push("memory: the System RAM lines of iomem.txt");
  } else if (host.fdt !== undefined) {
    const root = parseFdt(host.fdt, `${host.source}/fdt.dtb`).root;
    for (const child of root.children) {
      if (!child.name.startsWith("memory")) continue;
      const reg = getProp(child, "reg");
      if (reg === undefined) continue;
      const dv = new DataView(reg.value.buffer, reg.value.byteOffset, reg.value.byteLength);
      for (let o = 0; o + 16 <= reg.value.length; o += 16) {
        const start = dv.getUint32(o) * 2 ** 32 + dv.getUint32(o + 4);
        const size = dv.getUint32(o + 8) * 2 ** 32 + dv.getUint32(o + 12);
        memory.push({ start, end: start + size });
      }
    }
    sources.push("memory: the DTB's memory nodes");
  }
  memory = [...new RangeSet(memory).ranges];

  let reserved = new RangeSet();
  const dmesg = dmesgText ?? host.dmesg ?? "";
  if (host.memblockReserved !== undefined) {
    const swiotlb = dmesgRange(dmesg, /software IO TLB: mapped/);
    reserved = reserved
      .union(view.memblockReserved ?? [])
      .subtract(current)
      .subtract(swiotlb);
    sources.push(
      `reserved: memblock-reserved.txt minus the current "Crash kernel" regions${swiotlb.length ? " and the swiotlb buffer dmesg shows" : ""}`,
    );
    notes.push(
      "memblock-reserved.txt is the state after boot: allocations made after the reservation (other than swiotlb when dmesg shows it) still count as taken, so a larger crashkernel= may be predicted to fail or land lower than it would",
    );
  }
  if (iomem !== undefined) {
    const k = iomem.entries.filter((e) => /^Kernel (code|rodata|data|bss)$/.test(e.name));
    if (k.length > 0) {
      reserved = reserved.union([
        { start: Math.min(...k.map((e) => e.start)), end: Math.max(...k.map((e) => e.end)) },
      ]);
      sources.push("reserved: the kernel image (Kernel code .. Kernel bss in iomem.txt)");
    }
  }
  if (arch === "x86_64") {
    reserved = reserved.union([{ start: 0, end: 2 ** 20 }]);
    sources.push("reserved: the first 1 MiB (x86 setup_arch since 5.13)");
  }
  const early = [
    ...dmesgRange(dmesg, /RAMDISK: \[mem/),
    ...dmesgRange(dmesg, /NODE_DATA/),
    ...dmesgCma(dmesg),
  ];
  if (early.length > 0) {
    reserved = reserved.union(early);
    sources.push("reserved: dmesg's RAMDISK, NODE_DATA and cma lines");
  } else if (arch === "x86_64") {
    notes.push(
      'the boot\'s initrd and NODE_DATA are not known (dmesg.txt without "RAMDISK: [mem ...]" / "NODE_DATA" lines): the prediction can lie above the real region, which the initrd pushes down',
    );
  }
  if (arch === "arm64" && host.fdt !== undefined) {
    const chosen = findNode(parseFdt(host.fdt, `${host.source}/fdt.dtb`).root, "/chosen");
    const a = propNumber(chosen ? getProp(chosen, "linux,initrd-start") : undefined);
    const b = propNumber(chosen ? getProp(chosen, "linux,initrd-end") : undefined);
    if (a !== undefined && b !== undefined && b > a) {
      reserved = reserved.union([{ start: a, end: b }]);
      sources.push("reserved: the initrd of the DTB's /chosen");
    }
  }
  const zoneDma = dmesgZoneDma(dmesg);
  return {
    memory,
    reserved: [...reserved.ranges],
    sources,
    notes,
    current,
    ...(zoneDma !== undefined ? { zoneDma } : {}),
  };
}

/** A ReserveInput for the host (its cmdline and kernel version unless given). */
export function hostReserveInput(
  host: Host,
  arch: Arch,
  over: { cmdline?: string; kernelVersion?: string; zoneDma?: boolean; dmesg?: string } = {},
): { input: ReserveInput; memblock: HostMemblock } {
  const mb = hostMemblock(host, arch, over.dmesg);
  const zoneDma = over.zoneDma ?? mb.zoneDma;
  return {
    input: {
      arch,
      kernelVersion: over.kernelVersion ?? hostKernelVersion(host.release) ?? "6.1",
      cmdline: over.cmdline ?? host.cmdline ?? "",
      memory: mb.memory,
      reserved: mb.reserved,
      ...(zoneDma !== undefined ? { zoneDma } : {}),
    },
    memblock: mb,
  };
}
