/**
 * Issue #20 item 3: no load the kernel or kexec-tools would refuse is called fine. One totalram
 * (MemTotal) for every "half of RAM" check, a crash region outside RAM, empty input files, and a
 * kernel file shorter than its own header says. Inputs come from test/fixtures only: the recorded
 * hosts' collect/ directories and the kernel heads stored beside them, padded to their sizes.
 */

import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { RECORDINGS, REPO } from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("refusals");
/** A recorded 4 GiB arm64 host (MemTotal 3.84 GiB) and a 2 GiB x86_64 q35 host. */
const ARM_HOST = join(RECORDINGS, "arm64-virt-4g-kexec_load/collect");
const ARM_CRASH_HOST = join(RECORDINGS, "arm64-virt-4g-crash-kexec_load/collect");
const X86_HOST = join(RECORDINGS, "x86_64-q35-2g-kexec_load/collect");

function write(name: string, data: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}
function padded(head: string, size: number): Uint8Array {
  const h = new Uint8Array(readFileSync(head));
  const out = new Uint8Array(size);
  out.set(h.subarray(0, size));
  return out;
}
const ARM_HEAD = join(RECORDINGS, "arm64-virt-4g-kexec_load-custom/kernel-head.bin");
const X86_HEAD = join(REPO, "test/fixtures/bzimage32/bzImage-i386-tiny.head");
/** The custom arm64 Image (3,922,432 bytes, EFI PE header) and the i386 tinyconfig bzImage (766,464 bytes). */
const ARM_IMAGE = write("Image", padded(ARM_HEAD, 3922432));
const X86_BZIMAGE = write("bzImage", padded(X86_HEAD, 766464));
const ARM_IMAGE_HEAD = write("Image.head", new Uint8Array(readFileSync(ARM_HEAD)));
const X86_BZIMAGE_HEAD = write("bzImage.head", new Uint8Array(readFileSync(X86_HEAD)));
const EMPTY = write("empty", "");

