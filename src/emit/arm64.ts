/**
 * Emission for QEMU's arm64 virt machine (target "qemu-virt-arm64").
 *
 * What QEMU gets: every RAM page the kimage populated (indirection pages, source pages, control pages
 * with the strategy's translation tables), the project's A64 routine (asm/arm64/reloc.S) in the
 * kimage's control code page, as the kernel copies its relocation code there, and the routine's
 * parameter block (head entry, MAIR/TCR/TTBRs, mode, VA bases, length). The blobs go into a sparse RAM
 * image file that backs the guest's RAM (qemuCommonArgs), and QEMU starts the CPU at the routine
 * (`-device loader,addr=...,cpu-num=0`). With no -kernel and no -bios, and with secure=off,virtualization=off, the CPU starts at
 * EL1; QEMU copies its own DTB to the start of RAM (0x40000000), so the machines used for emission keep
 * the first 2 MiB of RAM reserved (QEMU_VIRT_DTB_RESERVE).
 */

import { KexecLabError } from "../errors.js";
import type { Kimage } from "../kimage/kimage.js";
import type { PhysMem } from "../machine/physmem.js";
import { type EmitBlob, fromBase64, kimagePages, overlay, pagesToBlobs, put64 } from "./blobs.js";
import { ARM64_RELOC_BASE64, ARM64_RELOC_SYMBOLS } from "./generated/arm64-reloc.js";

export const QEMU_VIRT_RAM_BASE = 0x40000000;
/** QEMU writes the machine's DTB (up to 1 MiB for virt) at the start of RAM when there is no -kernel. */
export const QEMU_VIRT_DTB_RESERVE = 2 * 1024 * 1024;

/** Parameter block offsets (mirror of the P_* constants in asm/arm64/reloc.S). */
export const ARM64_PARAM = {
  status: 0x00,
  mode: 0x08,
  pageSize: 0x10,
  head: 0x18,
  mair: 0x20,
  tcr: 0x28,
  ttbr0: 0x30,
  ttbr1: 0x38,
  linearOffset: 0x40,
  srcVa: 0x48,
  dstVa: 0x50,
  length: 0x58,
  probeCount: 0x60,
  probeList: 0x68,
  probeResults: 0x70,
  pagesCopied: 0x78,
  entriesRead: 0x80,
  faultEsr: 0x88,
  faultFar: 0x90,
  faultElr: 0x98,
  size: 0xa0,
} as const;

export const ARM64_MODES = { "mmu-off": 0, "linear-map-copy": 1, "va-copy": 2, probe: 3 } as const;
export type Arm64Mode = keyof typeof ARM64_MODES;

/** Status words the routine writes into the parameter block. */
export const STATUS_DONE = 0x454e4f44;
export const STATUS_FAULT = 0x544c4146;

/** The MMU registers a strategy hands to the routine (full 64-bit values). */
export interface Arm64MmuRegisters {
  mair: bigint;
  tcr: bigint;
  ttbr0: bigint;
  ttbr1: bigint;
}

export interface Arm64Params {
  mode: Arm64Mode;
  pageSize: number;
  /** image->head (mmu-off, linear-map-copy). */
  head?: number;
  mmu?: Arm64MmuRegisters;
  /** linear-map-copy: va = pa + linearOffset (mod 2^64). */
  linearOffset?: bigint;
  /** va-copy */
  srcVa?: bigint;
  dstVa?: bigint;
  length?: number;
  /** probe: number of VAs, and where (VAs reachable with the MMU on) the list and the results are. */
  probeCount?: number;
  probeList?: bigint;
  probeResults?: bigint;
}

export interface QemuRange {
  addr: number;
  size: number;
  label: string;
}

