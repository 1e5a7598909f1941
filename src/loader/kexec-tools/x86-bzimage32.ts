/**
 * kexec-tools' 32-bit bzImage loader as the x86_64 kexec binary runs it for kexec_load
 * (kexec/arch/i386/kexec-bzImage.c bzImage_probe, bzImage_load -> do_bzImage_load, with
 * kexec/arch/i386/x86-linux-setup.c). On x86_64 the file_type list (kexec/arch/x86_64/kexec-x86_64.c)
 * tries bzImage64 before bzImage, so this loader gets a bzImage that bzImage64_probe refuses: protocol
 * below 2.12, or xloadflags without both XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G; and a bzImage64
 * loaded with --entry-32bit or --real-mode (bzImage64_load hands those to do_bzImage_load).
 *
 * Every search goes through locate_hole (add_buffer); hole_end 1 is bottom-up, -1 top-down; maxima
 * are inclusive in kexec-tools and exclusive here (+1):
 *   crash      load_crashdump_segments(info, cmdline, -1, 0) first, as bzImage64 does (crash.ts)
 *   purgatory  elf_rel_build_load(0x3000, 0x7fffffff, -1) for a relocatable kernel with the 32-bit
 *              entry; (0x3000, 640 KiB, -1) for --real-mode or a kernel that is not relocatable
 *   setup      add_buffer(setup_size, align 16, 0x3000, 640 KiB, 1): bottom-up below 640 KiB (a crash
 *              load: 0x3000..ULONG_MAX, -1); setup_size = kern16_size_needed + command line + 64,
 *              kern16_size_needed = max((setup_sects + 1) * 512, 4096), or with --real-mode
 *              heap_end_ptr (protocol 2.01+; before: setup + 8 KiB) plus the heap up to 0xfffc
 *   check      the purgatory's base must lie above the setup segment ("Could not put setup code above
 *              the kernel parameters")
 *   kernel     relocatable (protocol 2.05+ and relocatable_kernel): add_buffer(kernel_alignment,
 *              min 1 MiB, max min(DEFAULT_BZIMAGE_ADDR_MAX 0x37ffffff, initrd_addr_max), 1): bottom-up;
 *              otherwise add_segment at KERN32_BASE 0x100000. kexec-tools 2.0.30 on: memsz is init_size
 *              rounded to 4 KiB (ec3e4df) and min is max(1 MiB, pref_address) (07a6217); before:
 *              memsz = the file minus the setup code, min 1 MiB
 *   initrd     setup_linux_bootloader_parameters: align 4 KiB, min INITRD_BASE 16 MiB, max
 *              initrd_addr_max (protocol 2.03+; before 0x37ffffff), top-down
 *   rng seed   setup_linux_system_parameters -> setup_rng_seed (not with --real-mode), as bzImage64
 * Entry: the kexec entry is purgatory_start; purgatory jumps through entry64 to entry32 (entry64_regs.rip
 * defaults to entry32 in purgatory/arch/x86_64/entry64.S), which drops to 32-bit protected mode and
 * jumps to entry32_regs.eip = the kernel's load address (startup_32) with esi = the setup segment.
 * With --real-mode eip is purgatory's entry16, which enters the kernel's real-mode setup at
 * (setup_base >> 4) + 0x20 : 0, i.e. physical setup_base + 0x200.
 */

import { KexecLabError } from "../../errors.js";
import { hex } from "../../formats/bytes.js";
import type { BzImage } from "../../formats/bzimage.js";
import type { Iomem } from "../../formats/iomem.js";
import type { Range } from "../../machine/ranges.js";
import { kexecToolsVersionNumber, LATEST_KEXEC_TOOLS } from "../accept.js";
import {
  addBuffer,
  addInitrd,
  addSegment,
  alignUp,
  type Ctx,
  fixedPlacement,
  KiB,
  kernelWhere,
  place,
} from "../context.js";
import { addPurgatory } from "./purgatory-segment.js";
import {
  addRngSeed,
  loadCrashdumpSegments,
  PURGATORY_CMDLINE_SIZE,
  X86_INITRD_BASE,
  type X86LoadResult,
} from "./x86_64.js";

