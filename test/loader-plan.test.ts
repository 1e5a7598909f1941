/**
 * Placement by both loaders, with the expected addresses worked out by hand in the comments.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ErrorCode, KexecLabError } from "../src/errors.js";
import { deviceTreeInfo } from "../src/formats/devicetree.js";
import { type FdtNode, parseFdt, serializeFdt } from "../src/formats/fdt.js";
import { arm64Header, elf64 } from "../src/formats/synth.js";
import { kexecLoad } from "../src/kimage/load.js";
import { validateLoad } from "../src/kimage/validate.js";
import {
  formatPrintSegments,
  type Plan,
  type PlanInput,
  planLoad as planLoadAuto,
  planToJson,
  segmentBufszOf,
} from "../src/loader/plan.js";
import { Machine } from "../src/machine/machine.js";
import { MemoryMap, type Region } from "../src/machine/memmap.js";
import { execFileSyncOwned, spawnSyncOwned } from "../src/node/child.js";
import { defaultScenario } from "../src/scenario/default.js";
import { dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";
import { testTempDir } from "./helpers/tmp.js";

/**
 * The tests below were written for kexec-tools' placement when it was the default; since --loader
 * auto became the default (kexec-tools 2.0.27+ tries kexec_file_load first) they ask for it by name.
 * Tests that pass loader: "kexec-file" (or "auto") still get it.
 */
const planLoad = (input: PlanInput): Plan => planLoadAuto({ loader: "kexec-tools", ...input });