/** Everything needed to run one emitted image under QEMU and to check it afterwards. */
export interface EmittedImage {
  target: "qemu-virt-arm64" | "qemu-pc-x86_64";
  /** RAM contents, sorted by address, non-overlapping. */
  blobs: EmitBlob[];
  /** arm64: the PC to start at. x86_64: unused (the Multiboot stub's ELF entry). */
  entry: number;
  /** x86_64: the Multiboot ELF32 stub for -kernel. */
  kernelElf?: Uint8Array;
  /** RAM QEMU must have (-m), in bytes. */
  ramBytes: number;
  /** -cpu */
  cpu: string;
  /** PA of the parameter block (status word at offset 0). */
  paramsAddr: number;
  paramsSize: number;
  /** What to dump after the run and compare with the simulator. */
  checks: QemuRange[];
  /** Short description for manifests. */
  description: string;
}

export function arm64Routine(): Uint8Array {
  return fromBase64(ARM64_RELOC_BASE64);
}

/** The routine with its parameter block filled in. */
export function arm64RoutineWithParams(p: Arm64Params): Uint8Array {
  const code = arm64Routine();
  const at = ARM64_RELOC_SYMBOLS.params;
  put64(code, at + ARM64_PARAM.mode, ARM64_MODES[p.mode]);
  put64(code, at + ARM64_PARAM.pageSize, p.pageSize);
  put64(code, at + ARM64_PARAM.head, p.head ?? 0);
  if (p.mmu !== undefined) {
    put64(code, at + ARM64_PARAM.mair, p.mmu.mair);
    put64(code, at + ARM64_PARAM.tcr, p.mmu.tcr);
    put64(code, at + ARM64_PARAM.ttbr0, p.mmu.ttbr0);
    put64(code, at + ARM64_PARAM.ttbr1, p.mmu.ttbr1);
  } else if (p.mode !== "mmu-off") {
    throw new KexecLabError("E_FIELD_MISSING", `mode ${p.mode} needs MAIR, TCR and TTBRs`, { field: "mmu" });
  }
  put64(code, at + ARM64_PARAM.linearOffset, p.linearOffset ?? 0n);
  put64(code, at + ARM64_PARAM.srcVa, p.srcVa ?? 0n);
  put64(code, at + ARM64_PARAM.dstVa, p.dstVa ?? 0n);
  put64(code, at + ARM64_PARAM.length, p.length ?? 0);
  put64(code, at + ARM64_PARAM.probeCount, p.probeCount ?? 0);
  put64(code, at + ARM64_PARAM.probeList, p.probeList ?? 0n);
  put64(code, at + ARM64_PARAM.probeResults, p.probeResults ?? 0n);
  return code;
}

export interface Arm64EmitOptions {
  mem: PhysMem;
  /** RAM pages to carry over (kimagePages(image) plus anything else the routine reads). */
  pages: Iterable<number>;
  /** Page the routine goes in (the control code page); it must be identity-mapped when the MMU is on. */
  routinePage: number;
  params: Arm64Params;
  checks: QemuRange[];
  description: string;
  /** Extra blobs (probe lists). */
  extra?: EmitBlob[];
}

/** Low-level arm64 emission: pages + routine + parameters. */
export function emitArm64(opts: Arm64EmitOptions): EmittedImage {
  const { mem } = opts;
  if (opts.routinePage % mem.pageSize !== 0) {
    throw new KexecLabError("E_FIELD_VALUE", "the routine page must be page-aligned", {
      field: "routinePage",
    });
  }
  const ramEnd = mem.ram.ranges.reduce((m, r) => Math.max(m, r.end), 0);
  let blobs = pagesToBlobs(mem, [...opts.pages, opts.routinePage]);
  const firstUsed = blobs[0]?.addr ?? opts.routinePage;
  if (firstUsed < QEMU_VIRT_RAM_BASE + QEMU_VIRT_DTB_RESERVE) {
    throw new KexecLabError(
      "E_NOT_MODELED",
      `a page at 0x${firstUsed.toString(16)} lies below 0x${(QEMU_VIRT_RAM_BASE + QEMU_VIRT_DTB_RESERVE).toString(16)}, where QEMU virt puts its DTB`,
      { field: "memoryMap" },
    );
  }
  const routine = arm64RoutineWithParams(opts.params);
  blobs = overlay(blobs, { addr: opts.routinePage, bytes: routine, label: "relocation routine" });
  for (const e of opts.extra ?? []) blobs = overlay(blobs, e);
  return {
    target: "qemu-virt-arm64",
    blobs,
    entry: opts.routinePage + ARM64_RELOC_SYMBOLS.reloc_entry,
    ramBytes: ramEnd - QEMU_VIRT_RAM_BASE,
    cpu: "max",
    paramsAddr: opts.routinePage + ARM64_RELOC_SYMBOLS.params,
    paramsSize: ARM64_PARAM.size,
    checks: opts.checks,
    description: opts.description,
  };
}

