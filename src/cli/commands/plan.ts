import { type Command, Option } from "commander";
import { type CrashKernelGiven, crashKernelGiven } from "../../crash/given.js";
import { DEFAULT_LOADER } from "../../defaults.js";
import { KexecLabError } from "../../errors.js";
import { ARCH_NAMES } from "../../formats/role.js";
import { GateRefusalError } from "../../gates/error.js";
import { DEFAULT_KEXEC_TOOLS_VERSION } from "../../loader/auto.js";
import { DEFAULT_KERNEL_VERSION } from "../../loader/kexec-file/version.js";
import { formatPrintSegments, LOADERS, type PlanInput, planToJson } from "../../loader/plan.js";
import { renderCrashGiven } from "../../report/crash-given-text.js";
import { formatLegend, PLAN_LEGEND } from "../../report/legend.js";
import { renderPlanText } from "../../report/plan-text.js";
import { gatedPlanLoad } from "../../request/gates.js";
import { gateStateWithSignature } from "../../request/node/gate-state.js";
import { type PlanOptions, planInputFromOptions } from "../../request/node/plan-input.js";
import { hex } from "../../scenario/numbers.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { checkBinaryOutput, writeOutputFile } from "../files.js";
import { addGateOptions } from "../gate-options.js";
import { printJson } from "../io.js";
import { startProgress } from "../progress.js";

/**
 * The real-file options (--kernel, --initrd, --dtb, --iomem, --append, --loader, --mem-min/--mem-max,
 * -p/--crashkernel, --page-size, --seed, --wipe-kaslr-seed) on any command; with
 * planInputFromOptions() (src/request/node/plan-input.ts) they give a PlanInput for planLoad(). Used by `plan`, meant for `run` too.
 */
