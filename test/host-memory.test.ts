/**
 * Host descriptions (kexec-lab-collect, --host) and the memory questions (kexec-lab memory,
 * validate --host): issue #16 items 2 and 4.
 */

import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readHostDir } from "../src/host/node/read.js";
import { hostKernelVersion } from "../src/host/plan.js";
import { estimateCrashkernel, kdumpSystemGiB } from "../src/memory/crashkernel.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const IMAGE = dataFile("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
const QEMU_DTB = dataFile("qemu-virt-4g.dtb");
const ARM_IOMEM = dataFile("arm64-qemu-virt-4g.txt");
const X86_IOMEM = dataFile("x86_64-cloud-vm.txt");
const COLLECT = join(ROOT, "bin/kexec-lab-collect");
const MiB = 2 ** 20;

const tmp = testTempDir("host");

/** An arm64 host directory from the shared data: QEMU virt's iomem and DTB. */
function armHost(extra: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmp, "arm-"));
  copyFileSync(ARM_IOMEM, join(d, "iomem.txt"));
  copyFileSync(QEMU_DTB, join(d, "fdt.dtb"));
  writeFileSync(join(d, "uname-m.txt"), "aarch64\n");
  writeFileSync(join(d, "cmdline.txt"), "console=ttyAMA0 root=/dev/vda1\n");
  writeFileSync(join(d, "nproc.txt"), "4\n");
  writeFileSync(join(d, "meminfo.txt"), "MemTotal:        4010836 kB\nMemFree:          100000 kB\n");
  for (const [k, v] of Object.entries(extra)) writeFileSync(join(d, k), v);
  return d;
}

describe("kexec-lab-collect", () => {
  const out = join(tmp, "collected");
  const run = spawnSync("sh", [COLLECT, out], { encoding: "utf8" });

  it("collects this machine read-only into a directory --host reads", () => {
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/wrote .* files/);
    const host = readHostDir(out);
    const m = spawnSync("uname", ["-m"], { encoding: "utf8" }).stdout.trim();
    expect(host.arch).toBe(m === "aarch64" ? "arm64" : m);
    expect(host.cpus).toBeGreaterThan(0);
    expect(host.memTotal).toBeGreaterThan(host.memFree ?? 0);
    expect(host.iomem ?? host.memmap).toBeDefined();
    // What it could not read is said, in collect.log.
    expect(readFileSync(join(out, "collect.log"), "utf8")).toMatch(/^(missing .*\n|.*\n)*$/);
  });

  it("collects nothing identifying: no hostname in any file", () => {
    const name = hostname();
    if (name.length < 4 || name === "localhost") return;
    for (const f of readdirSync(out)) expect(readFileSync(join(out, f), "utf8")).not.toContain(name);
  });

  it("refuses a non-empty directory and wrong usage with exit 2", () => {
    expect(spawnSync("sh", [COLLECT, out]).status).toBe(2);
    expect(spawnSync("sh", [COLLECT]).status).toBe(2);
  });

  it("passes shellcheck as POSIX sh (when shellcheck is installed; CI installs it)", () => {
    const sc = spawnSync("shellcheck", ["-s", "sh", COLLECT], { encoding: "utf8" });
    if (sc.error !== undefined) {
      console.warn("host-memory: shellcheck not installed: the shellcheck check is SKIPPED");
      return;
    }
    expect(sc.stdout + sc.stderr).toBe("");
    expect(sc.status).toBe(0);
  });

  it("plans on the collected host as on its files given one by one", async () => {
    const host = readHostDir(out);
    if (host.arch !== "x86_64" || host.iomem === undefined) return;
    const viaHost = await runCli(["plan", "--kernel", BZIMAGE, "--host", out, "--json"]);
    // A caller without CAP_SYS_BOOT (a container) or at a kexec load limit has no command-line twin:
    // the host refuses at the permitted gate (docs/gates.md).
    const g = host.gates;
    if (g.capSysBoot?.value === false || g.limitReboot?.value === 0) {
      expect(viaHost.code).toBe(1);
      expect(viaHost.err).toMatch(/at the permitted gate/);
      return;
    }
    // The same facts given one by one: the maps, the CPUs, the running kernel's version (uname -r),
    // the kexec-tools release (kexec --version) and dmesg's random-pool and RSDP facts.
    const viaFiles = await runCli([
      "plan",
      "--kernel",
      BZIMAGE,
      "--iomem",
      join(out, "iomem.txt"),
      ...(host.memmap !== undefined ? ["--memmap", join(out, "memmap.txt")] : []),
      ...(host.cpus !== undefined ? ["--cpus", String(host.cpus)] : []),
      ...(hostKernelVersion(host.release) !== undefined
        ? ["--kernel-version", hostKernelVersion(host.release)!]
        : []),
      ...(host.kexecToolsVersion !== undefined ? ["--kexec-tools-version", host.kexecToolsVersion] : []),
      ...(host.crngReady === false ? ["--crng-not-ready"] : []),
      ...(host.acpiRsdp !== undefined ? ["--acpi-rsdp", `0x${host.acpiRsdp.toString(16)}`] : []),
      ...(host.kexecFileSyscall === false ? ["--no-kexec-file-syscall"] : []),
      // The gates' state: this machine may have no kexec at all (then both refuse with ENOSYS).
      ...(existsSync(join(out, "kernel-config.txt"))
        ? ["--kernel-config", join(out, "kernel-config.txt")]
        : []),
      ...(g.lockdown !== undefined ? ["--lockdown", g.lockdown.value] : []),
      ...(g.kexecLoadDisabled?.value === true ? ["--kexec-load-disabled"] : []),
      "--json",
    ]);
    expect(viaHost.code).toBe(viaFiles.code);
    const refusal = (o: string) => {
      const e = JSON.parse(o).error?.refusal;
      return e === undefined ? undefined : { gate: e.gate, errno: e.errno, syscall: e.syscall };
    };
    expect(refusal(viaHost.out)).toEqual(refusal(viaFiles.out));
    expect(JSON.parse(viaHost.out).segments).toEqual(JSON.parse(viaFiles.out).segments);
  });
});

