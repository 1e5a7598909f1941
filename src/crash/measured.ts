/**
 * The crash kernel's run-time memory, measured rather than estimated (issue #24 item 3), as openSUSE's
 * kdump calibrate does it: boot the crash kernel in reservations of several sizes and read what it
 * keeps and uses. The figures come from `kexec-lab crashkernel --verify` runs (docs/kdump.md section 3):
 * every working probe printed the crash kernel's MemTotal and MemFree when its /init started. From
 * them, per architecture:
 *
 *   kept(R)  = R - MemTotal        what the crash kernel keeps at boot out of a reservation of R bytes:
 *                                  its image, struct pages, per-CPU areas, hash tables, page tables;
 *                                  fitted as fixed + perByte x R (least squares over the sizes probed)
 *   running  = MemTotal - MemFree  what its kernel and /init use once user space runs (slab, page
 *                                  tables, the test initrd's files in rootfs)
 *   perCpu   = the growth of kept(R) from nr_cpus=1 to nr_cpus=2 (same R): the per-CPU areas and
 *              what else the boot allocates per possible CPU (MemFree varies by about 1 MiB from
 *              one boot to the next, more than this term: kept, read from MemTotal, does not)
 *   perGiB   = the growth of R - MemFree per GiB of the first kernel's RAM (1 -> 2 GiB, same R)
 *
 * and the bisected smallest reservation that works. The machine they were measured on is part of
 * the data and is printed wherever they are used. Browser-safe (data and arithmetic only).
 */

import type { Arch } from "../kimage/constants.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** One working probe: the guest's RAM and CPUs, the crash kernel's nr_cpus, the reservation, MemTotal/MemFree in kB. */
export interface MeasuredProbe {
  ramBytes: number;
  cpus: number;
  nrCpus: number;
  reservedBytes: number;
  memTotalKb: number;
  memFreeKb: number;
}

export interface MeasuredMinimum {
  ramBytes: number;
  cpus: number;
  /** The smallest crashkernel= that worked and the largest that failed (bytes), and the bisect's wall time. */
  smallestOk: number;
  largestFail: number;
  seconds: number;
}

export interface CrashMeasurement {
  arch: Arch;
  /** QEMU machine and CPU model (TCG), the kernel (first and crash), kexec-tools, the crash kernel's cmdline, the date. */
  machine: string;
  kernel: string;
  kexecTools: string;
  crashCmdline: string;
  /** The test initrd's files (busybox-static and /init), bytes: part of what `running` measured. */
  testInitrdBytes: number;
  date: string;
  /** The commands whose output this is. */
  commands: string[];
  probes: MeasuredProbe[];
  minimums: MeasuredMinimum[];
}

export interface CrashRuntimeFit {
  arch: Arch;
  /** Where the figures come from, in one line (machine, kernel, tools, date). */
  measuredOn: string;
  /** kept(R) = keptFixedBytes + keptPerByte x R (bytes; keptPerByte dimensionless). */
  keptFixedBytes: number;
  keptPerByte: number;
  /** MemTotal - MemFree at /init (bytes): the mean over the probes with nr_cpus=1 on the base machine. */
  runningBytes: number;
  /** The test initrd's files, included in runningBytes. */
  testInitrdBytes: number;
  /** Bytes kept per extra CPU of the crash kernel (nr_cpus), when measured. */
  perCpuBytes?: number;
  /** Bytes per GiB of the first kernel's RAM, when measured. */
  perFirstKernelGiBBytes?: number;
  /** The smallest reservation the fit predicts for the base machine: (fixed + running) / (1 - perByte). */
  predictedMinimumBytes: number;
  minimums: MeasuredMinimum[];
}

const TCG_X86 = "QEMU TCG -machine q35 -cpu qemu64";
const TCG_ARM64 = "QEMU TCG -machine virt -cpu cortex-a57";

