/**
 * The kernel's x86_64 kexec_file_load placement (arch/x86/kernel/kexec-bzimage64.c bzImage64_load,
 * arch/x86/kernel/crash.c crash_load_segments), each buffer through kexec_add_buffer ->
 * kexec_locate_mem_hole over the System RAM resources (kernel/kexec_file.c kexec_walk_resources):
 *
 *   crash only  elfcorehdr: crash_load_segments, buf_min 0, bottom-up, ELF_CORE_HEADER_ALIGN (4 KiB)
 *   purgatory   kexec_load_purgatory: buf_min MIN_PURGATORY_ADDR 0x3000, top-down
 *   bootparams  boot_params + command line + 30 bytes for "elfcorehdr=" (16-aligned) + setup_data for
 *               EFI and the RNG seed; align 16, buf_min MIN_BOOTPARAM_ADDR 0x3000, top-down
 *   kernel      PAGE_ALIGN(init_size), kernel_alignment, buf_min MIN_KERNEL_LOAD_ADDR 1 MiB
 *               (6.8+: max(that, pref_address)), top-down
 *   initrd      page-aligned, buf_min MIN_INITRD_LOAD_ADDR 16 MiB, top-down
 *
 * "top-down" is per range: before b3ba234171cd (6.8) the walk goes through the System RAM resources
 * in ascending order (walk_system_ram_res) and takes the FIRST range that fits, placing the buffer at
 * the top of that range. That is why a 6.1 kernel puts purgatory and boot_params just under 640 KiB
 * (the first RAM range, [0x1000, 0x9fc00)) and the kernel and initrd at the top of the RAM range
 * starting at 1 MiB, under 2 GiB or 3 GiB, however much RAM lies above 4 GiB. From 6.8 top-down
 * buffers walk the resources in descending order (walk_system_ram_res_rev). Crash loads walk the
 * crash kernel resource only. Segments keep load order; the kexec entry is the purgatory.
 */

import { KexecLabError } from "../../errors.js";
import { hex } from "../../formats/bytes.js";
import { type BzImage, LOADED_HIGH } from "../../formats/bzimage.js";
import { configEnabled, configNumber, type KernelConfig } from "../../formats/kconfig.js";
import type { Range } from "../../machine/ranges.js";
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
import type { PurgatorySize } from "../types.js";
import { atLeast, KERNEL_RULES } from "./version.js";

/** arch/x86/kernel/kexec-bzimage64.c: lowest addresses of the segments, and string room reserved. */
export const X86_KEXEC_FILE = {
  MIN_PURGATORY_ADDR: 0x3000,
  MIN_BOOTPARAM_ADDR: 0x3000,
  MIN_KERNEL_LOAD_ADDR: 0x100000,
  MIN_INITRD_LOAD_ADDR: 0x1000000,
  MAX_ELFCOREHDR_STR_LEN: 30,
  /** sizeof(struct boot_params). */
  BOOT_PARAMS_SIZE: 4096,
  /** sizeof(struct setup_data), sizeof(struct efi_setup_data), RNG seed bytes. */
  SETUP_DATA_SIZE: 16,
  EFI_SETUP_DATA_SIZE: 96,
  RNG_SEED_LENGTH: 32,
  /** arch/x86/include/asm/kexec.h ELF_CORE_HEADER_ALIGN for kexec_file. */
  ELF_CORE_HEADER_ALIGN: 4096,
};

/**
 * The kernel's own purgatory (arch/x86/purgatory, linked into the kernel): its size depends on the
 * build. Measured: Debian's 6.1.0 amd64 kernels load it with bufsz 0x4000, memsz 0x5000 (recordings
 * x86_64-q35-*-kexec_file_load); used for other kernels too, as a model.
 */
export const X86_KERNEL_PURGATORY_MODEL: PurgatorySize = {
  bufsz: 0x4000,
  memsz: 0x5000,
  // kexec_purgatory_setup_sechdrs: image->start = base + purgatory_start's offset in .text; 6.8+ kernels
  // log it ("kexec_file_load: type:0, start:0x..."), recorded as base + 0x160 on Debian 6.12 and 7.3.
  entryOffset: 0x160,
  source:
    "the kernel's built-in purgatory as measured on Debian amd64 6.1, 6.12 and 7.3 (sizes; the entry offset from 6.12 and 7.3; other builds may differ)",
};

const SRC = "kernel arch/x86/kernel/kexec-bzimage64.c bzImage64_load";

/**
 * crash_prepare_elf64_headers for x86 (arch/x86/kernel/crash.c prepare_elf_headers): one phdr per
 * possible CPU, vmcoreinfo, the kernel text, and each System RAM resource after cutting out the
 * first 1 MiB and the crash regions; rounded to ELF_CORE_HEADER_ALIGN.
 */
