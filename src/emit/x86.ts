/**
 * Emission for QEMU's x86_64 pc machine (target "qemu-pc-x86_64").
 *
 * Boot path chosen: a Multiboot (v1) ELF32 stub (asm/x86_64/boot.S) passed with -kernel. SeaBIOS and
 * QEMU's multiboot option ROM load it at 0x100000 and enter it in 32-bit protected mode, paging off.
 * The stub loads its own GDT, sets CR4.PAE, CR3 = the x86-ident strategy's top-level table, EFER.LME,
 * CR0.PG, far-jumps to 64-bit code, and walks the kimage entry list with rep movsq (copy mode, Linux
 * >= 6.14) or through the swap page (swap mode, Linux < 6.14). The kimage's pages are in the RAM image
 * file that backs the guest's RAM (present before SeaBIOS runs). The machines used for emission keep the
 * stub's area [1 MiB, 16 MiB) and the top of RAM (SeaBIOS's tables) reserved, so nothing of the kimage
 * lands where the firmware or the multiboot loader write, and QEMU gets QEMU_PC_EXTRA_RAM more RAM than
 * the simulated machine has (SeaBIOS writes near the top of RAM).
 */

import { KexecLabError } from "../errors.js";
import type { Kimage } from "../kimage/kimage.js";
import type { EmittedImage } from "./arm64.js";
import { type QemuRamFile, qemuCommonArgs, segmentChecks } from "./arm64.js";
import { fromBase64, kimagePages, pagesToBlobs, put64 } from "./blobs.js";
import {
  X86_BOOT_ELF_BASE64,
  X86_BOOT_LINK_ADDRESS,
  X86_BOOT_PARAMS_FILE_OFFSET,
  X86_BOOT_SYMBOLS,
} from "./generated/x86-boot.js";

/** Reserved low area: the stub (at 1 MiB), multiboot info, firmware scratch. */
export const QEMU_PC_LOW_RESERVE_END = 16 * 1024 * 1024;
/** Reserved at the top of the simulated RAM (kept free of kimage pages; a safety margin). */
export const QEMU_PC_TOP_RESERVE = 4 * 1024 * 1024;
/**
 * QEMU gets this much RAM beyond the simulated machine's: SeaBIOS writes its tables and relocated code
 * in the top 16 MiB or so of RAM below 4 GiB (seen clobbering [RAM end - 16 MiB - 120 KiB, RAM end -
 * 16 MiB) with -m 128M), so the simulated RAM must end well below QEMU's.
 */
export const QEMU_PC_EXTRA_RAM = 64 * 1024 * 1024;

export const X86_PARAM = {
  status: 0x00,
  mode: 0x08,
  head: 0x10,
  cr3: 0x18,
  swapPage: 0x20,
  pagesCopied: 0x28,
  entriesRead: 0x30,
  probeCount: 0x38,
  probeList: 0x40,
  probeResults: 0x48,
  size: 0x60,
} as const;

export type X86Mode = "copy" | "swap" | "probe";

export interface X86Params {
  mode: X86Mode;
  head: number;
  /** CR3: PA of the PML4 the x86-ident strategy built. Below 4 GiB (the stub loads it in 32-bit mode). */
  cr3: number;
  /** The kimage's swap page (swap mode). */
  swapPage: number;
  /** probe mode: number of VAs, and the PAs (identity-mapped) of the list and of the results. */
  probeCount?: number;
  probeList?: number;
  probeResults?: number;
}

/** The Multiboot stub ELF with its parameter block filled in. */
export function x86BootWithParams(p: X86Params): Uint8Array {
  if (p.cr3 >= 2 ** 32 || p.cr3 % 4096 !== 0) {
    throw new KexecLabError(
      "E_NOT_MODELED",
      `CR3 0x${p.cr3.toString(16)} must be a 4K-aligned PA below 4 GiB`,
      {
        field: "cr3",
      },
    );
  }
  const elf = fromBase64(X86_BOOT_ELF_BASE64);
  const at = X86_BOOT_PARAMS_FILE_OFFSET;
  put64(elf, at + X86_PARAM.mode, p.mode === "swap" ? 1 : p.mode === "probe" ? 2 : 0);
  put64(elf, at + X86_PARAM.head, p.head);
  put64(elf, at + X86_PARAM.cr3, p.cr3);
  put64(elf, at + X86_PARAM.swapPage, p.swapPage);
  put64(elf, at + X86_PARAM.probeCount, p.probeCount ?? 0);
  put64(elf, at + X86_PARAM.probeList, p.probeList ?? 0);
  put64(elf, at + X86_PARAM.probeResults, p.probeResults ?? 0);
  return elf;
}

export interface X86EmitOptions {
  image: Kimage;
  /** PA of the PML4 of the identity map (x86-ident's table). */
  cr3: number;
  mode: X86Mode;
  /** Pages to carry over; default kimagePages(image). */
  pages?: Iterable<number>;
  description?: string;
}

export function emitX86(opts: X86EmitOptions): EmittedImage {
  const { image } = opts;
  if (image.arch !== "x86_64" || image.pageSize !== 4096) {
    throw new KexecLabError("E_FIELD_VALUE", "x86_64 emission needs an x86_64 kimage with 4K pages", {
      field: "arch",
    });
  }
  const mem = image.mem;
  const ramEnd = mem.ram.ranges.reduce((m, r) => Math.max(m, r.end), 0);
  const blobs = pagesToBlobs(mem, opts.pages ?? kimagePages(image));
  for (const b of blobs) {
    if (b.addr < QEMU_PC_LOW_RESERVE_END) {
      throw new KexecLabError(
        "E_NOT_MODELED",
        `${b.label} lies below 16 MiB, where the firmware and the boot stub live`,
        { field: "memoryMap" },
      );
    }
  }
  return {
    target: "qemu-pc-x86_64",
    blobs,
    entry: X86_BOOT_LINK_ADDRESS,
    kernelElf: x86BootWithParams({
      mode: opts.mode,
      head: image.head,
      cr3: opts.cr3,
      swapPage: image.swapPage,
    }),
    ramBytes: ramEnd + QEMU_PC_EXTRA_RAM,
    cpu: "qemu64",
    paramsAddr: X86_BOOT_LINK_ADDRESS + X86_BOOT_SYMBOLS.params,
    paramsSize: X86_PARAM.size,
    checks: segmentChecks(image),
    description: opts.description ?? `x86_64 ${opts.mode}`,
  };
}

/** The QEMU command line over a RAM image file, with the Multiboot stub from `kernelFile`. */
export function qemuX86Args(img: EmittedImage, ram: QemuRamFile, kernelFile: string): string[] {
  return [...qemuCommonArgs("pc", img, ram), "-kernel", kernelFile];
}