/** kexec-tools include/x86/x86-linux.h DEFAULT_BZIMAGE_ADDR_MAX and DEFAULT_INITRD_ADDR_MAX (inclusive). */
export const DEFAULT_BZIMAGE_ADDR_MAX = 0x37ffffff;
export const DEFAULT_INITRD_ADDR_MAX = 0x37ffffff;
/** kexec/arch/i386/x86-linux-setup.h KERN32_BASE: where a kernel that is not relocatable goes. */
export const KERN32_BASE = 0x100000;
/** include/x86/x86-linux.h COMMAND_LINE_SIZE: the crash command line buffer. */
export const X86_COMMAND_LINE_SIZE = 2048;
/** 640 KiB: the top of conventional memory (purgatory and setup for the real-mode entry). */
const LOW_MEM_TOP = 640 * KiB;

const BZ = "kexec-tools kexec/arch/i386/kexec-bzImage.c do_bzImage_load";

/** How the kernel is entered: its 32-bit protected-mode entry (default) or its 16-bit real-mode setup. */
export type Bz32Entry = "32bit" | "real-mode";

/** bzImage64_probe (kexec/arch/x86_64/kexec-bzImage64.c): protocol >= 2.12, LOADED_HIGH, xloadflags & 3 == 3. */
export function bzImage64Probe(bz: BzImage): boolean {
  return bz.protocol >= 0x020c && (bz.loadflags & 1) !== 0 && (bz.xloadflags & 3) === 3;
}

/** bzImage_probe (kexec/arch/i386/kexec-bzImage.c): at least 1 KiB, "HdrS", 0xAA55, protocol >= 2.00, LOADED_HIGH. */
export function bzImageProbe(bz: BzImage): boolean {
  return bz.fileSize >= 1024 && bz.protocol >= 0x0200 && (bz.loadflags & 1) !== 0;
}

/**
 * do_bzImage_load for kexec_load on x86_64 (see the file header for every rule). `entry` is the
 * kernel entry asked for (default 32bit); `crash` is a kexec -p load. Returns the kexec entry
 * (purgatory_start), the kernel's entry and the command line; throws E_CMDLINE_TOO_LONG,
 * E_KERNEL_UNSUPPORTED (crash with --real-mode or a kernel that is not relocatable), E_NO_HOLE, and
 * E_NO_HOLE for a purgatory below the setup segment.
 */
