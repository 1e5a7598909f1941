/**
 * kexec-tools' x86_64 ELF loader (src/loader/kexec-tools/x86-elf.ts, kexec/arch/x86_64/kexec-elf-x86_64.c
 * elf_x86_64_load) with a real x86_64 vmlinux: the ELF inside the Debian 6.1 amd64 bzImage in
 * the test data (its payload, the kernel's lz4 -l stream, decompressed as scripts/extract-vmlinux
 * does). Independent readers: readelf -lW (binutils) for the PT_LOADs and file(1) for the type. The
 * placements are derived from kexec-tools' source by hand in the comments, not recorded.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseBzImage } from "../src/formats/bzimage.js";
import { decompress } from "../src/formats/decompress.js";
import { inspectBytes } from "../src/formats/detect.js";
import { parseElf64 } from "../src/formats/elf.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { elfBootNotesSize } from "../src/loader/kexec-tools/x86-elf.js";
import { type Plan, type PlanInput, planLoad, segmentBufszOf } from "../src/loader/plan.js";
import { dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";
import { testTempDir } from "./helpers/tmp.js";

const BZ = new Uint8Array(readFileSync(dataFile("debian-6.1.0-56-cloud-amd64.bzImage")));
const X86_IOMEM = readFileSync(dataFile("x86_64-cloud-vm.txt"), "utf8");
const PURG = purgatoryPreset("debian-trixie", "x86_64"); // memsz 0x9000, entry +0x730
const tmp = testTempDir("elf-x86");
const have = (tool: string) => spawnSync(tool, ["--version"]).error === undefined;

let vmlinux: Uint8Array;
let path: string;

beforeAll(async () => {
  const h = parseBzImage(BZ);
  const at = h.setupSize + h.payloadOffset;
  expect(h.payloadFormat).toBe("lz4");
  vmlinux = (await decompress(BZ.subarray(at, at + h.payloadLength), "lz4-legacy")).bytes;
  path = join(tmp, "vmlinux");
  writeFileSync(path, vmlinux);
});

const seg = (p: Plan, label: string) => p.segments.find((s) => s.label === label)!;
const base = (extra: Partial<PlanInput> = {}): PlanInput => ({
  arch: "x86_64",
  loader: "kexec-tools",
  kernel: vmlinux,
  iomem: X86_IOMEM,
  purgatory: PURG,
  ...extra,
});

describe("a real x86_64 ELF vmlinux (from the Debian bzImage's payload)", () => {
  it.skipIf(!have("file"))("file(1) and inspect agree: ELF 64-bit x86-64 executable", () => {
    expect(execFileSync("file", ["-b", path], { encoding: "utf8" })).toMatch(
      /^ELF 64-bit LSB executable, x86-64/,
    );
    expect(inspectBytes(vmlinux, path)).toMatchObject({ kind: "elf64", arch: "x86_64", machine: 62 });
  });

  it.skipIf(!have("readelf"))("readelf -lW reads the same PT_LOADs and entry", () => {
    const out = execFileSync("readelf", ["-lhW", path], { encoding: "utf8" });
    const loads = [...out.matchAll(/^\s+LOAD\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)\s+(0x\S+)/gm)].map(
      (m) => ({
        offset: Number(m[1]),
        paddr: Number(m[3]),
        filesz: Number(m[4]),
        memsz: Number(m[5]),
      }),
    );
    const elf = parseElf64(vmlinux, path);
    expect(loads.length).toBe(4);
    expect(
      elf.loads.map((l) => ({ offset: l.offset, paddr: l.paddr, filesz: l.filesz, memsz: l.memsz })),
    ).toEqual(loads);
    expect(out).toContain(`Entry point address:               0x${elf.entry.toString(16)}`);
  });

  it("--args-elf (default): PT_LOADs at p_paddr, purgatory bottom-up from 0, then the boot notes", () => {
    const p = planLoad(base({ append: "console=ttyS0" }));
    const elf = parseElf64(vmlinux);
    // RAM starts at 0x1000: elf_rel_build_load(0, ULONG_MAX, 1) takes 0x1000 (memsz 0x9000); the notes
    // (elf_boot_notes: 64 bytes + 14 rounded to 16 = 80, version "2.0.32") take the next page, 0xa000.
    expect(seg(p, "purgatory").mem).toBe(0x1000);
    expect(p.entry).toBe(0x1000 + 0x730);
    expect(seg(p, "boot-notes")).toMatchObject({ mem: 0xa000, memsz: 0x1000 });
    expect(segmentBufszOf(seg(p, "boot-notes"))).toBe(80);
    expect(elfBootNotesSize("2.0.32", 14)).toBe(80);
    const kernels = p.segments.filter((s) => s.label.startsWith("kernel["));
    expect(kernels.map((s) => s.mem)).toEqual(elf.loads.map((l) => l.paddr));
    expect(p.kernelEntry).toBe(Number(elf.entry)); // the vmlinux's e_entry is physical (0x1000000)
    expect(p.verdict.ok).toBe(true);
  });

  it("--args-elf refuses an initrd, as elf_x86_64_load does", () => {
    const e = fail(() => planLoad(base({ initrd: new Uint8Array(4096) })));
    expect(e.detail).toContain("Ramdisks not supported with generic elf arguments");
  });

  it("--args-linux: a faked boot_params, the initrd below 0x37ffffff, the RNG seed", () => {
    const initrd = new Uint8Array(3 * 1024 * 1024);
    const p = planLoad(base({ elfArgs: "linux", append: "console=ttyS0", initrd }));
    // setup: 0x1800 bytes, bottom-up after the purgatory: 0xa000.
    expect(seg(p, "setup")).toMatchObject({ mem: 0xa000, memsz: 0x2000 });
    // initrd: top-down in [16 MiB, 0x37ffffff]: alignDown(0x37ffffff - 0x300000 + 1) = 0x37d00000.
    expect(seg(p, "initrd").mem).toBe(0x37d00000);
    expect(seg(p, "setup_data").mem).toBe(0x100000);
    expect(p.cmdline).toBe("console=ttyS0");
  });

  it("--args-none: no purgatory; the kexec entry is e_entry", () => {
    const p = planLoad(base({ elfArgs: "none" }));
    expect(p.segments.every((s) => s.label.startsWith("kernel["))).toBe(true);
    expect(p.entry).toBe(0x1000000);
  });

  it("auto: kexec_file_load refuses an ELF (ENOEXEC), kexec-tools falls back to kexec_load", () => {
    const p = planLoad({ ...base(), loader: "auto", kexecToolsVersion: "2.0.32" });
    expect(p.loader).toBe("kexec-tools");
    expect(p.selection).toMatch(/ENOEXEC.*falls back/);
  });
});
