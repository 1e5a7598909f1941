/**
 * First contact (issue #16 item 7) and light inputs (item 5): wrong files named, architecture names
 * and inference, "did you mean" for misspelt options, output paths checked before the work, no
 * temporary names in errors, size-only reading that plans exactly as reading the whole files.
 */

import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { writeOutputFile } from "../src/formats/node/files.js";
import { readPlanFiles } from "../src/formats/node/plan-files.js";
import { checkInputRole, kernelArchOf, parseArch } from "../src/formats/role.js";
import { planLoad, planToJson } from "../src/loader/plan.js";
import { PLAN_LEGEND, RUN_LEGEND } from "../src/report/legend.js";
import { parseSize } from "../src/scenario/numbers.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const IMAGE = dataFile("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
const QEMU_DTB = dataFile("qemu-virt-4g.dtb");
const ARM_IOMEM = dataFile("arm64-qemu-virt-4g.txt");
const X86_IOMEM = dataFile("x86_64-cloud-vm.txt");

const tmp = testTempDir("first");
const INITRD = join(tmp, "initrd.img");
writeFileSync(INITRD, new Uint8Array(3 * 1024 * 1024 + 123).fill(0x5a));

/** Only printable ASCII, newlines and tabs: no raw bytes of a binary file echoed. */
const PRINTABLE = /^[\t\n\x20-\x7e]*$/;

describe("a file given to the wrong option is named", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "a DTB as --iomem",
      ["--kernel", IMAGE, "--iomem", QEMU_DTB],
      /--iomem wants .* this is a DTB .* as --dtb\?/,
    ],
    [
      "an iomem dump as --dtb",
      ["--kernel", IMAGE, "--dtb", ARM_IOMEM],
      /--dtb wants a DTB .* this is a \/proc\/iomem .* as --iomem\?/,
    ],
    ["a DTB as --kernel", ["--kernel", QEMU_DTB], /--kernel wants a kernel .* this is a DTB/],
    [
      "a kernel as --initrd",
      ["--kernel", IMAGE, "--initrd", BZIMAGE, "--dtb", QEMU_DTB],
      /--initrd wants an initrd: this is an x86_64 bzImage kernel; did you mean to pass it as --kernel\?/,
    ],
    ["a kernel as --dtb", ["--kernel", IMAGE, "--dtb", IMAGE], /this is an arm64 kernel Image/],
  ];
  for (const [what, args, re] of cases) {
    it(what, async () => {
      const r = await runCli(["plan", ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("E_WRONG_FILE");
      expect(r.err).toMatch(re);
      expect(r.err).toMatch(PRINTABLE);
    });
  }

  it("checkInputRole accepts each file in its own role", async () => {
    const head = async (p: string) =>
      (await readPlanFiles({ kernel: p }, { sizesOnly: true })).kernel.subarray(0, 65536);
    const image = await head(IMAGE);
    const bzImage = await head(BZIMAGE);
    expect(() => checkInputRole(image, "kernel")).not.toThrow();
    expect(() => checkInputRole(bzImage, "kernel")).not.toThrow();
    expect(() =>
      checkInputRole(new Uint8Array([0x30, 0x37, 0x30, 0x37, 0x30, 0x31]), "initrd"),
    ).not.toThrow();
    expect(() =>
      checkInputRole(new TextEncoder().encode("00000000-0fffffff : System RAM\n"), "iomem"),
    ).not.toThrow();
  });
});

describe("architecture", () => {
  it("takes uname -m and Debian names", () => {
    expect(["aarch64", "arm64", "ARM64"].map(parseArch)).toEqual(["arm64", "arm64", "arm64"]);
    expect(["x86_64", "amd64"].map(parseArch)).toEqual(["x86_64", "x86_64"]);
    expect(() => parseArch("mips")).toThrow(/accepted: arm64, aarch64, x86_64, amd64/);
  });

  it("is inferred from the kernel file", async () => {
    const k = (await readPlanFiles({ kernel: BZIMAGE }, { sizesOnly: true })).kernel;
    expect(kernelArchOf(k.subarray(0, 65536))).toBe("x86_64");
    const r = await runCli(["plan", "--kernel", BZIMAGE, "--iomem", X86_IOMEM, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).arch).toBe("x86_64");
    const a = await runCli([
      "plan",
      "--arch",
      "aarch64",
      "--kernel",
      IMAGE,
      "--dtb",
      QEMU_DTB,
      "--wipe-kaslr-seed",
      "--json",
    ]);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out).arch).toBe("arm64");
    const amd = await runCli([
      "plan",
      "--arch",
      "amd64",
      "--kernel",
      BZIMAGE,
      "--iomem",
      X86_IOMEM,
      "--json",
    ]);
    expect(JSON.parse(amd.out)).toEqual(JSON.parse(r.out));
  });

  it("run takes it from the kernel file too, and --cma with kexec_load's placement is refused", async () => {
    const r = await runCli([
      "run",
      "--kernel",
      BZIMAGE,
      "--iomem",
      X86_IOMEM,
      "--strategy",
      "x86-ident",
      "--json",
    ]);
    expect(r.err).toBe("");
    expect(JSON.parse(r.out).machine.arch).toBe("x86_64");
    const c = await runCli(["run", "--kernel", BZIMAGE, "--cma", "--loader", "kexec-tools"]);
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/--cma models kexec_file_load's CMA placement .* give --loader kexec-file/);
  });

  it("a kernel of another architecture than the --host machine is refused", async () => {
    const host = fileURLToPath(
      new URL("fixtures/recordings/arm64-virt-4g-kexec_load/collect", import.meta.url),
    );
    for (const cmd of [
      ["plan", "--kernel", BZIMAGE, "--host", host],
      ["kexec", "-l", BZIMAGE, "--host", host],
    ]) {
      const r = await runCli(cmd);
      expect(r.code, cmd[0]).toBe(2);
      expect(r.err).toContain("E_ARCH_MISMATCH");
      expect(r.err).toContain("the kernel is an x86_64 kernel, but the --host machine is arm64");
    }
  });
});

