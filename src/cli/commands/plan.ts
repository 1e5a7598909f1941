import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { kernelFileArch, type ReadPlanOptions, readPlanFiles } from "../../formats/node/plan-files.js";
import { ARCH_NAMES, kernelArchOf, parseArch, ROLE_HEAD_BYTES } from "../../formats/role.js";
import type { Host } from "../../host/host.js";
import { readHostDir } from "../../host/node/read.js";
import { hostPlanFields } from "../../host/plan.js";
import type { Arch } from "../../kimage/constants.js";
import { DEFAULT_KEXEC_TOOLS_VERSION } from "../../loader/auto.js";
import { DEFAULT_KERNEL_VERSION } from "../../loader/kexec-file/version.js";
import { purgatoryFromKexecBinary, purgatoryPreset } from "../../loader/kexec-tools/purgatory.js";
import {
  formatPlacement,
  formatPrintSegments,
  LOADERS,
  type LoaderKind,
  type PlanInput,
  planLoad,
  planToJson,
  segmentBufszOf,
} from "../../loader/plan.js";
import { formatBytes, hexAddr, renderTable } from "../../report/format.js";
import { formatLegend, PLAN_LEGEND } from "../../report/legend.js";
import { parseSize, parseU64, toSafeNumber } from "../../scenario/numbers.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { checkOutputPath, writeOutputFile } from "../files.js";
import type { CliIo } from "../io.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { startProgress } from "../progress.js";

