/**
 * `crashkernel --verify`: the shapes of a verify run and the parts that need no machine. A probe boots
 * the user's kernel under QEMU with one crashkernel= value, loads a crash kernel with the real `kexec -p`,
 * forces a panic (sysrq c) and reads what the guests printed on the serial console (src/node/kdump-verify
 * runs it). Here: the console markers the guests print, reading a console into a ProbeResult, and the
 * bisection over sizes. Browser-safe (no I/O; the probe runner is passed in).
 */

const MiB = 2 ** 20;

/** Markers the guests print (src/node/kdump-verify/guest.ts writes the scripts that print them). */
export const VERIFY_MARK = {
  /** First kernel: its "Crash kernel" lines of /proc/iomem, between BEGIN/END. */
  iomem: "@@KXL-V-IOMEM@@",
  iomemEnd: "@@KXL-V-IOMEM-END@@",
  /** First kernel: /sys/kernel/kexec_crash_size. */
  crashSize: "@@KXL-V-CRASH-SIZE ",
  /** First kernel: `_text` was absent from /proc/kallsyms and was supplied (value), or not. */
  kallsyms: "@@KXL-V-KALLSYMS ",
  /** First kernel: kexec -p's output and exit code. */
  kexecOut: "@@KXL-V-KEXEC@@",
  kexecRc: "@@KXL-V-KEXEC-RC ",
  /** First kernel: about to panic. */
  panic: "@@KXL-V-PANIC@@",
  /** Crash kernel's /init (the test initrd): user space is up; MemTotal/MemFree; the dump. */
  up: "@@KXL-V-CRASH-UP@@",
  mem: "@@KXL-V-MEM ",
  vmcore: "@@KXL-V-VMCORE ",
  noVmcore: "@@KXL-V-NO-VMCORE@@",
  dump: "@@KXL-V-DUMP ",
  done: "@@KXL-V-DONE@@",
} as const;

/** What one probe (one crashkernel= value) showed. Sizes in bytes; `seconds` is the wall time of the QEMU run. */
export interface ProbeResult {
  /** The crashkernel= value the first kernel booted with. */
  crashkernel: string;
  /** The "Crash kernel" lines of the first kernel's /proc/iomem. */
  reservedLines: string[];
  /** /sys/kernel/kexec_crash_size (bytes), when printed. */
  reservedBytes?: number;
  /** kexec -p exited 0. */
  loaded: boolean;
  /** kexec -p's exit code and the last lines of its output. */
  kexecExit?: number;
  kexecOutput?: string[];
  /** `_text` was missing from /proc/kallsyms and supplied to kexec-tools (arm64; see docs/kdump.md). */
  kallsymsText?: string;
  /** The crash kernel printed its "Linux version" banner after the panic. */
  crashKernelBooted: boolean;
  /** The crash kernel's /init ran (the test initrd printed its first marker). */
  userSpace: boolean;
  /** The crash kernel's MemTotal and MemFree (bytes) when its /init started, and MemFree after the dump. */
  memTotal?: number;
  memFreeAtStart?: number;
  memFreeAfterDump?: number;
  /** /proc/vmcore's size and how many bytes were read (dd), and whether all of it was read without error. */
  vmcoreBytes?: number;
  vmcoreReadBytes?: number;
  vmcoreRead: boolean;
  /**
   * The dump written onto the dump disk (dd of /proc/vmcore onto /dev/nvme0n1) and its size; `dumpOnDisk`:
   * the host found an ELF core file (ET_CORE) at the start of the disk image after the run.
   */
  dumpBytes?: number;
  dumpWritten: boolean;
  dumpOnDisk?: boolean;
  /** Seconds the crash kernel took to copy /proc/vmcore (its /proc/uptime before and after dd). */
  dumpSeconds?: number;
  /** The run counts as working: with the test initrd, the dump was written; with the user's initrd, the crash kernel booted. */
  ok: boolean;
  /** Why not (the first failure seen), e.g. the crash kernel's "Out of memory" line. */
  failure?: string;
  /** Wall time of the probe (QEMU start to stop), seconds with one decimal. */
  seconds: number;
}

function between(text: string, a: string, b: string): string | undefined {
  const i = text.indexOf(a);
  if (i < 0) return undefined;
  const j = text.indexOf(b, i + a.length);
  return j < 0 ? undefined : text.slice(i + a.length, j);
}

function markerValue(text: string, mark: string): string | undefined {
  const i = text.indexOf(mark);
  if (i < 0) return undefined;
  const j = text.indexOf("@@", i + mark.length);
  return j < 0 ? undefined : text.slice(i + mark.length, j).trim();
}

function kv(s: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const w of (s ?? "").split(/\s+/)) {
    const eq = w.indexOf("=");
    if (eq > 0) m.set(w.slice(0, eq), w.slice(eq + 1));
  }
  return m;
}