describe("sizes on the command line", () => {
  it("are binary: K/M/G/T/P or KiB..PiB; KB/MB/GB are refused as ambiguous", () => {
    expect(parseSize("60M", "x")).toBe(60n << 20n);
    expect(parseSize("60MiB", "x")).toBe(60n << 20n);
    expect(parseSize("1P", "x")).toBe(1n << 50n);
    expect(parseSize("0x1000", "x")).toBe(0x1000n);
    expect(() => parseSize("60MB", "--initrd-size")).toThrow(/"60MB" is ambiguous: .* write 60M or 60MiB/);
    expect(() => parseSize("1.5G", "--initrd-size")).toThrow(/optional K\/M\/G\/T\/P suffix \(binary\)/);
  });
});

describe("output paths", () => {
  it("are tried before the work starts, and a directory that takes no files is named as such", async () => {
    for (const cmd of [
      ["run", "--strategy", "mmu-off", "--html", "/proc/kexec-lab-test.html"],
      ["sweep", "--initrd", "16M", "-o", "/proc/kexec-lab-test.csv"],
    ]) {
      const r = await runCli(cmd);
      expect(r.code, cmd[0]).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toMatch(
        /E_FILE_WRITE\]: cannot write file: (its directory takes no new files|permission denied) \(\/proc\//,
      );
    }
  });
});

describe("options", () => {
  it("a misspelt option gets a did-you-mean, even when a required option is then missing", async () => {
    const r = await runCli(["plan", "--kernal", IMAGE]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown option '--kernal'");
    expect(r.err).toContain("Did you mean --kernel?");
    const missing = await runCli(["plan", "--dtb", QEMU_DTB]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("required option '--kernel <file>' not specified");
  });

  it("--out-dtb is checked before the work starts, and errors name no temporary file", async () => {
    const exists = join(tmp, "exists.dtb");
    writeFileSync(exists, "x");
    // The kernel is the wrong file: the output path is refused first.
    const r = await runCli(["plan", "--kernel", QEMU_DTB, "--dtb", QEMU_DTB, "--out-dtb", exists]);
    expect(r.err).toContain("E_FILE_EXISTS");
    const nodir = await runCli(["plan", "--kernel", QEMU_DTB, "--out-dtb", join(tmp, "no/such/dir.dtb")]);
    expect(nodir.err).toContain("E_FILE_WRITE");
    expect(nodir.err).toContain("its directory does not exist");
    if (process.getuid?.() !== 0) {
      const ro = join(tmp, "ro");
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      let msg = "";
      try {
        writeOutputFile(join(ro, "x.dtb"), "data");
      } catch (e) {
        msg = String(e);
      }
      chmodSync(ro, 0o700);
      expect(msg).toContain("permission denied");
      expect(msg).not.toContain(".tmp");
      expect(readdirSync(ro)).toEqual([]);
    }
  });
});

describe("light inputs", () => {
  it("size-only reading plans exactly as reading every byte (both loaders, both arches)", async () => {
    const inputs = [
      { arch: "arm64" as const, files: { kernel: IMAGE, initrd: INITRD, dtb: QEMU_DTB, iomem: ARM_IOMEM } },
      { arch: "x86_64" as const, files: { kernel: BZIMAGE, initrd: INITRD, iomem: X86_IOMEM } },
    ];
    for (const { arch, files } of inputs) {
      for (const loader of ["kexec-tools", "kexec-file"] as const) {
        const whole = planLoad({ arch, loader, wipeKaslrSeed: true, ...(await readPlanFiles(files)) });
        const light = planLoad({
          arch,
          loader,
          wipeKaslrSeed: true,
          ...(await readPlanFiles(files, { sizesOnly: true })),
        });
        expect(planToJson(light)).toEqual(planToJson(whole));
      }
    }
  });

  it("--initrd-size plans as a file of that size, and excludes --initrd", async () => {
    const base = ["plan", "--kernel", BZIMAGE, "--iomem", X86_IOMEM, "--json"];
    const file = await runCli([...base, "--initrd", INITRD]);
    const size = await runCli([...base, "--initrd-size", String(3 * 1024 * 1024 + 123)]);
    expect(size.code).toBe(0);
    expect(JSON.parse(size.out).segments).toEqual(JSON.parse(file.out).segments);
    const both = await runCli([...base, "--initrd", INITRD, "--initrd-size", "1M"]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("exclude each other");
    expect(existsSync(INITRD)).toBe(true);
  });
});

describe("--explain", () => {
  it("explains every term the run and plan tables use", async () => {
    const terms = RUN_LEGEND.map((t) => t.term).join(" | ");
    for (const t of ["x limit", "parked", "swaps", "(sampled)", "limit", "in place"])
      expect(terms).toContain(t);
    const r = await runCli(["plan", "--kernel", BZIMAGE, "--iomem", X86_IOMEM, "--explain"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("legend:");
    for (const t of PLAN_LEGEND) expect(r.out).toContain(t.term);
  });
});