export function x86KernelElfcorehdrSize(cpus: number, ramRanges: number): number {
  const sz = 64 + 56 * (cpus + 1 + ramRanges + 1);
  return alignUp(sz, X86_KEXEC_FILE.ELF_CORE_HEADER_ALIGN);
}

/** PN_XNUM (include/uapi/linux/elf.h): e_phnum's escape value; crash hotplug sizing must stay below it. */
const PN_XNUM = 0xffff;

/**
 * What crash hotplug support reserves for the elfcorehdr segment on x86_64 (arch/x86/kernel/crash.c
 * crash_load_segments, Linux 6.6+ with CONFIG_CRASH_HOTPLUG): memsz = Elf64_Ehdr + Elf64_Phdr x
 * (2 [vmcoreinfo, kernel text] + CONFIG_NR_CPUS_DEFAULT + (CONFIG_MEMORY_HOTPLUG ?
 * CONFIG_CRASH_MAX_MEMORY_RANGES : today's RAM ranges)), so CPUs and memory can be hot-added without
 * reloading; the buffer itself (bufsz) stays today's headers. Undefined when the rule does not apply
 * (older kernel, CRASH_HOTPLUG off, or PN_XNUM reached, where the kernel logs "number of Phdrs %lu
 * exceeds max" and keeps memsz = bufsz). `assumed` lists the config items taken from Debian's amd64
 * build because the plan was given no config. Checked against Debian 6.12 and 7.3 crash loads
 * (memsz 0xe1000 with NR_CPUS_DEFAULT 8192, MEMORY_HOTPLUG=y, CRASH_MAX_MEMORY_RANGES 8192).
 */
export function x86CrashHotplugElfcorehdrMemsz(
  version: [number, number],
  config: KernelConfig | undefined,
  ramRanges: number,
): { memsz: number; phdrs: number; assumed: string[] } | undefined {
  if (!atLeast(version, ...KERNEL_RULES.crashHotplug.since)) return undefined;
  const assumed: string[] = [];
  const pick = <T>(name: string, got: T | undefined, debian: T): T => {
    if (got !== undefined) return got;
    assumed.push(`CONFIG_${name}=${String(debian === true ? "y" : debian)}`);
    return debian;
  };
  if (!pick("CRASH_HOTPLUG", configEnabled(config, "CRASH_HOTPLUG"), true)) return undefined;
  const nrCpus = pick("NR_CPUS_DEFAULT", configNumber(config, "NR_CPUS_DEFAULT"), 8192);
  const memHotplug = pick("MEMORY_HOTPLUG", configEnabled(config, "MEMORY_HOTPLUG"), true);
  const maxRanges = memHotplug
    ? pick("CRASH_MAX_MEMORY_RANGES", configNumber(config, "CRASH_MAX_MEMORY_RANGES"), 8192)
    : ramRanges;
  const phdrs = 2 + nrCpus + maxRanges;
  if (phdrs >= PN_XNUM) return undefined;
  return { memsz: alignUp(64 + 56 * phdrs, 4096), phdrs, assumed };
}

