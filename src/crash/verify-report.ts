/**
 * `kexec-lab crashkernel --verify` and `--bisect`: one probe, or the bisection of src/crash/verify.ts,
 * over a probe runner (the real one boots QEMU, src/node/kdump-verify/run.ts; tests pass a fake). Browser-safe. Builds the report that
 * src/report/crashkernel-verify-text.ts prints and --json emits (docs/json.md "crashkernel --verify").
 */

import type { Arch } from "../kimage/constants.js";
import { type BisectResult, bisectCrashkernel, type ProbeResult, sizeText } from "./verify.js";

export interface VerifySetup {
  /** The --kernel file as given, and its architecture. */
  kernel: string;
  arch: Arch;
  /** The QEMU machine: binary, description (machine, CPU model, TCG), -m and -smp. */
  machine: { qemu: string; description: string; memory: string; cpus: number };
  kexecTools: { version: string; package: string };
  busybox: string;
  /** "test initrd" or the --initrd file. */
  crashInitrd: string;
  /** The crash kernel's command line given to kexec -p --append. */
  crashCmdline: string;
  /** Whether `_text` is supplied to kexec-tools when /proc/kallsyms lacks it (arm64; docs/kdump.md). */
  kallsymsText: "auto" | "off";
  /** The download cache holding kexec-tools and busybox. */
  cache: string;
}

/** One probe, as the runner reports it. */
export interface VerifyProbe {
  result: ProbeResult;
  /** The first kernel's version from its banner. */
  banner?: string;
}

export type VerifyRunner = (crashkernel: string) => Promise<VerifyProbe>;

export interface VerifyReport extends VerifySetup {
  mode: "verify" | "bisect";
  /** The running kernel's version (its banner), when seen. */
  kernelVersion?: string;
  probes: ProbeResult[];
  bisect?: {
    lo: string;
    hi: string;
    step: string;
    /** The smallest size probed at which it works, and the largest at which it fails. */
    smallestOk?: string;
    largestFail?: string;
    verdict: BisectResult["verdict"];
  };
  /** verify: the probe worked; bisect: a working and a failing size were both found. */
  ok: boolean;
  /** Wall time of the whole command's probes, seconds. */
  seconds: number;
}

/** One probe with a crashkernel= value. */
export async function verifyOnce(
  setup: VerifySetup,
  crashkernel: string,
  run: VerifyRunner,
): Promise<VerifyReport> {
  const p = await run(crashkernel);
  return {
    ...setup,
    mode: "verify",
    ...(p.banner !== undefined ? { kernelVersion: p.banner } : {}),
    probes: [p.result],
    ok: p.result.ok,
    seconds: p.result.seconds,
  };
}

/** --bisect LO:HI in steps of `step` bytes; `onProbe` hears of each probe as it ends (progress). */
export async function verifyBisect(
  setup: VerifySetup,
  lo: number,
  hi: number,
  step: number,
  run: VerifyRunner,
  onProbe?: (r: ProbeResult) => void,
): Promise<VerifyReport> {
  let banner: string | undefined;
  const b = await bisectCrashkernel(lo, hi, step, async (bytes) => {
    const p = await run(sizeText(bytes));
    banner ??= p.banner;
    onProbe?.(p.result);
    return p.result;
  });
  const seconds = Math.round(b.probes.reduce((a, p) => a + p.seconds, 0) * 10) / 10;
  return {
    ...setup,
    mode: "bisect",
    ...(banner !== undefined ? { kernelVersion: banner } : {}),
    probes: b.probes,
    bisect: {
      lo: sizeText(lo),
      hi: sizeText(hi),
      step: sizeText(step),
      ...(b.smallestOk !== undefined ? { smallestOk: sizeText(b.smallestOk) } : {}),
      ...(b.largestFail !== undefined ? { largestFail: sizeText(b.largestFail) } : {}),
      verdict: b.verdict,
    },
    ok: b.verdict === "found",
    seconds,
  };
}