const read = (p: string) => new Uint8Array(readFileSync(dataFile(p)));
const text = (p: string) => readFileSync(dataFile(p), "utf8");
const IMAGE = read("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = read("debian-6.1.0-56-cloud-amd64.bzImage");
const QEMU_DTB = read("qemu-virt-4g.dtb");
const JUNO_DTB = read("juno.dtb");
const ARM_IOMEM = text("arm64-qemu-virt-4g.txt");
const X86_IOMEM = text("x86_64-cloud-vm.txt");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const INITRD = new Uint8Array(64 * MiB - 5000).fill(0xa5);

const HAVE_FDTGET = spawnSyncOwned("fdtget", ["--version"]).error === undefined;
if (!HAVE_FDTGET)
  console.warn(
    "loader-plan: fdtget not installed: the fdtget checks are SKIPPED (CI installs device-tree-compiler)",
  );
const tmp = testTempDir("plan");

const layout = (p: Plan) => p.segments.map((s) => [s.label, s.mem, s.memsz, segmentBufszOf(s)]);

function ramMap(banks: [number, number][], reserved: [number, number][] = []): MemoryMap {
  return new MemoryMap([
    ...banks.map(([s, e]): Region => ({ start: s, end: e, type: "ram", name: "System RAM" })),
    ...reserved.map(([s, e]): Region => ({ start: s, end: e, type: "reserved", name: "reserved" })),
  ]);
}

/** The kernel's own checks (sanity_check_segment_list and friends) accept the plan. */
function kernelAccepts(p: Plan, pageSize = 4096): void {
  const v = validateLoad({
    arch: p.arch,
    pageSize,
    ramBytes: BigInt(p.memoryMap.ramBytes),
    segments: p.segments.map((s) => ({
      mem: BigInt(s.mem),
      memsz: BigInt(s.memsz),
      bufsz: BigInt(segmentBufszOf(s)),
    })),
    ...(p.crashRegion
      ? {
          crash: { start: BigInt(p.crashRegion.start), end: BigInt(p.crashRegion.end - 1) },
          entry: BigInt(p.entry),
        }
      : {}),
  });
  expect(v.ok, v.reason).toBe(true);
}

describe("kexec-tools, arm64, on the real files", () => {
  const base: PlanInput = {
    arch: "arm64",
    kernel: IMAGE,
    initrd: INITRD,
    dtb: QEMU_DTB,
    iomem: ARM_IOMEM,
    append: "console=ttyAMA0",
    wipeKaslrSeed: true,
  };

  it("places kernel, initrd, DTB and purgatory as worked out by hand", () => {
    // kexec-tools' free memory: System RAM minus every child except "Kernel code" and "Kernel data"
    // (the running kernel may be overwritten: the copy happens after it stopped). So
    // [0x40000000, 0x42d80000) is free (0x2d80000 bytes, up to the first "reserved"), and the
    // kernel (text_offset + image_size = 0x1aa0000) goes to its 2 MiB-aligned start 0x40000000;
    // hole_min = 0x41aa0000. The initrd (0x3ffec78 bytes, memsz 0x3fff000) fits neither in
    // [0x41aa0000, 0x42d80000) (0x12e0000) nor in Kernel data [0x43200000, 0x434a0000), so it goes
    // to 0x43666000 and ends at 0x47664c78. The DTB (2 pages) then takes the lowest fit above
    // hole_min, 0x41aa0000, and the purgatory 0x41aa2000. Listed sorted by address.
    const p = planLoad(base);
    expect(layout(p)).toEqual([
      ["kernel", 0x40000000, 0x1aa0000, 27236288],
      ["dtb", 0x41aa0000, 0x2000, p.patchedDtb!.length],
      ["purgatory", 0x41aa2000, 0x4000, 0x3000],
      ["initrd", 0x43666000, 0x3fff000, 64 * MiB - 5000],
    ]);
    expect(p.entry).toBe(0x41aa2000);
    expect(p.kernelEntry).toBe(0x40000000);
    expect(p.memoryMapSource).toBe("iomem");
    kernelAccepts(p);
    const chosen = deviceTreeInfo(parseFdt(p.patchedDtb!)).chosen!;
    expect(chosen).toMatchObject({
      bootargs: "console=ttyAMA0",
      initrdStart: 0x43666000,
      initrdEnd: 0x47664c78,
    });
  });

  it("may overwrite the running kernel's image (kexec-tools) but never reserved memory; kexec_file avoids both", () => {
    const map = planLoad(base).memoryMap;
    const running = map.regions.filter((r) => r.name === "Kernel code" || r.name === "Kernel data");
    const reserved = map.regions.filter((r) => r.type === "reserved" && r.name === "reserved");
    for (const loader of ["kexec-tools", "kexec-file"] as const) {
      const p = planLoad({ ...base, loader });
      const hits = (rs: typeof running) =>
        p.segments.some((s) => rs.some((r) => s.mem < r.end && r.start < s.mem + s.memsz));
      expect(hits(reserved)).toBe(false);
      expect(hits(running)).toBe(loader === "kexec-tools");
      expect(p.notes.some((n) => n.includes('overlaps the running kernel\'s "Kernel code"'))).toBe(
        loader === "kexec-tools",
      );
    }
  });

  it.skipIf(!HAVE_FDTGET)(
    "fdtget reads the planned initrd addresses and bootargs from the patched DTB",
    () => {
      const p = planLoad(base);
      const file = join(tmp, "patched.dtb");
      writeFileSync(file, p.patchedDtb!);
      const get = (prop: string, t = "-ts") =>
        execFileSyncOwned("fdtget", [t, file, "/chosen", prop], { encoding: "utf8" }).trim();
      expect(get("bootargs")).toBe("console=ttyAMA0");
      expect(get("linux,initrd-start", "-tx")).toBe("0 43666000");
      expect(get("linux,initrd-end", "-tx")).toBe("0 47664c78");
      expect(spawnSyncOwned("dtc", ["-I", "dtb", "-O", "dtb", "-o", "/dev/null", file]).status).toBe(0);
    },
  );

  it("a QEMU-dumped DTB with a live kaslr-seed is refused, as kexec-tools refuses it", () => {
    expect(fail(() => planLoad({ ...base, wipeKaslrSeed: false })).code).toBe("E_DTB_KASLR_SEED");
  });

  it("the default scenario is placed by these rules: kexec-tools keeps Kernel code/data usable", () => {
    // kexec-tools keeps "Kernel code"/"Kernel data" usable, so on the QEMU virt map it puts a 28 MiB
    // kernel at 0x40000000 (the 0x2d80000 bytes before the first "reserved" hold 28 MiB), the DTB
    // right after the kernel at 0x41c00000, the purgatory after the DTB and the initrd at 0x43666000;
    // an initrd of 64 MiB - 5000 bytes gets memsz = page-rounded 0x3fff000. The DTB is packed
    // (dtb_set_initrd -> dtb_set_property ends in fdt_pack), so its 64 KiB padding goes: 0x7000.
    const sc = defaultScenario("arm64");
    const dtb = serializeFdt(parseFdt(JUNO_DTB), { padTo: 64 * 1024 });
    const input = (initrdBytes: number, memoryMap: MemoryMap): PlanInput => ({
      arch: "arm64",
      kernel: arm64Header({ imageSize: 28 * MiB }, 28 * MiB - 123 * 1024 - 64),
      initrd: new Uint8Array(initrdBytes),
      dtb,
      memoryMap,
    });
    const expected = [
      ["kernel", 0x40000000, 28 * MiB],
      ["dtb", 0x41c00000, 0x7000],
      ["purgatory", 0x41c07000, 0x4000],
      ["initrd", 0x43666000, 0x3fff000],
    ];
    expect(
      planLoad(input(64 * MiB - 5000, sc.memoryMap)).segments.map((s) => [s.label, s.mem, s.memsz]),
    ).toEqual(expected);
    // The default scenario's own DTB packs to one page (dtb_set_property packs), so its purgatory follows at +0x1000.
    expect(sc.segments.map((s) => [s.label, s.mem, s.memsz])).toEqual([
      ["kernel", 0x40000000, 28 * MiB],
      ["dtb", 0x41c00000, 0x1000],
      ["purgatory", 0x41c01000, 0x4000],
      ["initrd", 0x43666000, 0x3fff000],
    ]);
    // Were the running kernel's image excluded too (every carve-out "reserved"), the kernel would go
    // to the first 2 MiB-aligned hole above it instead.
    const strict = new MemoryMap(
      sc.memoryMap.regions.map((r) => (r.type === "reserved" ? { ...r, name: "reserved" } : r)),
    );
    expect(planLoad(input(64 * MiB - 5000, strict)).segments.map((s) => [s.label, s.mem, s.memsz])).toEqual([
      ["kernel", 0x43800000, 28 * MiB],
      ["initrd", 0x45400000, 0x3fff000],
      ["dtb", 0x493ff000, 0x7000],
      ["purgatory", 0x49406000, 0x4000],
    ]);
  });

  it("--mem-min moves every segment up; --mem-max bounds them", () => {
    const p = planLoad({ ...base, memMin: 0x80000000 });
    expect(layout(p).map((s) => s[1])).toEqual([0x80000000, 0x81aa0000, 0x85a9f000, 0x85aa1000]);
    const e = fail(() => planLoad({ ...base, memMax: 0x45ffffff }));
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.message).toContain("initrd");
  });

  it("without --iomem the memory map comes from the DTB's memory nodes", () => {
    // Juno: RAM from 0x80000000, nothing reserved: the kernel lands at the bottom of RAM.
    const p = planLoad({ arch: "arm64", kernel: IMAGE, dtb: JUNO_DTB });
    expect(p.memoryMapSource).toBe("dtb");
    expect(layout(p).map((s) => s[1])).toEqual([0x80000000, 0x81aa0000, 0x81aa7000]);
    expect(p.notes.join(" ")).toContain("memory nodes");
  });
});

