/**
 * kexec-tools' x86_64 ELF loader for kexec_load (kexec/arch/x86_64/kexec-elf-x86_64.c elf_x86_64_probe,
 * elf_x86_64_load). In the x86_64 file_type list "elf-x86_64" comes first, so an ELF64 vmlinux
 * (e_machine EM_X86_64, ET_EXEC/ET_DYN, no PT_INTERP) is loaded by it. Steps, each an add_buffer ->
 * locate_hole (hole_end 1 bottom-up, -1 top-down; maxima inclusive in kexec-tools):
 *   kernel     elf_exec_build_load -> elf_exec_load -> load_elf_segments: every PT_LOAD at its p_paddr
 *              (add_segment; an ET_EXEC is not moved)
 *   purgatory  unless --args-none: elf_rel_build_load(0, ULONG_MAX, 1): bottom-up from 0
 *   --args-elf (the default): elf_boot_notes (kexec/kexec-elf-boot.c): the ELF boot notes with the
 *              command line, add_buffer(align 4, 0, elf_max_addr = ULONG_MAX, 1); an initrd is refused
 *              ("Ramdisks not supported with generic elf arguments"); entry64_regs.rdi = the notes
 *   --args-linux: a faked boot_params (struct x86_linux_faked_param_header: 4 KiB boot_params + the
 *              2 KiB command line = 0x1800 bytes), add_buffer(align 16, 0, ULONG_MAX, 1); crash loads
 *              add load_crashdump_segments here; init_linux_parameters gives it protocol 2.06 and
 *              initrd_addr_max 0x37ffffff, so setup_linux_bootloader_parameters puts the initrd
 *              top-down in [INITRD_BASE 16 MiB, 0x37ffffff]; setup_linux_system_parameters adds the RNG
 *              seed setup_data; entry64_regs.rsi = the parameters
 *   --args-none: no purgatory; the kexec entry is e_entry itself; command line and initrd unused
 * The kexec entry is purgatory_start (entry64 then jumps to entry64_regs.rip = e_entry).
 */

import { KexecLabError } from "../../errors.js";
import { hex } from "../../formats/bytes.js";
import type { Elf64 } from "../../formats/elf.js";
import type { Iomem } from "../../formats/iomem.js";
import type { Range } from "../../machine/ranges.js";
import { LATEST_KEXEC_TOOLS } from "../accept.js";
import { elfSegments } from "../common.js";
import { addBuffer, addInitrd, alignUp, type Ctx } from "../context.js";
import { addPurgatory } from "./purgatory-segment.js";
import { addRngSeed, loadCrashdumpSegments, X86_INITRD_BASE, type X86LoadResult } from "./x86_64.js";
import { X86_COMMAND_LINE_SIZE } from "./x86-bzimage32.js";

const ELF = "kexec-tools kexec/arch/x86_64/kexec-elf-x86_64.c elf_x86_64_load";
/** sizeof(struct x86_linux_faked_param_header): boot_params (0x1000) + command_line[COMMAND_LINE_SIZE]. */
export const X86_FAKED_PARAM_HEADER_SIZE = 0x1000 + X86_COMMAND_LINE_SIZE;
/** init_linux_parameters: DEFAULT_INITRD_ADDR_MAX. */
const DEFAULT_INITRD_ADDR_MAX = 0x37ffffff;

/**
 * The size of elf_boot_notes' buffer: struct boot_notes (Elf_Bhdr 12 + three Elf_Nhdr of 12, the
 * "kexec" name padded to 8 and the version string padded to 4) plus the command line rounded to 4.
 */
export function elfBootNotesSize(kexecToolsVersion: string, cmdlineLen: number): number {
  const upsz = (n: number) => alignUp(n, 4);
  return 12 + 12 + upsz("kexec".length + 1) + 12 + upsz(kexecToolsVersion.length + 1) + 12 + upsz(cmdlineLen);
}

