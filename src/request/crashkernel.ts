/**
 * `kexec-lab crashkernel`, and `plan -p --crashkernel` for any crashkernel= syntax: where the boot of
 * the host's kernel reserves crashkernel= (src/crash/reserve.ts on the host's memblock state,
 * src/crash/host.ts) and which region the crash load goes into (src/crash/choose.ts). Browser-safe:
 * the host comes in parsed.
 */

import { crashLoadRegion } from "../crash/choose.js";
import { hostReserveInput } from "../crash/host.js";
import { parseCrashkernelOption, specOf } from "../crash/parse.js";
import { type CrashRegion, iomemLines, type ReserveResult, reserveCrashkernel } from "../crash/reserve.js";
import { KexecLabError } from "../errors.js";
import type { Host } from "../host/host.js";
import type { Arch } from "../kimage/constants.js";
import type { Range } from "../machine/ranges.js";
import { hex } from "../scenario/numbers.js";

/**
 * The crashkernel= options of a --crashkernel value ("512M,high", "crashkernel=512M,high 128M,low",
 * ranges, SIZE@OFFSET) as a kernel command line. E_FIELD_VALUE names a value the kernel's parser
 * refuses, with the kernel's own warning.
 */
export function crashkernelCmdline(value: string, field = "--crashkernel"): string {
  const words = value
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  if (words.length === 0) throw new KexecLabError("E_FIELD_VALUE", "an empty crashkernel= value", { field });
  return words
    .map((w) => {
      const v = w.replace(/^crashkernel=/, "");
      if (specOf(v) === undefined) {
        const sfx = /,(high|low|cma)$/.exec(v)?.[1] as "high" | "low" | "cma" | undefined;
        const p = parseCrashkernelOption(`crashkernel=${v}`, 2 ** 50, sfx, {
          version: [6, 17],
          arch: "x86_64",
        });
        const why = p.messages[0] ?? "not a crashkernel= syntax (size[@offset], ranges, size,high|low|cma)";
        throw new KexecLabError("E_FIELD_VALUE", `crashkernel=${v}: ${why}`, { field });
      }
      return `crashkernel=${v}`;
    })
    .join(" ");
}

export interface CrashkernelRequest {
  host: Host;
  arch: Arch;
  /** The --crashkernel value; default: the crashkernel= options of the host's /proc/cmdline. */
  crashkernel?: string;
  kernelVersion?: string;
  /** A full dmesg of the host's boot (its RAMDISK/NODE_DATA/cma/swiotlb lines). */
  dmesg?: string;
  zoneDma?: boolean;
  /** The loader and kexec-tools release, for which region the crash load goes into. */
  loader?: "kexec-tools" | "kexec-file" | "auto";
  kexecToolsVersion?: string;
}

export interface CrashkernelAnswer {
  arch: Arch;
  kernelVersion: string;
  model: ReserveResult["model"];
  source: string;
  /** The crashkernel= options the model read. */
  cmdline: string;
  /** memblock_phys_mem_size() in bytes. */
  systemRam: number;
  parsed: ReserveResult["parsed"];
  limits: { lowMax: string; highMax: string; align: string };
  /** Regions as hex strings, end exclusive. */
  regions: { start: string; end: string; kind: CrashRegion["kind"] }[];
  /** The lines /proc/iomem shows. */
  iomem: string[];
  /** /sys/kernel/kexec_crash_size. */
  kexecCrashSize: number;
  /** The kernel's log lines. */
  log: string[];
  steps: string[];
  failure?: string;
  /** Where the crash load goes (kexec -p), and why. */
  crashLoad?: { start: string; end: string; why: string };
  /** The host's own "Crash kernel" lines and whether the prediction for its own cmdline matches them. */
  host: { iomem: string[]; kexecCrashSize?: number; sameCmdline: boolean; matches?: boolean };
  memblock: { sources: string[]; notes: string[] };
}

function hostCrashkernelOptions(cmdline: string | undefined): string | undefined {
  const opts = (cmdline ?? "").split(/\s+/).filter((w) => w.startsWith("crashkernel="));
  return opts.length > 0 ? opts.join(" ") : undefined;
}