describe("kexec_file_load, arm64", () => {
  it("kernel bottom-up 2 MiB aligned, initrd after it, DTB 2 MiB-aligned top-down", () => {
    // Kernel: as for kexec-tools, 0x43800000. initrd: lowest page above the kernel end 0x452a0000.
    // DTB: the highest free range with a 2 MiB boundary that fits 2 pages is [0x13f600000, 0x13f6f5000).
    const p = planLoad({
      arch: "arm64",
      loader: "kexec-file",
      kernel: IMAGE,
      initrd: INITRD,
      dtb: QEMU_DTB,
      iomem: ARM_IOMEM,
      append: "quiet",
    });
    expect(layout(p).map((s) => [s[0], s[1], s[2]])).toEqual([
      ["kernel", 0x43800000, 0x1aa0000],
      ["initrd", 0x452a0000, 0x3fff000],
      ["dtb", 0x13f600000, 0x2000],
    ]);
    expect(p.entry).toBe(0x43800000);
    kernelAccepts(p);
    const fdt = parseFdt(p.patchedDtb!);
    expect(fdt.memreserve).toEqual([{ address: 0x452a0000, size: 64 * MiB - 5000 }]);
    const chosen = deviceTreeInfo(fdt).chosen!;
    expect(chosen).toMatchObject({
      bootargs: "quiet",
      initrdStart: 0x452a0000,
      initrdEnd: 0x4929ec78,
      rngSeedBytes: 128,
      bootedFromKexec: true,
    });
    expect(chosen.kaslrSeed).not.toEqual({ hi: 0x4d1c0e0b, lo: 0xb75c366a });
  });

  it("the same seed gives the same DTB bytes; another seed other random bytes", () => {
    const mk = (seed: number) =>
      planLoad({ arch: "arm64", loader: "kexec-file", kernel: IMAGE, dtb: QEMU_DTB, iomem: ARM_IOMEM, seed })
        .patchedDtb!;
    expect(mk(3)).toEqual(mk(3));
    expect(mk(3)).not.toEqual(mk(4));
  });
});

