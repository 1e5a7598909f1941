import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { readPlanFiles } from "../../formats/node/plan-files.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import { LATEST_KEXEC_TOOLS } from "../../loader/accept.js";
import {
  formatPrintSegments,
  LOADERS,
  type LoaderKind,
  type PlanInput,
  planLoad,
  planToJson,
  segmentBufszOf,
} from "../../loader/plan.js";
import { formatBytes, hexAddr, renderTable } from "../../report/format.js";
import { parseSize, parseU64, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { writeOutputFile } from "../files.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { startProgress } from "../progress.js";

export interface PlanOptions {
  arch: Arch;
  kernel: string;
  initrd?: string;
  dtb?: string;
  iomem?: string;
  append?: string;
  loader: LoaderKind;
  memMin?: string;
  memMax?: string;
  crash?: boolean;
  crashkernel?: string;
  pageSize?: string;
  seed?: string;
  wipeKaslrSeed?: boolean;
  outDtb?: string;
  force?: boolean;
  json?: boolean;
  printSegments?: boolean;
  kexecToolsVersion?: string;
  via?: "kexec-tools" | "systemd";
}

/** "SIZE@OFFSET" as in crashkernel=256M@0x80000000: the region [OFFSET, OFFSET + SIZE). */
export function parseCrashkernel(s: string): { start: number; end: number } {
  const m = /^([^@]+)@(.+)$/.exec(s.trim());
  if (!m)
    throw new KexecLabError("E_USAGE", `--crashkernel wants SIZE@OFFSET (e.g. 256M@0x80000000), got "${s}"`, {
      field: "crashkernel",
    });
  const size = toSafeNumber(parseSize(m[1], "crashkernel size"), "crashkernel size");
  const start = toSafeNumber(parseSize(m[2], "crashkernel offset"), "crashkernel offset");
  return { start, end: start + size };
}

/** Common options of `plan` (and of any command that plans from real files). */
export async function planInputFromOptions(opts: PlanOptions, io?: CliIo): Promise<PlanInput> {
  const progress = io ? startProgress(io, `decompress ${opts.kernel}`) : undefined;
  let files: Awaited<ReturnType<typeof readPlanFiles>>;
  try {
    files = await readPlanFiles(
      {
        kernel: opts.kernel,
        ...(opts.initrd !== undefined ? { initrd: opts.initrd } : {}),
        ...(opts.dtb !== undefined ? { dtb: opts.dtb } : {}),
        ...(opts.iomem !== undefined ? { iomem: opts.iomem } : {}),
      },
      progress ? { onProgress: (d, t) => progress.update(d, t) } : {},
    );
  } finally {
    progress?.stop();
  }
  const input: PlanInput = {
    arch: opts.arch,
    loader: opts.loader,
    ...files,
  };
  if (opts.kexecToolsVersion !== undefined) input.kexecToolsVersion = opts.kexecToolsVersion;
  if (opts.via !== undefined) input.via = opts.via;
  return finishPlanInput(input, opts);
}

function finishPlanInput(input: PlanInput, opts: PlanOptions): PlanInput {
  if (opts.append !== undefined) input.append = opts.append;
  if (opts.memMin !== undefined) input.memMin = toSafeNumber(parseSize(opts.memMin, "mem-min"), "mem-min");
  if (opts.memMax !== undefined) input.memMax = toSafeNumber(parseSize(opts.memMax, "mem-max"), "mem-max");
  if (opts.crash || opts.crashkernel !== undefined) input.crash = true;
  if (opts.crashkernel !== undefined) input.crashRegion = parseCrashkernel(opts.crashkernel);
  if (opts.pageSize !== undefined)
    input.pageSize = toSafeNumber(parseSize(opts.pageSize, "page-size"), "page-size");
  if (opts.seed !== undefined) input.seed = toSafeNumber(parseU64(opts.seed, "seed"), "seed", 0xffffffffn);
  if (opts.wipeKaslrSeed) input.wipeKaslrSeed = true;
  return input;
}

/**
 * The real-file options (--kernel, --initrd, --dtb, --iomem, --append, --loader, --mem-min/--mem-max,
 * -p/--crashkernel, --page-size, --seed, --wipe-kaslr-seed) on any command; with
 * planInputFromOptions() they give a PlanInput for planLoad(). Used by `plan`, meant for `run` too.
 */
export function addPlanInputOptions(cmd: Command, opts: { kernelRequired: boolean }): Command {
  const kernelHelp =
    "kernel: arm64 Image (or compressed, EFI zboot, UKI), x86_64 bzImage (or UKI), or ELF64 vmlinux";
  return (
    opts.kernelRequired
      ? cmd.requiredOption("--kernel <file>", kernelHelp)
      : cmd.option("--kernel <file>", kernelHelp)
  )
    .option("--initrd <file>", "initial ramdisk")
    .option(
      "--dtb <file>",
      "device tree (arm64; for kexec-file this stands for the running kernel's /sys/firmware/fdt)",
    )
    .option("--iomem <file>", "/proc/iomem or /sys/firmware/memmap dump of the running machine")
    .option("--append <cmdline>", "kernel command line (/chosen/bootargs on arm64)")
    .addOption(new Option("--loader <loader>", "placement rules").choices(LOADERS).default("kexec-tools"))
    .option("--mem-min <addr>", "kexec-tools --mem-min: lowest address for segments")
    .option("--mem-max <addr>", "kexec-tools --mem-max: highest address (inclusive) for segments")
    .option("-p, --crash", 'crash load (kexec -p) into the "Crash kernel" region of --iomem')
    .option(
      "--crashkernel <size@offset>",
      "crash kernel region as in crashkernel=SIZE@OFFSET (implies --crash)",
    )
    .option("--page-size <bytes>", "page size of the running kernel (4096, 16384, 65536)", "4096")
    .option("--seed <n>", "seed for the random bytes written to the DTB (kaslr-seed, rng-seed)", "0")
    .option(
      "--wipe-kaslr-seed",
      "treat a non-zero /chosen/kaslr-seed as wiped, as in a running kernel's /sys/firmware/fdt",
    )
    .option(
      "--kexec-tools-version <x.y.z>",
      `kexec-tools release whose acceptance rules apply (zboot, UKI, compressed kernels; default ${LATEST_KEXEC_TOOLS})`,
    )
    .addOption(
      new Option("--via <tool>", "who calls kexec_file_load for --loader kexec-file").choices([
        "kexec-tools",
        "systemd",
      ]),
    );
}

export function registerPlan(program: Command, ctx: CliContext): Command {
  const cmd = program.command("plan");
  addPlanInputOptions(cmd, { kernelRequired: true });
  return cmd
    .description(
      "place a kernel, initrd and DTB as kexec-tools or kexec_file_load would: the dry run kexec lacks",
    )
    .addOption(new Option("--arch <arch>", "architecture").choices(ARCHES).default("arm64"))
    .option("--out-dtb <file>", "write the patched DTB here")
    .option("--force", "overwrite --out-dtb if it exists")
    .option("--print-segments", "print nr_segments and segment[i] lines in kexec-tools' --debug format")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab plan --kernel Image --initrd initrd.img --dtb fdt.dtb --iomem iomem.txt --append "console=ttyAMA0"
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --loader kexec-file --json
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --iomem iomem.txt --print-segments | diff - real-debug.txt
  $ kexec-lab plan --arch x86_64 --kernel bzImage --initrd initrd.img --iomem /proc/iomem
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --crashkernel 256M@0x60000000 --iomem iomem.txt

Without --iomem on arm64 the memory map comes from the DTB's memory nodes (minus reservations).
Exit code 0 with a plan the kernel would accept, 1 when the kernel's kexec_load checks would refuse
the placed segments (e.g. more than half of RAM), 2 when the load cannot be placed or the input is bad (the message names the
segment, its size and alignment and the largest free range).`,
    )
    .action(async (opts: PlanOptions) => {
      const plan = planLoad(await planInputFromOptions(opts, ctx.io));
      if (opts.outDtb !== undefined) {
        if (!plan.patchedDtb)
          throw new KexecLabError("E_USAGE", "--out-dtb: this load has no DTB", { field: "out-dtb" });
        writeOutputFile(opts.outDtb, plan.patchedDtb, opts.force === true);
      }
      if (opts.printSegments) {
        ctx.io.stdout(formatPrintSegments(plan));
      } else if (opts.json) {
        printJson(ctx.io, planToJson(plan));
      } else {
        const rows = plan.segments.map((s, i) => [
          String(i),
          s.label ?? "",
          hexAddr(s.mem),
          hexAddr(s.mem + s.memsz),
          formatBytes(s.memsz),
          formatBytes(segmentBufszOf(s)),
        ]);
        let out = `${plan.arch} ${plan.loader}, memory map from ${plan.memoryMapSource} (${formatBytes(plan.memoryMap.ramBytes)} RAM)\n\n`;
        out += `${renderTable(["#", "segment", "mem", "end", "memsz", "bufsz"], rows, ["right", "left", "left", "left", "right", "right"])}\n\n`;
        out += `entry ${hexAddr(plan.entry)}, kernel entry ${hexAddr(plan.kernelEntry)}${plan.dtbAddress !== undefined ? `, dtb ${hexAddr(plan.dtbAddress)}` : ""}\n`;
        for (const n of plan.notes) out += `note: ${n}\n`;
        ctx.io.stdout(out);
      }
      ctx.exitCode = plan.verdict.ok ? EXIT_OK : EXIT_REFUSED;
    });
}
