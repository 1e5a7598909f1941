import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { parseArch } from "../../formats/role.js";
import { readHostDir } from "../../host/node/read.js";
import { renderCrashkernelText } from "../../report/crashkernel-text.js";
import { reserveForHost } from "../../request/crashkernel.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import { runVerify, type VerifyOptions } from "./crashkernel-verify.js";

interface CrashkernelOptions extends VerifyOptions {
  host?: string;
  verify?: boolean;
  crashkernel?: string;
  kernelVersion?: string;
  arch?: string;
  dmesg?: string;
  zoneDma?: string;
  kexecToolsVersion?: string;
  json?: boolean;
}

export function registerCrashkernel(program: Command, ctx: CliContext): Command {
  return program
    .command("crashkernel")
    .description(
      "where the boot reserves crashkernel= on a machine (the Crash kernel lines of /proc/iomem, kexec_crash_size, or the kernel's failure line); with --verify, whether a crash dump really works at that size, booting the kernel under QEMU",
    )
    .option(
      "--host <dir>",
      "a kexec-lab-collect directory (or a recording): memory map, memblock, cmdline (not with --verify)",
    )
    .option(
      "--crashkernel <value>",
      'crashkernel= value(s): 256M, 512M@0x60000000, 1G-4G:192M,4G-:512M, "512M,high 128M,low", 1G,cma (default: the host\'s cmdline)',
    )
    .option(
      "--kernel-version <v>",
      "the kernel that boots with it, MAJOR.MINOR (default: the host's uname -r)",
    )
    .option("--arch <arch>", "architecture (default: the host's)")
    .option(
      "--dmesg <file>",
      "the host's full boot log: its RAMDISK, NODE_DATA, cma and swiotlb lines say what memblock held at the reservation",
    )
    .option(
      "--zone-dma <yes|no>",
      "arm64: the kernel has ZONE_DMA/DMA32 (default: dmesg's Zone ranges, else yes)",
    )
    .option(
      "--kexec-tools-version <v>",
      "for which region the crash load goes (default: the host's kexec); with --verify, Debian's kexec-tools build to run: 2.0.25 (bookworm, default), 2.0.29 (trixie) or 2.0.32 (forky)",
    )
    .option(
      "--verify",
      "boot --kernel under QEMU (TCG) with --crashkernel, load it as crash kernel with the real kexec -p, panic (sysrq c), and report whether the crash kernel came up, read /proc/vmcore and wrote a dump",
    )
    .option(
      "--bisect <lo:hi>",
      "with --verify: the smallest crashkernel= in [LO, HI] that works (e.g. 64M:512M)",
    )
    .option("--step <size>", "--bisect's grid", "32M")
    .option(
      "--kernel <file>",
      "--verify: the kernel to boot and to load as crash kernel (x86_64 bzImage or arm64 Image)",
    )
    .option(
      "--initrd <file>",
      "--verify: the crash kernel's initrd (default: kexec-lab's test initrd, which reads /proc/vmcore and writes the dump)",
    )
    .option("--memory <size>", "--verify: the guest's RAM (QEMU -m)", "1G")
    .option("--cpus <n>", "--verify: the guest's CPUs (QEMU -smp)", "2")
    .option(
      "--crash-append <cmdline>",
      '--verify: the crash kernel\'s command line (default "console=ttyS0|ttyAMA0 reset_devices nr_cpus=1 irqpoll panic=0")',
    )
    .option(
      "--kallsyms-text <auto|off>",
      "--verify, arm64: supply _text to kexec-tools when /proc/kallsyms lacks it (docs/kdump.md)",
      "auto",
    )
    .option("--timeout <seconds>", "--verify: limit for one QEMU run", "600")
    .option("--idle-timeout <seconds>", "--verify: stop a QEMU run silent this long", "120")
    .option(
      "--cache <dir>",
      "--verify: download cache for Debian's kexec-tools and busybox (default $RECORD_CACHE, else ~/.cache/kexec-lab/record)",
    )
    .option("--console-dir <dir>", "--verify: keep each QEMU run's serial console here")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab crashkernel --host ./my-host
  $ kexec-lab crashkernel --host ./my-host --crashkernel 512M,high
  $ kexec-lab crashkernel --host ./my-host --crashkernel 2G-4G:320M,4G-32G:512M --kernel-version 6.12
  $ kexec-lab crashkernel --verify --kernel vmlinuz --crashkernel 256M
  $ kexec-lab crashkernel --verify --kernel Image --bisect 64M:512M --memory 2G

--verify needs QEMU for the kernel's architecture (Debian packages qemu-system-x86, qemu-system-arm),
and downloads Debian's kexec-tools and busybox-static once (apt-get download through a private apt
configuration; the host's apt is not changed) into the cache: --cache, else $RECORD_CACHE, else
$XDG_CACHE_HOME/kexec-lab/record (~/.cache/kexec-lab/record). Each probe is one QEMU boot (TCG: a
minute or more); QEMU dies with kexec-lab, and nothing is left in the temporary directory.

Exit code 0 when the kernel reserves a crash kernel region (--verify: the dump worked; --bisect: a
working and a failing size were found), 1 when it reserves none (--verify: it failed), 2 on bad input.`,
    )
    .action(async (opts: CrashkernelOptions) => {
      if (opts.verify === true || opts.bisect !== undefined) {
        if (opts.host !== undefined)
          throw new KexecLabError("E_USAGE", "--verify boots its own guest: leave out --host", {
            field: "--host",
          });
        await runVerify(opts, ctx);
        return;
      }
      if (opts.host === undefined)
        throw new KexecLabError(
          "E_USAGE",
          "give --host DIR (where crashkernel= lands) or --verify --kernel FILE",
          {
            field: "--host",
          },
        );
      const host = readHostDir(opts.host);
      const arch = opts.arch !== undefined ? parseArch(opts.arch) : host.arch;
      if (arch === undefined)
        throw new KexecLabError("E_USAGE", `${opts.host} does not say its architecture: give --arch`, {
          field: "--arch",
        });
      if (opts.zoneDma !== undefined && opts.zoneDma !== "yes" && opts.zoneDma !== "no")
        throw new KexecLabError("E_USAGE", `--zone-dma takes yes or no, got "${opts.zoneDma}"`, {
          field: "--zone-dma",
        });
      const { answer } = reserveForHost({
        host,
        arch,
        ...(opts.crashkernel !== undefined ? { crashkernel: opts.crashkernel } : {}),
        ...(opts.kernelVersion !== undefined ? { kernelVersion: opts.kernelVersion } : {}),
        ...(opts.dmesg !== undefined ? { dmesg: new TextDecoder().decode(readInputFile(opts.dmesg)) } : {}),
        ...(opts.zoneDma !== undefined ? { zoneDma: opts.zoneDma === "yes" } : {}),
        ...(opts.kexecToolsVersion !== undefined ? { kexecToolsVersion: opts.kexecToolsVersion } : {}),
      });
      if (opts.json) printJson(ctx.io, answer);
      else ctx.io.stdout(renderCrashkernelText(answer));
      ctx.exitCode = answer.failure === undefined ? EXIT_OK : EXIT_REFUSED;
    });
}