/** The reservation for the request, and the host memblock model behind it. */
export function reserveForHost(req: CrashkernelRequest): {
  result: ReserveResult;
  answer: CrashkernelAnswer;
} {
  const own = hostCrashkernelOptions(req.host.cmdline);
  const cmdline = req.crashkernel !== undefined ? crashkernelCmdline(req.crashkernel) : own;
  if (cmdline === undefined) {
    throw new KexecLabError(
      "E_USAGE",
      `${req.host.source}: the host's cmdline.txt has no crashkernel= option; give --crashkernel`,
      { field: "--crashkernel" },
    );
  }
  const { input, memblock } = hostReserveInput(req.host, req.arch, {
    cmdline,
    ...(req.kernelVersion !== undefined ? { kernelVersion: req.kernelVersion } : {}),
    ...(req.dmesg !== undefined ? { dmesg: req.dmesg } : {}),
    ...(req.zoneDma !== undefined ? { zoneDma: req.zoneDma } : {}),
  });
  const r = reserveCrashkernel(input);
  const hostLines = iomemLines(memblock.current.map((c) => ({ ...c, kind: "crash" as const })));
  const sameCmdline = own !== undefined && own === cmdline;
  const iomem = iomemLines(r.regions);
  const answer: CrashkernelAnswer = {
    arch: r.arch,
    kernelVersion: r.kernelVersion,
    model: r.model,
    source: r.source,
    cmdline,
    systemRam: r.systemRam,
    parsed: r.parsed,
    limits: { lowMax: hex(r.limits.lowMax), highMax: hex(r.limits.highMax), align: hex(r.limits.align) },
    regions: r.regions.map((x) => ({ start: hex(x.start), end: hex(x.end), kind: x.kind })),
    iomem,
    kexecCrashSize: r.kexecCrashSize,
    log: r.log,
    steps: r.steps,
    host: {
      iomem: hostLines,
      ...(req.host.crashSize !== undefined ? { kexecCrashSize: req.host.crashSize } : {}),
      sameCmdline,
      ...(sameCmdline && req.host.iomem !== undefined
        ? { matches: hostLines.join("\n") === iomem.join("\n") }
        : {}),
    },
    memblock: { sources: memblock.sources, notes: memblock.notes },
  };
  if (r.failure !== undefined) answer.failure = r.failure;
  const crash = crashRegionsOf(r);
  if (crash.length > 0) {
    const c = crashLoadRegion(
      crash,
      r.arch,
      req.loader ?? "auto",
      req.kexecToolsVersion ?? req.host.kexecToolsVersion,
    );
    answer.crashLoad = { start: hex(c.region.start), end: hex(c.region.end), why: c.why };
  }
  return { result: r, answer };
}

/** The "Crash kernel" regions of a reservation (crashk_res and crashk_low_res; CMA is not one). */
export function crashRegionsOf(r: ReserveResult): Range[] {
  return r.regions.filter((x) => x.kind !== "cma").map((x) => ({ start: x.start, end: x.end }));
}

/**
 * For `plan -p --crashkernel VALUE` with a syntax other than SIZE@OFFSET: the regions the host's kernel
 * reserves for it and the one the crash load goes into. E_CRASHKERNEL_NOT_RESERVED when the kernel
 * reserves nothing (its log line says why).
 */
export function crashRegionsForPlan(req: CrashkernelRequest): { region: Range; regions: Range[] } {
  const { result, answer } = reserveForHost(req);
  const regions = crashRegionsOf(result);
  if (regions.length === 0) {
    throw new KexecLabError(
      "E_CRASHKERNEL_NOT_RESERVED",
      `${answer.cmdline}: ${result.failure ?? "nothing reserved"}${result.log.length ? ` (the kernel logs "${result.log.at(-1)}")` : ""}`,
      { field: "--crashkernel" },
    );
  }
  const c = crashLoadRegion(
    regions,
    result.arch,
    req.loader ?? "auto",
    req.kexecToolsVersion ?? req.host.kexecToolsVersion,
  );
  return { region: c.region, regions };
}
