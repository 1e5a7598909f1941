import type { Command } from "commander";
import { readPlanFiles } from "../../formats/node/plan-files.js";
import { readHostDir } from "../../host/node/read.js";
import { type KexecArgs, parseKexecArgs } from "../../kexectools/args.js";
import { crashSizeOf, kexecLoadOutput } from "../../request/kexec.js";
import { kernelSignatureState } from "../../request/node/gate-state.js";
import { fileArch, purgatoryOption } from "../../request/node/plan-input.js";
import { inferArch } from "../../request/plan.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readTextFile } from "../files.js";

const HELP = `
Takes kexec-tools' own command line and prints what \`kexec -d\` (kexec-tools 2.0.25 and later) prints for the
load: the memory ranges it read (x86_64: MEMORY RANGES from /sys/firmware/memmap; arm64:
get_memory_ranges over /proc/iomem), then "kexec_load: entry = ... flags = ..." and the segment
table. Diff it with the real output: only the segment[i].buf lines (addresses in the kexec process)
differ by design, once the purgatory is your kexec's (--kexec-binary or --purgatory; without them its
size and the entry are a model, and kexec-lab says so on stderr). Nothing is loaded, executed or unloaded.

Modelled: -l/--load, -p/--load-panic, -s, -c, -a, -d/--debug, --initrd/--ramdisk,
--append/--command-line, --reuse-cmdline, --dtb, --mem-min, --mem-max, -i/--no-checks, --no-cma,
--print-ckr-size. -e/--exec and -u/--unload are refused; other kexec-tools options are named as not
modelled. kexec-lab's additions: --host DIR (kexec-lab-collect's directory: the machine kexec reads),
--iomem FILE, --kexec-binary FILE or --purgatory PRESET (the purgatory of the kexec that runs:
its size and purgatory_start; without either, a model), and --trusted-cert [KEYRING=]FILE (repeatable:
the certificates kexec_file_load's signature gate verifies the kernel against).

Examples:
  $ kexec-lab kexec -d -l vmlinuz --initrd=initrd.img --reuse-cmdline --host ./my-host --kexec-binary /sbin/kexec
  $ kexec-lab kexec -d -p Image --initrd=kdump.img --append="console=ttyAMA0 reset_devices" --host ./my-host
  $ kexec-lab kexec --print-ckr-size --host ./my-host`;

export function registerKexec(program: Command, ctx: CliContext): Command {
  return program
    .command("kexec")
    .description("kexec-tools' command line: print what `kexec -d` prints for the load, without loading")
    .helpOption("--lab-help", "what kexec-lab models of kexec's options")
    .argument("[kexec-args...]", "kexec's arguments (-d -l KERNEL --initrd=... --append=...) and --host DIR")
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .addHelpText("after", HELP)
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      // kexec's own -h/--help: what kexec-lab models of kexec's options (exit 0, as kexec -h does).
      if (cmd.args.includes("--help") || cmd.args.includes("-h")) {
        cmd.outputHelp();
        ctx.exitCode = EXIT_OK;
        return;
      }
      const a: KexecArgs = parseKexecArgs(cmd.args);
      const host = a.host !== undefined ? readHostDir(a.host) : undefined;
      const iomemText = a.iomem !== undefined ? readTextFile(a.iomem) : undefined;
      if (a.printCkrSize) {
        ctx.io.stdout(`${crashSizeOf(host, iomemText)}\n`);
        ctx.exitCode = EXIT_OK;
        return;
      }
      const kernel = a.kernel!;
      const arch = inferArch({
        ...fileArch(kernel),
        ...(host?.arch !== undefined ? { hostArch: host.arch } : {}),
      });
      const files = await readPlanFiles(
        {
          kernel,
          ...(a.initrd !== undefined ? { initrd: a.initrd } : {}),
          ...(a.dtb !== undefined ? { dtb: a.dtb } : {}),
        },
        { sizesOnly: true },
      );
      const purgatory = purgatoryOption(a, arch);
      const signature = await kernelSignatureState(kernel, a.trustedCert, host);
      const r = kexecLoadOutput(a, {
        arch,
        files,
        gates: { ...(host?.gates ?? {}), signature },
        ...(purgatory !== undefined ? { purgatory } : {}),
        ...(host !== undefined ? { host } : {}),
        ...(iomemText !== undefined ? { iomem: { text: iomemText, name: a.iomem! } } : {}),
      });
      for (const line of r.stderr) ctx.io.stderr(line);
      ctx.io.stdout(r.stdout);
      if (r.error !== undefined) throw r.error;
      ctx.exitCode = r.accepted ? EXIT_OK : EXIT_REFUSED;
    });
}