const p = (
  ram: number,
  cpus: number,
  nrCpus: number,
  mib: number,
  memTotalKb: number,
  memFreeKb: number,
): MeasuredProbe => ({ ramBytes: ram * GiB, cpus, nrCpus, reservedBytes: mib * MiB, memTotalKb, memFreeKb });

/** The measurements (2026-12-07, this project's shared 2-core machine; docs/kdump.md section 3). */
export const CRASH_MEASUREMENTS: Record<Arch, CrashMeasurement> = {
  x86_64: {
    arch: "x86_64",
    machine: TCG_X86,
    kernel: "Debian 6.1.0-56-cloud-amd64 (6.1.192-2), crashing into itself",
    kexecTools: "Debian kexec-tools 1:2.0.25-3+deb12u3 (kexec_load)",
    crashCmdline: "console=ttyS0 reset_devices nr_cpus=1 irqpoll panic=0, the test initrd (busybox)",
    testInitrdBytes: 1982256 + 1024,
    date: "2026-12-07",
    commands: [
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-56-cloud-amd64.bzImage --bisect 32M:256M --json",
      'kexec-lab crashkernel --verify --kernel debian-6.1.0-56-cloud-amd64.bzImage --crashkernel 128M --crash-append "console=ttyS0 reset_devices nr_cpus=2 irqpoll panic=0" --json',
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-56-cloud-amd64.bzImage --memory 2G --bisect 32M:256M --json",
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-56-cloud-amd64.bzImage --cpus 4 --bisect 32M:256M --json",
    ],
    probes: [
      p(1, 2, 1, 256, 220036, 191564),
      p(1, 2, 1, 128, 91204, 64112),
      p(1, 2, 1, 96, 60484, 33704),
      p(1, 2, 2, 128, 90960, 65312),
      // the first kernel with 2 GiB, and with 4 CPUs (the crash kernel still nr_cpus=1)
      p(2, 2, 1, 256, 220036, 191564),
      p(2, 2, 1, 128, 91204, 64148),
      p(2, 2, 1, 96, 60484, 33776),
      p(1, 4, 1, 256, 220036, 193156),
      p(1, 4, 1, 128, 91204, 64148),
      p(1, 4, 1, 96, 60484, 33752),
    ],
    minimums: [
      { ramBytes: GiB, cpus: 2, smallestOk: 96 * MiB, largestFail: 64 * MiB, seconds: 100.4 },
      { ramBytes: 2 * GiB, cpus: 2, smallestOk: 96 * MiB, largestFail: 64 * MiB, seconds: 241.8 },
      { ramBytes: GiB, cpus: 4, smallestOk: 96 * MiB, largestFail: 64 * MiB, seconds: 180.9 },
    ],
  },
  arm64: {
    arch: "arm64",
    machine: TCG_ARM64,
    kernel: "Debian 6.1.0-50-cloud-arm64 (6.1.176-1), crashing into itself",
    kexecTools:
      "Debian kexec-tools 1:2.0.25-3+deb12u3 (kexec_load), _text supplied (docs/kdump.md section 4)",
    crashCmdline: "console=ttyAMA0 reset_devices nr_cpus=1 irqpoll panic=0, the test initrd (busybox)",
    testInitrdBytes: 1846504 + 1024,
    date: "2026-12-07",
    commands: [
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-50-cloud-arm64.Image --bisect 32M:256M",
      'kexec-lab crashkernel --verify --kernel debian-6.1.0-50-cloud-arm64.Image --crashkernel 128M --crash-append "console=ttyAMA0 reset_devices nr_cpus=2 irqpoll panic=0" --json',
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-50-cloud-arm64.Image --memory 2G --bisect 32M:256M --json",
      "kexec-lab crashkernel --verify --kernel debian-6.1.0-50-cloud-arm64.Image --cpus 4 --bisect 32M:256M --json",
    ],
    probes: [
      p(1, 2, 1, 256, 232244, 211576),
      p(1, 2, 1, 128, 103668, 83532),
      p(1, 2, 1, 64, 38356, 18772),
      p(1, 2, 2, 128, 103548, 82508),
      p(2, 2, 1, 256, 232244, 211708),
      p(2, 2, 1, 128, 103668, 83564),
      p(2, 2, 1, 64, 38356, 18840),
      p(1, 4, 1, 256, 232236, 211672),
      p(1, 4, 1, 128, 103660, 83524),
      p(1, 4, 1, 64, 38348, 18764),
    ],
    minimums: [
      { ramBytes: GiB, cpus: 2, smallestOk: 64 * MiB, largestFail: 32 * MiB, seconds: 264.5 },
      { ramBytes: 2 * GiB, cpus: 2, smallestOk: 64 * MiB, largestFail: 32 * MiB, seconds: 452.2 },
      { ramBytes: GiB, cpus: 4, smallestOk: 64 * MiB, largestFail: 32 * MiB, seconds: 274.5 },
    ],
  },
};

