/**
 * Issue #20 item 6: the commands agree. `run` takes --host like plan; run, plan, sweep and scenario
 * files share one default loader (auto), free-page policy and profile (src/defaults.ts); -o/--output
 * everywhere; a profile of another architecture is refused; every profile gets its reboot table.
 * Inputs from test/fixtures only.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOADER, defaultFreePages, defaultProfileName } from "../src/defaults.js";
import { defaultScenario } from "../src/scenario/default.js";
import { loadScenario } from "../src/scenario/load.js";
import { gridFrom } from "../src/sweep/grid.js";
import { runCli } from "./helpers/cli.js";
import { RECORDINGS } from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("consistency");
const ARM_HOST = join(RECORDINGS, "arm64-virt-4g-kexec_load/collect");
const X86_HOST = join(RECORDINGS, "x86_64-q35-2g-kexec_load/collect");
const head = new Uint8Array(
  readFileSync(join(RECORDINGS, "arm64-virt-4g-kexec_load-custom/kernel-head.bin")),
);
const image = new Uint8Array(3922432);
image.set(head);
const IMAGE = join(dir, "Image");
writeFileSync(IMAGE, image);

const segs = (list: { mem: string; label?: string; kind?: string }[]) =>
  list.map((s) => [s.label ?? s.kind, s.mem]);

describe("run takes --host and places real files as plan does", () => {
  it("the same files on the same host land at the same addresses (one default loader: auto)", async () => {
    const plan = JSON.parse((await runCli(["plan", "--kernel", IMAGE, "--host", ARM_HOST, "--json"])).out);
    const r = await runCli([
      "run",
      "--kernel",
      IMAGE,
      "--host",
      ARM_HOST,
      "--strategy",
      "linear-map-copy",
      "--profile",
      "none",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    const run = JSON.parse(r.out);
    expect(segs(run.kimage.segments)).toEqual(segs(plan.segments));
    // The host's RAM, not the default scenario's.
    expect(run.machine.memoryMap.some((m: { name: string }) => /Kernel code/.test(m.name))).toBe(true);
  });

  it("--host of another architecture is refused, and --host needs --kernel", async () => {
    const other = await runCli(["run", "--kernel", IMAGE, "--host", X86_HOST, "--profile", "none"]);
    expect(other.code).toBe(2);
    expect(other.err).toContain("error[E_ARCH_MISMATCH]");
    const alone = await runCli(["run", "--host", ARM_HOST]);
    expect(alone.code).toBe(2);
    expect(alone.err).toMatch(/--host describes the machine real files are loaded on: give --kernel too/);
  });

  it("run --help names auto as the --loader default", async () => {
    expect((await runCli(["run", "--help"])).out).toMatch(/--loader <loader>[\s\S]*default: "auto"/);
    expect((await runCli(["plan", "--help"])).out).toMatch(/--loader <loader>[\s\S]*default: "auto"/);
  });
});

describe("one free-page policy and one profile by default", () => {
  it("sweep's default free pages are run's (random, seeded by the point's seed)", () => {
    const points = gridFrom({ arch: "arm64", linearMap: "block" });
    expect(points[0]!.freePages).toBe("random");
    expect(defaultScenario("arm64", "synthetic", 3).freePages).toEqual(defaultFreePages(3));
    expect(
      loadScenario({
        machine: { arch: "arm64", ram: [{ start: "0x40000000", size: "1G" }] },
        segments: [{ mem: "0x40200000", memsz: "2M" }],
      }).freePages,
    ).toEqual(defaultFreePages(1));
  });

  it("the defaults live in one place", () => {
    expect(DEFAULT_LOADER).toBe("auto");
    expect(defaultProfileName("arm64")).toBe("neoverse-n1-server");
    expect(defaultProfileName("x86_64")).toBe("x86_64-server");
  });
});

describe("profiles", () => {
  it("a profile of another architecture than the scenario is refused", async () => {
    const r = await runCli([
      "run",
      "--arch",
      "x86_64",
      "--profile",
      "ampere-altra",
      "--content",
      "synthetic",
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("error[E_ARCH_MISMATCH]");
    expect(r.err).toContain("profile ampere-altra models an arm64 machine; the scenario is x86_64");
    expect(r.err).toContain("hint: name a profile of x86_64 (the default is x86_64-server");
    const s = await runCli(["sweep", "--arch", "x86_64", "--profile", "ampere-altra", "--jobs", "1"]);
    expect(s.code).toBe(2);
    expect(s.err).toContain("error[E_ARCH_MISMATCH]");
  });

  it("with several profiles the reboot table shows each", async () => {
    const r = await runCli([
      "run",
      "--content",
      "synthetic",
      "--strategy",
      "linear-map-copy",
      "--profile",
      "neoverse-n1-server,cortex-a72-board",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("kexec -e to the new kernel on neoverse-n1-server,");
    expect(r.out).toContain("kexec -e to the new kernel on cortex-a72-board,");
    const j = JSON.parse(
      (
        await runCli([
          "run",
          "--content",
          "synthetic",
          "--strategy",
          "linear-map-copy",
          "--profile",
          "neoverse-n1-server,cortex-a72-board",
          "--json",
        ])
      ).out,
    );
    expect(j.reboots.map((b: { profile: string }) => b.profile)).toEqual([
      "neoverse-n1-server",
      "cortex-a72-board",
    ]);
    expect(j.reboot).toEqual(j.reboots[0]);
  });
});

describe("-o/--output everywhere", () => {
  it("emit and calibrate take -o/--output (emit's old --out still works, hidden)", async () => {
    for (const cmd of ["emit", "calibrate", "sweep", "report"]) {
      const help = (await runCli([cmd, "--help"])).out;
      expect(help, cmd).toMatch(/-o, --output </);
      expect(help, cmd).not.toMatch(/ --out </);
    }
    const a = await runCli(["emit", "--strategy", "mmu-off", "-o", join(dir, "emit-a"), "--json"]);
    expect(a.code, a.err).toBe(0);
    const b = await runCli(["emit", "--strategy", "mmu-off", "--out", join(dir, "emit-b"), "--json"]);
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out).out.files).toEqual(JSON.parse(a.out).out.files);
  });
});