describe("x86_64 bzImage, kexec-tools", () => {
  const base: PlanInput = {
    arch: "x86_64",
    kernel: BZIMAGE,
    initrd: INITRD,
    iomem: X86_IOMEM,
    append: "root=/dev/vda1",
  };

  it("E_NO_HOLE names the window actually searched (clipped by --mem-min/--mem-max) and the largest free range in it", () => {
    // locate_hole clips every request to info->mem_min/mem_max (kexec/kexec.c): the kernel's own
    // window is [0x100000, end of memory); with --mem-max 0xffffff it is [0x100000, 0x1000000).
    const low = fail(() => planLoad({ ...base, kexecToolsVersion: "2.0.25", memMax: 0xffffff }));
    expect(low.code).toBe("E_NO_HOLE");
    expect(low.detail).toMatch(
      /^kernel: .* within \[0x100000, 0x1000000\) \(the loader's \[0x100000, end of memory\) clipped by --mem-min\/--mem-max\)/,
    );
    const largest = /the largest free range there is \[(0x[0-9a-f]+), (0x[0-9a-f]+)\)/.exec(low.detail)!;
    expect(Number(largest[1])).toBeGreaterThanOrEqual(0x100000);
    expect(Number(largest[2])).toBeLessThanOrEqual(0x1000000);
    // From 2.0.30 the kernel's window starts at pref_address (16 MiB): it and [0, 0x1000000) do not meet.
    expect(fail(() => planLoad({ ...base, memMax: 0xffffff })).detail).toContain(
      "in an empty window (the loader's [0x1000000, end of memory) and --mem-min/--mem-max do not meet)",
    );
    // Above all RAM (it ends at 0x640000000): the purgatory, placed first, has nothing in its window.
    const high = fail(() => planLoad({ ...base, memMin: 0x700000000 }));
    expect(high.detail).toMatch(
      /^purgatory: .* within \[0x700000000, end of memory\) \(the loader's \[0x3000,/,
    );
    expect(high.detail).toContain("the largest free range there is none (no free memory in that window)");
  });

  it("purgatory, setup, kernel, initrd top-down from the top of RAM, as worked out by hand", () => {
    // RAM tops out at 0x640000000. purgatory (memsz 0x9000): 0x63fff7000. setup: (39+1)*512 = 20480
    // + 15 (command line with NUL) + 64 = 20559 bytes -> 0x6000 below: 0x63fff1000. kernel:
    // init_size 0x3378000, 2 MiB aligned: align_down(0x63fff1000 - 0x3378000, 2M) = 0x63cc00000.
    // initrd (0x3fff000): 0x63cc00000 - 0x3fff000 = 0x638c01000. Then setup_rng_seed's setup_data
    // (16-byte header + 32-byte seed = 0x30) bottom-up from 1 MiB: 0x100000, as the real kexec-tools
    // 2.0.25 load does. Sorted by address, as kexec-tools does.
    const p = planLoad(base);
    expect(layout(p)).toEqual([
      ["setup_data", 0x100000, 0x1000, 0x30],
      ["initrd", 0x638c01000, 0x3fff000, 64 * MiB - 5000],
      ["kernel", 0x63cc00000, 0x3378000, BZIMAGE.length - 20480],
      ["setup", 0x63fff1000, 0x6000, 20559],
      ["purgatory", 0x63fff7000, 0x9000, 0x5000],
    ]);
    expect(p.kernelEntry).toBe(0x63cc00200);
    expect(p.entry).toBe(0x63fff7000);
    kernelAccepts(p);
    const setup = p.segments[3]!.content.kind === "bytes" ? p.segments[3]!.content.data : new Uint8Array();
    expect(new TextDecoder().decode(setup.subarray(20480, 20480 + 14))).toBe("root=/dev/vda1");
    expect(setup.subarray(0x202, 0x206)).toEqual(new Uint8Array([0x48, 0x64, 0x72, 0x53]));
  });

  it("kexec_file_load (6.1): the first System RAM resource that fits, top-down inside it, in load order", () => {
    // 6.1 walks the System RAM resources in ascending order (walk_system_ram_res) and takes the first
    // that fits. purgatory (model memsz 0x5000, min 0x3000): the first resource [0x1000, 0x9fc00)
    // holds it at align_down(0x9fc00 - 0x5000) = 0x9a000; boot_params: align16(4096 + 15 + 30) + 16 +
    // 96 + 16 + 32 = 4304 bytes -> two pages, 0x9a000 - 0x2000 = 0x98000 (where Debian's 6.1 put them).
    // kernel (min 1 MiB): [0x1000, 0x9fc00) ends below 1 MiB, so [0x100000, 0xc0000000): align_down(
    // 0xc0000000 - 0x3378000, 2M) = 0xbcc00000; initrd 0x3fff000 below it: 0xb8c01000. The 20 GiB of
    // RAM above 4 GiB is never reached.
    const p = planLoad({ ...base, loader: "kexec-file" });
    expect(layout(p)).toEqual([
      ["purgatory", 0x9a000, 0x5000, 0x4000],
      ["bootparams", 0x98000, 0x2000, 4304],
      ["kernel", 0xbcc00000, 0x3378000, BZIMAGE.length - 20480],
      ["initrd", 0xb8c01000, 0x3fff000, 64 * MiB - 5000],
    ]);
    expect(p.kernelEntry).toBe(0xbcc00200);
    expect(p.segments[0]!.placement.walk).toContain("ascending");
    expect(p.segments[2]!.placement.skipped[0]).toContain("[0x1000, 0x9fc00) System RAM");
    kernelAccepts(p);
    // From 6.8 (b3ba234171cd) top-down buffers walk the resources descending, and the search starts
    // at temp_end - memsz + 1 (the off-by-one fix of the same release): the top of RAM.
    const p68 = planLoad({ ...base, loader: "kexec-file", kernelVersion: "6.8" });
    expect(layout(p68)).toEqual([
      ["purgatory", 0x63fffb000, 0x5000, 0x4000],
      ["bootparams", 0x63fff9000, 0x2000, 4304],
      ["kernel", 0x63cc00000, 0x3378000, BZIMAGE.length - 20480],
      ["initrd", 0x638c01000, 0x3fff000, 64 * MiB - 5000],
    ]);
    // From 6.8 the kernel never goes below pref_address (16 MiB here): RAM only below it leaves no
    // hole; 6.1 only asks for MIN_KERNEL_LOAD_ADDR (1 MiB).
    const low = ramMap([[0x100000, 0x1000000 + 0x3378000 - 0x200000]]);
    const lowInput = {
      ...base,
      loader: "kexec-file" as const,
      iomem: undefined,
      memoryMap: low,
      initrd: undefined,
    };
    const e = fail(() => planLoad({ ...lowInput, kernelVersion: "6.8" }));
    expect(planLoad(lowInput).segments.find((s) => s.label === "kernel")!.mem).toBeLessThan(0x1000000);
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.where.field).toBe("kernel");
    // kexec-tools' kexec_load: below 16 MiB up to 2.0.29; from 2.0.30 (07a6217) it too starts at
    // pref_address, so no hole.
    const kt = { ...base, iomem: undefined, memoryMap: low, initrd: undefined };
    expect(
      planLoad({ ...kt, kexecToolsVersion: "2.0.29" }).segments.find((s) => s.label === "kernel")!.mem,
    ).toBeLessThan(0x1000000);
    expect(fail(() => planLoad({ ...kt, kexecToolsVersion: "2.0.30" })).code).toBe("E_NO_HOLE");
    // bzImage64_probe refuses a kernel that cannot be loaded above 4 GiB.
    const b = BZIMAGE.slice();
    b[0x236] = 0x7d;
    expect(fail(() => planLoad({ ...base, loader: "kexec-file", kernel: b })).where.field).toBe("xloadflags");
  });

  it("--mem-max below 3 GiB moves everything under it", () => {
    // Top of RAM under the limit: 0xc0000000. purgatory 0xbfff7000, setup 0xbfff1000,
    // kernel align_down(0xbfff1000 - 0x3378000, 2M) = 0xbcc00000, initrd 0xbcc00000 - 0x3fff000;
    // the RNG seed setup_data at 0x100000.
    const p = planLoad({ ...base, memMax: 0xbfffffff });
    expect(layout(p).map((s) => s[1])).toEqual([0x100000, 0xb8c01000, 0xbcc00000, 0xbfff1000, 0xbfff7000]);
  });

  it("refuses what bzImage64_probe refuses; warns about a kernel placed above 4 GiB that cannot be", () => {
    const patched = (at: number, value: number) => {
      const b = BZIMAGE.slice();
      b[at] = value;
      return b;
    };
    expect(fail(() => planLoad({ ...base, kernel: patched(0x234, 0) })).where.field).toBe(
      "relocatable_kernel",
    );
    expect(fail(() => planLoad({ ...base, kernel: patched(0x211, 0) })).where.field).toBe("loadflags");
    // XLF_CAN_BE_LOADED_ABOVE_4G cleared: bzImage64_probe wants (xloadflags & 3) == 3 (kexec-tools
    // v2.0.4 on), so kexec-tools takes it with its 32-bit bzImage loader (test/loader-bzimage32.test.ts).
    const p = planLoad({ ...base, kernel: patched(0x236, 0x7d) });
    expect(p.notes.join("\n")).toContain("32-bit bzImage loader");
  });

  it("refuses a command line longer than cmdline_size, and a missing memory map", () => {
    expect(fail(() => planLoad({ ...base, append: "x".repeat(2047) })).code).toBe("E_CMDLINE_TOO_LONG");
    expect(() => planLoad({ ...base, append: "x".repeat(2046) })).not.toThrow();
    expect(fail(() => planLoad({ arch: "x86_64", kernel: BZIMAGE })).code).toBe("E_NO_MEMORY_MAP");
    expect(fail(() => planLoad({ ...base, loader: "kexec-file", append: "x".repeat(2017) })).code).toBe(
      "E_CMDLINE_TOO_LONG",
    );
  });
});

describe("failures", () => {
  const img16 = arm64Header({ imageSize: 16 * MiB }, 4 * MiB);
  const dtb = JUNO_DTB;

  it("no hole big enough: names the segment, its size and alignment and the largest free range", () => {
    // 64 MiB of RAM: the kernel takes [0x40000000, 0x41aa0000); 64 MiB of initrd cannot fit in the
    // remaining [0x41aa0000, 0x44000000).
    const e = fail(() =>
      planLoad({
        arch: "arm64",
        kernel: IMAGE,
        initrd: INITRD,
        dtb,
        memoryMap: ramMap([[0x40000000, 0x44000000]]),
      }),
    );
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.where.field).toBe("initrd");
    expect(e.message).toContain("0x3fff000 bytes");
    expect(e.message).toContain("aligned to 0x1000");
    expect(e.message).toContain("[0x41aa0000, 0x44000000)");
    const k = fail(() =>
      planLoad({ arch: "arm64", kernel: IMAGE, dtb, memoryMap: ramMap([[0x40000000, 0x41000000]]) }),
    );
    expect(k.where.field).toBe("kernel");
    expect(k.message).toContain("aligned to 0x200000");
  });

  it("initrd beyond the 32 GiB window (kexec-tools): boundary worked out by hand", () => {
    // Kernel (16 MiB) at 0x40000000; the 16 MiB left in the first bank cannot hold 64 MiB of initrd,
    // so it goes to the second bank. At 0x800000000: align_up(end, 1G) - 0x40000000 = 0x800000000
    // = 32 GiB, allowed. At 0x900000000: 36 GiB, refused.
    const at = (bank2: number) => ({
      arch: "arm64" as const,
      kernel: img16,
      initrd: INITRD,
      dtb,
      memoryMap: ramMap([
        [0x40000000, 0x42000000],
        [bank2, bank2 + GiB],
      ]),
    });
    expect(planLoad(at(0x800000000)).initrd).toEqual({
      start: 0x800000000,
      end: 0x800000000 + INITRD.length,
    });
    const e = fail(() => planLoad(at(0x900000000)));
    expect(e.code).toBe("E_INITRD_WINDOW");
    expect(e.message).toContain("36 GiB");
    // kexec_file_load: the window ends at round_down(kernel, 1G) + 32G = 0x840000000.
    expect(planLoad({ ...at(0x800000000), loader: "kexec-file" }).initrd!.start).toBe(0x800000000);
    expect(fail(() => planLoad({ ...at(0x900000000), loader: "kexec-file" })).code).toBe("E_INITRD_WINDOW");
  });

  it("DTB over 2 MiB, for both loaders", () => {
    const fdt = parseFdt(JUNO_DTB);
    fdt.root.props.push({ name: "big", value: new Uint8Array(2 * MiB) });
    const big = serializeFdt(fdt);
    for (const loader of ["kexec-tools", "kexec-file"] as const) {
      const e = fail(() => planLoad({ arch: "arm64", loader, kernel: IMAGE, dtb: big }));
      expect(e.code).toBe("E_DTB_TOO_BIG");
      expect(e.message).toContain("2 MiB");
    }
  });

  it("too many segments: 14 PT_LOADs + initrd + DTB + purgatory = 17", () => {
    const elf = (n: number) =>
      elf64({
        machine: 183,
        entry: 0x40000000,
        loads: Array.from({ length: n }, (_, i) => ({
          paddr: 0x40000000 + i * 0x100000,
          filesz: 16,
          memsz: 0x1000,
        })),
      });
    const input = (n: number): PlanInput => ({
      arch: "arm64",
      kernel: elf(n),
      initrd: new Uint8Array(4096),
      dtb,
      memoryMap: ramMap([[0x40000000, 0x80000000]]),
    });
    expect(planLoad(input(13)).segments).toHaveLength(16);
    const e = fail(() => planLoad(input(14)));
    expect(e.code).toBe("E_TOO_MANY_SEGMENTS");
    expect(e.message).toContain("17 segments");
  });

  it("kexec_file_load refuses a pre-3.17 Image (image_size 0); kexec-tools uses the defaults", () => {
    const old = arm64Header({ imageSize: 0 }, 4096);
    const e = fail(() => planLoad({ arch: "arm64", loader: "kexec-file", kernel: old, dtb }));
    expect(e.code).toBe("E_KERNEL_UNSUPPORTED");
    expect(e.where.field).toBe("image_size");
    // kexec-tools: text_offset 0x80000 + 16 MiB from the 2 MiB-aligned hole at 0x80000000.
    const p = planLoad({ arch: "arm64", kernel: old, dtb });
    expect(p.segments[0]).toMatchObject({ label: "kernel", mem: 0x80080000, memsz: 16 * MiB });
    expect(p.notes.join(" ")).toContain("older than 3.17");
  });

  it("kernels the architecture cannot load", () => {
    expect(fail(() => planLoad({ arch: "arm64", kernel: BZIMAGE, dtb })).code).toBe("E_KERNEL_UNSUPPORTED");
    expect(fail(() => planLoad({ arch: "x86_64", kernel: IMAGE, iomem: X86_IOMEM })).code).toBe(
      "E_KERNEL_UNSUPPORTED",
    );
    expect(fail(() => planLoad({ arch: "arm64", kernel: IMAGE })).code).toBe("E_NO_MEMORY_MAP");
    expect(fail(() => planLoad({ arch: "arm64", kernel: IMAGE, iomem: ARM_IOMEM })).code).toBe("E_USAGE");
  });
});

