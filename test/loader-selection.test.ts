/**
 * Loader selection (--loader auto as kexec-tools does it), the memory maps each loader reads, crash
 * header sizes, and the purgatory read from a kexec binary. Expected values are worked out from the
 * kexec-tools and kernel source in the comments.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseIomem } from "../src/formats/iomem.js";
import { elf64 } from "../src/formats/synth.js";
import { kexecFileAcceptance, syscallPlan } from "../src/loader/auto.js";
import { kexecLocateMemHole, locateHole } from "../src/loader/holes.js";
import { getOrder, kexecAllocContig } from "../src/loader/kexec-file/cma.js";
import { kexecToolsElfcorehdrSize, x86CrashMemoryRanges } from "../src/loader/kexec-tools/crash.js";
import {
  elfRelFootprint,
  PURGATORY_PRESETS,
  purgatoryFromKexecBinary,
} from "../src/loader/kexec-tools/purgatory.js";
import { fixupMemoryRanges, parseKexecDebugRanges, RANGE_RAM } from "../src/loader/memory.js";
import { KernelRefusal, type PlanInput, planLoad, segmentBufszOf } from "../src/loader/plan.js";
import { runCli } from "./helpers/cli.js";
import { dataBytes, dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";

const read = (p: string) => new Uint8Array(readFileSync(dataFile(p)));
const IMAGE = read("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = read("debian-6.1.0-56-cloud-amd64.bzImage");
const QEMU_DTB = read("qemu-virt-4g.dtb");
const X86_IOMEM = readFileSync(dataFile("x86_64-cloud-vm.txt"), "utf8");
const ARM_IOMEM = readFileSync(dataFile("arm64-qemu-virt-4g.txt"), "utf8");

describe("--loader auto: kexec-tools' syscall choice", () => {
  it("2.0.27+ tries kexec_file_load first and falls back; older releases use kexec_load; -s/-c force", () => {
    expect(syscallPlan("auto", "2.0.32")).toMatchObject({ first: "kexec-file", fallback: true });
    expect(syscallPlan("auto", "2.0.27")).toMatchObject({ first: "kexec-file", fallback: true });
    expect(syscallPlan("auto", "2.0.26")).toMatchObject({ first: "kexec-tools", fallback: false });
    expect(syscallPlan("kexec-file", "2.0.25")).toMatchObject({ first: "kexec-file", fallback: false });
    expect(syscallPlan("kexec-tools", "2.0.32")).toMatchObject({ first: "kexec-tools", fallback: false });
    expect(fail(() => syscallPlan("auto", "2.0")).code).toBe("E_USAGE");
  });

  it("the default plan is kexec_file_load where the kernel accepts the file, and says so", () => {
    const p = planLoad({ arch: "x86_64", kernel: BZIMAGE, iomem: X86_IOMEM });
    expect(p.loader).toBe("kexec-file");
    expect(p.selection).toMatch(/kexec_file_load: kexec-tools 2\.0\.32 tries it first/);
    expect(p.segments[0]!.placement.syscall).toBe("kexec_file_load");
    const old = planLoad({ arch: "x86_64", kernel: BZIMAGE, iomem: X86_IOMEM, kexecToolsVersion: "2.0.25" });
    expect(old.loader).toBe("kexec-tools");
  });

  it("a kernel older than the arch's kexec_file_load (arm64 5.0, x86_64 3.17) answers ENOSYS; auto falls back", () => {
    const arm = { arch: "arm64" as const, kernel: IMAGE, dtb: QEMU_DTB, wipeKaslrSeed: true };
    const x86 = { arch: "x86_64" as const, kernel: BZIMAGE, iomem: X86_IOMEM };
    for (const [input, before, since] of [
      [arm, "4.19", "5.0"],
      [x86, "3.16", "3.17"],
    ] as const) {
      const old = planLoad({ ...input, kernelVersion: before });
      expect(old.loader, `${input.arch} ${before}`).toBe("kexec-tools");
      expect(old.selection).toMatch(
        /would fail with ENOSYS .* has no kexec_file_load .*falls back to kexec_load/,
      );
      const e = fail(() => planLoad({ ...input, kernelVersion: before, loader: "kexec-file" }));
      expect(e).toBeInstanceOf(KernelRefusal);
      expect((e as KernelRefusal).errno).toBe("ENOSYS");
      expect(e.detail).toContain(`from ${since} on`);
      expect(planLoad({ ...input, kernelVersion: since }).loader, `${input.arch} ${since}`).toBe(
        "kexec-file",
      );
    }
  });

  it("a file the kernel refuses gets its errno, and auto falls back to kexec_load as kexec-tools does", () => {
    // arm64: image_probe wants an Image: an ELF vmlinux is EINVAL; x86_64: bzImage64_probe: ENOEXEC.
    expect(kexecFileAcceptance("arm64", "elf64")).toMatchObject({ accepted: false, errno: "EINVAL" });
    expect(kexecFileAcceptance("x86_64", "elf64")).toMatchObject({ accepted: false, errno: "ENOEXEC" });
    expect(kexecFileAcceptance("arm64", "arm64-image")).toEqual({ accepted: true });
    const vmlinux = elf64({
      machine: 62,
      entry: 0x1000000,
      loads: [{ paddr: 0x1000000, filesz: 4096, memsz: 8192 }],
    });
    const forced = fail(() =>
      planLoad({ arch: "x86_64", loader: "kexec-file", kernel: vmlinux, iomem: X86_IOMEM }),
    );
    expect(forced).toBeInstanceOf(KernelRefusal);
    expect((forced as KernelRefusal).errno).toBe("ENOEXEC");
    const auto = planLoad({ arch: "x86_64", kernel: vmlinux, iomem: X86_IOMEM });
    expect(auto.loader).toBe("kexec-tools");
    expect(auto.selection).toMatch(/fail with ENOEXEC .* falls back to kexec_load/);
    // A kernel without CONFIG_KEXEC_FILE: ENOSYS, also a fallback errno.
    const nosys = planLoad({
      arch: "arm64",
      kernel: IMAGE,
      dtb: QEMU_DTB,
      iomem: ARM_IOMEM,
      wipeKaslrSeed: true,
      kexecFileSyscall: false,
    });
    expect(nosys.selection).toMatch(/ENOSYS/);
    // No fallback for EADDRNOTAVAIL: a kexec_file_load that cannot place stays a failure.
    const tiny = "00100000-002fffff : System RAM\n";
    expect(fail(() => planLoad({ arch: "x86_64", kernel: BZIMAGE, iomem: tiny })).code).toBe("E_NO_HOLE");
  });

  it("kexec-tools 2.0.29+ with -d passes KEXEC_FILE_DEBUG: a 6.1 kernel says EINVAL, a 6.8 one takes it", () => {
    const base: PlanInput = { arch: "x86_64", kernel: BZIMAGE, iomem: X86_IOMEM, kexecDebug: true };
    expect(planLoad({ ...base, kexecToolsVersion: "2.0.29" }).loader).toBe("kexec-tools");
    expect(planLoad({ ...base, kexecToolsVersion: "2.0.28" }).loader).toBe("kexec-file");
    expect(planLoad({ ...base, kexecToolsVersion: "2.0.29", kernelVersion: "6.8" }).loader).toBe(
      "kexec-file",
    );
  });
});

describe("memory maps as the loaders read them", () => {
  const overlapping =
    "0000000000100000 000000007fffffff System RAM\n0000000070000000 00000000bfffffff System RAM\n";

  it("overlapping /sys/firmware/memmap entries plan (fixup_memory_ranges), not E_RAM_LAYOUT", () => {
    // fixup_memory_ranges: the second entry's start moves to the first's inclusive end 0x7fffffff.
    const fixed = fixupMemoryRanges([
      { start: 0x100000, end: 0x80000000, type: RANGE_RAM },
      { start: 0x70000000, end: 0xc0000000, type: RANGE_RAM },
    ]);
    expect(fixed).toEqual([
      { start: 0x100000, end: 0x80000000, type: RANGE_RAM },
      { start: 0x7fffffff, end: 0xc0000000, type: RANGE_RAM },
    ]);
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-tools",
      kernel: BZIMAGE,
      iomem: overlapping,
      crngReady: false,
    });
    expect(p.memoryMap.ramBytes).toBe(0xc0000000 - 0x100000);
    // locate_hole top-down: the purgatory (model memsz 0x9000) ends at the top of the last range.
    expect(p.segments.at(-1)!.mem).toBe(0xc0000000 - 0x9000);
    // Duplicates collapse too.
    expect(
      fixupMemoryRanges([
        { start: 0x1000, end: 0x2000, type: 0 },
        { start: 0x1000, end: 0x3000, type: 0 },
      ]),
    ).toEqual([{ start: 0x1000, end: 0x3000, type: 0 }]);
  });

  it("the MEMORY RANGES block of `kexec -d` is a memory map", () => {
    const dbg =
      "kernel: 0x0\nMEMORY RANGES\n0000000000000400-000000000009fbff (0)\n000000000009fc00-000000000009ffff (1)\n0000000000100000-000000007ffdefff (0)\nsym: x\n";
    expect(parseKexecDebugRanges(dbg)).toEqual([
      { start: 0x400, end: 0x9fc00, type: 0 },
      { start: 0x9fc00, end: 0xa0000, type: 1 },
      { start: 0x100000, end: 0x7ffdf000, type: 0 },
    ]);
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-tools",
      kernel: BZIMAGE,
      iomem: dbg,
      crngReady: false,
    });
    expect(p.memoryMapSource).toBe("kexec-debug");
    // Same as the recorded 2 GiB guest: kernel at 0x7cc00000.
    expect(p.segments.find((s) => s.label === "kernel")!.mem).toBe(0x7cc00000);
  });

  it("kexec-tools' locate_hole keeps adjacent ranges apart; the kernel stops at the first range that fits", () => {
    // Two adjacent 1 MiB ranges: a 1.5 MiB hole fits neither for locate_hole (no coalescing).
    const two = [
      { start: 0x100000, end: 0x200000 },
      { start: 0x200000, end: 0x300000 },
    ];
    expect(
      locateHole(
        two,
        [],
        { size: 0x180000, align: 4096, holeMin: 0, holeMax: Infinity, holeEnd: -1 },
        4096,
        0,
        Infinity,
      ).mem,
    ).toBeUndefined();
    expect(
      locateHole(
        two,
        [],
        { size: 0x1000, align: 4096, holeMin: 0, holeMax: Infinity, holeEnd: -1 },
        4096,
        0,
        Infinity,
      ).mem,
    ).toBe(0x2ff000);
    // kexec_locate_mem_hole, ascending walk, top-down: the top of the FIRST range; before 6.8 one
    // page lower (temp_start = temp_end - memsz with an inclusive temp_end).
    const walk = two.map((r) => ({ ...r, name: "System RAM" }));
    const k = {
      memsz: 0x1000,
      bufAlign: 0x1000,
      bufMin: 0,
      bufMax: Infinity,
      topDown: true,
      oneByteLow: true,
    };
    expect(kexecLocateMemHole(walk, [], k).mem).toBe(0x1fe000);
    expect(kexecLocateMemHole(walk, [], { ...k, oneByteLow: false }).mem).toBe(0x1ff000);
    // A placed segment in the way: the next aligned start below it.
    expect(kexecLocateMemHole(walk, [{ mem: 0x1f0000, memsz: 0x10000 }], k).mem).toBe(0x1ef000);
    // Bottom-up: the lowest aligned start clear of the segments.
    expect(kexecLocateMemHole(walk, [{ mem: 0x100000, memsz: 0x2000 }], { ...k, topDown: false }).mem).toBe(
      0x102000,
    );
  });

  it("arm64 kexec_file_load walks free memblock ranges when given, and says which view it used otherwise", () => {
    const base: PlanInput = {
      arch: "arm64",
      loader: "kexec-file",
      kernel: IMAGE,
      dtb: QEMU_DTB,
      iomem: ARM_IOMEM,
    };
    const without = planLoad(base);
    expect(without.notes.some((n) => n.includes("without --memblock-memory"))).toBe(true);
    // memblock: all of RAM free except [0x40000000, 0x48000000): the kernel goes to 0x48000000.
    const p = planLoad({
      ...base,
      memblockMemory: "   0: 0x0000000040000000..0x000000013fffffff\n",
      memblockReserved: "   0: 0x0000000040000000..0x0000000047ffffff\n",
    });
    expect(p.segments[0]!.mem).toBe(0x48000000);
    expect(p.segments[0]!.placement.walk).toContain("free memblock");
  });
});

describe("crash ELF core header sizes", () => {
  it("kexec-tools on x86_64: one phdr per crash memory range of the 41-line iomem, per CPU, vmcoreinfo, kernel text", () => {
    // get_crash_memory_ranges over the x86_64-cloud-vm.txt iomem of the test data: Reserved 0-fff, System
    // RAM 1000-9fbff, Reserved 9fc00-fffff, System RAM 100000-bfffffff, Reserved eec00000-febfffff,
    // System RAM 100000000-63fffffff: 6 ranges; a crash region inside the second System RAM splits
    // it: 7. With 4 CPUs: 64 + 56 x (4 + 1 + 7 + 1) = 792 -> 1024 (ELF_CORE_HEADER_ALIGN).
    const iomem = X86_IOMEM.replace(
      "  01000000-0220bb07 : Kernel code\n",
      "  01000000-0220bb07 : Kernel code\n  20000000-2fffffff : Crash kernel\n",
    );
    const ranges = x86CrashMemoryRanges(parseIomem(iomem), [{ start: 0x20000000, end: 0x30000000 }]);
    expect(ranges.map((r) => [r.start, r.end, r.ram])).toEqual([
      [0x0, 0x1000, false],
      [0x1000, 0x9fc00, true],
      [0x9fc00, 0x100000, false],
      [0x100000, 0x20000000, true],
      [0x30000000, 0xc0000000, true],
      [0xeec00000, 0xfec00000, false],
      [0x100000000, 0x640000000, true],
    ]);
    expect(kexecToolsElfcorehdrSize(4, ranges.length)).toBe(0x400);
    // 18 CPUs: 64 + 56 x 27 = 1576 -> 2048.
    expect(kexecToolsElfcorehdrSize(18, ranges.length)).toBe(0x800);
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-tools",
      kernel: BZIMAGE,
      iomem,
      crash: true,
      cpus: 4,
      crngReady: false,
    });
    const hdr = p.segments.find((s) => s.label === "elfcorehdr")!;
    expect([segmentBufszOf(hdr), hdr.memsz]).toEqual([0x400, 0x4000]);
    // backup of [0x1000, 0x9fc00) top-down at the crash region's end; elfcorehdr below it.
    const backup = p.segments.find((s) => s.label === "backup")!;
    expect([backup.mem, backup.memsz]).toEqual([0x30000000 - 0x9f000, 0x9f000]);
    expect(hdr.mem).toBe(backup.mem - 0x4000);
    expect(p.cmdline).toBe(` elfcorehdr=${(hdr.mem / 1024).toString()}K`);
    for (const s of p.segments) expect(s.mem >= 0x20000000 && s.mem + s.memsz <= 0x30000000).toBe(true);
  });

  it("arm64 kexec-tools: 0x400 for QEMU virt; kexec_file_load: 4 KiB, 64 KiB aligned below the region's end", () => {
    const iomem = ARM_IOMEM.replace(
      "  f8000000-ffffffff : reserved\n",
      "  e8000000-ebffffff : Crash kernel\n  f8000000-ffffffff : reserved\n",
    );
    const base: PlanInput = {
      arch: "arm64",
      kernel: IMAGE,
      dtb: QEMU_DTB,
      iomem,
      crash: true,
      wipeKaslrSeed: true,
      cpus: 2,
    };
    const tools = planLoad({ ...base, loader: "kexec-tools" });
    const h = tools.segments.find((s) => s.label === "elfcorehdr")!;
    expect([segmentBufszOf(h), h.mem]).toEqual([0x400, 0xebfff000]);
    const file = planLoad({ ...base, loader: "kexec-file" });
    const f = file.segments.find((s) => s.label === "elfcorehdr")!;
    // top-down in [crash start, crash end]: align_down(0xebffffff - 0x1000, 64K) = 0xebff0000.
    expect([segmentBufszOf(f), f.mem]).toEqual([0x1000, 0xebff0000]);
  });
});

describe("purgatory from a kexec binary", () => {
  /** A little ELF64 relocatable with .text (align 16), .data (8), .bss (16), as kexec-tools embeds. */
  function relocatable(machine: number): Uint8Array {
    const names = "\0.text\0.data\0.bss\0.shstrtab\0";
    const sh = [
      { name: 0, type: 0, flags: 0, size: 0, align: 0 },
      { name: 1, type: 1, flags: 6, size: 0x1234, align: 16 },
      { name: 7, type: 1, flags: 3, size: 0x21, align: 8 },
      { name: 13, type: 8, flags: 3, size: 0x100, align: 16 },
      { name: 18, type: 3, flags: 0, size: names.length, align: 1 },
    ];
    const shoff = 64 + names.length + 8;
    const b = new Uint8Array(shoff + sh.length * 64);
    const v = new DataView(b.buffer);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    v.setUint16(16, 1, true);
    v.setUint16(18, machine, true);
    v.setBigUint64(40, BigInt(shoff), true);
    v.setUint16(58, 64, true);
    v.setUint16(60, sh.length, true);
    v.setUint16(62, 4, true);
    for (let i = 0; i < names.length; i++) b[64 + i] = names.charCodeAt(i);
    sh.forEach((s, i) => {
      const o = shoff + i * 64;
      v.setUint32(o, s.name, true);
      v.setUint32(o + 4, s.type, true);
      v.setBigUint64(o + 8, BigInt(s.flags), true);
      v.setBigUint64(o + 24, BigInt(i === 4 ? 64 : 0), true);
      v.setBigUint64(o + 32, BigInt(s.size), true);
      v.setBigUint64(o + 48, BigInt(s.align), true);
    });
    return b;
  }

  it("finds the embedded ELF relocatable and lays it out as elf_rel_load does", () => {
    // bufsz: .text 0x1234, .data at align8(0x1234) = 0x1238 + 0x21 = 0x1259; bss_pad to 16: 0x1260;
    // memsz 0x1260 + 0x100 = 0x1360; base alignment 16.
    const host = new Uint8Array(0x3000);
    host.set([0x7f, 0x45, 0x4c, 0x46]); // the kexec binary's own header is skipped
    host.set(relocatable(183), 0x1100);
    const p = purgatoryFromKexecBinary(host, "arm64", "kexec");
    expect([p.offset, p.bufsz, p.memsz, p.align]).toEqual([0x1100, 0x1259, 0x1360, 16]);
    expect(elfRelFootprint(p.sections)).toEqual({ bufsz: 0x1259, memsz: 0x1360, align: 16 });
    expect(fail(() => purgatoryFromKexecBinary(host, "x86_64", "kexec")).code).toBe("E_FORMAT_UNKNOWN");
  });
});