/** Destination ranges of a kimage's segments, as QEMU ranges to dump. */
export function segmentChecks(image: Kimage): QemuRange[] {
  return image.segments.map((s, i) => ({
    addr: s.mem,
    size: s.memsz,
    label: s.label ?? `segment ${i}`,
  }));
}

/** Strategy-independent emission of a loaded kimage relocated with the MMU off (Linux <= 5.15). */
export function emitArm64MmuOff(image: Kimage): EmittedImage {
  if (image.controlCodePage < 0) {
    throw new KexecLabError("E_FIELD_VALUE", "the kimage has no control code page (allocInit not run)");
  }
  return emitArm64({
    mem: image.mem,
    pages: kimagePages(image),
    routinePage: image.controlCodePage,
    params: { mode: "mmu-off", pageSize: image.pageSize, head: image.head },
    checks: segmentChecks(image),
    description: `arm64 ${image.pageSize / 1024}K mmu-off`,
  });
}

/** Where QEMU's RAM starts for a target: byte 0 of the RAM image file is this PA. */
export function qemuRamBase(img: Pick<EmittedImage, "target">): number {
  return img.target === "qemu-virt-arm64" ? QEMU_VIRT_RAM_BASE : 0;
}

/** QEMU's -m for an image, in MiB (the RAM image file has exactly this many bytes). */
export function qemuRamMiB(img: Pick<EmittedImage, "ramBytes">): number {
  return Math.ceil(img.ramBytes / (1024 * 1024));
}

export interface QemuRamFile {
  /** Path QEMU opens (a file, or /dev/fd/N for a descriptor it inherits). */
  path: string;
  /**
   * share=on: the guest writes into the file (the runner reads memory back from it);
   * share=off (default): a private copy-on-write mapping, the file is left as it is.
   */
  share?: boolean;
}

/**
 * The QEMU options every emitted image runs with: one CPU, no devices, no display, stop (not reboot)
 * at shutdown, and the guest's RAM backed by the RAM image file (`memory-backend-file`): a sparse file
 * of -m bytes holding the blobs at their offsets (PA - qemuRamBase), so QEMU maps only what the image
 * populated and the pages the guest touches, never a copy of the whole RAM.
 */
export function qemuCommonArgs(machine: string, img: EmittedImage, ram: QemuRamFile): string[] {
  const mib = qemuRamMiB(img);
  return [
    "-M",
    `${machine},memory-backend=ram0`,
    "-object",
    `memory-backend-file,id=ram0,size=${mib}M,mem-path=${ram.path},share=${ram.share === true ? "on" : "off"}`,
    "-cpu",
    img.cpu,
    "-m",
    `${mib}M`,
    "-smp",
    "1",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-nodefaults",
    "-no-shutdown",
    "-no-reboot",
  ];
}

/** Build the QEMU command line over a RAM image file; the CPU starts at the image's entry. */
export function qemuArm64Args(img: EmittedImage, ram: QemuRamFile): string[] {
  return [
    ...qemuCommonArgs("virt,secure=off,virtualization=off,gic-version=2", img, ram),
    "-device",
    `loader,addr=0x${img.entry.toString(16)},cpu-num=0`,
  ];
}