/**
 * The bytes busybox dd (bs=1M) copied, from its "F+P records out" count: F whole MiB blocks and P
 * partial ones; a partial block is the rest of a file of `size` bytes. undefined when it does not add up.
 */
function recordsBytes(records: string | undefined, size: number | undefined): number | undefined {
  const m = /^(\d+)\+(\d+)$/.exec(records ?? "");
  if (!m || size === undefined) return undefined;
  const whole = Number(m[1]);
  const partial = Number(m[2]);
  const rest = size % MiB;
  if (partial > 1 || (partial === 1 && whole * MiB + rest !== size)) return undefined;
  return partial === 1 ? whole * MiB + rest : whole * MiB;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  return Number(s);
}

/** Lines after the panic marker that say why the crash kernel stopped (the first one found). */
const CRASH_FAILURES: readonly RegExp[] = [
  /^.*Out of memory.*$/m,
  /^.*Kernel panic - not syncing.*$/m,
  /^.*Unable to handle kernel.*$/m,
  /^.*BUG: unable to handle.*$/m,
  /^.*Internal error: .*$/m,
  /^.*general protection fault.*$/m,
];

/**
 * Read a probe's console (both guests) into a ProbeResult. `testInitrd`: the crash kernel ran the
 * project's test initrd (it prints the markers above); with the user's initrd only the banner is known.
 * `stopped` says why the runner stopped QEMU when the console alone does not (a timeout).
 */
export function readProbeConsole(
  consoleText: string,
  crashkernel: string,
  seconds: number,
  testInitrd: boolean,
  stopped?: string,
): ProbeResult {
  const text = consoleText.replace(/\r/g, "");
  const iomem = between(text, `${VERIFY_MARK.iomem}\n`, VERIFY_MARK.iomemEnd) ?? "";
  const reservedLines = iomem
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /Crash kernel/.test(l));
  const crashSize = num(markerValue(text, VERIFY_MARK.crashSize));
  const kexecOut = between(text, `${VERIFY_MARK.kexecOut}\n`, VERIFY_MARK.kexecRc);
  const kexecExit = num(markerValue(text, VERIFY_MARK.kexecRc));
  const kallsyms = markerValue(text, VERIFY_MARK.kallsyms);
  const p = text.indexOf(VERIFY_MARK.panic);
  const after = p >= 0 ? text.slice(p) : "";
  const banner = /Linux version \d/.test(after);
  const userSpace = after.includes(VERIFY_MARK.up);
  const mem = kv(markerValue(after, VERIFY_MARK.mem));
  const vm = kv(markerValue(after, VERIFY_MARK.vmcore));
  const dump = kv(markerValue(after, VERIFY_MARK.dump));
  const vmcoreBytes = num(vm.get("size"));
  const vmcoreReadBytes = recordsBytes(vm.get("records"), vmcoreBytes);
  const vmcoreRead =
    vm.get("rc") === "0" && vmcoreBytes !== undefined && vmcoreReadBytes === vmcoreBytes && vmcoreBytes > 0;
  const dumpBytes = dump.get("rc") === "0" ? recordsBytes(dump.get("records"), vmcoreBytes) : undefined;
  const dumpWritten = vmcoreRead && dumpBytes !== undefined && dumpBytes === vmcoreBytes;
  const t0 = Number(dump.get("t0"));
  const t1 = Number(dump.get("t1"));
  const loaded = kexecExit === 0;
  const r: ProbeResult = {
    crashkernel,
    reservedLines,
    ...(crashSize !== undefined ? { reservedBytes: crashSize } : {}),
    loaded,
    ...(kexecExit !== undefined ? { kexecExit } : {}),
    ...(kexecOut !== undefined
      ? {
          kexecOutput: kexecOut
            .split("\n")
            .map((l) => l.trimEnd())
            .filter((l) => l !== "")
            .slice(-6),
        }
      : {}),
    ...(kallsyms !== undefined && kallsyms !== "present" ? { kallsymsText: kallsyms } : {}),
    crashKernelBooted: banner,
    userSpace,
    ...(num(mem.get("total")) !== undefined ? { memTotal: num(mem.get("total"))! * 1024 } : {}),
    ...(num(mem.get("free")) !== undefined ? { memFreeAtStart: num(mem.get("free"))! * 1024 } : {}),
    ...(num(dump.get("free")) !== undefined ? { memFreeAfterDump: num(dump.get("free"))! * 1024 } : {}),
    ...(vmcoreBytes !== undefined ? { vmcoreBytes } : {}),
    ...(vmcoreReadBytes !== undefined ? { vmcoreReadBytes } : {}),
    vmcoreRead,
    ...(dumpBytes !== undefined ? { dumpBytes } : {}),
    dumpWritten,
    ...(Number.isFinite(t0) && Number.isFinite(t1) && t1 >= t0
      ? { dumpSeconds: Math.round((t1 - t0) * 10) / 10 }
      : {}),
    ok: testInitrd ? dumpWritten : banner,
    seconds: Math.round(seconds * 10) / 10,
  };
  if (!r.ok) r.failure = probeFailure(r, after, testInitrd, stopped);
  return r;
}