describe("CLI", () => {
  it("--arch aarch64 is arm64, amd64 is x86_64; plan says which syscall placed it and why", async () => {
    const r = await runCli([
      "plan",
      "--arch",
      "aarch64",
      "--kernel",
      dataFile("debian-6.1.0-50-cloud-arm64.Image"),
      "--dtb",
      dataFile("qemu-virt-4g.dtb"),
      "--iomem",
      dataFile("arm64-qemu-virt-4g.txt"),
      "--purgatory",
      "debian-bookworm",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.arch).toBe("arm64");
    expect(j.syscall).toBe("kexec_file_load");
    expect(j.kernelVersion).toBe("6.1");
    expect(j.segments[0].placement.source).toContain("arch/arm64/kernel/kexec_image.c image_load");
    const bad = await runCli(["plan", "--arch", "ppc64", "--kernel", "x"]);
    expect(bad.code).toBe(2);
    const x = await runCli([
      "plan",
      "--arch",
      "amd64",
      "--kernel",
      dataFile("debian-6.1.0-56-cloud-amd64.bzImage"),
      "--iomem",
      dataFile("x86_64-cloud-vm.txt"),
      "--loader",
      "kexec-tools",
      "--purgatory",
      "debian-bookworm",
    ]);
    expect(x.code).toBe(0);
    expect(x.out).toMatch(/^x86_64 kexec_load/);
    expect(x.out).toMatch(/syscall: kexec_load \(--loader kexec-tools, as kexec -c\)/);
    expect(x.out).toMatch(
      /purgatory: kexec-tools kexec\/arch\/x86_64\/kexec-bzImage64\.c do_bzImage64_load -> elf_rel_build_load/,
    );
  });
});

describe("KHO (6.16+) and CMA-first (6.17+), derived from the kernel source", () => {
  const MiB = 1024 * 1024;
  const base: PlanInput = {
    arch: "x86_64",
    loader: "kexec-file",
    kernel: BZIMAGE,
    initrd: new Uint8Array(8 * MiB),
    iomem: X86_IOMEM,
  };
  const at = (p: ReturnType<typeof planLoad>) =>
    p.segments.map((s) => [s.label, s.mem, s.placement.relocated]);

  it("KHO: the scratch table first, then every segment inside the scratch areas in index order", () => {
    // kho_fill_kimage: 2 x 16 bytes, one page, SZ_64K, top-down in scratch area 0 [0x10000000,
    // 0x20000000): align_down(0x1fffffff - 0x1000 + 1, 64K) = 0x1fff0000. purgatory (0x5000):
    // 0x1fffb000; boot_params (0x2000) below it: 0x1fff9000; kernel (0x3378000, 2 MiB):
    // align_down(0x20000000 - 0x3378000, 2M) = 0x1cc00000; initrd (8 MiB) would overlap the kernel at
    // 0x1f800000, so just below it: 0x1c400000. Area 1 is never needed.
    const scratch = [
      { start: 0x10000000, end: 0x20000000 },
      { start: 0x100000000, end: 0x110000000 },
    ];
    const p = planLoad({ ...base, kernelVersion: "6.16", khoScratch: scratch });
    expect(at(p)).toEqual([
      ["kho-scratch", 0x1fff0000, true],
      ["purgatory", 0x1fffb000, true],
      ["bootparams", 0x1fff9000, true],
      ["kernel", 0x1cc00000, true],
      ["initrd", 0x1c400000, true],
    ]);
    expect(segmentBufszOf(p.segments[0]!)).toBe(32);
    expect(p.segments[3]!.placement.walk).toContain("KHO scratch");
    // Nothing fits in the scratch areas: EADDRNOTAVAIL, and no fallback to the rest of RAM.
    const small = fail(() =>
      planLoad({ ...base, kernelVersion: "6.16", khoScratch: [{ start: 0x10000000, end: 0x11000000 }] }),
    );
    expect(small.code).toBe("E_NO_HOLE");
    expect(small.message).toContain("EADDRNOTAVAIL");
    expect(
      fail(() =>
        planLoad({
          ...base,
          loader: "auto",
          kernelVersion: "6.16",
          khoScratch: [{ start: 0x10000000, end: 0x11000000 }],
        }),
      ).code,
    ).toBe("E_NO_HOLE");
    // Before 6.16 there is no KHO.
    expect(fail(() => planLoad({ ...base, khoScratch: scratch })).code).toBe("E_USAGE");
  });

  it("CMA: buffers come from the CMA area first, lowest free aligned run, in place (not copied at reboot)", () => {
    // kexec_alloc_contig ignores buf_min/top_down. purgatory (5 pages, order 0): 0x40000000;
    // boot_params: 0x40005000; kernel: get_order(2 MiB) = 9, capped at CONFIG_CMA_ALIGNMENT 8 (1 MiB):
    // 0x40100000; initrd (order 0): right after the kernel, 0x40100000 + 0x3378000 = 0x43478000.
    const cma = { start: 0x40000000, end: 0x50000000 };
    const p = planLoad({ ...base, kernelVersion: "6.17", cma });
    expect(at(p)).toEqual([
      ["purgatory", 0x40000000, false],
      ["bootparams", 0x40005000, false],
      ["kernel", 0x40100000, false],
      ["initrd", 0x43478000, false],
    ]);
    // KEXEC_FILE_NO_CMA: the normal walk (6.17: descending, top of RAM), relocated at reboot.
    const no = planLoad({ ...base, kernelVersion: "6.17", cma, noCma: true });
    expect(no.segments[0]!.mem).toBe(0x63fffb000);
    expect(no.segments.every((s) => s.placement.relocated)).toBe(true);
    // Before 6.17 the CMA area is not used.
    expect(planLoad({ ...base, kernelVersion: "6.16", cma }).segments[0]!.placement.relocated).toBe(true);
    // A CMA area too small for the kernel: that buffer falls back to the walk, the others stay in CMA.
    const tight = planLoad({ ...base, kernelVersion: "6.17", cma: { start: 0x40000000, end: 0x41000000 } });
    expect(tight.segments.map((s) => s.placement.relocated)).toEqual([false, false, true, false]);
    expect(tight.segments[2]!.placement.skipped[0]).toMatch(/^CMA: no free run/);
  });

  it("kexec_alloc_contig: a run overlapping a placed segment is released (-EBUSY)", () => {
    const r = kexecAllocContig(
      { start: 0x40000000, end: 0x50000000 },
      [],
      [{ mem: 0x40000000, memsz: 0x1000 }],
      0x2000,
      0x1000,
      0x1000,
    );
    expect(r).toEqual({ reason: expect.stringContaining("-EBUSY") });
    expect(getOrder(0x200000, 4096)).toBe(9);
    expect(getOrder(4096, 4096)).toBe(0);
  });
});

describe("CLI: KHO, CMA and the recorded crash load", () => {
  const K = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
  const IO = dataFile("x86_64-cloud-vm.txt");
  it("--cma places in CMA from 6.17 (relocated false), --no-cma does not; --kho-scratch keeps to the areas", async () => {
    const base = [
      "plan",
      "--arch",
      "x86_64",
      "--kernel",
      K,
      "--iomem",
      IO,
      "--loader",
      "kexec-file",
      "--json",
    ];
    const cma = JSON.parse(
      (await runCli([...base, "--kernel-version", "6.17", "--cma", "256M@0x40000000"])).out,
    );
    expect(
      cma.segments.map((s: { mem: string; placement: { relocated: boolean } }) => [
        s.mem,
        s.placement.relocated,
      ]),
    ).toEqual([
      ["0x40000000", false],
      ["0x40005000", false],
      ["0x40100000", false],
    ]);
    const no = JSON.parse(
      (await runCli([...base, "--kernel-version", "6.17", "--cma", "256M@0x40000000", "--no-cma"])).out,
    );
    expect(no.segments.every((s: { placement: { relocated: boolean } }) => s.placement.relocated)).toBe(true);
    const kho = JSON.parse(
      (await runCli([...base, "--kernel-version", "6.16", "--kho-scratch", "256M@0x10000000"])).out,
    );
    expect(kho.segments[0]).toMatchObject({ kind: "kho-scratch", mem: "0x1fff0000" });
  });

  it("--print-segments of a recorded x86_64 crash load equals the real kexec -d lines but for buf", async () => {
    const R = fileURLToPath(new URL("fixtures/recordings/x86_64-q35-2g-crash-kexec_load/", import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), "kexec-lab-sel-"));
    try {
      const initrd = join(dir, "initrd");
      writeFileSync(initrd, new Uint8Array(60256));
      const r = await runCli([
        "plan",
        "--arch",
        "amd64",
        "--kernel",
        K,
        "--initrd",
        initrd,
        "--iomem",
        `${R}iomem.txt`,
        "--memmap",
        `${R}memmap.txt`,
        "--append",
        "console=ttyS0 reset_devices kexec_lab=loaded",
        "-p",
        "--cpus",
        "2",
        "--crng-not-ready",
        "--acpi-rsdp",
        "0xf59e0",
        "--purgatory",
        "debian-bookworm",
        "--kexec-tools-version",
        "2.0.25",
        "--print-segments",
      ]);
      expect(r.code).toBe(0);
      const keep = (t: string) =>
        t.split("\n").filter((l) => /^(nr_segments|segment\[\d+\]\.(bufsz|mem|memsz))/.test(l));
      expect(keep(r.out)).toEqual(keep(readFileSync(`${R}kexec-d.txt`, "utf8")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("purgatory from Debian's real kexec binaries (the test data's kexec-tools packages)", () => {
  // data keys of test/fixtures/data-manifest.json: /sbin/kexec or /usr/sbin/kexec of the kexec-tools
  // packages the recordings ran (bookworm 1:2.0.25-3+deb12u3, trixie 1:2.0.29-2+b1/b2)
  const cases = [
    ["kexec-bookworm-amd64", "x86_64", "debian-bookworm"],
    ["kexec-bookworm-arm64", "arm64", "debian-bookworm"],
    ["kexec-trixie-amd64", "x86_64", "debian-trixie"],
    ["kexec-trixie-arm64", "arm64", "debian-trixie"],
  ] as const;
  it.each(cases)(
    "%s: sizes and purgatory_start equal the preset (and so the recordings)",
    (key, arch, preset) => {
      const p = purgatoryFromKexecBinary(dataBytes(key), arch);
      const want = PURGATORY_PRESETS[preset]![arch]!;
      expect([p.bufsz, p.memsz, p.align, p.entryOffset]).toEqual([
        want.bufsz,
        want.memsz,
        want.align,
        want.entryOffset,
      ]);
    },
  );
});
