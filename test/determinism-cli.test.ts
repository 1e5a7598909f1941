/**
 * Determinism: the same inputs and seed give byte-identical output. Each main command runs twice in
 * this process (fresh program, fresh machine each time) and the two stdouts must be equal byte for
 * byte; a different seed must change the output where the seed matters (so the comparison is not
 * vacuous). `run --timings` is the one documented exception (wall-clock seconds) and is not used.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./fuzz/targets.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("determinism");
const data = (p: string) => dataFile(p);
const IMAGE = data("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = data("debian-6.1.0-56-cloud-amd64.bzImage");

async function twice(args: string[]): Promise<string> {
  const a = await runCli(args);
  const b = await runCli(args);
  expect(a.err).toBe("");
  expect(a.code).toBeLessThan(2);
  expect(b.code).toBe(a.code);
  expect(b.out).toBe(a.out);
  expect(a.out.length).toBeGreaterThan(0);
  return a.out;
}

describe("determinism: the same inputs and seed give byte-identical output", () => {
  it("run --json (arm64 default scenario, random free pages)", { timeout: 120_000 }, async () => {
    const out = await twice([
      "run",
      "--json",
      "--content",
      "synthetic",
      "--free-pages",
      "random",
      "--seed",
      "5",
    ]);
    const other = await runCli([
      "run",
      "--json",
      "--content",
      "synthetic",
      "--free-pages",
      "random",
      "--seed",
      "6",
    ]);
    expect(other.out).not.toBe(out);
    // JSON addresses are strings, sizes and counts numbers.
    expect(out).toMatch(/"0x[0-9a-f]+"/);
  });

  it("run --json (x86_64, exact contents, fragmented free pages)", { timeout: 120_000 }, async () => {
    await twice(["run", "--arch", "x86_64", "--json", "--free-pages", "fragmented:0.3", "--seed", "3"]);
  });

  it("run (human tables) with a 16K granule", { timeout: 120_000 }, async () => {
    await twice(["run", "--granule", "16k", "--content", "shared", "--free-pages", "random"]);
  });

  it("validate --json", async () => {
    const f = join(dir, "load.json");
    writeFileSync(
      f,
      JSON.stringify({
        arch: "arm64",
        pageSize: 4096,
        ramBytes: "4G",
        segments: [
          { mem: "0x40000000", memsz: "1M", bufsz: 1000 },
          { mem: "0x40080000", memsz: "1M", bufsz: 1000 },
        ],
      }),
    );
    await twice(["validate", f, "--json"]);
  });

  it("inspect --json of every real file", { timeout: 60_000 }, async () => {
    for (const p of [
      IMAGE,
      BZIMAGE,
      data("qemu-virt-4g.dtb"),
      data("fvp-base-revc.dtb"),
      data("x86_64-cloud-vm.txt"),
      data("arm64-qemu-virt-4g.txt"),
    ]) {
      await twice(["inspect", p, "--json"]);
    }
  });

  it("plan --json (arm64 kexec-tools and kexec_file, x86_64) and the patched DTB", {
    timeout: 60_000,
  }, async () => {
    const arm = [
      "plan",
      "--kernel",
      IMAGE,
      "--dtb",
      data("qemu-virt-4g.dtb"),
      "--iomem",
      data("arm64-qemu-virt-4g.txt"),
      "--wipe-kaslr-seed",
      "--append",
      "console=ttyAMA0",
      "--json",
    ];
    await twice([...arm, "--seed", "7"]);
    await twice([...arm, "--loader", "kexec-file", "--seed", "7"]);
    await twice([
      "plan",
      "--arch",
      "x86_64",
      "--kernel",
      BZIMAGE,
      "--iomem",
      data("x86_64-cloud-vm.txt"),
      "--json",
    ]);
    // The patched DTB file itself is byte-identical too.
    const a = join(dir, "a.dtb");
    const b = join(dir, "b.dtb");
    await runCli([...arm, "--seed", "7", "--out-dtb", a]);
    await runCli([...arm, "--seed", "7", "--out-dtb", b]);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
    // kexec_file_load writes seeded rng-seed/kaslr-seed bytes: another seed must show in the DTB.
    const c = join(dir, "c.dtb");
    const d = join(dir, "d.dtb");
    await runCli([...arm, "--loader", "kexec-file", "--seed", "7", "--out-dtb", c]);
    await runCli([...arm, "--loader", "kexec-file", "--seed", "8", "--out-dtb", d]);
    expect(Buffer.compare(readFileSync(c), readFileSync(d))).not.toBe(0);
  });
});
