import type { Command } from "commander";
import { ARCH_NAMES } from "../../formats/role.js";
import { readHostDir } from "../../host/node/read.js";
import { answerMemoryQuestions, type MemoryAnswer } from "../../memory/answer.js";
import { formatBytes, hexAddr, renderTable } from "../../report/format.js";
import { type PlanOptions, planInputFromOptions } from "../../request/node/plan-input.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { addPlanInputOptions } from "./plan.js";

interface MemoryOptions extends PlanOptions {
  memFree?: string;
  memAvailable?: string;
  modulesSize?: string;
  luksMemory?: string;
  json?: boolean;
}

const size = (text: string, field: string) => toSafeNumber(parseSize(text, field), field);

function render(a: MemoryAnswer): string {
  const l = a.load;
  const ps = l.pageSize;
  const lines: string[] = [];
  lines.push(`${l.crash ? "crash load (kexec -p)" : "load"}: what the running kernel holds`);
  lines.push("");
  const rows = [
    ["source pages", String(l.sourcePages), formatBytes(l.sourcePages * ps)],
    ["indirection pages", String(l.indirectionPages), formatBytes(l.indirectionPages * ps)],
    [
      l.crash ? "control pages (in the reservation)" : "control pages",
      String(l.controlPages),
      formatBytes(l.controlPages * ps),
    ],
    ["parked (dest_pages)", String(l.parkedPages), formatBytes(l.parkedPages * ps)],
    ["unusable pages", String(l.unusablePages), formatBytes(l.unusablePages * ps)],
    ["held until kexec -e", "", formatBytes(l.heldBytes)],
    ["loader's copy of the files", "", formatBytes(l.fileBufferBytes)],
    ["peak during the load", "", formatBytes(l.peakBytes)],
  ];
  lines.push(renderTable(["", "pages", "bytes"], rows, ["left", "right", "right"]));
  if (l.refused !== undefined) lines.push(`the kernel's kexec_load checks refuse this load: ${l.refused}`);
  if (l.against !== undefined) {
    lines.push(
      l.verdict === "fits"
        ? `fits: peak ${formatBytes(l.peakBytes)} <= ${l.against.name} ${formatBytes(l.against.bytes)}`
        : `SHORT: peak ${formatBytes(l.peakBytes)} > ${l.against.name} ${formatBytes(l.against.bytes)}: kimage_alloc_pages() would fail with ENOMEM`,
    );
  }
  const c = a.crashkernel;
  lines.push("");
  lines.push("crashkernel= (kdumpctl estimate's formula)");
  lines.push("");
  lines.push(
    renderTable(
      ["part", "bytes"],
      [
        ...c.parts.map((p) => [p.name, formatBytes(p.bytes)]),
        ["estimated", formatBytes(c.estimatedBytes)],
        [`baseline (${c.baselineRanges} at ${c.systemGiB}G)`, formatBytes(c.baselineBytes)],
        ["recommended", formatBytes(c.recommendedBytes)],
        ...(c.reservedBytes !== undefined ? [["reserved now", formatBytes(c.reservedBytes)]] : []),
      ],
      ["left", "right"],
    ),
  );
  lines.push(`kernel size: ${c.kernelSource}`);
  if (c.reservedBytes !== undefined && c.reservedBytes < c.recommendedBytes)
    lines.push(
      `WARNING: the reservation (${formatBytes(c.reservedBytes)}) is below the recommended ${formatBytes(c.recommendedBytes)}`,
    );
  const f = a.crashFit;
  if (f !== undefined) {
    lines.push("");
    lines.push(
      `crash load in the reservation [${hexAddr(f.region.start)}, ${hexAddr(f.region.end)}) (${formatBytes(f.region.end - f.region.start)}):`,
    );
    if (!f.placed) lines.push(`  does not load: ${f.error}`);
    else {
      lines.push(`  segments ${formatBytes(f.segmentsBytes)}, left ${formatBytes(f.leftBytes)}`);
      lines.push(
        `  the crash kernel needs about ${formatBytes(f.runtimeNeedBytes)} more while it runs (estimate: initrd unpacked x 2 + modules + 16 MiB): ${f.fits ? "fits" : "SHORT"}`,
      );
    }
  }
  for (const n of a.notes) lines.push(`note: ${n}`);
  return `${lines.join("\n")}\n`;
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
      });
      if (opts.json) printJson(ctx.io, answer);
      else ctx.io.stdout(render(answer));
      const short = answer.load.verdict === "short" || answer.crashFit?.fits === false;
      ctx.exitCode = short ? EXIT_REFUSED : EXIT_OK;
    });
}