export function doBzImageLoad(
  ctx: Ctx,
  bz: BzImage,
  entry: Bz32Entry,
  crash?: { regions: readonly Range[]; iomem: Iomem | undefined },
): X86LoadResult {
  const input = ctx.input;
  const kernel = input.kernel;
  const version = input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS;
  const v = kexecToolsVersionNumber(version);
  const realMode = entry === "real-mode";
  const kern16Size = bz.setupSize;
  // bzImage_load: a missing command line becomes "" (command_line_len 1).
  let cmdline = input.append ?? "";
  let cmdlineLen = cmdline.length + 1;
  if (bz.protocol >= 0x0206) {
    if (cmdlineLen > bz.cmdlineSize)
      throw new KexecLabError(
        "E_CMDLINE_TOO_LONG",
        `the command line with its NUL is ${cmdlineLen} bytes; this kernel's cmdline_size is ${bz.cmdlineSize} ("Kernel command line too long for kernel!")`,
        { field: "append" },
      );
  } else if (cmdlineLen > 255) {
    ctx.notes.push(
      `protocol ${bz.protocolVersion} has no cmdline_size: kexec-tools warns "This kernel may only support 255 byte command lines" and loads the ${cmdlineLen}-byte line anyway`,
    );
  }
  const relocatable = bz.protocol >= 0x0205 && bz.relocatable;
  if (crash && realMode)
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      '"Can\'t use bzImage for crash dump purposes with real mode entry" (do_bzImage_load)',
      kernelWhere(input, 0, "real-mode"),
    );
  if (crash && !relocatable)
    throw new KexecLabError(
      "E_KERNEL_UNSUPPORTED",
      '"BzImage is not relocatable. Can\'t be used as capture kernel." (do_bzImage_load: relocatable_kernel is 0 or the protocol is below 2.05)',
      kernelWhere(input, 0x234, "relocatable_kernel"),
    );
  if (crash) {
    // modified_cmdline is a COMMAND_LINE_SIZE buffer: strncpy of the given line, then the appends.
    cmdline = loadCrashdumpSegments(ctx, crash, cmdline.slice(0, X86_COMMAND_LINE_SIZE - 1));
    if (cmdline.length > X86_COMMAND_LINE_SIZE - 1)
      throw new KexecLabError(
        "E_CMDLINE_TOO_LONG",
        'kexec-tools: "Command line overflow" after appending the crash arguments',
        { field: "append" },
      );
    cmdlineLen = cmdline.length + 1;
  }

  // The trampoline: above the parameter segment; below 2 GiB (R_X86_64_32S) or, for the real-mode
  // path and a fixed kernel, below 640 KiB.
  const purgLow = !realMode && relocatable;
  const purgEntry = addPurgatory(ctx, "x86_64", {
    min: 0x3000,
    max: purgLow ? 0x7fffffff + 1 : LOW_MEM_TOP + 1,
    topDown: true,
    source: `${BZ} -> elf_rel_build_load(0x3000, ${purgLow ? "0x7fffffff" : "640*1024"}, -1) -> elf_rel_load -> add_buffer -> locate_hole`,
  });
  const purgBase = ctx.segments[ctx.segments.length - 1]!.mem;

  // The argument/parameter segment.
  let kern16SizeNeeded: number;
  let heapSize = 0;
  if (realMode) {
    kern16SizeNeeded = bz.protocol >= 0x0201 ? bz.heapEndPtr : kern16Size + 8192;
    if (kern16SizeNeeded < kern16Size) kern16SizeNeeded = kern16Size;
    if (kern16SizeNeeded > 0xfffc)
      throw new KexecLabError(
        "E_KERNEL_UNSUPPORTED",
        `"kern16_size_needed is more then 64k": heap_end_ptr/setup size ${hex(kern16SizeNeeded)} > 0xfffc`,
        kernelWhere(input, 0x224, "heap_end_ptr"),
      );
    heapSize = Math.floor((0xfffc - kern16SizeNeeded) / 0x200) * 0x200;
    kern16SizeNeeded += heapSize;
  } else {
    kern16SizeNeeded = Math.max(kern16Size, 4096);
  }
  const setupSize = kern16SizeNeeded + cmdlineLen + PURGATORY_CMDLINE_SIZE;
  const setup = new Uint8Array(setupSize);
  if (realMode) setup.set(kernel.subarray(0, kern16Size), 0);
  else {
    const headerLen = Math.min(kernel[0x201]! + 0x202 - 0x1f1, 0x7f);
    setup.set(kernel.subarray(0x1f1, 0x1f1 + headerLen), 0x1f1);
  }
  // setup_linux_bootloader_parameters copies at most COMMAND_LINE_SIZE bytes of the line.
  const copied = Math.min(cmdlineLen, X86_COMMAND_LINE_SIZE) - 1;
  for (let i = 0; i < copied; i++) setup[kern16SizeNeeded + i] = cmdline.charCodeAt(i) & 0xff;
  const setupBase = crash
    ? addBuffer(ctx, "setup", setup, setupSize, {
        align: 16,
        min: 0x3000,
        max: Number.POSITIVE_INFINITY,
        topDown: true,
        source: `${BZ} (crash: "setup segment can be loaded anywhere") -> add_buffer(16, 0x3000, -1, -1) -> locate_hole`,
      })
    : addBuffer(ctx, "setup", setup, setupSize, {
        align: 16,
        min: 0x3000,
        max: LOW_MEM_TOP + 1,
        topDown: false,
        source: `${BZ} -> add_buffer(16, 0x3000, 640*1024, 1) -> locate_hole ("setup_base must be greater than 8K")`,
      });
  if (purgBase < setupBase)
    throw new KexecLabError(
      "E_NO_HOLE",
      `"Could not put setup code above the kernel parameters": the purgatory at ${hex(purgBase)} lies below the setup segment at ${hex(setupBase)} (do_bzImage_load dies)`,
      { field: "purgatory" },
    );

  // The main kernel segment.
  const kBytes = kernel.subarray(kern16Size);
  const initSizeRule = v >= 20030;
  const memsz = initSizeRule ? alignUp(bz.initSize, 4096) : kBytes.length;
  let kernelAddr: number;
  if (relocatable) {
    const min = initSizeRule ? Math.max(KERN32_BASE, bz.prefAddress) : KERN32_BASE;
    const maxIncl = Math.min(DEFAULT_BZIMAGE_ADDR_MAX, bz.initrdAddrMax);
    const k = place(ctx, "kernel", {
      size: alignUp(memsz, ctx.pageSize),
      align: bz.kernelAlignment,
      min,
      max: maxIncl + 1,
      topDown: false,
      source: `${BZ} -> add_buffer(kernel_alignment, ${initSizeRule ? "max(KERN32_BASE, pref_address)" : "0x100000"}, min(DEFAULT_BZIMAGE_ADDR_MAX, initrd_addr_max), 1) -> locate_hole (kexec-tools ${version}${initSizeRule ? ": init_size and pref_address since 2.0.30" : ": file size, 1 MiB (init_size and pref_address from 2.0.30)"})`,
    });
    kernelAddr = k.mem;
    if (memsz === 0)
      ctx.notes.push(
        `kernel: init_size is 0 (protocol ${bz.protocolVersion} has none), so kexec-tools ${version} asks add_buffer for memsz 0 and add_segment drops the empty segment: the kernel is not loaded`,
      );
    // add_segment: bufsz is cut to memsz when larger.
    else
      addSegment(
        ctx,
        "kernel",
        k.mem,
        kBytes.subarray(0, Math.min(kBytes.length, memsz)),
        memsz,
        k.placement,
      );
    if (memsz > 0 && kBytes.length > memsz)
      ctx.notes.push(
        `kernel: the protected-mode part (${kBytes.length} bytes) is larger than init_size rounded (${memsz}); add_segment cuts bufsz to memsz`,
      );
  } else {
    kernelAddr = KERN32_BASE;
    const size = alignUp(kBytes.length, ctx.pageSize);
    const free = ctx.placer.largest(KERN32_BASE, KERN32_BASE + size, ctx.segments);
    if (!free || free.start !== KERN32_BASE || free.end !== KERN32_BASE + size)
      throw new KexecLabError(
        "E_NO_HOLE",
        `kernel: not relocatable, so kexec-tools places it at KERN32_BASE ${hex(KERN32_BASE)} (${kBytes.length} bytes), which is not free RAM ("Invalid memory segment")`,
        kernelWhere(input, 0x234, "relocatable_kernel"),
      );
    addSegment(
      ctx,
      "kernel",
      KERN32_BASE,
      kBytes,
      kBytes.length,
      fixedPlacement(
        ctx,
        `${BZ} -> add_segment(KERN32_BASE) (relocatable_kernel is 0 or protocol < 2.05)`,
        KERN32_BASE,
        size,
        "KERN32_BASE",
      ),
    );
  }

  // setup_linux_bootloader_parameters (initrd_high 0): below initrd_addr_max.
  const initrdMaxIncl = bz.protocol >= 0x0203 ? bz.initrdAddrMax : DEFAULT_INITRD_ADDR_MAX;
  const initrd = addInitrd(ctx, {
    align: 4096,
    min: X86_INITRD_BASE,
    max: initrdMaxIncl + 1,
    topDown: true,
    source: `kexec-tools kexec/arch/i386/x86-linux-setup.c setup_linux_bootloader_parameters -> add_buffer(4096, INITRD_BASE, initrd_addr_max ${hex(initrdMaxIncl)}, -1) -> locate_hole`,
  });

  if (realMode) {
    ctx.notes.push(
      "--real-mode: setup_linux_system_parameters is not called (no e820 table, no RNG seed setup_data); the real-mode setup code reads the firmware itself",
    );
  } else if (input.crngReady === false) {
    ctx.notes.push(
      "no RNG seed setup_data: the running kernel's random pool is not initialized, so getrandom(GRND_NONBLOCK) fails and setup_rng_seed adds nothing",
    );
  } else addRngSeed(ctx);
  if (input.dtb)
    ctx.notes.push(
      v >= 20027
        ? "--dtb: kexec-tools 2.0.27+ passes it as a SETUP_DTB setup_data (setup_linux_dtb); not modelled here"
        : `--dtb: kexec-tools ${version} has no x86 devicetree support (added in 2.0.27)`,
    );
  ctx.notes.push(
    `kexec-tools' 32-bit bzImage loader (do_bzImage_load): ${realMode ? "the real-mode entry" : "the 32-bit entry"}; purgatory_start -> entry64 -> entry32 -> ${realMode ? `entry16 -> the real-mode setup at ${hex((setupBase >> 4) + 0x20)}:0000 (physical ${hex(setupBase + 0x200)})` : `startup_32 at ${hex(kernelAddr)}`} with esi = the setup segment ${hex(setupBase)}`,
  );
  if (realMode && bz.protocol >= 0x0201)
    ctx.notes.push(
      `--real-mode: the setup segment holds the whole real-mode code plus a heap of ${hex(heapSize)} bytes (kern16_size_needed ${hex(kern16SizeNeeded)}); loadflags CAN_USE_HEAP is set`,
    );
  return {
    entry: purgEntry,
    kernelEntry: realMode ? setupBase + 0x200 : kernelAddr,
    ...(initrd ? { initrd } : {}),
    cmdline,
  };
}
