import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { parseIomem } from "../../formats/iomem.js";
import { kernelFileArch, readPlanFiles } from "../../formats/node/plan-files.js";
import type { Host } from "../../host/host.js";
import { readHostDir } from "../../host/node/read.js";
import { hostPlanFields } from "../../host/plan.js";
import { type KexecArgs, parseKexecArgs } from "../../kexectools/args.js";
import {
  arm64MemoryRanges,
  formatKexecLoad,
  kexecLoadFlags,
  x86MemoryRanges,
} from "../../kexectools/debug.js";
import {
  AUTO_DEFAULT_SINCE,
  DEFAULT_KEXEC_TOOLS_VERSION,
  FALLBACK_ERRNOS,
  kexecFileErrno,
  syscallPlan,
  toolsBefore,
} from "../../loader/auto.js";
import { type LoaderKind, type PlanInput, planLoad, segmentBufszOf } from "../../loader/plan.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readTextFile } from "../files.js";
import type { CliContext } from "../main.js";

const HELP = `
Takes kexec-tools' own command line and prints what \`kexec -d\` (kexec-tools 2.0.25 and later) prints for the
load: the memory ranges it read (x86_64: MEMORY RANGES from /sys/firmware/memmap; arm64:
get_memory_ranges over /proc/iomem), then "kexec_load: entry = ... flags = ..." and the segment
table. Diff it with the real output: only the segment[i].buf lines (addresses in the kexec process)
differ by design. Nothing is loaded, executed or unloaded.

Modelled: -l/--load, -p/--load-panic, -s, -c, -a, -d/--debug, --initrd/--ramdisk,
--append/--command-line, --reuse-cmdline, --dtb, --mem-min, --mem-max, -i/--no-checks, --no-cma,
--print-ckr-size. -e/--exec and -u/--unload are refused; other kexec-tools options are named as not
modelled. kexec-lab's additions: --host DIR (kexec-lab-collect's directory: the machine kexec reads)
and --iomem FILE.

Examples:
  $ kexec-lab kexec -d -l vmlinuz --initrd=initrd.img --reuse-cmdline --host ./my-host
  $ kexec-lab kexec -d -p Image --initrd=kdump.img --append="console=ttyAMA0 reset_devices" --host ./my-host
  $ kexec-lab kexec --print-ckr-size --host ./my-host`;

