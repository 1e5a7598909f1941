/**
 * The embedded default scenario: what `kexec-lab run` (and `npm start`) runs with no arguments.
 *
 * arm64: QEMU's virt machine with 4 GiB of RAM at 0x40000000 and a 4K granule, 48-bit VA; the running
 * kernel's image and firmware reservations as a Debian 6.1 kernel reports them in /proc/iomem on that
 * machine (test/fixtures/data/arm64-qemu-virt-4g.txt). The new kernel is 28 MiB, the initrd 64 MiB,
 * the DTB 64 KiB.
 *
 * x86_64: a 4 GiB PC (RAM below the 3 GiB PCI hole and 1 GiB above 4 GiB), a bzImage with the same
 * sizes (init_size 44 MiB), the same initrd.
 *
 * Placement is not written down here: the loader (src/loader/plan.ts) places synthetic files of those
 * sizes exactly as kexec-tools would (arm64: kernel at the lowest 2 MiB-aligned hole, DTB, purgatory
 * and initrd at the lowest page-aligned fits above it; kexec-tools keeps the running kernel's own
 * "Kernel code"/"Kernel data" usable). The contents are then synthetic, seeded per segment. The free
 * pages come in a seeded random order: lowest-first would hand out the destinations themselves, first
 * page first, and leave nothing to relocate.
 */

import { defaultFreePages } from "../defaults.js";
import { serializeFdt } from "../formats/fdt.js";
import { arm64Header, bzImageHeader } from "../formats/synth.js";
import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import { planLoad } from "../loader/plan.js";
import type { FreePagePolicy } from "../machine/freepages.js";
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
  /** The running kernel's free-page order: random (seeded), as on a machine that has run a while. */
  freePages: FreePagePolicy;
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

const KERNEL_BUFSZ = 28 * MiB - 123 * 1024;
const INITRD_BYTES = 64 * MiB - 5000;

function be32(...words: number[]): Uint8Array {
  const b = new Uint8Array(words.length * 4);
  const v = new DataView(b.buffer);
  for (const [i, w] of words.entries()) v.setUint32(i * 4, w);
  return b;
}

/** A 64 KiB DTB of the virt machine: root cells, one memory node, an empty /chosen. */
function virtDtb(): Uint8Array {
  return serializeFdt(
    {
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      totalSize: 0,
      memreserve: [],
      root: {
        name: "",
        props: [
          { name: "#address-cells", value: be32(2) },
          { name: "#size-cells", value: be32(2) },
        ],
        children: [
          {
            name: "memory@40000000",
            props: [
              { name: "device_type", value: new TextEncoder().encode("memory\0") },
              { name: "reg", value: be32(0, 0x40000000, 1, 0) },
            ],
            children: [],
          },
          { name: "chosen", props: [], children: [] },
        ],
      },
    },
    { padTo: 64 * 1024 },
  );
}

export function defaultScenario(
  arch: Arch = "arm64",
  contentMode: ContentMode = "exact",
  seed = 1,
  opts: DefaultScenarioOptions = {},
): DefaultScenario {
  const pageSize = arch === "arm64" ? (opts.pageSize ?? 4096) : 4096;
  const memoryMap = arch === "arm64" ? qemuVirt4gMap() : pc4gMap();
  const plan = planLoad(
    arch === "arm64"
      ? {
          arch,
          loader: "kexec-tools",
          kernel: arm64Header({ imageSize: 28 * MiB }, KERNEL_BUFSZ - 64),
          initrd: new Uint8Array(INITRD_BYTES),
          dtb: virtDtb(),
          memoryMap,
          pageSize,
        }
      : {
          arch,
          loader: "kexec-tools",
          kernel: bzImageHeader({ initSize: 44 * MiB }, KERNEL_BUFSZ),
          initrd: new Uint8Array(INITRD_BYTES),
          memoryMap,
          pageSize,
        },
  );
  // Same placement, synthetic contents: segment i gets seed (seed * 7919 + i + 1), as scenario files do.
  const segments: Segment[] = plan.segments.map((s, i) => ({
    mem: s.mem,
    memsz: s.memsz,
    label: s.label ?? `segment${i}`,
    content: {
      kind: "synthetic",
      seed: (seed * 7919 + i + 1) >>> 0,
      bufsz: s.content.kind === "bytes" ? s.content.data.length : s.content.bufsz,
    },
  }));
  return {
    name: arch === "arm64" ? "default-arm64-qemu-virt-4g" : "default-x86_64-pc-4g",
    arch,
    pageSize,
    vaBits: opts.vaBits ?? 48,
    memoryMap,
    contentMode,
    seed,
    segments,
    freePages: defaultFreePages(seed),
  };
}

export const DEFAULT_GIB = GiB;