describe("crash loads (-p)", () => {
  const iomem = ARM_IOMEM.replace(
    "  f8000000-ffffffff : reserved\n",
    "  60000000-6fffffff : Crash kernel\n  f8000000-ffffffff : reserved\n",
  );

  it("everything inside the Crash kernel region; kernel at its 2 MiB-aligned start; elfcorehdr at the top", () => {
    // elfcorehdr (64 + 56 * (1 CPU + vmcoreinfo + 1 RAM range + kernel) = 288 bytes, one page) is placed
    // first, top-down: 0x6ffff000. The kernel at align_up(0x60000000, 2M) = 0x60000000, the initrd
    // after it at 0x61aa0000, then the DTB and the purgatory.
    const p = planLoad({ arch: "arm64", kernel: IMAGE, initrd: INITRD, dtb: JUNO_DTB, iomem, crash: true });
    expect(p.crashRegion).toEqual({ start: 0x60000000, end: 0x70000000 });
    expect(layout(p).map((s) => [s[0], s[1]])).toEqual([
      ["kernel", 0x60000000],
      ["initrd", 0x61aa0000],
      ["dtb", 0x65a9f000],
      ["purgatory", 0x65aa6000],
      ["elfcorehdr", 0x6ffff000],
    ]);
    kernelAccepts(p);
    const ch = parseFdt(p.patchedDtb!).root.children.find((c: FdtNode) => c.name === "chosen")!;
    const names = ch.props.map((x) => x.name);
    expect(names).toContain("linux,elfcorehdr");
    expect(names).toContain("linux,usable-memory-range");
  });

  it("--crashkernel style region given directly, and a region too small for the kernel", () => {
    const p = planLoad({
      arch: "arm64",
      kernel: IMAGE,
      dtb: JUNO_DTB,
      crash: true,
      crashRegion: { start: 0x90100000, end: 0xa0000000 },
    });
    expect(p.segments[0]).toMatchObject({ label: "kernel", mem: 0x90200000 });
    const e = fail(() =>
      planLoad({
        arch: "arm64",
        kernel: IMAGE,
        dtb: JUNO_DTB,
        crash: true,
        crashRegion: { start: 0x90000000, end: 0x91000000 },
      }),
    );
    expect(e.code).toBe("E_NO_HOLE");
    expect(
      fail(() => planLoad({ arch: "arm64", kernel: IMAGE, dtb: JUNO_DTB, iomem: ARM_IOMEM, crash: true }))
        .code,
    ).toBe("E_CRASH_NOT_RESERVED");
  });
});

