import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { ARCH_NAMES } from "../../formats/role.js";
import { GateRefusalError } from "../../gates/error.js";
import { readHostDir } from "../../host/node/read.js";
import { answerMemoryQuestions } from "../../memory/answer.js";
import { KDUMP_UTILS_TREES, type KdumpUtilsTree } from "../../memory/crashkernel.js";
import { renderMemoryText } from "../../report/memory-text.js";
import { gatedPlanLoad } from "../../request/gates.js";
import { gateStateWithSignature } from "../../request/node/gate-state.js";
import { type PlanOptions, planInputFromOptions } from "../../request/node/plan-input.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import { addPlanInputOptions } from "./plan.js";

interface MemoryOptions extends PlanOptions {
  memFree?: string;
  memAvailable?: string;
  modulesSize?: string;
  luksMemory?: string;
  memoryEncryption?: boolean;
  smmu?: boolean;
  mlx5?: boolean;
  kdumpUtils?: string;
  nrCpus?: string;
  initrdUnpacked?: string;
  cyclic?: boolean;
  json?: boolean;
}

const size = (text: string, field: string) => toSafeNumber(parseSize(text, field), field);

function kdumpTree(t: string | undefined): KdumpUtilsTree {
  const v = t ?? "63f248c";
  if (!(KDUMP_UTILS_TREES as readonly string[]).includes(v))
    throw new KexecLabError("E_USAGE", `--kdump-utils ${v}: one of ${KDUMP_UTILS_TREES.join(", ")}`, {
      field: "--kdump-utils",
    });
  return v as KdumpUtilsTree;
}

export function registerMemory(program: Command, ctx: CliContext): Command {
  const cmd = program.command("memory");
  addPlanInputOptions(cmd, { kernelRequired: true });
  return cmd
    .description(
      "how much memory a load needs (source, indirection, control pages; peak) and how big crashkernel= must be",
    )
    .option("--arch <arch>", `architecture: ${ARCH_NAMES.join(", ")} (default: the kernel file's)`)
    .option("--mem-free <size>", "MemFree of the running machine (default: --host's meminfo.txt)")
    .option("--mem-available <size>", "MemAvailable of the running machine (default: --host's meminfo.txt)")
    .option(
      "--modules-size <size>",
      "the kdump initramfs' modules as /proc/modules sizes them (default: --host's modules.txt, all loaded modules)",
    )
    .option("--luks-memory <size>", "memory cost of the largest LUKS2 keyslot of an encrypted dump target")
    .option("--memory-encryption", "x86_64: SME/SEV is active (kdump-lib: +64M)")
    .option("--smmu", "arm64: the machine has an SMMU (kdump-lib: +384M with 64K pages)")
    .option("--mlx5", "arm64: an mlx5 NIC (kdump-lib: +150M, +200M with 64K pages)")
    .option("--kdump-utils <tree>", `which kdump-lib.sh: ${KDUMP_UTILS_TREES.join(", ")}`, "63f248c")
    .option("--nr-cpus <n>", "the crash kernel's nr_cpus= (kdump tools pass 1)", "1")
    .option("--initrd-unpacked <size>", "the crash kernel's initrd unpacked (default: assumed 2 x the file)")
    .option("--no-cyclic", "makedumpfile without cyclic mode (bitmaps for all of the first kernel's memory)")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab memory --kernel bzImage --initrd-size 900M --host ./my-host
  $ kexec-lab memory --kernel Image --initrd initrd.img --dtb fdt.dtb --iomem iomem.txt --mem-free 700M
  $ kexec-lab memory --kernel Image --initrd kdump.img --host ./my-host --modules-size 12M

Exit code 0 when the load fits in free memory and the crash load in its reservation (as far as they
are known), 1 when either is short.`,
    )
    .action(async (opts: MemoryOptions) => {
      const host = opts.host !== undefined ? readHostDir(opts.host) : undefined;
      const plan = await planInputFromOptions(opts, { sizesOnly: true });
      // A load refused at a gate holds no memory: refuse it first (E_GATE_REFUSED, exit 1).
      const gateState = await gateStateWithSignature(opts, host);
      try {
        gatedPlanLoad(plan, gateState);
      } catch (e) {
        // Placement failures are the memory questions' own to report.
        if (e instanceof GateRefusalError) throw e;
      }
      const memFree = opts.memFree !== undefined ? size(opts.memFree, "--mem-free") : host?.memFree;
      const memAvailable =
        opts.memAvailable !== undefined ? size(opts.memAvailable, "--mem-available") : host?.memAvailable;
      const modules =
        opts.modulesSize !== undefined
          ? { modulesBytes: size(opts.modulesSize, "--modules-size") }
          : host?.modulesBytes !== undefined
            ? {
                modulesBytes: host.modulesBytes,
                modulesSource:
                  "every module loaded on the host (modules.txt): kdumpctl counts only the kdump initramfs' ones",
              }
            : {};
      const answer = answerMemoryQuestions({
        plan,
        ...(memFree !== undefined ? { memFree } : {}),
        ...(memAvailable !== undefined ? { memAvailable } : {}),
        ...modules,
        ...(host?.iomem !== undefined && opts.iomem === undefined ? { iomem: host.iomem } : {}),
        ...(opts.luksMemory !== undefined ? { luksBytes: size(opts.luksMemory, "--luks-memory") } : {}),
        ...(opts.memoryEncryption ? { memoryEncryption: true } : {}),
        ...(opts.smmu ? { smmu: true } : {}),
        ...(opts.mlx5 ? { mlx5: true } : {}),
        kdumpUtils: kdumpTree(opts.kdumpUtils),
        nrCpus: toSafeNumber(parseSize(opts.nrCpus ?? "1", "--nr-cpus"), "--nr-cpus", 8192n),
        ...(opts.initrdUnpacked !== undefined
          ? { initrdUnpackedBytes: size(opts.initrdUnpacked, "--initrd-unpacked") }
          : {}),
        ...(opts.cyclic === false ? { cyclic: false } : {}),
        ...(opts.kernelVersion !== undefined
          ? { kernelVersion: opts.kernelVersion }
          : host?.release !== undefined
            ? { kernelVersion: host.release }
            : {}),
      });
      if (opts.json) printJson(ctx.io, answer);
      else ctx.io.stdout(renderMemoryText(answer));
      const short = answer.load.verdict === "short" || answer.crashFit?.fits === false;
      ctx.exitCode = short ? EXIT_REFUSED : EXIT_OK;
    });
}