export interface PlanOptions {
  /** A kexec-lab-collect directory (or a recording) standing for the machine. */
  host?: string;
  /** The host's /proc/cmdline as the command line (kexec --reuse-cmdline). */
  reuseCmdline?: boolean;
  /** --arch as typed (arm64, aarch64, x86_64, amd64); absent: from the kernel file. */
  arch?: string;
  kernel: string;
  initrd?: string;
  initrdSize?: string;
  dtb?: string;
  iomem?: string;
  memmap?: string;
  memblockMemory?: string;
  memblockReserved?: string;
  append?: string;
  loader: LoaderKind;
  kernelVersion?: string;
  kexecToolsVersion?: string;
  kexecBinary?: string;
  purgatory?: string;
  cpus?: string;
  crngNotReady?: boolean;
  kexecFileSyscall?: boolean;
  khoScratch?: string;
  /** --cma SIZE@ADDR gives a string; --no-cma sets false. */
  cma?: string | boolean;
  kexecDebug?: boolean;
  realMode?: boolean;
  entry32bit?: boolean;
  elfArgs?: "elf" | "linux" | "none";
  acpiRsdp?: string;
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
  explain?: boolean;
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

/**
 * The architecture of a plan: --arch (any name parseArch takes), else what the kernel file is (an
 * Image is arm64, a bzImage x86_64, an ELF by e_machine), else arm64 (a gzip kernel is an Image.gz).
 */
export function planArch(opts: { arch?: string; kernel: string }, host?: Host): Arch {
  if (opts.arch !== undefined) return parseArch(opts.arch);
  return kernelFileArch(opts.kernel) ?? host?.arch ?? "arm64";
}

/**
 * Common options of `plan` (and of any command that plans from real files). `read.sizesOnly` reads
 * only the headers and sizes placement needs (see readPlanFiles); a wrapped kernel (zboot, UKI,
 * compressed) is decompressed, with a progress bar on `io`'s stderr when `io` is given.
 */
export async function planInputFromOptions(
  opts: PlanOptions,
  read: ReadPlanOptions = {},
  io?: CliIo,
): Promise<PlanInput> {
  if (opts.initrd !== undefined && opts.initrdSize !== undefined) {
    throw new KexecLabError("E_USAGE", "--initrd and --initrd-size exclude each other", {
      field: "--initrd-size",
    });
  }
  const host = opts.host !== undefined ? readHostDir(opts.host) : undefined;
  if (opts.reuseCmdline && host?.cmdline === undefined) {
    throw new KexecLabError("E_USAGE", "--reuse-cmdline needs --host with a cmdline.txt", {
      field: "--reuse-cmdline",
    });
  }
  const progress = io ? startProgress(io, `decompress ${opts.kernel}`) : undefined;
  let files: Awaited<ReturnType<typeof readPlanFiles>>;
  try {
    files = await readPlanFiles(
      {
        kernel: opts.kernel,
        ...(opts.initrd !== undefined ? { initrd: opts.initrd } : {}),
        ...(opts.initrdSize !== undefined
          ? {
              initrdSize: toSafeNumber(parseSize(opts.initrdSize, "--initrd-size"), "--initrd-size"),
            }
          : {}),
        ...(opts.dtb !== undefined ? { dtb: opts.dtb } : {}),
        ...(opts.iomem !== undefined ? { iomem: opts.iomem } : {}),
      },
      progress ? { ...read, onProgress: (d, t) => progress.update(d, t) } : read,
    );
  } finally {
    progress?.stop();
  }
  // A wrapped kernel (UKI, compressed) says its architecture through the kernel inside.
  const arch =
    opts.arch === undefined && files.kernelFormat !== undefined
      ? (kernelArchOf(files.kernel.subarray(0, ROLE_HEAD_BYTES)) ?? planArch(opts, host))
      : planArch(opts, host);
  const input: PlanInput = {
    arch,
    loader: opts.loader,
    ...(host !== undefined ? hostPlanFields(host, arch, opts.loader) : {}),
    ...files,
  };
  if (opts.via !== undefined) input.via = opts.via;
  if (opts.reuseCmdline && opts.append !== undefined) {
    throw new KexecLabError("E_USAGE", "--reuse-cmdline and --append exclude each other", {
      field: "--append",
    });
  }
  if (opts.reuseCmdline) input.append = host!.cmdline!;
  if (opts.append !== undefined) input.append = opts.append;
  if (opts.memMin !== undefined) input.memMin = toSafeNumber(parseSize(opts.memMin, "mem-min"), "mem-min");
  if (opts.memMax !== undefined) input.memMax = toSafeNumber(parseSize(opts.memMax, "mem-max"), "mem-max");
  if (opts.crash || opts.crashkernel !== undefined) input.crash = true;
  if (opts.crashkernel !== undefined) input.crashRegion = parseCrashkernel(opts.crashkernel);
  if (opts.pageSize !== undefined)
    input.pageSize = toSafeNumber(parseSize(opts.pageSize, "page-size"), "page-size");
  if (opts.seed !== undefined) input.seed = toSafeNumber(parseU64(opts.seed, "seed"), "seed", 0xffffffffn);
  if (opts.wipeKaslrSeed) input.wipeKaslrSeed = true;
  const text = (f: string) => new TextDecoder().decode(readInputFile(f));
  if (opts.memmap !== undefined) {
    input.memmap = text(opts.memmap);
    input.memmapName = opts.memmap;
  }
  if (opts.memblockMemory !== undefined) input.memblockMemory = text(opts.memblockMemory);
  if (opts.memblockReserved !== undefined) input.memblockReserved = text(opts.memblockReserved);
  if (opts.kernelVersion !== undefined) input.kernelVersion = opts.kernelVersion;
  if (opts.crngNotReady) input.crngReady = false;
  if (opts.khoScratch !== undefined)
    input.khoScratch = opts.khoScratch.split(",").map((x) => parseCrashkernel(x));
  if (typeof opts.cma === "string") input.cma = parseCrashkernel(opts.cma);
  if (opts.cma === false) input.noCma = true;
  if (opts.kexecDebug) input.kexecDebug = true;
  if (opts.realMode || opts.entry32bit) input.x86Entry = opts.realMode ? "real-mode" : "32bit";
  if (opts.elfArgs !== undefined) input.elfArgs = opts.elfArgs;
  if (opts.acpiRsdp !== undefined)
    input.acpiRsdp = toSafeNumber(parseU64(opts.acpiRsdp, "acpi-rsdp"), "acpi-rsdp");
  if (opts.kexecFileSyscall === false) input.kexecFileSyscall = false;
  if (opts.kexecToolsVersion !== undefined) input.kexecToolsVersion = opts.kexecToolsVersion;
  if (opts.cpus !== undefined) input.cpus = toSafeNumber(parseU64(opts.cpus, "cpus"), "cpus", 8192n);
  if (opts.kexecBinary !== undefined && opts.purgatory !== undefined)
    throw new KexecLabError("E_USAGE", "give --kexec-binary or --purgatory, not both", {
      field: "purgatory",
    });
  if (opts.kexecBinary !== undefined) {
    const p = purgatoryFromKexecBinary(readInputFile(opts.kexecBinary), arch, opts.kexecBinary);
    input.purgatory = {
      bufsz: p.bufsz,
      memsz: p.memsz,
      ...(p.align !== undefined ? { align: p.align } : {}),
      ...(p.entryOffset !== undefined ? { entryOffset: p.entryOffset } : {}),
      ...(p.source !== undefined ? { source: p.source } : {}),
    };
  }
  if (opts.purgatory !== undefined) input.purgatory = purgatoryPreset(opts.purgatory, arch);
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
      "--initrd-size <size>",
      "an initrd of this size instead of a file (e.g. 1G): placement needs only its size",
    )
    .option(
      "--dtb <file>",
      "device tree (arm64; for kexec-file this stands for the running kernel's /sys/firmware/fdt)",
    )
    .option("--iomem <file>", "/proc/iomem or /sys/firmware/memmap dump of the running machine")
    .option(
      "--memmap <file>",
      "/sys/firmware/memmap dump (x86_64 kexec-tools reads it in preference to /proc/iomem)",
    )
    .option(
      "--memblock-memory <file>",
      "/sys/kernel/debug/memblock/memory (arm64 kexec_file_load walks memblock)",
    )
    .option("--memblock-reserved <file>", "/sys/kernel/debug/memblock/reserved")
    .option(
      "--host <dir>",
      "the machine as kexec-lab-collect saw it (memory map, fdt, CPUs, ...); --iomem/--dtb override its files",
    )
    .option("--reuse-cmdline", "the --host machine's /proc/cmdline as the command line")
    .option("--append <cmdline>", "kernel command line (/chosen/bootargs on arm64)")
    .addOption(
      new Option(
        "--loader <loader>",
        "auto: as kexec-tools does (kexec_file_load first from 2.0.27, then kexec_load); kexec-tools: kexec_load (-c); kexec-file: kexec_file_load (-s)",
      )
        .choices(LOADERS)
        .default("auto"),
    )
    .option(
      "--kernel-version <v>",
      `running kernel for kexec_file_load rules (6.1, 6.8, ...) (default: --host's uname -r, else ${DEFAULT_KERNEL_VERSION})`,
    )
    .option(
      "--kexec-tools-version <v>",
      `kexec-tools release whose syscall choice (--loader auto) and acceptance rules (zboot, UKI, compressed kernels) apply (default: --host's kexec --version, else ${DEFAULT_KEXEC_TOOLS_VERSION})`,
    )
    .option("--kexec-binary <file>", "the kexec binary whose embedded purgatory sizes the purgatory segment")
    .option("--purgatory <preset>", "purgatory size of a measured distribution build")
    .option("--cpus <n>", "CPUs of the running machine (crash elfcorehdr size)")
    .option(
      "--crng-not-ready",
      "the running kernel's random pool is not initialized yet (no x86 RNG seed setup_data)",
    )
    .option(
      "--no-kexec-file-syscall",
      "the running kernel lacks kexec_file_load (CONFIG_KEXEC_FILE off: ENOSYS)",
    )
    .option(
      "--kho-scratch <list>",
      "KHO scratch areas SIZE@ADDR[,SIZE@ADDR...] in index order (kho=on; kernel 6.16+)",
    )
    .option(
      "--cma <size@addr>",
      "the default CMA area (kernel 6.17+ places kexec_file_load buffers there first)",
    )
    .option("--no-cma", "pass KEXEC_FILE_NO_CMA: kexec_file_load does not use CMA")
    .option("--kexec-debug", "kexec runs with -d (kexec-tools 2.0.29+ then passes KEXEC_FILE_DEBUG)")
    .option(
      "--real-mode",
      "x86 kexec_load: kexec-tools' 32-bit bzImage loader with the 16-bit real-mode entry",
    )
    .option(
      "--entry-32bit",
      "x86 kexec_load: kexec-tools' 32-bit bzImage loader with the 32-bit entry (for a bzImage64)",
    )
    .addOption(
      new Option(
        "--elf-args <style>",
        "x86_64 ELF vmlinux: kexec's --args-elf/--args-linux/--args-none",
      ).choices(["elf", "linux", "none"]),
    )
    .option(
      "--acpi-rsdp <addr>",
      'x86: the ACPI RSDP address (dmesg "ACPI: RSDP"); kexec_load crash loads append acpi_rsdp=',
    )
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
    .option(
      "--arch <arch>",
      `architecture: ${ARCH_NAMES.join(", ")} (default: the kernel file's; an Image.gz is arm64)`,
    )
    .option("--out-dtb <file>", "write the patched DTB here")
    .option("--force", "overwrite --out-dtb if it exists")
    .option("--print-segments", "print nr_segments and segment[i] lines in kexec-tools' --debug format")
    .option("--json", "print one JSON document")
    .option("--explain", "after the table, what its terms mean")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab plan --kernel Image --initrd initrd.img --dtb fdt.dtb --iomem iomem.txt --append "console=ttyAMA0"
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --loader kexec-file --json
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --iomem iomem.txt --print-segments | diff - real-debug.txt
  $ kexec-lab plan --kernel bzImage --initrd initrd.img --iomem /proc/iomem
  $ kexec-lab plan --kernel bzImage --initrd-size 1G --iomem iomem.txt
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --crashkernel 256M@0x60000000 --iomem iomem.txt

Without --iomem on arm64 the memory map comes from the DTB's memory nodes (minus reservations).
Exit code 0 with a plan the kernel would accept, 1 when the kernel's kexec_load checks would refuse
the placed segments (e.g. more than half of RAM), 2 when the load cannot be placed or the input is bad (the message names the
segment, its size and alignment and the largest free range).`,
    )
    .action(async (opts: PlanOptions) => {
      if (opts.outDtb !== undefined) checkOutputPath(opts.outDtb, opts.force === true);
      const plan = planLoad(
        await planInputFromOptions(opts, { sizesOnly: opts.outDtb === undefined }, ctx.io),
      );
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
        let out = `${plan.arch} ${plan.loader === "kexec-file" ? "kexec_file_load" : "kexec_load"}${plan.kernelVersion !== undefined ? ` (kernel ${plan.kernelVersion} rules)` : ""}, memory map from ${plan.memoryMapSource} (${formatBytes(plan.memoryMap.ramBytes)} RAM)\n`;
        out += `syscall: ${plan.selection}\n\n`;
        out += `${renderTable(["#", "segment", "mem", "end", "memsz", "bufsz"], rows, ["right", "left", "left", "left", "right", "right"])}\n\n`;
        plan.segments.forEach((s, i) => {
          out += `${i} ${s.label}: ${formatPlacement(s.placement)}\n`;
        });
        out += "\n";
        out += `entry ${hexAddr(plan.entry)}, kernel entry ${hexAddr(plan.kernelEntry)}${plan.dtbAddress !== undefined ? `, dtb ${hexAddr(plan.dtbAddress)}` : ""}\n`;
        for (const n of plan.notes) out += `note: ${n}\n`;
        if (opts.explain) out += `\n${formatLegend(PLAN_LEGEND)}`;
        ctx.io.stdout(out);
      }
      ctx.exitCode = plan.verdict.ok ? EXIT_OK : EXIT_REFUSED;
    });
}