describe("page size, ELF kernels, kexec_file crash loads", () => {
  it("a 64K-page running kernel rounds memsz and aligns to 64 KiB", () => {
    // Kernel as before at 0x80000000 (Juno, no reservations); initrd 0x3ffec78 bytes -> memsz
    // 0x4000000 (64 KiB pages) at image end 0x81aa0000 (already 64 KiB aligned); DTB 27057 bytes ->
    // one 64 KiB page at 0x85aa0000; purgatory 0x4000 -> 0x10000 at 0x85ab0000.
    const p = planLoad({ arch: "arm64", kernel: IMAGE, initrd: INITRD, dtb: JUNO_DTB, pageSize: 65536 });
    expect(layout(p).map((s) => [s[0], s[1], s[2]])).toEqual([
      ["kernel", 0x80000000, 0x1aa0000],
      ["initrd", 0x81aa0000, 0x4000000],
      ["dtb", 0x85aa0000, 0x10000],
      ["purgatory", 0x85ab0000, 0x10000],
    ]);
    kernelAccepts(p, 65536);
    expect(
      fail(() => planLoad({ arch: "x86_64", kernel: BZIMAGE, iomem: X86_IOMEM, pageSize: 16384 })).code,
    ).toBe("E_PAGE_SIZE");
  });

  it("x86_64 ELF vmlinux: PT_LOADs at p_paddr, entry translated from the virtual e_entry", () => {
    const elf = elf64({
      machine: 62,
      entry: 0,
      loads: [
        { paddr: 0x1000000, vaddr: 0xffffffff81000000n, filesz: 0x3000, memsz: 0x5000 },
        { paddr: 0x2000000, vaddr: 0xffffffff82000000n, filesz: 0x100, memsz: 0x1000 },
      ],
    });
    // e_entry = 0xffffffff81000040 (written below as a full 64-bit value).
    new DataView(elf.buffer).setBigUint64(24, 0xffffffff81000040n, true);
    const p = planLoad({ arch: "x86_64", kernel: elf, iomem: X86_IOMEM });
    expect(p.kernelEntry).toBe(0x1000040);
    // elf_x86_64_load: purgatory elf_rel_build_load(0, ULONG_MAX, 1), bottom-up from the first RAM
    // page 0x1000; then the --args-elf boot notes (64 bytes: no command line) bottom-up after it.
    expect(layout(p).map((s) => [s[0], s[1], s[2], s[3]])).toEqual([
      ["purgatory", 0x1000, 0x9000, 0x5000],
      ["boot-notes", 0xa000, 0x1000, 64],
      ["kernel[0]", 0x1000000, 0x5000, 0x3000],
      ["kernel[1]", 0x2000000, 0x1000, 0x100],
    ]);
    // A PT_LOAD over the running kernel's reservations is fine on x86 (kexec-tools uses all RAM),
    // but one outside RAM is refused.
    const out = elf64({
      machine: 62,
      entry: 0xc0000000,
      loads: [{ paddr: 0xc0000000, filesz: 16, memsz: 16 }],
    });
    expect(fail(() => planLoad({ arch: "x86_64", kernel: out, iomem: X86_IOMEM })).code).toBe("E_NO_HOLE");
  });

  it("kexec_file crash load: elfcorehdr top-down, kernel, initrd and DTB inside the region", () => {
    const p = planLoad({
      arch: "arm64",
      loader: "kexec-file",
      kernel: IMAGE,
      initrd: new Uint8Array(8 * MiB),
      dtb: JUNO_DTB,
      crash: true,
      crashRegion: { start: 0x90000000, end: 0xa0000000 },
    });
    // load_other_segments order: kernel at the lowest 2 MiB boundary, 0x90000000; elfcorehdr (one
    // page) top-down at 64 KiB alignment (SZ_64K): 0x9fff0000; initrd right after the kernel
    // (0x91aa0000); DTB: highest 2 MiB boundary below the elfcorehdr: 0x9fe00000.
    expect(layout(p).map((s) => [s[0], s[1]])).toEqual([
      ["kernel", 0x90000000],
      ["elfcorehdr", 0x9fff0000],
      ["initrd", 0x91aa0000],
      ["dtb", 0x9fe00000],
    ]);
    kernelAccepts(p);
  });
});