function probeFailure(r: ProbeResult, after: string, testInitrd: boolean, stopped?: string): string {
  if (r.reservedLines.length === 0 && r.kexecExit !== undefined)
    return 'the first kernel reserved no crash kernel memory (no "Crash kernel" line in /proc/iomem)';
  if (r.kexecExit === undefined) return stopped ?? "the first kernel did not get as far as kexec -p";
  if (!r.loaded)
    return `kexec -p failed (exit ${r.kexecExit})${r.kexecOutput?.length ? `: ${r.kexecOutput.at(-1)}` : ""}`;
  const bannerAt = after.search(/Linux version \d/);
  const crashLog = bannerAt >= 0 ? after.slice(bannerAt) : "";
  for (const re of CRASH_FAILURES) {
    const m = re.exec(crashLog);
    if (m) return `the crash kernel stopped: ${m[0].replace(/^\[\s*[\d.]+\]\s*/, "").trim()}`;
  }
  if (!r.crashKernelBooted) return stopped ?? "no crash kernel banner after the panic";
  if (!testInitrd) return stopped ?? "the crash kernel booted but did not finish";
  if (!r.userSpace) return stopped ?? "the crash kernel booted but its /init never ran";
  if (r.vmcoreBytes === undefined && after.includes(VERIFY_MARK.noVmcore))
    return "the crash kernel has no /proc/vmcore";
  if (!r.vmcoreRead)
    return `reading /proc/vmcore failed${r.vmcoreBytes !== undefined ? ` (${r.vmcoreReadBytes ?? 0} of ${r.vmcoreBytes} bytes)` : ""}${stopped ? `; ${stopped}` : ""}`;
  if (/rc=nodisk/.test(after))
    return "no dump disk (/dev/nvme0n1) in the crash kernel: /proc/vmcore was read, not written";
  return `writing the dump failed${stopped ? `; ${stopped}` : ""}`;
}

/** Runs one probe for a crashkernel= size in bytes. */
export type ProbeRunner = (crashkernelBytes: number) => Promise<ProbeResult>;

export interface BisectResult {
  lo: number;
  hi: number;
  step: number;
  /** The smallest size probed that works, and the largest probed that fails (bytes). */
  smallestOk?: number;
  largestFail?: number;
  /** How the search ended. */
  verdict: "found" | "fails-at-hi" | "works-at-lo";
  probes: ProbeResult[];
}

/** The crashkernel= text for a size: whole MiB as "NM". */
export function sizeText(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB}M` : `${bytes}`;
}

/**
 * The smallest crashkernel= in [lo, hi] at which the probe works, on the grid lo + k x step: probe hi
 * (if it fails, nothing in range works), then lo (if it works, the answer is lo or below), then halve
 * the interval between the largest failing and the smallest working size until they are one step apart.
 * Assumes a larger reservation never turns a working dump into a failing one. Probes run one at a time.
 */
export async function bisectCrashkernel(
  lo: number,
  hi: number,
  step: number,
  probe: ProbeRunner,
): Promise<BisectResult> {
  const probes: ProbeResult[] = [];
  const run = async (b: number) => {
    const r = await probe(b);
    probes.push(r);
    return r.ok;
  };
  if (!(await run(hi))) return { lo, hi, step, largestFail: hi, verdict: "fails-at-hi", probes };
  if (hi === lo) return { lo, hi, step, smallestOk: hi, verdict: "works-at-lo", probes };
  if (await run(lo)) return { lo, hi, step, smallestOk: lo, verdict: "works-at-lo", probes };
  let bad = lo;
  let good = hi;
  while (good - bad > step) {
    const steps = Math.floor((good - bad) / step);
    const mid = bad + Math.max(1, Math.floor(steps / 2)) * step;
    if (mid >= good) break;
    if (await run(mid)) good = mid;
    else bad = mid;
  }
  return { lo, hi, step, smallestOk: good, largestFail: bad, verdict: "found", probes };
}

/** The number of probes bisectCrashkernel makes at most for a range (for progress and docs). */
export function bisectProbeCount(lo: number, hi: number, step: number): number {
  if (hi === lo) return 1;
  let n = Math.ceil((hi - lo) / step);
  let probes = 2;
  while (n > 1) {
    n = Math.ceil(n / 2);
    probes++;
  }
  return probes;
}
