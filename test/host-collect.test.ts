/**
 * The shipped collection script, run for real: every recording made since the harness ran
 * bin/kexec-lab-collect in its guest (as root, before the load; scripts/record/guest.ts) holds what
 * the script wrote in `collect/`. Fed back with --host, that directory alone (plus the purgatory
 * preset of the recorded Debian build, which a collected host cannot give) reproduces the recorded
 * load: kexec_load's MEMORY RANGES block, entry and whole segment table as the real `kexec -d`
 * printed them, and kexec_file_load's segments as the kernel logged them.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseKexecLoadTable } from "../src/kexectools/debug.js";
import { runCli } from "./helpers/cli.js";
import {
  kexecFileSegments,
  memoryRangeLines,
  presetFor,
  RECORDINGS,
  REPLAY_LEFT_OUT,
  recordedKernelPath,
} from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const tmp = testTempDir("collect");

interface Collected {
  id: string;
  dir: string;
  collect: string;
  arch: "arm64" | "x86_64";
  syscall: string;
  exitCode: number;
  command: string[];
  kexecToolsVersion: string;
  kernel: string;
  initrdSize: number | null;
}

const collected: Collected[] = readdirSync(RECORDINGS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(RECORDINGS, d.name, "collect")))
  .map((d) => {
    const dir = join(RECORDINGS, d.name);
    const c = JSON.parse(readFileSync(join(dir, "case.json"), "utf8"));
    return {
      id: c.id,
      dir,
      collect: join(dir, "collect"),
      arch: c.arch,
      syscall: c.syscall,
      exitCode: c.exitCode,
      command: c.command,
      kexecToolsVersion: c.kexecTools.version,
      kernel: recordedKernelPath(dir, c.loaded.kernel, tmp),
      initrdSize: c.loaded.initrd?.size ?? null,
    };
  });

/** The recorded kexec command with the guest's files replaced by files here, the collected host and the build's purgatory. */
function argsFor(c: Collected, extra: string[] = []): string[] {
  const initrd = join(tmp, `${c.id}.initrd`);
  writeFileSync(initrd, new Uint8Array(c.initrdSize ?? 0));
  const preset = presetFor(c.kexecToolsVersion);
  return [
    "kexec",
    ...c.command.slice(1).map((a) => a.replace("/k/kernel", c.kernel).replace("/k/initrd", initrd)),
    "--host",
    c.collect,
    ...(preset !== undefined ? ["--purgatory", preset] : []),
    ...extra,
  ];
}