describe("a plan runs through the simulated kexec_load", () => {
  for (const loader of ["kexec-tools", "kexec-file"] as const) {
    it(`${loader}: the real Image, a DTB and an initrd, loaded page by page into the kimage`, () => {
      const initrd = new Uint8Array(3 * MiB + 123).map((_, i) => (i * 7) & 0xff);
      const p = planLoad({
        arch: "arm64",
        loader,
        kernel: IMAGE,
        initrd,
        dtb: QEMU_DTB,
        iomem: ARM_IOMEM,
        wipeKaslrSeed: true,
      });
      const machine = new Machine({
        arch: "arm64",
        pageSize: 4096,
        memoryMap: p.memoryMap,
        contentMode: "exact",
      });
      const r = kexecLoad(machine, p.segments);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const pages = p.segments.reduce((n, s) => n + s.memsz / 4096, 0);
      expect(r.image.counters.sourcePages).toBe(pages);
    });
  }
});

describe("output formats", () => {
  it("JSON: segments with kind, mem, memsz, bufsz and the entry", () => {
    const j = planToJson(planLoad({ arch: "arm64", kernel: IMAGE, dtb: JUNO_DTB }));
    expect(j.segments).toEqual([
      { kind: "kernel", mem: "0x80000000", memsz: 0x1aa0000, bufsz: 27236288, placement: expect.any(Object) },
      {
        kind: "dtb",
        mem: "0x81aa0000",
        memsz: 0x7000,
        bufsz: expect.any(Number),
        placement: expect.any(Object),
      },
      { kind: "purgatory", mem: "0x81aa7000", memsz: 0x4000, bufsz: 0x3000, placement: expect.any(Object) },
    ]);
    expect((j.segments as { placement: unknown }[])[0]!.placement).toMatchObject({
      syscall: "kexec_load",
      source: expect.stringContaining("image_arm64_load"),
      direction: "bottom-up",
      align: "0x200000",
      relocated: true,
    });
    expect(j.entry).toBe("0x81aa7000");
  });

  it("--print-segments in kexec-tools' format", () => {
    const out = formatPrintSegments(planLoad({ arch: "arm64", kernel: IMAGE, dtb: JUNO_DTB }));
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^kexec_load: entry = 0x[0-9a-f]+ flags = 0xb70000$/);
    expect(lines[1]).toBe("nr_segments = 3");
    expect(lines.slice(2, 6)).toEqual([
      "segment[0].buf   = 0x10000000",
      "segment[0].bufsz = 0x19f97c0",
      "segment[0].mem   = 0x80000000",
      "segment[0].memsz = 0x1aa0000",
    ]);
    expect(lines).toHaveLength(14);
  });
});