export function addPlanInputOptions(cmd: Command, opts: { kernelRequired: boolean }): Command {
  addGateOptions(cmd);
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
        .default(DEFAULT_LOADER),
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
    .option("--cpus <n>", "CPUs of the running machine, 1 to 8192 (crash elfcorehdr size)")
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
    .option(
      "--cma-used <size>",
      "bytes at the CMA area's base other users took before the load (/sys/kernel/mm/cma/NAME: alloc_pages_success - release_pages_success pages)",
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
      "--crashkernel <value>",
      "crashkernel= as on the kernel command line (implies --crash): SIZE@OFFSET is the region itself; a size, ranges or ,high/,low are reserved as the --host kernel's boot would (kexec-lab crashkernel) and the load goes where kexec-tools puts it",
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
    .option(
      "--print-segments",
      "print the segment lines the chosen syscall prints: kexec_load: kexec -d's entry line and table; kexec_file_load: the kernel's \"kexec_file: Loading segment N\" dmesg lines",
    )
    .option("--json", "print one JSON document")
    .option("--explain", "after the table, what its terms mean")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab plan --kernel Image --initrd initrd.img --dtb fdt.dtb --iomem iomem.txt --append "console=ttyAMA0"
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --loader kexec-file --json
  $ kexec -d -c -l Image --initrd=initrd.img --reuse-cmdline 2>&1 | grep -E '^(kexec_load: entry|nr_segments|segment\\[)' > real.txt
  $ kexec-lab plan --kernel Image --initrd initrd.img --reuse-cmdline --host ./my-host --loader kexec-tools --print-segments | diff - real.txt
  $ dmesg --notime | grep 'kexec_file: Loading segment' > real-file.txt   # after kexec -s -l, dynamic debug on for kexec_file.c
  $ kexec-lab plan --kernel Image --initrd initrd.img --reuse-cmdline --host ./my-host --loader kexec-file --print-segments | diff - real-file.txt
  $ kexec-lab plan --kernel bzImage --initrd initrd.img --iomem /proc/iomem
  $ kexec-lab plan --kernel bzImage --initrd-size 1G --iomem iomem.txt
  $ kexec-lab plan --kernel Image --dtb fdt.dtb --crashkernel 256M@0x60000000 --iomem iomem.txt

--print-segments prints what the chosen path prints (with --loader auto, the syscall kexec-tools of
that version would end up using, after any fallback). kexec_load's buf lines are addresses in the kexec process and differ from a real run;
kexec_file_load's buf is a kernel pointer printed as "(____ptrval____)", as the kernel does while its
pointer-hash key is not ready.

Without --iomem on arm64 the memory map comes from the DTB's memory nodes (minus reservations).
Exit code 0 with a plan the kernel would accept; 1 when the real kexec would fail too: the kernel's
checks refuse the placed segments (e.g. more than half of RAM: the refusal leads the output), or the
load cannot be placed (the message names the segment, its size and alignment and the largest free
range), or no crash region is reserved; 2 when the input is bad (docs/errors.md lists every code).`,
    )
    .action(async (opts: PlanOptions) => {
      if (opts.outDtb !== undefined) checkBinaryOutput(opts.outDtb, opts.force === true, "--out-dtb");
      const progress = startProgress(ctx.io, `decompress ${opts.kernel}`);
      let input: PlanInput;
      try {
        input = await planInputFromOptions(opts, {
          sizesOnly: opts.outDtb === undefined,
          onProgress: (d, t) => progress.update(d, t),
        });
      } finally {
        progress.stop();
      }
      const gateState = await gateStateWithSignature(opts);
      let placed: ReturnType<typeof gatedPlanLoad>;
      try {
        placed = gatedPlanLoad(input, gateState);
      } catch (e) {
        // A refusal at a gate is still one JSON document on stdout (the message goes to stderr).
        if (opts.json && e instanceof GateRefusalError) printJson(ctx.io, { error: e.toJSON() });
        throw e;
      }
      const { plan, gates } = placed;
      if (opts.outDtb !== undefined) {
        if (!plan.patchedDtb)
          throw new KexecLabError("E_USAGE", "--out-dtb: this load has no DTB", { field: "out-dtb" });
        writeOutputFile(opts.outDtb, plan.patchedDtb, opts.force === true);
      }
      if (opts.printSegments) ctx.io.stdout(formatPrintSegments(plan));
      else if (opts.json)
        printJson(
          ctx.io,
          withCrashKernel(
            gates.known ? { ...planToJson(plan), gates } : planToJson(plan),
            crashKernelGiven(plan, input),
          ),
        );
      else
        ctx.io.stdout(
          renderPlanText(plan) +
            crashGivenText(crashKernelGiven(plan, input)) +
            (opts.explain ? `\n${formatLegend(PLAN_LEGEND)}` : ""),
        );
      // a load the kernel accepts but whose new kernel damages its own initrd is a failed verification (exit 1)
      ctx.exitCode = plan.verdict.ok && plan.bootHazards === undefined ? EXIT_OK : EXIT_REFUSED;
    });
}

const crashGivenText = (g: CrashKernelGiven | undefined) => (g !== undefined ? renderCrashGiven(g) : "");

/** plan --json with the crash kernel's inputs (docs/json.md `crashKernel`), addresses as hex strings. */
function withCrashKernel<T extends object>(json: T, g: CrashKernelGiven | undefined): T {
  if (g === undefined) return json;
  const r = (x: { start: number; end: number }) => ({ start: hex(x.start), end: hex(x.end) });
  return {
    ...json,
    crashKernel: {
      regions: g.regions.map(r),
      loadRegion: r(g.loadRegion),
      crashRes: r(g.crashRes),
      memoryMap: { how: g.memoryMap.how, ranges: g.memoryMap.ranges.map((x) => ({ ...r(x), type: x.type })) },
      appended: g.appended,
      prepended: g.prepended,
      ...(g.elfcorehdr !== undefined
        ? {
            elfcorehdr: {
              start: hex(g.elfcorehdr.start),
              bufsz: g.elfcorehdr.bufsz,
              notes: g.elfcorehdr.notes,
              loads: g.elfcorehdr.loads.map(r),
            },
          }
        : {}),
    },
  };
}
