import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { execFileSyncOwned, spawnSyncOwned } from "../src/node/child.js";
import { fakeIo } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const IMAGE = dataFile("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
const QEMU_DTB = dataFile("qemu-virt-4g.dtb");
const JUNO_DTB = dataFile("juno.dtb");
const ARM_IOMEM = dataFile("arm64-qemu-virt-4g.txt");
const X86_IOMEM = dataFile("x86_64-cloud-vm.txt");
const HAVE_FDTGET = spawnSyncOwned("fdtget", ["--version"]).error === undefined;
if (!HAVE_FDTGET)
  console.warn(
    "loader-cli: fdtget not installed: the fdtget check is SKIPPED (CI installs device-tree-compiler)",
  );

const tmp = testTempDir("cli");
const initrd = join(tmp, "initrd.img");
writeFileSync(initrd, new Uint8Array(64 * 1024 * 1024 - 5000).fill(7));

async function cliRaw(...args: string[]) {
  const io = fakeIo();
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

/**
 * These tests were written when kexec_load placement was plan's default; --loader auto is the
 * default now (kexec-tools 2.0.27+ tries kexec_file_load first), so they name the loader they test.
 */
async function cli(...args: string[]) {
  const withLoader =
    args[0] === "plan" && !args.includes("--loader") ? [...args, "--loader", "kexec-tools"] : args;
  return cliRaw(...withLoader);
}

describe("kexec-lab inspect", () => {
  it("arm64 Image JSON as the issue specifies", async () => {
    const r = await cli("inspect", IMAGE, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      kind: "arm64-image",
      textOffset: 0,
      imageSize: 27918336,
      pageSize: 4096,
      bigEndian: false,
      placeAnywhere: true,
      efi: true,
    });
  });

  it("Image.gz is inflated first and the Image inside shown", async () => {
    const gz = join(tmp, "Image.gz");
    const image = readFileSync(IMAGE);
    writeFileSync(gz, gzipSync(image, { level: 1 }));
    const r = await cli("inspect", gz, "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: "compressed", method: "gzip", decompressedSize: image.length });
    expect(j.inner.kind).toBe("arm64-image");
  });

  it("bzImage, DTB and iomem JSON", async () => {
    expect(JSON.parse((await cli("inspect", BZIMAGE, "--json")).out)).toMatchObject({
      kind: "bzimage",
      protocolVersion: "2.15",
      initSize: 53968896,
      prefAddress: "0x1000000",
      kernelAlignment: 2097152,
      relocatable: true,
    });
    expect(JSON.parse((await cli("inspect", QEMU_DTB, "--json")).out)).toMatchObject({
      kind: "dtb",
      memory: [{ start: "0x40000000", size: 4294967296 }],
      memreserve: [],
      reservedMemory: [],
      chosen: { kaslrSeed: "0x4d1c0e0bb75c366a", rngSeedBytes: 32, stdoutPath: "/pl011@9000000" },
    });
    expect(JSON.parse((await cli("inspect", X86_IOMEM, "--json")).out)).toMatchObject({ kind: "iomem" });
  });

  it("human output is an aligned table", async () => {
    const r = await cli("inspect", JUNO_DTB);
    expect(r.code).toBe(0);
    expect(r.out).toContain("memory:");
    expect(r.out).toMatch(/0x880000000\s+6442450944 \(6 GiB\)/);
  });

  it("an unknown or truncated file exits 2 with a catalogued error naming the file", async () => {
    const junk = join(tmp, "junk.bin");
    writeFileSync(junk, new Uint8Array(100).fill(0xee));
    const r = await cli("inspect", junk);
    expect(r.code).toBe(2);
    expect(r.err).toContain("E_FORMAT_UNKNOWN");
    const cut = join(tmp, "cut.dtb");
    writeFileSync(cut, readFileSync(JUNO_DTB).subarray(0, 1000));
    const c = await cli("inspect", cut, "--json");
    expect(c.code).toBe(2);
    expect(c.err).toContain("E_FORMAT_TRUNCATED");
    expect(c.err).toContain("cut.dtb");
  });
});

describe("kexec-lab plan", () => {
  const arm = [
    "plan",
    "--kernel",
    IMAGE,
    "--initrd",
    initrd,
    "--dtb",
    QEMU_DTB,
    "--iomem",
    ARM_IOMEM,
    "--append",
    "console=ttyAMA0",
    "--wipe-kaslr-seed",
  ];

  it("--json: segments and entry; byte-identical on a second run", async () => {
    const r = await cli(...arm, "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.segments.map((s: { kind: string; mem: string }) => [s.kind, s.mem])).toEqual([
      ["kernel", "0x40000000"],
      ["dtb", "0x41aa0000"],
      ["purgatory", "0x41aa2000"],
      ["initrd", "0x43666000"],
    ]);
    expect(j.entry).toBe("0x41aa2000");
    expect(j.kernelCheck.ok).toBe(true);
    expect((await cli(...arm, "--json")).out).toBe(r.out);
  });

  it("--print-segments prints what the chosen path prints: kexec -d's entry line and table for kexec_load", async () => {
    const r = await cli(...arm, "--print-segments");
    expect(r.code).toBe(0);
    expect(r.out.split("\n").slice(0, 10)).toEqual([
      "kexec_load: entry = 0x41aa2000 flags = 0xb70000",
      "nr_segments = 4",
      "segment[0].buf   = 0x10000000",
      "segment[0].bufsz = 0x19f97c0",
      "segment[0].mem   = 0x40000000",
      "segment[0].memsz = 0x1aa0000",
      "segment[1].buf   = 0x119fa000",
      "segment[1].bufsz = 0x1dbf",
      "segment[1].mem   = 0x41aa0000",
      "segment[1].memsz = 0x2000",
    ]);
  });

  it("--print-segments with kexec_file_load chosen prints the kernel's kexec_file dmesg lines", async () => {
    const r = await cli(...arm, "--loader", "kexec-file", "--print-segments");
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const [i, l] of lines.entries())
      expect(l).toMatch(
        new RegExp(
          `^kexec_file: Loading segment ${i}: buf=0x\\(____ptrval____\\) bufsz=0x[0-9a-f]+ mem=0x[0-9a-f]+ memsz=0x[0-9a-f]+$`,
        ),
      );
    expect(r.out).not.toContain("nr_segments");
  });

  it.skipIf(!HAVE_FDTGET)(
    "--out-dtb writes a DTB that fdtget reads the planned initrd and bootargs from",
    async () => {
      const out = join(tmp, "patched.dtb");
      const r = await cli(...arm, "--out-dtb", out, "--force");
      expect(r.code).toBe(0);
      const get = (prop: string, t: string) =>
        execFileSyncOwned("fdtget", [t, out, "/chosen", prop], { encoding: "utf8" }).trim();
      expect(get("bootargs", "-ts")).toBe("console=ttyAMA0");
      expect(get("linux,initrd-start", "-tx")).toBe("0 43666000");
      expect(get("linux,initrd-end", "-tx")).toBe("0 47664c78");
    },
  );

  it("human output: a table with units, the entry and notes", async () => {
    const r = await cli(...arm);
    expect(r.out).toMatch(/kernel\s+0x40000000\s+0x41aa0000\s+26\.6 MiB/);
    expect(r.out).toContain("entry 0x41aa2000");
    expect(r.out).toContain("note: purgatory: bufsz 0x3000, memsz 0x4000 from model");
  });

  it("kexec-file and x86_64", async () => {
    const f = JSON.parse(
      (
        await cli(
          "plan",
          "--kernel",
          IMAGE,
          "--dtb",
          QEMU_DTB,
          "--iomem",
          ARM_IOMEM,
          "--loader",
          "kexec-file",
          "--json",
        )
      ).out,
    );
    expect(f.segments.map((s: { mem: string }) => s.mem)).toEqual(["0x43800000", "0x13f600000"]);
    const x = JSON.parse(
      (
        await cli(
          "plan",
          "--arch",
          "x86_64",
          "--kernel",
          BZIMAGE,
          "--initrd",
          initrd,
          "--iomem",
          X86_IOMEM,
          "--json",
        )
      ).out,
    );
    expect(x.kernelEntry).toBe("0x63cc00200");
  });

  it("refusals exit 1, bad input 2, each with its own message", async () => {
    const k = await cli("plan", "--kernel", IMAGE, "--dtb", QEMU_DTB, "--iomem", ARM_IOMEM);
    expect(k.code).toBe(1);
    expect(k.err).toContain("E_DTB_KASLR_SEED");
    expect(k.err).toContain("--wipe-kaslr-seed");
    const small = await cli(
      "plan",
      "--kernel",
      IMAGE,
      "--initrd",
      initrd,
      "--dtb",
      JUNO_DTB,
      "--mem-max",
      "0x847fffff",
    );
    expect(small.code).toBe(1);
    expect(small.err).toContain("E_NO_HOLE");
    expect(small.err).toContain("initrd");
    expect(small.err).toContain("largest free range");
    const noMap = await cli("plan", "--arch", "x86_64", "--kernel", BZIMAGE);
    expect(noMap.code).toBe(2);
    expect(noMap.err).toContain("E_NO_MEMORY_MAP");
    const badCk = await cli("plan", "--kernel", IMAGE, "--dtb", JUNO_DTB, "--crashkernel", "lots");
    expect(badCk.code).toBe(2);
  });

  it("--crashkernel SIZE@OFFSET places everything in the region", async () => {
    const r = await cli(
      "plan",
      "--kernel",
      IMAGE,
      "--dtb",
      JUNO_DTB,
      "--crashkernel",
      "256M@0x90000000",
      "--json",
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.crashRegion).toEqual({ start: "0x90000000", end: "0xa0000000" });
    expect(j.segments[0]).toMatchObject({ kind: "kernel", mem: "0x90000000" });
  });

  it("exits 1 when the kernel would refuse the placed segments (more than half of RAM)", async () => {
    const dtb = join(tmp, "small.dtb");
    // Juno's memory shrunk to 64 MiB: a 26.6 MiB kernel + 64 MiB initrd cannot be placed at all, so use a 20 MiB initrd.
    const { parseFdt, serializeFdt } = await import("../src/formats/fdt.js");
    const fdt = parseFdt(new Uint8Array(readFileSync(JUNO_DTB)));
    const mem = fdt.root.children.find((c) => c.name === "memory@80000000")!;
    mem.props.find((p) => p.name === "reg")!.value = new Uint8Array([
      0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0,
    ]);
    writeFileSync(dtb, serializeFdt(fdt));
    const rd = join(tmp, "rd20");
    writeFileSync(rd, new Uint8Array(20 * 1024 * 1024));
    const r = await cli("plan", "--kernel", IMAGE, "--initrd", rd, "--dtb", dtb, "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).kernelCheck).toMatchObject({
      ok: false,
      errno: "EINVAL",
      check: "segment_pages",
    });
  });

  it("--help has examples", async () => {
    for (const cmd of ["plan", "inspect"]) {
      const r = await cli(cmd, "--help");
      expect(r.code).toBe(0);
      expect(r.out).toContain("Examples:");
    }
  });
});