function mean(xs: number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

/** The fit of one arch's measurements (see the module comment). */
export function fitCrashRuntime(m: CrashMeasurement): CrashRuntimeFit {
  const base = m.probes.filter((q) => q.nrCpus === 1 && q.ramBytes === GiB && q.cpus === 2);
  const xs = base.map((q) => q.reservedBytes);
  const kept = base.map((q) => q.reservedBytes - q.memTotalKb * 1024);
  const mx = mean(xs);
  const my = mean(kept);
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (kept[i]! - my);
  }
  const keptPerByte = sxx > 0 ? sxy / sxx : 0;
  const keptFixedBytes = my - keptPerByte * mx;
  const runningBytes = mean(base.map((q) => (q.memTotalKb - q.memFreeKb) * 1024));
  const use = (q: MeasuredProbe) => q.reservedBytes - q.memFreeKb * 1024;
  const pairs = (pick: (q: MeasuredProbe) => boolean) =>
    m.probes
      .filter(pick)
      .map((q) => [q, base.find((b) => b.reservedBytes === q.reservedBytes)] as const)
      .filter((x): x is readonly [MeasuredProbe, MeasuredProbe] => x[1] !== undefined);
  const cpuPairs = pairs((q) => q.nrCpus > 1 && q.ramBytes === GiB && q.cpus === 2);
  const keptOf = (q: MeasuredProbe) => q.reservedBytes - q.memTotalKb * 1024;
  const ramPairs = pairs((q) => q.nrCpus === 1 && q.ramBytes > GiB && q.cpus === 2);
  const fit: CrashRuntimeFit = {
    arch: m.arch,
    measuredOn: `${m.machine}, ${m.kernel}, ${m.kexecTools}, ${m.date}`,
    keptFixedBytes: Math.round(keptFixedBytes),
    keptPerByte,
    runningBytes: Math.round(runningBytes),
    testInitrdBytes: m.testInitrdBytes,
    predictedMinimumBytes: Math.round((keptFixedBytes + runningBytes) / (1 - keptPerByte)),
    minimums: m.minimums,
  };
  if (cpuPairs.length > 0)
    fit.perCpuBytes = Math.round(
      mean(cpuPairs.map(([q, b]) => (keptOf(q) - keptOf(b)) / (q.nrCpus - b.nrCpus))),
    );
  if (ramPairs.length > 0)
    fit.perFirstKernelGiBBytes = Math.round(
      mean(ramPairs.map(([q, b]) => (use(q) - use(b)) / ((q.ramBytes - b.ramBytes) / GiB))),
    );
  return fit;
}

/** The fit for an arch (undefined when nothing is measured for it). */
export function measuredCrashRuntime(arch: Arch): CrashRuntimeFit | undefined {
  const m = CRASH_MEASUREMENTS[arch];
  return m === undefined || m.probes.length < 2 ? undefined : fitCrashRuntime(m);
}
