/**
 * PE/COFF and UKI reading against independent readers, on files made by real tools at test time:
 * a unified kernel image assembled with Debian's objcopy (binutils) from Debian's systemd-stub
 * (systemd-boot-efi: /usr/lib/systemd/boot/efi/linuxx64.efi.stub) and the Debian 6.1 cloud bzImage,
 * with .osrel, .cmdline, .uname, .linux and .initrd sections, the way systemd-stub(7) of systemd 252
 * describes it (bookworm has no ukify: systemd-ukify starts with systemd 253). Our section table must
 * equal `objdump -h`'s and pev's `readpe -S`'s, `file` must agree on the machine and section count,
 * and plan must place the UKI exactly as it places the extracted kernel and initrd.
 * Also: a 32-bit-entry bzImage made from the real one by clearing XLF_KERNEL_64 (the only change).
 */

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePe } from "../src/formats/pe.js";
import { unwrapKernel } from "../src/formats/unwrap.js";
import { planLoad } from "../src/loader/plan.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const BZIMAGE = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
const IOMEM = dataFile("x86_64-cloud-vm.txt");
const have = (tool: string, arg = "--version") =>
  spawnSync(tool, [arg], { stdio: "ignore" }).error === undefined;
const CAN_MAKE = existsSync(STUB) && have("objcopy");

const dir = testTempDir("uki");
const UKI = join(dir, "debian.efi");
const CMDLINE = "console=ttyS0 root=/dev/vda1 quiet";
const UNAME = "6.1.0-56-cloud-amd64";
const OSREL = 'ID=debian\nVERSION_ID=12\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';
/** A deterministic 3 MB initrd (contents do not matter to the loaders). */
const initrd = new Uint8Array(3_000_000).map((_, i) => (i * 2654435761) >>> 24);

beforeAll(() => {
  if (!CAN_MAKE) return;
  writeFileSync(join(dir, "cmdline"), `${CMDLINE}\0`);
  writeFileSync(join(dir, "uname"), UNAME);
  writeFileSync(join(dir, "osrel"), OSREL);
  writeFileSync(join(dir, "initrd"), initrd);
  const add = (name: string, file: string, vma: string) => [
    "--add-section",
    `${name}=${file}`,
    "--change-section-vma",
    `${name}=${vma}`,
  ];
  execFileSync("objcopy", [
    ...add(".osrel", join(dir, "osrel"), "0x20000"),
    ...add(".cmdline", join(dir, "cmdline"), "0x30000"),
    ...add(".uname", join(dir, "uname"), "0x40000"),
    ...add(".linux", BZIMAGE, "0x2000000"),
    ...add(".initrd", join(dir, "initrd"), "0x3000000"),
    STUB,
    UKI,
  ]);
});