describe("kexec-lab-collect, run in the recording guests, fed back with --host", () => {
  it("there are collected hosts of both architectures and both syscalls", () => {
    expect(new Set(collected.map((c) => c.arch))).toEqual(new Set(["arm64", "x86_64"]));
    expect(new Set(collected.map((c) => c.syscall))).toEqual(new Set(["kexec_load", "kexec_file_load"]));
  });

  for (const c of collected) {
    const why =
      REPLAY_LEFT_OUT[c.id]?.reason ??
      (/-cma\d+m/.test(c.id) && !existsSync(join(c.collect, "cma.txt"))
        ? "collect/ predates kexec-lab-collect's cma.txt: the CMA area's taken pages are not in it (the harness's own cma.txt has them: test/loader-recordings.test.ts replays it)"
        : undefined);
    if (why !== undefined) {
      it.skip(`${c.id}: ${why}`, () => {});
      continue;
    }
    it(`${c.id}: the script wrote what the loaders read, and said what it missed`, () => {
      const files = readdirSync(c.collect);
      for (const f of [
        "iomem.txt",
        "cmdline.txt",
        "uname.txt",
        "kexec-version.txt",
        "nproc.txt",
        "meminfo.txt",
      ])
        expect(files, `${c.id}: ${f}`).toContain(f);
      if (c.arch === "arm64") expect(files).toContain("fdt.dtb");
      else expect(files).toContain("memmap.txt");
      // It reads the same machine the harness recorded: the same memory map and kexec build.
      for (const f of ["iomem.txt", "kexec-version.txt", "cmdline.txt"])
        expect(readFileSync(join(c.collect, f), "utf8"), `${c.id}: ${f}`).toBe(
          readFileSync(join(c.dir, f), "utf8"),
        );
      const log = readFileSync(join(c.collect, "collect.log"), "utf8");
      for (const line of log.split("\n").filter(Boolean)) expect(line).toMatch(/^missing [\w.-]+: /);
    });

    const realOut = readFileSync(join(c.dir, "kexec-d.txt"), "utf8");
    // kexec-tools prints this for every errno it would fall back on (-s forbids the fallback).
    if (/syscall kexec_file_load not available/.test(realOut)) {
      it(`${c.id}: kexec-lab refuses the load as the kernel did, for the reason the host shows`, async () => {
        const noSyscall = /^no /.test(readFileSync(join(c.collect, "kexec-file.txt"), "utf8"));
        const r = await runCli(argsFor(c));
        expect(r.code).toBe(1);
        // Debian's arm64 6.1 has no CONFIG_KEXEC_FILE: ENOSYS. Otherwise the recorded refusal is
        // kexec-tools 2.0.29's KEXEC_FILE_DEBUG flag on a 6.1 kernel: EINVAL.
        expect(r.err).toMatch(
          noSyscall
            ? /E_GATE_REFUSED.*kexec_file_load fails with ENOSYS at the syscall gate/
            : /E_SYSCALL_REFUSED.*EINVAL.*KEXEC_FILE_DEBUG/,
        );
        expect(noSyscall).toBe(c.arch === "arm64");
      });
      continue;
    }
    if (c.exitCode !== 0) continue;
    if (c.syscall === "kexec_file_load")
      it(`${c.id}: the script saw kexec_file_load in the running kernel`, () => {
        const f = join(c.collect, "kexec-file.txt");
        // The custom kernel may be built without kallsyms: then the script says it could not tell.
        if (existsSync(f)) expect(readFileSync(f, "utf8")).toMatch(/^yes /);
        else
          expect(readFileSync(join(c.collect, "collect.log"), "utf8")).toMatch(/^missing kexec-file.txt: /m);
      });
    it(`${c.id}: kexec-lab kexec --host collect/ reproduces the recorded load`, async () => {
      if (c.syscall === "kexec_load") {
        const r = await runCli(argsFor(c));
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        const real = readFileSync(join(c.dir, "kexec-d.txt"), "utf8");
        expect(memoryRangeLines(r.out, c.arch)).toEqual(memoryRangeLines(real, c.arch));
        expect(memoryRangeLines(real, c.arch).length).toBeGreaterThan(3);
        const ours = parseKexecLoadTable(r.out)!;
        const want = parseKexecLoadTable(real)!;
        expect(ours.flags).toBe(want.flags);
        expect(ours.entry).toBe(want.entry);
        expect(ours.segments).toEqual(want.segments);
      } else {
        const want = kexecFileSegments(readFileSync(join(c.dir, "dmesg.txt"), "utf8"));
        expect(want?.length).toBeGreaterThan(0);
        const planArgs = argsFor(c).slice(1);
        const r = await runCli(["plan", ...kexecToPlanArgs(planArgs), "--json"]);
        expect(r.err).toBe("");
        const plan = JSON.parse(r.out);
        expect(plan.loader).toBe("kexec-file");
        expect(
          plan.segments.map((s: { mem: string; memsz: string; bufsz: string }) => ({
            mem: Number(s.mem),
            memsz: Number(s.memsz),
            bufsz: Number(s.bufsz),
          })),
        ).toEqual(want);
      }
    });
  }
});

/** kexec's -s/-p/-d/-l KERNEL --initrd=F --append=S --host D --purgatory P as plan's options. */
function kexecToPlanArgs(args: string[]): string[] {
  const out: string[] = ["--loader", "kexec-file"];
  for (const a of args) {
    if (a === "-s" || a === "-d" || a === "-l") continue;
    if (a === "-p") out.push("-p");
    else if (a.startsWith("--initrd=")) out.push("--initrd", a.slice(9));
    else if (a.startsWith("--append=")) out.push("--append", a.slice(9));
    else if (a.startsWith("-")) out.push(a);
    else if (out.at(-1) === "--host" || out.at(-1) === "--purgatory") out.push(a);
    else out.push("--kernel", a);
  }
  return out;
}