export function x86BzImageKexecFile(
  ctx: Ctx,
  bz: BzImage,
  version: [number, number],
  crash: { region: Range; ramRanges: number } | undefined,
) {
  const input = ctx.input;
  const K = X86_KEXEC_FILE;
  // bzImage64_probe.
  if ((bz.loadflags & LOADED_HIGH) === 0) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "loadflags LOADED_HIGH is clear: bzImage64_probe refuses the kernel (ENOEXEC)",
      kernelWhere(input, 0x211, "loadflags"),
    );
  }
  if (!bz.relocatable) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "relocatable_kernel is 0: bzImage64_probe refuses the kernel (ENOEXEC)",
      kernelWhere(input, 0x234, "relocatable_kernel"),
    );
  }
  if (!bz.canBeLoadedAbove4G) {
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      "XLF_CAN_BE_LOADED_ABOVE_4G is not set: bzImage64_probe refuses the kernel (ENOEXEC)",
      kernelWhere(input, 0x236, "xloadflags"),
    );
  }
  const cmdline = input.append ?? "";
  const cmdlineLen = cmdline.length + 1;
  if (cmdlineLen + K.MAX_ELFCOREHDR_STR_LEN > bz.cmdlineSize) {
    throw new KexecLabError(
      "E_CMDLINE_TOO_LONG",
      `the command line with its NUL is ${cmdlineLen} bytes; kexec_file_load keeps ${K.MAX_ELFCOREHDR_STR_LEN} bytes free for "elfcorehdr=" within this kernel's cmdline_size ${bz.cmdlineSize} (EINVAL)`,
      { field: "append" },
    );
  }
  let elfcorehdr: number | undefined;
  if (crash) {
    const cpus = input.cpus ?? 1;
    const size = x86KernelElfcorehdrSize(cpus, crash.ramRanges);
    const hotplug = x86CrashHotplugElfcorehdrMemsz(version, input.kernelConfig, crash.ramRanges);
    elfcorehdr = addBuffer(ctx, "elfcorehdr", new Uint8Array(size), hotplug?.memsz ?? size, {
      align: K.ELF_CORE_HEADER_ALIGN,
      min: 0,
      max: Number.POSITIVE_INFINITY,
      topDown: false,
      source:
        "kernel arch/x86/kernel/crash.c crash_load_segments -> kexec_add_buffer -> kexec_locate_mem_hole",
    });
    ctx.notes.push(
      `elfcorehdr: ${hex(size)} bytes = 64 + 56 x (${cpus} CPUs + vmcoreinfo + kernel text + ${crash.ramRanges} RAM ranges), rounded to 4 KiB (--cpus sets the possible CPUs)`,
    );
    if (hotplug) {
      ctx.notes.push(
        `elfcorehdr memsz: ${hex(hotplug.memsz)} = 64 + 56 x ${hotplug.phdrs} program headers, rounded to 4 KiB: crash hotplug (Linux 6.6+, CONFIG_CRASH_HOTPLUG) reserves room for every possible CPU and memory range (arch/x86/kernel/crash.c crash_load_segments)${hotplug.assumed.length ? `; assumed Debian's amd64 config: ${hotplug.assumed.join(", ")} (give the kernel's config for its own values)` : ""}`,
      );
    }
  }
  const purg = input.kernelPurgatory ?? X86_KERNEL_PURGATORY_MODEL;
  const purgBase = addBuffer(ctx, "purgatory", new Uint8Array(purg.bufsz), purg.memsz, {
    align: Math.max(purg.align ?? 1, ctx.pageSize),
    min: K.MIN_PURGATORY_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${SRC} -> kexec_load_purgatory -> kexec_purgatory_setup_kbuf -> kexec_add_buffer -> kexec_locate_mem_hole`,
  });
  ctx.notes.push(
    `purgatory: bufsz ${hex(purg.bufsz)}, memsz ${hex(purg.memsz)} from ${purg.source ?? "given size"}`,
  );
  const paramsCmdline = alignUp(K.BOOT_PARAMS_SIZE + cmdlineLen + K.MAX_ELFCOREHDR_STR_LEN, 16);
  const paramsSize =
    paramsCmdline + K.SETUP_DATA_SIZE + K.EFI_SETUP_DATA_SIZE + K.SETUP_DATA_SIZE + K.RNG_SEED_LENGTH;
  const params = new Uint8Array(paramsSize);
  const headerLen = Math.min(0x202 + input.kernel[0x201]! - 0x1f1, 0x7f);
  params.set(input.kernel.subarray(0x1f1, 0x1f1 + headerLen), 0x1f1);
  for (let i = 0; i < cmdline.length; i++) params[K.BOOT_PARAMS_SIZE + i] = cmdline.charCodeAt(i) & 0xff;
  addBuffer(ctx, "bootparams", params, paramsSize, {
    align: 16,
    min: K.MIN_BOOTPARAM_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${SRC} -> kexec_add_buffer -> kexec_locate_mem_hole`,
  });
  const { bytes: kernelBytes, memsz } = bzImageKernel(input, bz, ctx.pageSize);
  const pref = atLeast(version, ...KERNEL_RULES.prefAddress.since);
  const k = place(ctx, "kernel", {
    size: memsz,
    align: bz.kernelAlignment,
    min: pref ? Math.max(K.MIN_KERNEL_LOAD_ADDR, bz.prefAddress) : K.MIN_KERNEL_LOAD_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${SRC} -> kexec_add_buffer -> kexec_locate_mem_hole`,
  });
  addSegment(ctx, "kernel", k.mem, kernelBytes, memsz, k.placement);
  const initrd = addInitrd(ctx, {
    align: ctx.pageSize,
    min: K.MIN_INITRD_LOAD_ADDR,
    max: Number.POSITIVE_INFINITY,
    topDown: true,
    source: `${SRC} -> kexec_add_buffer -> kexec_locate_mem_hole`,
  });
  ctx.notes.push(
    "x86_64 kexec_file boot_params: setup header and command line only (e820, EFI and setup_data contents are not filled; no EFI memory map is counted in its size)",
  );
  // setup_cmdline puts "elfcorehdr=0x%lx " before the user's command line for crash loads.
  const cmdlineOut =
    elfcorehdr !== undefined ? `elfcorehdr=0x${elfcorehdr.toString(16)} ${cmdline}` : cmdline;
  return {
    entry: purgBase + (purg.entryOffset ?? 0),
    kernelEntry: k.mem + 0x200,
    ...(initrd ? { initrd } : {}),
    cmdline: cmdlineOut,
  };
}