export function elfX86_64Load(
  ctx: Ctx,
  elf: Elf64,
  args: "elf" | "linux" | "none",
  crash?: { regions: readonly Range[]; iomem: Iomem | undefined },
): X86LoadResult {
  const input = ctx.input;
  const version = input.kexecToolsVersion ?? LATEST_KEXEC_TOOLS;
  let cmdline = input.append;
  const { entry } = elfSegments(
    ctx,
    elf,
    `${ELF} -> elf_exec_build_load -> load_elf_segments -> add_segment`,
  );
  ctx.notes.push("ELF kernel: PT_LOAD segments placed at their physical addresses (p_paddr)");
  if (args === "none") {
    ctx.notes.push(
      "--args-none: no purgatory, no parameters; the kexec entry is e_entry itself (the command line and any initrd are not used)",
    );
    return { entry, kernelEntry: entry };
  }
  const purgEntry = addPurgatory(ctx, "x86_64", {
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
    source: `${ELF} -> elf_rel_build_load(0, ULONG_MAX, 1) -> elf_rel_load -> add_buffer -> locate_hole`,
  });
  if (args === "elf") {
    if (input.initrd !== undefined && input.initrd.length > 0)
      throw new KexecLabError(
        "E_USAGE",
        '"Ramdisks not supported with generic elf arguments": elf_x86_64_load refuses an initrd with its default --args-elf; kexec-tools loads one with --args-linux',
        { field: "initrd" },
      );
    if (crash)
      ctx.notes.push(
        "crash load with --args-elf: elf_x86_64_load adds no crash segments (load_crashdump_segments runs for --args-linux only)",
      );
    const len = cmdline !== undefined ? cmdline.length + 1 : 0;
    const size = elfBootNotesSize(version, len);
    const notes = new Uint8Array(size);
    addBuffer(ctx, "boot-notes", notes, size, {
      align: 4,
      min: 0,
      max: Number.POSITIVE_INFINITY,
      topDown: false,
      source: `${ELF} -> elf_boot_notes -> add_buffer(4, 0, elf_max_addr, 1) -> locate_hole`,
    });
    ctx.notes.push(
      `--args-elf (the default): ELF boot notes of ${size} bytes (bootloader "kexec", version "${version}", the command line) instead of boot_params; a Linux kernel does not read them: pass --args-linux for a Linux vmlinux`,
    );
    return { entry: purgEntry, kernelEntry: entry, ...(cmdline !== undefined ? { cmdline } : {}) };
  }
  // --args-linux
  const hdr = new Uint8Array(X86_FAKED_PARAM_HEADER_SIZE);
  addBuffer(ctx, "setup", hdr, hdr.length, {
    align: 16,
    min: 0,
    max: Number.POSITIVE_INFINITY,
    topDown: false,
    source: `${ELF} (--args-linux) -> add_buffer(sizeof(x86_linux_faked_param_header), 16, 0, elf_max_addr, 1) -> locate_hole`,
  });
  if (crash) {
    cmdline = loadCrashdumpSegments(ctx, crash, (cmdline ?? "").slice(0, X86_COMMAND_LINE_SIZE - 1));
  }
  if (cmdline !== undefined) {
    const n = Math.min(cmdline.length + 1, X86_COMMAND_LINE_SIZE) - 1;
    for (let i = 0; i < n; i++) hdr[0x1000 + i] = cmdline.charCodeAt(i) & 0xff;
    if (cmdline.length + 1 > X86_COMMAND_LINE_SIZE)
      ctx.notes.push(
        `the command line (${cmdline.length + 1} bytes with its NUL) is cut to COMMAND_LINE_SIZE ${X86_COMMAND_LINE_SIZE} by setup_linux_bootloader_parameters`,
      );
  }
  const initrd = addInitrd(ctx, {
    align: 4096,
    min: X86_INITRD_BASE,
    max: DEFAULT_INITRD_ADDR_MAX + 1,
    topDown: true,
    source: `kexec-tools kexec/arch/i386/x86-linux-setup.c setup_linux_bootloader_parameters -> add_buffer(4096, INITRD_BASE, initrd_addr_max ${hex(DEFAULT_INITRD_ADDR_MAX)} (init_linux_parameters), -1) -> locate_hole`,
  });
  if (input.crngReady === false)
    ctx.notes.push(
      "no RNG seed setup_data: the running kernel's random pool is not initialized, so getrandom(GRND_NONBLOCK) fails and setup_rng_seed adds nothing",
    );
  else addRngSeed(ctx);
  ctx.notes.push(
    "--args-linux: a faked boot_params (protocol 2.06, initrd_addr_max 0x37ffffff from init_linux_parameters) with the command line at offset 0x1000; entry64_regs.rsi points at it",
  );
  return {
    entry: purgEntry,
    kernelEntry: entry,
    ...(initrd ? { initrd } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
  };
}
