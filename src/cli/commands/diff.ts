import type { Command } from "commander";
import { parseKexecLog } from "../../diagnose/log.js";
import { ARCH_NAMES } from "../../formats/role.js";
import { readHostDir } from "../../host/node/read.js";
import { renderDiffText } from "../../report/diff-text.js";
import { diffLog, loaderForLog } from "../../request/diff.js";
import { gateStateWithSignature } from "../../request/node/gate-state.js";
import { type PlanOptions, planInputFromOptions } from "../../request/node/plan-input.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readTextFile } from "../files.js";
import { printJson } from "../io.js";
import { addPlanInputOptions } from "./plan.js";

interface DiffOptions extends PlanOptions {
  memFree?: string;
  json?: boolean;
}

export function registerDiff(program: Command, ctx: CliContext): Command {
  const cmd = program.command("diff");
  addPlanInputOptions(cmd, { kernelRequired: true });
  return cmd
    .description(
      "explain a real `kexec -d` output or dmesg: every difference from the planned load and every failure",
    )
    .argument("<log>", "kexec -d output (stdout and stderr) and/or dmesg / journalctl text")
    .option("--arch <arch>", `architecture: ${ARCH_NAMES.join(", ")} (default: the kernel file's)`)
    .option("--mem-free <size>", "MemFree when the load ran (default: --host's meminfo.txt), for ENOMEM")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Give the same load as the logged run (kernel, initrd or --initrd-size, --append, -p, --mem-min/--mem-max)
and the machine (--host DIR from kexec-lab-collect, or --iomem/--dtb). Each finding is marked
"=" same, "~" different or failed for a reason named here, "!" not explained.

Examples:
  $ kexec -d -l vmlinuz --initrd=initrd.img --reuse-cmdline > kexec.log 2>&1
  $ kexec-lab diff kexec.log --kernel vmlinuz --initrd initrd.img --reuse-cmdline --host ./my-host
  $ kexec-lab diff kexec.log --kernel Image --initrd-size 1200M -p --host ./my-host

Exit code 0 when every finding is explained, 1 when some are not.`,
    )
    .action(async (log: string, opts: DiffOptions) => {
      const facts = parseKexecLog(readTextFile(log));
      const host = opts.host !== undefined ? readHostDir(opts.host) : undefined;
      const loader = loaderForLog(opts.loader, facts);
      // A `kexec -d` log ran with -d: kexec-tools 2.0.29+ then passes KEXEC_FILE_DEBUG.
      const kexecDebug = opts.kexecDebug === true || facts.kexecDebug;
      const plan = await planInputFromOptions(
        { ...opts, loader, ...(kexecDebug ? { kexecDebug } : {}) },
        { sizesOnly: true },
      );
      const memFree =
        opts.memFree !== undefined
          ? toSafeNumber(parseSize(opts.memFree, "--mem-free"), "--mem-free")
          : undefined;
      const report = diffLog(facts, plan, host, memFree, await gateStateWithSignature(opts, host));
      if (opts.json) printJson(ctx.io, report);
      else ctx.io.stdout(renderDiffText(report));
      ctx.exitCode = report.unexplained === 0 ? EXIT_OK : EXIT_REFUSED;
    });
}
