/**
 * kexec-tools' x86_64 placement for kexec_load (kexec/arch/x86_64/kexec-bzImage64.c do_bzImage64_load,
 * kexec/arch/i386/x86-linux-setup.c), every search through locate_hole over its memory_range list:
 *   purgatory  elf_rel_build_load(min 0x3000, top-down)
 *   setup      add_buffer(max(setup size, 4096) + command line + PURGATORY_CMDLINE_SIZE, align 16,
 *              min 0x3000, top-down): the zero page with the setup header, then the command line
 *   kernel     add_buffer(init_size rounded to 4 KiB, kernel_alignment, min 1 MiB, top-down); from
 *              kexec-tools 2.0.30 (07a6217) min is max(1 MiB, pref_address)
 *   initrd     setup_linux_bootloader_parameters_high: align 4 KiB, min INITRD_BASE 16 MiB, top-down,
 *              no upper bound ("put initrd high too")
 *   rng seed   setup_linux_system_parameters -> setup_rng_seed -> add_setup_data: a struct setup_data
 *              (16 bytes) + 32 random bytes = 0x30, page-aligned, min 1 MiB, bottom-up (INT_MAX > 0)
 * The kernel entry is the load address + 0x200 (startup_64); the kexec entry is the purgatory.
 */

import { KexecLabError } from "../../errors.js";
import { hex } from "../../formats/bytes.js";
import { type BzImage, LOADED_HIGH } from "../../formats/bzimage.js";
import type { Iomem } from "../../formats/iomem.js";
import type { Range } from "../../machine/ranges.js";
import { kexecToolsVersionNumber, LATEST_KEXEC_TOOLS } from "../accept.js";
import {
  addBuffer,
  addInitrd,
  addSegment,
  alignUp,
  bzImageKernel,
  type Ctx,
  kernelWhere,
  place,
} from "../context.js";
import { seededBytes } from "../dtb-edit.js";
import { kexecToolsElfcorehdrSize, x86BackupArea, x86CrashMemoryRanges } from "./crash.js";
import { addPurgatory } from "./purgatory-segment.js";

/** kexec-tools x86: extra room after the command line in the setup segment (PURGATORY_CMDLINE_SIZE). */
export const PURGATORY_CMDLINE_SIZE = 64;
/** kexec-tools x86: lowest initrd address (INITRD_BASE). */
export const X86_INITRD_BASE = 0x1000000;
/** struct setup_data header (next, type, len) + the 32-byte RNG seed of setup_rng_seed. */
export const RNG_SEED_SETUP_DATA_SIZE = 16 + 32;
const SETUP_RNG_SEED = 9;

const BZ = "kexec-tools kexec/arch/x86_64/kexec-bzImage64.c do_bzImage64_load";

export interface X86LoadResult {
  entry: number;
  kernelEntry: number;
  initrd?: { start: number; end: number };
  /** The command line the kernel gets (crash loads append acpi_rsdp= and elfcorehdr=). */
  cmdline?: string;
}

/** setup_rng_seed -> add_setup_data: the RNG seed setup_data, the lowest page from 1 MiB up. */
export function addRngSeed(ctx: Ctx): void {
  const sd = new Uint8Array(RNG_SEED_SETUP_DATA_SIZE);
  const dv = new DataView(sd.buffer);
  dv.setUint32(8, SETUP_RNG_SEED, true);
  dv.setUint32(12, 32, true);
  sd.set(seededBytes(ctx.input.seed ?? 0, 32, 3), 16);
  addBuffer(ctx, "setup_data", sd, sd.length, {
    align: ctx.pageSize,
    min: 0x100000,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
    source:
      "kexec-tools kexec/arch/i386/x86-linux-setup.c setup_linux_system_parameters -> setup_rng_seed -> add_setup_data -> add_buffer -> locate_hole",
  });
  ctx.notes.push(
    "setup_data: kexec-tools passes a 32-byte RNG seed as a SETUP_RNG_SEED setup_data (0x30 bytes); on an EFI machine it also adds EFI setup_data and the runtime map (not modelled: no EFI inputs)",
  );
}

/**
 * load_crashdump_segments (kexec/arch/i386/crashdump-x86.c), all inside the crash region (mem_min /
 * mem_max): the backup of the first 640 KiB of RAM (align 1024, top-down), the ELF core header (bufsz
 * rounded to ELF_CORE_HEADER_ALIGN, memsz at least 16 KiB, align 1024, top-down), and the command
 * line with " acpi_rsdp=0x..." (cmdline_add_efi, non-EFI machines) and " elfcorehdr=NK" appended.
 */