describe("properties", () => {
  const bankArb = fc.array(fc.tuple(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 64 })), {
    minLength: 1,
    maxLength: 4,
  });
  const holesArb = fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 1, max: 400 })), { maxLength: 6 });
  const PLACEMENT: ErrorCode[] = ["E_NO_HOLE", "E_INITRD_WINDOW"];

  function machine(banks: [number, number][], holes: [number, number][]): MemoryMap {
    // Banks of N x 32 MiB separated by gaps of M x 32 MiB from 0x40000000; reservations in pages.
    const ram: [number, number][] = [];
    let at = 0x40000000;
    for (const [size, gap] of banks) {
      ram.push([at, at + size * 32 * MiB]);
      at += (size + gap) * 32 * MiB;
    }
    const res: [number, number][] = holes.map(([p, n]) => [
      0x40000000 + p * 0x100000,
      0x40000000 + p * 0x100000 + n * 4096,
    ]);
    return ramMap(ram, res);
  }

  it("every successful plan: page-aligned, disjoint, inside free memory, kernel hole 2 MiB-aligned, accepted by the kernel's checks", () => {
    fc.assert(
      fc.property(
        bankArb,
        holesArb,
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 0, max: 200 }),
        fc.constantFrom("kexec-tools" as const, "kexec-file" as const),
        (banks, holes, kernelMiB, initrdMiB, loader) => {
          const map = machine(banks, holes);
          const input: PlanInput = {
            arch: "arm64",
            loader,
            kernel: arm64Header({ imageSize: kernelMiB * MiB }, 4096),
            dtb: JUNO_DTB,
            memoryMap: map,
            ...(initrdMiB > 0 ? { initrd: new Uint8Array(initrdMiB * MiB - 1234) } : {}),
          };
          let p: Plan;
          try {
            p = planLoad(input);
          } catch (e) {
            expect(e).toBeInstanceOf(KexecLabError);
            expect(PLACEMENT).toContain((e as KexecLabError).code);
            return;
          }
          const sorted = [...p.segments].sort((a, b) => a.mem - b.mem);
          sorted.forEach((s, i) => {
            expect(s.mem % 4096).toBe(0);
            expect(s.memsz % 4096).toBe(0);
            expect(map.usable.covers({ start: s.mem, end: s.mem + s.memsz })).toBe(true);
            if (i > 0) expect(sorted[i - 1]!.mem + sorted[i - 1]!.memsz).toBeLessThanOrEqual(s.mem);
          });
          const kernel = p.segments.find((s) => s.label === "kernel")!;
          expect(kernel.mem % (2 * MiB)).toBe(0);
          // The kernel is at the LOWEST 2 MiB-aligned start that fits (oracle: scan every boundary).
          let lowest = -1;
          for (let a = 0x40000000; lowest < 0 && a < 0x40000000 + 4000 * 32 * MiB; a += 2 * MiB) {
            if (map.usable.covers({ start: a, end: a + kernelMiB * MiB })) lowest = a;
          }
          expect(kernel.mem).toBe(lowest);
          for (const s of p.segments)
            if (s !== kernel) expect(s.mem).toBeGreaterThanOrEqual(kernel.mem + kernel.memsz);
          if (loader === "kexec-file") expect(p.dtbAddress! % (2 * MiB)).toBe(0);
          if (p.initrd) {
            const c = deviceTreeInfo(parseFdt(p.patchedDtb!)).chosen!;
            expect([c.initrdStart, c.initrdEnd]).toEqual([p.initrd.start, p.initrd.end]);
            expect(
              Math.ceil(p.initrd.end / GiB) * GiB - Math.floor(kernel.mem / GiB) * GiB,
            ).toBeLessThanOrEqual(32 * GiB);
          }
          // Placement succeeded; the kernel may still refuse a load of more than half of RAM.
          if (!p.verdict.ok) expect(p.verdict.check).toBe("segment_pages");
          else kernelAccepts(p);
        },
      ),
      { numRuns: 150 },
    );
  });
});
