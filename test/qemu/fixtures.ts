/**
 * Small machines and kimages for the QEMU tests: a few MiB of segments from real files (the Debian
 * arm64 Image and bzImage, QEMU virt's DTB) plus seeded random bytes, loaded with a scattering
 * free-page policy so the entry list has swaps, parked pages and several indirection pages.
 */

import { readFileSync } from "node:fs";
import { QEMU_VIRT_DTB_RESERVE, QEMU_VIRT_RAM_BASE } from "../../src/emit/arm64.js";
import { QEMU_PC_LOW_RESERVE_END, QEMU_PC_TOP_RESERVE } from "../../src/emit/x86.js";
import type { Arch } from "../../src/kimage/constants.js";
import { IND_DESTINATION, IND_SOURCE } from "../../src/kimage/constants.js";
import type { Kimage, Segment } from "../../src/kimage/kimage.js";
import { kexecLoad } from "../../src/kimage/load.js";
import type { FreePagePolicy } from "../../src/machine/freepages.js";
import { Machine } from "../../src/machine/machine.js";
import { MemoryMap } from "../../src/machine/memmap.js";
import type { PageSize } from "../../src/machine/physmem.js";
import { dataFile } from "../helpers/data.js";

const MiB = 1024 * 1024;

/** A data file (test/helpers/data.ts key), or its first `max` bytes. */
export function readData(key: string, max?: number): Uint8Array {
  const all = new Uint8Array(readFileSync(dataFile(key)));
  return max === undefined ? all : all.subarray(0, max);
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** QEMU virt RAM [0x40000000, +ramMiB) with the DTB area reserved. */
export function virtMachine(pageSize: PageSize, ramMiB: number, freePages: FreePagePolicy): Machine {
  const start = QEMU_VIRT_RAM_BASE;
  return new Machine({
    arch: "arm64",
    pageSize,
    memoryMap: new MemoryMap([
      { start, end: start + ramMiB * MiB, type: "ram", name: "System RAM" },
      { start, end: start + QEMU_VIRT_DTB_RESERVE, type: "reserved", name: "QEMU DTB" },
    ]),
    freePages,
  });
}

/** QEMU pc RAM [1 MiB, ramMiB) with the stub area and SeaBIOS's top of RAM reserved. */
export function pcMachine(ramMiB: number, freePages: FreePagePolicy): Machine {
  const end = ramMiB * MiB;
  return new Machine({
    arch: "x86_64",
    pageSize: 4096,
    memoryMap: new MemoryMap([
      { start: 0x100000, end, type: "ram", name: "System RAM" },
      { start: 0x100000, end: QEMU_PC_LOW_RESERVE_END, type: "reserved", name: "boot stub and firmware" },
      { start: end - QEMU_PC_TOP_RESERVE, end, type: "reserved", name: "SeaBIOS tables" },
    ]),
    freePages,
  });
}

/** Segments: the start of the real kernel, a random "initrd", a DTB; memsz > bufsz on some. */
export function smallSegments(arch: Arch, base: number, seed: number): Segment[] {
  const kernel =
    arch === "arm64"
      ? readData("debian-6.1.0-50-cloud-arm64.Image", 3 * MiB)
      : readData("debian-6.1.0-56-cloud-amd64.bzImage", 3 * MiB);
  const initrd = seededBytes(MiB + 12345, seed);
  const dtb = readData("qemu-virt-4g.dtb", 64 * 1024);
  return [
    { mem: base, memsz: 4 * MiB, content: { kind: "bytes", data: kernel }, label: "kernel" },
    { mem: base + 4 * MiB, memsz: 2 * MiB, content: { kind: "bytes", data: initrd }, label: "initrd" },
    { mem: base + 6 * MiB, memsz: 2 * MiB, content: { kind: "bytes", data: dtb }, label: "dtb" },
  ];
}

export function loadOrThrow(
  machine: Machine,
  segments: Segment[],
  beforeSegments?: (k: Kimage) => void,
): Kimage {
  const r = kexecLoad(machine, segments, beforeSegments ? { beforeSegments } : {});
  if (!r.ok) throw new Error(`load refused: ${r.verdict.errno} ${r.verdict.reason}`);
  return r.image;
}

/** What each segment's destination holds after a correct relocation: its buffer, then zeros. */
export function expectedSegment(s: Segment): Uint8Array {
  const out = new Uint8Array(s.memsz);
  if (s.content.kind === "bytes") out.set(s.content.data.subarray(0, s.memsz));
  return out;
}

/**
 * The simulator's reading of the kimage: walk the entry list in simulated RAM and assemble what each
 * destination range receives (the same list the routine walks on QEMU).
 */
export function simulatedDestinations(image: Kimage): Uint8Array[] {
  const ps = image.pageSize;
  const outs = image.segments.map((s) => new Uint8Array(s.memsz));
  const page = new Uint8Array(ps);
  let dest = 0;
  for (const e of image.entries()) {
    if (e.flag === IND_DESTINATION) dest = e.addr;
    else if (e.flag === IND_SOURCE) {
      image.mem.readBytes(e.addr, page);
      image.segments.forEach((s, i) => {
        if (dest >= s.mem && dest < s.mem + s.memsz) outs[i]!.set(page, dest - s.mem);
      });
      dest += ps;
    }
  }
  return outs;
}