export function loadCrashdumpSegments(
  ctx: Ctx,
  crash: { regions: readonly Range[]; iomem: Iomem | undefined },
  cmdline: string,
): string {
  if (!crash.iomem)
    throw new KexecLabError(
      "E_NO_MEMORY_MAP",
      "an x86_64 crash load through kexec_load reads /proc/iomem for the dump's memory ranges: pass --iomem",
    );
  const input = ctx.input;
  const ranges = x86CrashMemoryRanges(crash.iomem, crash.regions);
  const backup = x86BackupArea(ranges);
  const CRASH =
    "kexec-tools kexec/arch/i386/crashdump-x86.c load_crashdump_segments -> add_buffer -> locate_hole";
  const bsz = alignUp(backup.end - backup.start, 1024);
  addBuffer(ctx, "backup", new Uint8Array(bsz), bsz, {
    align: 1024,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: CRASH,
  });
  const cpus = input.cpus ?? 1;
  const bufsz = kexecToolsElfcorehdrSize(cpus, ranges.length);
  const memsz = Math.max(bufsz, 16 * 1024);
  const hdr = addBuffer(ctx, "elfcorehdr", new Uint8Array(bufsz), memsz, {
    align: 1024,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: CRASH,
  });
  ctx.notes.push(
    `backup: [${hex(backup.start)}, ${hex(backup.end)}) of the first 640 KiB (get_backup_area); elfcorehdr: ${hex(bufsz)} bytes = 64 + 56 x (${cpus} CPU notes + vmcoreinfo + kernel text + ${ranges.length} crash memory ranges), rounded to 1024, memsz ${hex(memsz)} (at least 16 KiB); --cpus sets the CPU count`,
  );
  let out = cmdline;
  if (input.acpiRsdp !== undefined) out += ` acpi_rsdp=0x${input.acpiRsdp.toString(16)}`;
  else
    ctx.notes.push(
      'no --acpi-rsdp given: kexec-tools appends " acpi_rsdp=0x..." (get_acpi_rsdp) on a non-EFI machine, which lengthens the setup segment',
    );
  out += ` elfcorehdr=${Math.floor(hdr / 1024)}K`;
  return out;
}

export function x86BzImageKexecTools(
  ctx: Ctx,
  bz: BzImage,
  crash?: { regions: readonly Range[]; iomem: Iomem | undefined },
): X86LoadResult {
  const input = ctx.input;
  // bzImage64_probe: a 64-bit, relocatable kernel that can be loaded high.
  if (!bz.relocatable) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "kexec-tools' bzImage64 loader needs a relocatable kernel (relocatable_kernel is 0)",
      kernelWhere(input, 0x234, "relocatable_kernel"),
    );
  }
  if ((bz.loadflags & LOADED_HIGH) === 0) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "loadflags LOADED_HIGH is clear: the kernel cannot be loaded high",
      kernelWhere(input, 0x211, "loadflags"),
    );
  }
  let cmdline = input.append ?? "";
  if (cmdline.length + 1 > bz.cmdlineSize) {
    throw new KexecLabError(
      "E_CMDLINE_TOO_LONG",
      `the command line with its NUL is ${cmdline.length + 1} bytes; this kernel's cmdline_size is ${bz.cmdlineSize}`,
      { field: "append" },
    );
  }
  if (crash) {
    cmdline = loadCrashdumpSegments(ctx, crash, cmdline);
    if (cmdline.length > 2047) {
      throw new KexecLabError(
        "E_CMDLINE_TOO_LONG",
        'kexec-tools: "Command line overflow" after appending the crash arguments',
        {
          field: "append",
        },
      );
    }
  }
  const cmdlineLen = cmdline.length + 1;
  const purgBase = addPurgatory(ctx, "x86_64", {
    min: 0x3000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${BZ} -> elf_rel_build_load -> elf_rel_load -> add_buffer -> locate_hole`,
  });
  const kern16Needed = Math.max(bz.setupSize, 4096);
  const setupSize = kern16Needed + cmdlineLen + PURGATORY_CMDLINE_SIZE;
  const setup = new Uint8Array(setupSize);
  const headerLen = Math.min(input.kernel[0x201]! + 0x202 - 0x1f1, 0x7f);
  setup.set(input.kernel.subarray(0x1f1, 0x1f1 + headerLen), 0x1f1);
  for (let i = 0; i < cmdline.length; i++) setup[kern16Needed + i] = cmdline.charCodeAt(i) & 0xff;
  addBuffer(ctx, "setup", setup, setupSize, {
    align: 16,
    min: 0x3000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${BZ} -> add_buffer -> locate_hole`,
  });
  const { bytes: kernelBytes, memsz } = bzImageKernel(input, bz, 4096);
  // kexec-tools 2.0.30 on (07a6217 "Include pref_address when looking for a memory hole"):
  // kernel64_min_addr = max(KERN32_BASE, pref_address).
  const prefRule = kexecToolsVersionNumber(input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS) >= 20030;
  const k = place(ctx, "kernel", {
    size: memsz,
    align: bz.kernelAlignment,
    min: prefRule ? Math.max(0x100000, bz.prefAddress) : 0x100000,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${BZ} -> add_buffer -> locate_hole`,
  });
  addSegment(ctx, "kernel", k.mem, kernelBytes, memsz, k.placement);
  const initrd = addInitrd(ctx, {
    align: 4096,
    min: X86_INITRD_BASE,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source:
      "kexec-tools kexec/arch/i386/x86-linux-setup.c setup_linux_bootloader_parameters_high -> add_buffer -> locate_hole",
  });
  if (input.crngReady === false) {
    ctx.notes.push(
      "no RNG seed setup_data: the running kernel's random pool is not initialized, so getrandom(GRND_NONBLOCK) fails and setup_rng_seed adds nothing",
    );
  } else addRngSeed(ctx);
  ctx.notes.push(
    "x86_64 setup segment: setup header and command line only (boot_params fields such as e820 and ramdisk_image are not filled)",
  );
  if (!bz.canBeLoadedAbove4G) {
    for (const s of ctx.segments) {
      if ((s.label === "kernel" || s.label === "initrd") && s.mem + s.memsz > 2 ** 32) {
        ctx.notes.push(
          `the ${s.label} is placed above 4 GiB but xloadflags lacks XLF_CAN_BE_LOADED_ABOVE_4G: this kernel may not boot; try --mem-max 0xffffffff`,
        );
      }
    }
  }
  return { entry: purgBase, kernelEntry: k.mem + 0x200, ...(initrd ? { initrd } : {}), cmdline };
}