function crashSizeOf(host: Host | undefined, iomem: string | undefined): number {
  if (host?.crashSize !== undefined) return host.crashSize;
  const text = iomem ?? host?.iomem;
  if (text === undefined) return 0;
  return parseIomem(text)
    .crashKernel.map((r) => r.end - r.start)
    .reduce((a, b) => a + b, 0);
}

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
      const a: KexecArgs = parseKexecArgs(cmd.args);
      const host = a.host !== undefined ? readHostDir(a.host) : undefined;
      const iomemText = a.iomem !== undefined ? readTextFile(a.iomem) : undefined;
      if (a.printCkrSize) {
        ctx.io.stdout(`${crashSizeOf(host, iomemText)}\n`);
        ctx.exitCode = EXIT_OK;
        return;
      }
      const kernel = a.kernel!;
      const arch = kernelFileArch(kernel) ?? host?.arch ?? "arm64";
      // The syscall as kexec/kexec.c main() picks it: -c kexec_load, -s kexec_file_load; -a and, from
      // 2.0.27, no flag: kexec_file_load first with the fallback (the loader's own auto selection,
      // src/loader/auto.ts syscallPlan). -a sets the fallback in every release (OPT_KEXEC_SYSCALL_AUTO),
      // so an older kexec-tools with -a chooses as 2.0.27 does by default.
      const toolsVersion = host?.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION;
      const loader: LoaderKind =
        a.syscallGiven && a.syscall === "kexec_load"
          ? "kexec-tools"
          : a.syscall === "kexec_file_load"
            ? "kexec-file"
            : "auto";
      const autoVersion =
        a.syscallGiven && a.syscall === "auto" && toolsBefore(toolsVersion, AUTO_DEFAULT_SINCE)
          ? AUTO_DEFAULT_SINCE
          : toolsVersion;
      const crash = a.action === "load-panic";
      if (a.reuseCmdline && host?.cmdline === undefined)
        throw new KexecLabError("E_USAGE", "--reuse-cmdline needs --host with a cmdline.txt", {
          field: "--reuse-cmdline",
        });
      const input: PlanInput = {
        arch,
        loader,
        ...(host !== undefined ? hostPlanFields(host, arch, loader) : {}),
        ...(await readPlanFiles(
          {
            kernel,
            ...(a.initrd !== undefined ? { initrd: a.initrd } : {}),
            ...(a.dtb !== undefined ? { dtb: a.dtb } : {}),
          },
          { sizesOnly: true },
        )),
      };
      if (iomemText !== undefined) {
        input.iomem = iomemText;
        input.iomemName = a.iomem!;
      }
      // kexec-tools: --append and --reuse-cmdline combine (the old command line first).
      const append = [a.reuseCmdline ? host!.cmdline! : undefined, a.append].filter((x) => x !== undefined);
      if (append.length > 0) input.append = append.join(" ");
      if (a.memMin !== undefined) input.memMin = toSafeNumber(parseSize(a.memMin, "--mem-min"), "--mem-min");
      if (a.memMax !== undefined) input.memMax = toSafeNumber(parseSize(a.memMax, "--mem-max"), "--mem-max");
      if (crash) input.crash = true;
      input.kexecToolsVersion = autoVersion;
      if (a.debug) input.kexecDebug = true;
      if (a.x86Entry !== undefined) input.x86Entry = a.x86Entry;
      if (a.elfArgs !== undefined) input.elfArgs = a.elfArgs;
      // kexec-tools reads the memory ranges before it places anything: they are printed even when
      // the load then fails.
      const out: string[] = [];
      if (a.debug && loader !== "kexec-file") {
        if (arch === "x86_64") {
          if (host?.memmap !== undefined)
            out.push(...x86MemoryRanges(host.memmap, `${host.source}/memmap.txt`).lines);
          else
            ctx.io.stderr(
              "kexec-lab: no memmap.txt (--host): the MEMORY RANGES block is printed only from /sys/firmware/memmap\n",
            );
        } else {
          const iomem = iomemText ?? host?.iomem;
          const ck = crash && iomem !== undefined ? parseIomem(iomem).crashKernel.at(-1) : undefined;
          if (iomem !== undefined) out.push(...arm64MemoryRanges(iomem, ck).lines);
        }
      }
      let plan: ReturnType<typeof planLoad>;
      try {
        plan = planLoad(input);
      } catch (e) {
        // The error is kexec_load's when kexec_load came first, or when kexec_file_load's errno is
        // one kexec-tools falls back on (the error then is the fallback's): the ranges were read.
        const choice = syscallPlan(loader, autoVersion);
        const errno = e instanceof KexecLabError ? kexecFileErrno(arch, e) : undefined;
        const viaKexecLoad =
          choice.first === "kexec-tools" ||
          (choice.fallback && errno !== undefined && (FALLBACK_ERRNOS as readonly string[]).includes(errno));
        if (out.length > 0 && viaKexecLoad) ctx.io.stdout(`${out.join("\n")}\n`);
        throw e;
      }
      // kexec_load's ranges are read only on the kexec_load path (also after a fallback).
      if (plan.loader !== "kexec-tools") out.length = 0;
      if (a.debug && plan.loader === "kexec-tools") {
        out.push(
          ...formatKexecLoad(
            plan.entry,
            kexecLoadFlags(arch, crash),
            plan.segments.map((s) => ({ mem: s.mem, memsz: s.memsz, bufsz: segmentBufszOf(s) })),
          ),
        );
      } else if (a.debug) {
        ctx.io.stderr(
          `kexec-lab: kexec-tools prints no segment table for a kexec_file_load with -d (the kernel chooses the addresses; see \`kexec-lab plan --loader kexec-file\`); ${plan.selection}\n`,
        );
      }
      if (a.noCma)
        ctx.io.stderr("kexec-lab: --no-cma changes nothing before Linux 6.17 (KEXEC_FILE_NO_CMA)\n");
      ctx.io.stdout(out.length > 0 ? `${out.join("\n")}\n` : "");
      ctx.exitCode = plan.verdict.ok ? EXIT_OK : EXIT_REFUSED;
    });
}