describe("one totalram for every check", () => {
  it("plan --initrd-size 1990M on the 4 GiB arm64 host is EINVAL, as validate of the same segments", async () => {
    const r = await runCli(["plan", "--kernel", ARM_IMAGE, "--initrd-size", "1990M", "--host", ARM_HOST]);
    expect(r.code, r.err).toBe(1);
    // The refusal leads, with the errno, the check's source and where totalram came from.
    expect(r.out.split("\n")[0]).toMatch(
      /^refused: kexec_load would fail with EINVAL: segment \d needs 509440 pages, more than half of RAM \(503015 of 1006030 pages\) \(kernel\/kexec_core\.c sanity_check_segment_list; totalram 3\.84 GiB from MemTotal\)$/,
    );
    expect(r.out).toContain("totalram 3.84 GiB from MemTotal");
    const j = await runCli([
      "plan",
      "--kernel",
      ARM_IMAGE,
      "--initrd-size",
      "1990M",
      "--host",
      ARM_HOST,
      "--json",
    ]);
    const plan = JSON.parse(j.out);
    expect(plan.totalRam).toEqual({ bytes: 4024120 * 1024, source: "MemTotal" });
    expect(plan.kernelCheck).toMatchObject({ ok: false, errno: "EINVAL", check: "segment_pages" });
    const doc = write(
      "segments.json",
      JSON.stringify({
        arch: "arm64",
        pageSize: 4096,
        segments: plan.segments.map((s: { mem: string; memsz: number; bufsz: number }) => ({
          mem: s.mem,
          memsz: String(s.memsz),
          bufsz: String(s.bufsz),
        })),
      }),
    );
    const v = await runCli(["validate", doc, "--host", ARM_HOST]);
    expect(v.code).toBe(1);
    expect(v.out).toMatch(/refused with EINVAL by the segment_pages check/);
  });

  it("without MemTotal the memory map's RAM is totalram, and the header says so", async () => {
    const r = await runCli([
      "plan",
      "--kernel",
      ARM_IMAGE,
      "--iomem",
      join(ARM_HOST, "iomem.txt"),
      "--dtb",
      join(ARM_HOST, "fdt.dtb"),
      "--wipe-kaslr-seed",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(/, totalram 4 GiB from memory map$/);
  });

  it("the x86 header names /sys/firmware/memmap when kexec-tools' search read it", async () => {
    const r = await runCli(["plan", "--kernel", X86_BZIMAGE, "--host", X86_HOST, "--loader", "kexec-tools"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n")[0]).toMatch(/memory map from iomem \(.*\), holes searched in memmap, totalram/);
  });
});

describe("a crash region outside RAM is refused as the kernel refuses to reserve it", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "256M@0x200000000 above the end of arm64 RAM",
      ["--kernel", ARM_IMAGE, "--host", ARM_HOST, "--crashkernel", "256M@0x200000000"],
      /crashkernel=256M@0x200000000: \[0x200000000, 0x210000000\) is above the end of RAM \(0x140000000\)/,
    ],
    [
      "256M@0x7000000000 on x86 (kexec_load path: no 'backup' segment, no --mem-min/--mem-max)",
      [
        "--kernel",
        X86_BZIMAGE,
        "--host",
        X86_HOST,
        "--loader",
        "kexec-tools",
        "--crashkernel",
        "256M@0x7000000000",
      ],
      /crashkernel=256M@0x7000000000: .* is above the end of RAM/,
    ],
    [
      "a region across a hole between RAM ranges",
      ["--kernel", X86_BZIMAGE, "--host", X86_HOST, "--crashkernel", "256M@0x70000000"],
      /is not all RAM: \[0x7ffdf000, 0x80000000\) is no RAM/,
    ],
  ];
  for (const [what, args, re] of cases) {
    it(what, async () => {
      const r = await runCli(["plan", ...args]);
      expect(r.code).toBe(1);
      expect(r.err).toContain("error[E_CRASH_NOT_RESERVED]");
      expect(r.err).toMatch(re);
      expect(r.err).toContain("crashkernel reservation failed - memory is in use.");
      expect(r.err).toContain("Memory for crashkernel is not reserved");
      expect(r.err).not.toMatch(/backup|--mem-min/);
    });
  }

  it("-p with an iomem that has no Crash kernel line: not reserved, and no 'pass --iomem'", async () => {
    const r = await runCli(["plan", "--kernel", X86_BZIMAGE, "--host", X86_HOST, "-p"]);
    expect(r.code).toBe(1);
    // kexec-tools' own check is the first gate (src/gates/crash-reserved.ts): refused before placement
    expect(r.err).toContain("error[E_GATE_REFUSED]");
    expect(r.err).toMatch(/crash-reserved gate: kexec -p needs a crashkernel= reservation/);
    expect(r.err).not.toMatch(/pass --iomem|no memory map/);
  });

  it("a crash load too large for its region hints a larger crashkernel=, not --mem-min/--mem-max", async () => {
    const r = await runCli([
      "plan",
      "--kernel",
      ARM_IMAGE,
      "--initrd-size",
      "300M",
      "-p",
      "--host",
      ARM_CRASH_HOST,
      "--loader",
      "kexec-tools",
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[E_NO_HOLE]");
    expect(r.err).toMatch(/hint: the crash kernel region is too small .*crashkernel=SIZE/);
    expect(r.err).not.toContain("--mem-min");
  });
});

describe("empty files are bad input naming the file", () => {
  const cases: [string, string[], string][] = [
    ["--kernel (x86 memory map: no arm64 wording)", ["--kernel", EMPTY, "--host", X86_HOST], "--kernel"],
    [
      "--initrd (never silently dropped)",
      ["--kernel", ARM_IMAGE, "--initrd", EMPTY, "--host", ARM_HOST],
      "--initrd",
    ],
    ["--dtb", ["--kernel", ARM_IMAGE, "--dtb", EMPTY, "--iomem", join(ARM_HOST, "iomem.txt")], "--dtb"],
    ["--iomem", ["--kernel", ARM_IMAGE, "--iomem", EMPTY], "--iomem"],
  ];
  for (const [what, args, option] of cases) {
    it(what, async () => {
      const r = await runCli(["plan", ...args]);
      expect(r.code).toBe(2);
      expect(r.err).toContain("error[E_FILE_EMPTY]: the file is empty");
      expect(r.err).toContain(`${option} has 0 bytes (${EMPTY})`);
      expect(r.err).not.toMatch(/arm64 loads|E_KERNEL_UNSUPPORTED/);
    });
  }
  it("inspect of an empty file", async () => {
    const r = await runCli(["inspect", EMPTY]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("error[E_FILE_EMPTY]");
  });
});

describe("a kernel file shorter than its header says is bad input naming both sizes", () => {
  const kernels: [string, string, string, RegExp][] = [
    [
      "the 64 KiB head of an arm64 Image (PE sections)",
      ARM_IMAGE_HEAD,
      ARM_HOST,
      /has 65536 bytes \(64 KiB\) but its header says it holds 3922432 \(3\.74 MiB\): its PE section \.data/,
    ],
    [
      "the 16 KiB head of a bzImage (syssize)",
      X86_BZIMAGE_HEAD,
      X86_HOST,
      /has 16384 bytes \(16 KiB\) but its header says it holds 7\d{5} \(.*\): its (protected-mode kernel|compressed payload)/,
    ],
  ];
  for (const [what, kernel, host, re] of kernels) {
    const commands: [string, string[]][] = [
      ["plan", ["plan", "--kernel", kernel, "--host", host]],
      ["run", ["run", "--kernel", kernel, "--iomem", join(host, "iomem.txt")]],
      ["kexec", ["kexec", "-d", "-l", kernel, "--host", host]],
      ["memory", ["memory", "--kernel", kernel, "--host", host]],
      ["inspect", ["inspect", kernel]],
    ];
    for (const [cmd, args] of commands) {
      it(`${what}: ${cmd}`, async () => {
        const r = await runCli(args);
        expect(r.code, r.err).toBe(2);
        expect(r.err).toContain("error[E_FORMAT_TRUNCATED]");
        expect(r.err).toMatch(re);
      });
    }
  }
  it("the whole files pass the same check", async () => {
    expect((await runCli(["inspect", ARM_IMAGE])).code).toBe(0);
    expect((await runCli(["inspect", X86_BZIMAGE])).code).toBe(0);
  });
});

describe("a memory map text that does not parse gets a text hint, not dtc's", () => {
  it("--iomem with a line whose end is below its start", async () => {
    const bad = write("bad-iomem.txt", "40000000-3fffffff : System RAM\n");
    const r = await runCli(["plan", "--kernel", ARM_IMAGE, "--iomem", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("error[E_FORMAT_CORRUPT]");
    expect(r.err).toMatch(/hint: a memory map dump is text: \/proc\/iomem/);
    expect(r.err).not.toContain("dtc");
  });
});

describe("--json prints one document also when the command fails", () => {
  const cases: [string, string[], string, number][] = [
    [
      "a refusal (plan)",
      ["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--crashkernel", "256M@0x200000000"],
      "E_CRASH_NOT_RESERVED",
      1,
    ],
    ["bad input (plan, empty kernel)", ["plan", "--kernel", EMPTY], "E_FILE_EMPTY", 2],
    ["an unknown option", ["plan", "--kernel", ARM_IMAGE, "--bogus"], "E_USAGE", 2],
    ["inspect of a missing file", ["inspect", join(dir, "missing")], "E_FILE_READ", 2],
    ["validate of a missing file", ["validate", join(dir, "missing")], "E_FILE_READ", 2],
    [
      "memory of a truncated kernel",
      ["memory", "--kernel", ARM_IMAGE_HEAD, "--host", ARM_HOST],
      "E_FORMAT_TRUNCATED",
      2,
    ],
    ["run of an empty kernel", ["run", "--kernel", EMPTY], "E_FILE_EMPTY", 2],
    [
      "diff of a missing log",
      ["diff", join(dir, "missing"), "--kernel", ARM_IMAGE, "--host", ARM_HOST],
      "E_FILE_READ",
      2,
    ],
  ];
  for (const [what, args, code, exit] of cases) {
    it(what, async () => {
      const r = await runCli([...args, "--json"]);
      expect(r.code).toBe(exit);
      const doc = JSON.parse(r.out);
      expect(doc).toEqual({
        error: expect.objectContaining({
          code,
          exitCode: exit,
          kind: exit === 1 ? "refusal" : "bad-input",
          message: expect.any(String),
          hint: expect.any(String),
          where: expect.any(Object),
        }),
      });
      expect(r.err).toContain(`error[${code}]`);
    });
  }
  it("kexec has no --json: nothing JSON on stdout", async () => {
    const r = await runCli(["kexec", "-l", EMPTY, "--json"]);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toContain('"error"');
  });
});

describe("kexec -d of a failing load prints kexec-tools' own text, then kexec-lab's on stderr", () => {
  const big = join(dir, "initrd-3g.img");
  writeFileSync(big, "");
  truncateSync(big, 3 * 2 ** 30);
  it("kexec_load: locate_hole's line, then 'locate_hole failed'", async () => {
    const r = await runCli(["kexec", "-d", "-c", "-l", ARM_IMAGE, `--initrd=${big}`, "--host", ARM_HOST]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^[0-9a-f]{16}-[0-9a-f]{16} \(0\)$/m);
    expect(r.out).toMatch(
      /\nCould not find a free area of memory of 0xc0000000 bytes\.\.\.\nlocate_hole failed\n$/,
    );
    expect(r.err).toMatch(/^kexec-lab: error\[E_NO_HOLE\]: .*initrd/);
  });
  it("-p without a reserved region: kexec-tools' three lines, no memory ranges", async () => {
    const r = await runCli(["kexec", "-d", "-p", ARM_IMAGE, "--host", ARM_HOST]);
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      'Memory for crashkernel is not reserved\nPlease reserve memory by passing"crashkernel=Y@X" parameter to kernel\nThen try to loading kdump kernel\n',
    );
    // kexec-tools' own check, the first gate (src/gates/crash-reserved.ts)
    expect(r.err).toContain("error[E_GATE_REFUSED]");
    expect(r.err).toContain("crash-reserved gate");
  });
});

describe("memory: the crash load that does not fit, the named kernel, a large share of RAM", () => {
  it("memory -p on a crash load that does not fit: no table of zeros, kexec-tools' locate_hole named", async () => {
    const r = await runCli([
      "memory",
      "--kernel",
      ARM_IMAGE,
      "--initrd-size",
      "300M",
      "-p",
      "--host",
      ARM_CRASH_HOST,
      "--loader",
      "kexec-tools",
    ]);
    expect(r.code).toBe(1);
    expect(r.out.split("\n")[0]).toMatch(
      /^crash load \(kexec -p\): not loaded: kexec-tools' locate_hole \(kexec\/kexec\.c\) finds no room, before any syscall: E_NO_HOLE: initrd/,
    );
    expect(r.out).not.toContain("source pages");
    expect(r.out).not.toContain("the kernel's kexec_load checks");
  });

  it("the crashkernel estimate sizes the --kernel file, not the running kernel", async () => {
    const r = JSON.parse((await runCli(["memory", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--json"])).out);
    expect(r.crashkernel.kernelSource).toContain("the --kernel file's memory footprint");
    // The custom Image's image_size (text_offset 0), page-rounded: not the running Debian kernel's iomem lines.
    expect(r.crashkernel.parts[0]).toEqual({ name: "kernel", bytes: 4 * 2 ** 20 });
  });

  it("warns when the recommendation is a large share of RAM", async () => {
    const r = await runCli(["memory", "--kernel", ARM_IMAGE, "--initrd-size", "1G", "--host", ARM_HOST]);
    expect(r.out).toMatch(
      /WARNING: the recommended crashkernel= \(3\.02 GiB\) is 75% of RAM \(4 GiB\); the running system would keep 1004 MiB/,
    );
    const small = await runCli(["memory", "--kernel", ARM_IMAGE, "--initrd-size", "40M", "--host", ARM_HOST]);
    expect(small.out).not.toContain("WARNING: the recommended");
  });
});

describe("messages: --cpus, plan's exit codes", () => {
  it("--cpus takes 1 to 8192, in decimal, with its own hint", async () => {
    const big = await runCli(["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--cpus", "100000"]);
    expect(big.code).toBe(2);
    expect(big.err).toContain("--cpus 100000: a machine has 1 to 8192 CPUs");
    expect(big.err).not.toMatch(/0x186a0|addresses and sizes/);
    expect(big.err).toContain("hint: run the command with --help to see what --cpus takes");
    const zero = await runCli(["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--cpus", "0"]);
    expect(zero.code).toBe(2);
    expect(zero.err).toContain("--cpus 0: a machine has 1 to 8192 CPUs");
    const word = await runCli(["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--cpus", "four"]);
    expect(word.code).toBe(2);
    expect(word.err).toContain('--cpus wants a number of CPUs (1 to 8192), got "four"');
    expect((await runCli(["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--cpus", "4"])).code).toBe(0);
  });

  it("plan --help and docs/guide.md say exit 1 for a load that cannot be placed, as the code does", async () => {
    const help = await runCli(["plan", "--help"]);
    expect(help.out).toMatch(/1 when the real kexec would fail too: .*\n?.*cannot be placed/s);
    expect(help.out).not.toMatch(/2 when the load cannot be placed/);
    const guide = readFileSync(join(REPO, "docs/guide.md"), "utf8");
    expect(guide).not.toMatch(/largest free range \(exit 2\)/);
    const nohole = await runCli(["plan", "--kernel", ARM_IMAGE, "--host", ARM_HOST, "--initrd-size", "3G"]);
    expect(nohole.code).toBe(1);
    expect(nohole.err).toContain("error[E_NO_HOLE]");
  });
});