describe.skipIf(!CAN_MAKE)("UKI made by objcopy from Debian's systemd-stub", () => {
  it("section table equals objdump -h (name, size, VMA, file offset)", () => {
    const pe = parsePe(new Uint8Array(readFileSync(UKI)), UKI);
    const out = execFileSync("objdump", ["-h", UKI], { encoding: "utf8" });
    const rows = [
      ...out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s/gm),
    ].map((m) => ({
      name: m[1],
      size: Number.parseInt(m[2]!, 16),
      vma: Number.parseInt(m[3]!, 16),
      off: Number.parseInt(m[4]!, 16),
    }));
    expect(rows.length).toBe(13);
    expect(
      pe.sections.map((s) => ({
        name: s.name,
        size: s.virtualSize,
        vma: pe.imageBase + s.virtualAddress,
        off: s.pointerToRawData,
      })),
    ).toEqual(rows);
  });

  it.skipIf(!have("readpe", "--help"))(
    "section table equals pev's readpe -S, characteristics included",
    () => {
      const pe = parsePe(new Uint8Array(readFileSync(UKI)), UKI);
      const out = execFileSync("readpe", ["-S", UKI], { encoding: "utf8" });
      const field = (name: string) =>
        [...out.matchAll(new RegExp(`^\\s*${name}:\\s+(\\S+)`, "gm"))].map((m) => m[1]!);
      const num = (s: string) => Number(s);
      // pev 0.81 prints at most 7 characters of an 8-character name (".dynamic" -> ".dynami").
      expect(field("Name")).toEqual(pe.sections.map((s) => s.name.slice(0, 7)));
      expect(field("Virtual Size").map(num)).toEqual(pe.sections.map((s) => s.virtualSize));
      expect(field("Virtual Address").map(num)).toEqual(pe.sections.map((s) => s.virtualAddress));
      expect(field("Size Of Raw Data").map(num)).toEqual(pe.sections.map((s) => s.sizeOfRawData));
      expect(field("Pointer To Raw Data").map(num)).toEqual(pe.sections.map((s) => s.pointerToRawData));
      expect(field("Characteristics").map(num)).toEqual(pe.sections.map((s) => s.characteristics));
    },
  );

  it.skipIf(!have("file"))("file(1) agrees on format, machine and section count", () => {
    const pe = parsePe(new Uint8Array(readFileSync(UKI)), UKI);
    const out = execFileSync("file", ["-b", UKI], { encoding: "utf8" });
    expect(out).toContain("PE32+ executable (EFI application) x86-64");
    expect(out).toContain(`${pe.sections.length} sections`);
    expect(pe).toMatchObject({ format: "PE32+", machineName: "x86_64", subsystem: 10 });
  });

  it("unwrapKernel extracts .linux and .initrd byte for byte, and the text sections", async () => {
    const u = await unwrapKernel(new Uint8Array(readFileSync(UKI)), UKI);
    expect(Buffer.compare(Buffer.from(u.kernel), readFileSync(BZIMAGE))).toBe(0);
    expect(Buffer.compare(Buffer.from(u.initrd!), Buffer.from(initrd))).toBe(0);
    expect(u.format).toMatchObject({
      kind: "uki",
      hasInitrd: true,
      inner: { kind: "bzimage", bzImage64: true },
    });
    const layer = u.layers[0]!;
    expect(layer).toMatchObject({ kind: "uki", cmdline: CMDLINE, uname: UNAME, osrel: OSREL });
  });

  it("inspect: sections, .cmdline/.uname, the inner bzImage header and the loaders", async () => {
    const r = await runCli(["inspect", UKI, "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ kind: "uki", machine: "x86_64", cmdline: CMDLINE, uname: UNAME });
    expect(j.sections.map((s: { name: string }) => s.name)).toContain(".linux");
    expect(j.inner).toMatchObject({ kind: "bzimage", protocolVersion: "2.15", entry64: true });
    const by = Object.fromEntries(
      j.loaders.map((l: { loader: string; outcome: string }) => [l.loader, l.outcome]),
    );
    expect(by).toEqual({
      "kexec-tools:kexec_load": "refused",
      "kexec-tools:kexec_file_load": "unwrapped",
      "kernel:kexec_file_load": "refused",
      "systemd:kexec_file_load": "unwrapped",
    });
    const old = JSON.parse((await runCli(["inspect", UKI, "--json", "--kexec-tools-version", "2.0.30"])).out);
    expect(old.loaders[1]).toMatchObject({ outcome: "refused" }); // x86_64 UKI support: 2.0.31
  });

  it("plan of the UKI (kexec_file_load) equals the plan of its .linux and .initrd; kexec_load refuses it", async () => {
    const base = ["plan", "--arch", "x86_64", "--iomem", IOMEM, "--loader", "kexec-file", "--json"];
    writeFileSync(join(dir, "linux"), readFileSync(BZIMAGE));
    const wrapped = await runCli([...base, "--kernel", UKI]);
    const plain = await runCli([...base, "--kernel", join(dir, "linux"), "--initrd", join(dir, "initrd")]);
    expect(wrapped.code).toBe(0);
    const a = JSON.parse(wrapped.out);
    const b = JSON.parse(plain.out);
    expect(a.segments).toEqual(b.segments);
    expect(a.entry).toBe(b.entry);
    expect(a.notes.join("\n")).toMatch(/unwraps the file first: extract \.linux/);
    const refused = await runCli([
      "plan",
      "--arch",
      "x86_64",
      "--iomem",
      IOMEM,
      "--loader",
      "kexec-tools",
      "--kernel",
      UKI,
    ]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("E_KERNEL_UNSUPPORTED");
    expect(refused.err).toContain("kexec_file_load unwrapped");
    // plain `kexec -l` (--loader auto, 2.0.32) tries kexec_file_load first, which takes the UKI.
    const auto = await runCli(["plan", "--arch", "x86_64", "--iomem", IOMEM, "--kernel", UKI, "--json"]);
    expect(auto.code).toBe(0);
    const c = JSON.parse(auto.out);
    expect(c.loader).toBe("kexec-file");
    expect(c.segments).toEqual(b.segments);
  });
});

describe("a 32-bit-entry bzImage (the Debian bzImage with XLF_KERNEL_64 cleared)", () => {
  const k32 = new Uint8Array(readFileSync(BZIMAGE));
  new DataView(k32.buffer).setUint16(0x236, new DataView(k32.buffer).getUint16(0x236, true) & ~1, true);
  const file = join(dir, "bzImage32");
  writeFileSync(file, k32);

  it("inspect shows the header and the 32-bit entry; kexec_load takes it, kexec_file_load refuses ENOEXEC", async () => {
    const j = JSON.parse((await runCli(["inspect", file, "--json"])).out);
    expect(j).toMatchObject({
      kind: "bzimage",
      entry64: false,
      entry32: "0x100000",
      xloadflags: "0x7e",
      relocatable: true,
    });
    expect(j.loaders[0]).toMatchObject({ loader: "kexec-tools:kexec_load", outcome: "accepted" });
    expect(j.loaders[1]).toMatchObject({
      loader: "kexec-tools:kexec_file_load",
      outcome: "refused",
      errno: "ENOEXEC",
    });
    expect(j.kexecCommand).toContain("kexec_file_load fails with ENOEXEC, kexec_load accepted");
  });

  it("plan: kexec_file_load refuses with ENOEXEC naming xloadflags", async () => {
    const r = await runCli([
      "plan",
      "--arch",
      "x86_64",
      "--iomem",
      IOMEM,
      "--kernel",
      file,
      "--loader",
      "kexec-file",
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ENOEXEC.*xloadflags|xloadflags[\s\S]*ENOEXEC/);
    expect(() =>
      planLoad({ arch: "x86_64", kernel: k32, iomem: readFileSync(IOMEM, "utf8"), loader: "kexec-file" }),
    ).toThrow(/ENOEXEC/);
  });
});