describe("--host", () => {
  it("stands for --iomem, --dtb (a running kernel's, kaslr-seed wiped) and, with --reuse-cmdline, --append", async () => {
    const d = armHost();
    const viaHost = await runCli(["plan", "--kernel", IMAGE, "--host", d, "--reuse-cmdline", "--json"]);
    const viaFiles = await runCli([
      "plan",
      "--kernel",
      IMAGE,
      "--iomem",
      ARM_IOMEM,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--append",
      "console=ttyAMA0 root=/dev/vda1",
      "--json",
    ]);
    expect(viaHost.err).toBe("");
    // The same plan, but totalram (the host's MemTotal against the map's RAM) and the gates' state
    // (host.gates), which the files one by one do not give.
    const { gates: _gates, ...host } = JSON.parse(viaHost.out);
    const files = JSON.parse(viaFiles.out);
    expect(host.totalRam.source).toBe("MemTotal");
    expect(files.totalRam).toEqual({ bytes: 4 * 2 ** 30, source: "memory map" });
    expect({ ...host, totalRam: undefined }).toEqual({ ...files, totalRam: undefined });
  });

  it("--reuse-cmdline drops BOOT_IMAGE as kexec-tools' get_command_line does", async () => {
    const d = armHost({ "cmdline.txt": "BOOT_IMAGE=/boot/vmlinuz console=ttyAMA0 root=/dev/vda1\n" });
    const viaHost = await runCli(["plan", "--kernel", IMAGE, "--host", d, "--reuse-cmdline", "--json"]);
    const plain = await runCli(["plan", "--kernel", IMAGE, "--host", armHost(), "--reuse-cmdline", "--json"]);
    expect(viaHost.err).toBe("");
    expect(JSON.parse(viaHost.out).segments).toEqual(JSON.parse(plain.out).segments);
  });

  it("names what is wrong with a directory", async () => {
    const empty = mkdtempSync(join(tmp, "empty-"));
    const r = await runCli(["plan", "--kernel", IMAGE, "--host", empty]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("not a kexec-lab-collect directory");
    const bad = armHost({ "nproc.txt": "four\n" });
    const b = await runCli(["plan", "--kernel", IMAGE, "--host", bad]);
    expect(b.err).toMatch(/expected a decimal number.*nproc\.txt/);
    const noCmd = mkdtempSync(join(tmp, "nocmd-"));
    copyFileSync(ARM_IOMEM, join(noCmd, "iomem.txt"));
    copyFileSync(QEMU_DTB, join(noCmd, "fdt.dtb"));
    const c = await runCli(["plan", "--kernel", IMAGE, "--host", noCmd, "--reuse-cmdline"]);
    expect(c.err).toContain("--reuse-cmdline needs --host with a cmdline.txt");
  });

  it("gives validate its totalram (MemTotal), as --iomem and --ram do", async () => {
    const d = armHost();
    const load = join(tmp, "load.json");
    // 2 GiB is more than half of MemTotal (3.83 GiB) but not of the iomem's 4 GiB of System RAM.
    writeFileSync(
      load,
      JSON.stringify({
        arch: "arm64",
        pageSize: 4096,
        segments: [{ mem: "0x40000000", memsz: "1960M", bufsz: "1M" }],
      }),
    );
    const host = await runCli(["validate", load, "--host", d]);
    expect(host.code).toBe(1);
    expect(host.out).toContain("more than half of RAM");
    const iomem = await runCli(["validate", load, "--iomem", ARM_IOMEM]);
    expect(iomem.code).toBe(0);
    const ram = await runCli(["validate", load, "--ram", "4010836K"]);
    expect(ram.out).toBe(host.out);
    const none = await runCli(["validate", load]);
    expect(none.code).toBe(2);
    expect(none.err).toContain("--host DIR (MemTotal), --iomem FILE or --ram SIZE");
    const both = await runCli(["validate", load, "--ram", "4G", "--iomem", ARM_IOMEM]);
    expect(both.err).toContain("exclude each other");
  });
});

describe("crashkernel estimate (kdumpctl's formula)", () => {
  it("rounds RAM as get_system_size does", () => {
    expect(kdumpSystemGiB(4 * 2 ** 30)).toBe(4);
    expect(kdumpSystemGiB(4 * 2 ** 30 - 200 * MiB)).toBe(3);
    expect(kdumpSystemGiB(2 * 2 ** 30 - 100 * MiB)).toBe(2);
    expect(kdumpSystemGiB(1024 * MiB)).toBe(1);
  });

  it("is max(baseline, kernel + modules + 3 x initrd + 16 MiB [+ LUKS])", () => {
    const small = estimateCrashkernel({
      arch: "x86_64",
      kernelBytes: 40 * MiB,
      modulesBytes: 10 * MiB,
      initrdBytes: 30 * MiB,
      systemRamBytes: 8 * 2 ** 30,
    });
    expect(small.estimatedBytes).toBe((40 + 10 + 90 + 16) * MiB);
    expect(small.baselineBytes).toBe(256 * MiB);
    expect(small.recommendedBytes).toBe(256 * MiB);
    const big = estimateCrashkernel({
      arch: "arm64",
      kernelBytes: 40 * MiB,
      modulesBytes: 10 * MiB,
      initrdBytes: 100 * MiB,
      systemRamBytes: 128 * 2 ** 30,
      luksBytes: 1024 * MiB,
    });
    expect(big.estimatedBytes).toBe((40 + 10 + 300 + 16 + 1024 + 50) * MiB);
    expect(big.baselineBytes).toBe(576 * MiB);
    expect(big.recommendedBytes).toBe(big.estimatedBytes);
    const k64 = estimateCrashkernel({
      arch: "arm64",
      kernelBytes: 0,
      modulesBytes: 0,
      initrdBytes: 0,
      systemRamBytes: 3 * 2 ** 30,
      pageSize: 65536,
    });
    expect(k64.baselineBytes).toBe(356 * MiB);
    expect(k64.baselineRanges).toBe("2G-4G:356M,4G-64G:420M,64G-:676M");
    const tiny = estimateCrashkernel({
      arch: "x86_64",
      kernelBytes: 0,
      modulesBytes: 0,
      initrdBytes: 0,
      systemRamBytes: 2 ** 30,
    });
    expect(tiny.baselineBytes).toBe(0);
  });
});

describe("kexec-lab memory", () => {
  it("counts a normal load's pages and compares the peak with MemFree", async () => {
    const d = armHost();
    const r = await runCli(["memory", "--kernel", IMAGE, "--initrd-size", "64M", "--host", d, "--json"]);
    const a = JSON.parse(r.out);
    // One source page per page of every segment's memsz.
    const plan = JSON.parse(
      (await runCli(["plan", "--kernel", IMAGE, "--initrd-size", "64M", "--host", d, "--json"])).out,
    );
    const pages = plan.segments.reduce((n: number, s: { memsz: number }) => n + s.memsz / 4096, 0);
    expect(a.load.sourcePages).toBe(pages);
    expect(a.load.indirectionPages).toBe(Math.ceil((pages + plan.segments.length + 1) / 511));
    expect(a.load.controlPages).toBeGreaterThanOrEqual(2);
    expect(a.load.peakBytes).toBeGreaterThan(a.load.heldBytes);
    // MemFree 98 MiB < peak: short, exit 1.
    expect(a.load.verdict).toBe("short");
    expect(r.code).toBe(1);
  });

  it("a load the kernel's checks refuse is refused, not said to fit", async () => {
    const host = fileURLToPath(
      new URL("fixtures/recordings/arm64-virt-4g-kexec_load/collect", import.meta.url),
    );
    const r = await runCli(["memory", "--kernel", IMAGE, "--initrd-size", "2G", "--host", host]);
    expect(r.out).toMatch(/the kernel's kexec_load checks refuse this load: EINVAL/);
    expect(r.out).not.toMatch(/^fits:/m);
    const j = JSON.parse(
      (await runCli(["memory", "--kernel", IMAGE, "--initrd-size", "2G", "--host", host, "--json"])).out,
    );
    expect(j.load.verdict).toBe("refused");
  });

  it("crash loads take no source pages, and the crash load is checked against the reservation", async () => {
    const base = [
      "memory",
      "--kernel",
      IMAGE,
      "--iomem",
      ARM_IOMEM,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--mem-free",
      "1G",
    ];
    const ok = JSON.parse(
      (await runCli([...base, "--initrd-size", "40M", "--crashkernel", "256M@0xdfe00000", "--json"])).out,
    );
    expect(ok.load.crash).toBe(true);
    expect(ok.load.sourcePages).toBe(0);
    expect(ok.crashFit.placed).toBe(true);
    expect(ok.crashFit.fits).toBe(true);
    expect(ok.crashkernel.reservedBytes).toBe(256 * MiB);
    const tight = await runCli([...base, "--initrd-size", "120M", "--crashkernel", "256M@0xdfe00000"]);
    expect(tight.code).toBe(1);
    expect(tight.out).toContain("SHORT");
    const none = JSON.parse(
      (await runCli([...base, "--initrd-size", "300M", "--crashkernel", "256M@0xdfe00000", "--json"])).out,
    );
    expect(none.crashFit.placed).toBe(false);
    expect(none.crashFit.error).toContain("E_NO_HOLE");
  });

  it("takes the kernel size from the --kernel file, not the running kernel's iomem lines", async () => {
    const r = JSON.parse((await runCli(["memory", "--kernel", BZIMAGE, "--iomem", X86_IOMEM, "--json"])).out);
    expect(r.crashkernel.kernelSource).toContain("the --kernel file's memory footprint");
    // init_size of the Debian bzImage, page-rounded (the kernel segment's memsz).
    expect(r.crashkernel.parts[0].bytes).toBe(53968896);
  });
});

mkdirSync(join(tmp, "keep"), { recursive: true });
