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

interface CrashkernelOptions {
  host: string;
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
      "where the boot reserves crashkernel= on a machine: the Crash kernel lines of /proc/iomem, kexec_crash_size, or the kernel's failure line",
    )
    .requiredOption(
      "--host <dir>",
      "a kexec-lab-collect directory (or a recording): memory map, memblock, cmdline",
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
    .option("--kexec-tools-version <v>", "for which region the crash load goes (default: the host's kexec)")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab crashkernel --host ./my-host
  $ kexec-lab crashkernel --host ./my-host --crashkernel 512M,high
  $ kexec-lab crashkernel --host ./my-host --crashkernel 2G-4G:320M,4G-32G:512M --kernel-version 6.12

Exit code 0 when the kernel reserves a crash kernel region, 1 when it reserves none, 2 on bad input.`,
    )
    .action((opts: CrashkernelOptions) => {
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
