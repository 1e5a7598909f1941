/** `kexec-lab crashkernel --verify` / `--bisect`: options to a verify run (src/node/kdump-verify, src/crash/verify-report.ts). */

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { sizeText } from "../../crash/verify.js";
import { type VerifyReport, type VerifySetup, verifyBisect, verifyOnce } from "../../crash/verify-report.js";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { checkInputRole, kernelArchOf, parseArch } from "../../formats/role.js";
import { recordCacheDir } from "../../node/guest/debs.js";
import {
  arm64TextOffset,
  checkVerifyHost,
  memorySize,
  prepareVerifyTools,
  runProbe,
  VERIFY_MACHINES,
} from "../../node/kdump-verify/run.js";
import { renderCrashkernelVerifyText } from "../../report/crashkernel-verify-text.js";
import { crashkernelCmdline } from "../../request/crashkernel.js";
import { parseSize } from "../../scenario/numbers.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { printJson } from "../io.js";

export interface VerifyOptions {
  kernel?: string;
  initrd?: string;
  crashkernel?: string;
  bisect?: string;
  step: string;
  arch?: string;
  memory: string;
  cpus: string;
  kexecToolsVersion?: string;
  crashAppend?: string;
  kallsymsText: string;
  timeout: string;
  idleTimeout: string;
  cache?: string;
  consoleDir?: string;
  json?: boolean;
}

function size(text: string, field: string): number {
  const v = parseSize(text, field);
  if (v <= 0n || v > 2n ** 50n)
    throw new KexecLabError("E_NUMBER_RANGE", `${field} ${text} is not a size between 1 and 1P`, { field });
  return Number(v);
}

function count(text: string, field: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new KexecLabError("E_USAGE", `${field} takes a whole number from 1 to ${max}, got "${text}"`, {
      field,
    });
  return Number(text);
}

/** The crash kernel's default command line: what kdump tools pass (one CPU, no interrupt routing trust). */
export function defaultCrashAppend(console: string): string {
  return `console=${console} reset_devices nr_cpus=1 irqpoll panic=0`;
}

export async function runVerify(opts: VerifyOptions, ctx: CliContext): Promise<void> {
  if (opts.kernel === undefined)
    throw new KexecLabError("E_USAGE", "--verify and --bisect boot a kernel: give --kernel FILE", {
      field: "--kernel",
    });
  const kernelPath = resolve(ctx.io.cwd, opts.kernel);
  const kernelBytes = readInputFile(kernelPath);
  checkInputRole(kernelBytes.subarray(0, 4096), "kernel", opts.kernel);
  const arch = opts.arch !== undefined ? parseArch(opts.arch) : kernelArchOf(kernelBytes.subarray(0, 4096));
  if (arch === undefined)
    throw new KexecLabError("E_USAGE", `${opts.kernel}: cannot tell its architecture; give --arch`, {
      field: "--arch",
    });
  const initrd = opts.initrd !== undefined ? readInputFile(resolve(ctx.io.cwd, opts.initrd)) : undefined;
  const memory = opts.memory;
  memorySize(memory);
  const cpus = count(opts.cpus, "--cpus", 64);
  const timeoutSec = count(opts.timeout, "--timeout", 86400);
  const idleSec = count(opts.idleTimeout, "--idle-timeout", 86400);
  if (opts.kallsymsText !== "auto" && opts.kallsymsText !== "off")
    throw new KexecLabError("E_USAGE", `--kallsyms-text takes auto or off, got "${opts.kallsymsText}"`, {
      field: "--kallsyms-text",
    });
  let range: { lo: number; hi: number; step: number } | undefined;
  if (opts.bisect !== undefined) {
    const m = /^([^:]+):([^:]+)$/.exec(opts.bisect);
    if (!m)
      throw new KexecLabError("E_USAGE", `--bisect takes LO:HI (e.g. 64M:512M), got "${opts.bisect}"`, {
        field: "--bisect",
      });
    const lo = size(m[1]!, "--bisect");
    const hi = size(m[2]!, "--bisect");
    const step = size(opts.step, "--step");
    if (hi < lo || (hi - lo) % step !== 0 || lo % (1 << 20) !== 0)
      throw new KexecLabError(
        "E_USAGE",
        `--bisect ${opts.bisect}: LO must be whole MiB, HI at least LO, and HI - LO a multiple of --step ${opts.step}`,
        { field: "--bisect" },
      );
    range = { lo, hi, step };
  } else if (opts.crashkernel === undefined) {
    throw new KexecLabError("E_USAGE", "--verify needs --crashkernel VALUE (or --bisect LO:HI)", {
      field: "--crashkernel",
    });
  } else crashkernelCmdline(opts.crashkernel);
  checkVerifyHost(arch);
  const cache = opts.cache !== undefined ? resolve(ctx.io.cwd, opts.cache) : recordCacheDir();
  const tools = prepareVerifyTools(arch, opts.kexecToolsVersion ?? "2.0.25", cache);
  const machine = VERIFY_MACHINES[arch];
  const append = opts.crashAppend ?? defaultCrashAppend(machine.console);
  const textOffset =
    arch === "arm64" && opts.kallsymsText === "auto" ? arm64TextOffset(kernelBytes) : undefined;
  const consoleDir = opts.consoleDir !== undefined ? resolve(ctx.io.cwd, opts.consoleDir) : undefined;
  if (consoleDir !== undefined) mkdirSync(consoleDir, { recursive: true });
  const setup: VerifySetup = {
    kernel: opts.kernel,
    arch,
    machine: { qemu: machine.qemu, description: machine.description, memory, cpus },
    kexecTools: { version: tools.kexecToolsVersion, package: tools.kexecToolsPackage },
    busybox: tools.busyboxPackage,
    crashInitrd: opts.initrd ?? "test initrd",
    crashCmdline: append,
    kallsymsText: opts.kallsymsText as "auto" | "off",
    cache,
  };
  const run = async (crashkernel: string) => {
    const p = await runProbe({
      tools,
      kernelFile: kernelPath,
      ...(initrd !== undefined ? { initrd } : {}),
      crashkernel,
      memory,
      cpus,
      append,
      ...(textOffset !== undefined ? { kallsymsTextOffset: textOffset } : {}),
      timeoutSec,
      idleSec,
      ...(consoleDir !== undefined
        ? {
            consoleFile: join(
              consoleDir,
              `${arch}-m${memory}-smp${cpus}-crashkernel-${crashkernel.replace(/[^\w.,-]/g, "_")}.console.txt`,
            ),
          }
        : {}),
    });
    return { result: p.result, ...(p.banner !== undefined ? { banner: p.banner } : {}) };
  };
  let report: VerifyReport;
  if (range !== undefined) {
    ctx.io.stderr(
      `crashkernel --bisect ${sizeText(range.lo)}:${sizeText(range.hi)}: one QEMU boot per probe, a minute or more each under TCG\n`,
    );
    report = await verifyBisect(setup, range.lo, range.hi, range.step, run, (p) =>
      ctx.io.stderr(
        `  crashkernel=${p.crashkernel}: ${p.ok ? "works" : `fails (${p.failure})`}, ${p.seconds.toFixed(1)} s\n`,
      ),
    );
  } else {
    report = await verifyOnce(setup, opts.crashkernel!, run);
  }
  if (opts.json) printJson(ctx.io, report);
  else ctx.io.stdout(renderCrashkernelVerifyText(report));
  ctx.exitCode = report.ok ? EXIT_OK : EXIT_REFUSED;
}
