/**
 * kexec-tools' 32-bit bzImage loader on x86_64 (src/loader/kexec-tools/x86-bzimage32.ts). Inputs:
 *  - test/fixtures/bzimage32/bzImage-i386-tiny.head: the setup code (16 KiB: the boot protocol header
 *    and the version string) of a real i386 bzImage (no XLF_KERNEL_64) built from Debian's
 *    linux-source-6.1 by scripts/fixtures/build-i386-bzimage.sh; the whole 749 KiB file is not in the
 *    repo (.txt beside it: its size and sha256); where the script left it
 *    (~/.cache/kexec-lab/artifacts/kernel-i386/bzImage-i386-tiny, or I386_BZIMAGE) the plan is checked on
 *    it too, and a line says when it is skipped;
 *  - header variants of the Debian 6.1 amd64 bzImage of the test data: XLF_KERNEL_64 cleared (a
 *    32-bit entry only), XLF_CAN_BE_LOADED_ABOVE_4G cleared, relocatable_kernel cleared. These are
 *    constructed here by patching the setup header; the payload is the real amd64 one.
 * The expected addresses are worked out by hand from kexec-tools' source (do_bzImage_load,
 * setup_linux_bootloader_parameters, locate_hole) in the comments: "derived from source", not recorded.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { parseBzImage } from "../src/formats/bzimage.js";
import { parseKexecArgs } from "../src/kexectools/args.js";
import { validateLoad } from "../src/kimage/validate.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { bzImage64Probe, bzImageProbe } from "../src/loader/kexec-tools/x86-bzimage32.js";
import { type Plan, type PlanInput, planLoad, segmentBufszOf } from "../src/loader/plan.js";
import { MemoryMap, type Region } from "../src/machine/memmap.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";
import { testTempDir } from "./helpers/tmp.js";

const I386_HEAD = fileURLToPath(new URL("./fixtures/bzimage32/bzImage-i386-tiny.head", import.meta.url));
const I386_TXT = readFileSync(`${I386_HEAD.slice(0, -".head".length)}.txt`, "utf8");
/** The whole built file (not in the repo): I386_BZIMAGE, else where scripts/fixtures/build-i386-bzimage.sh leaves it. */
const I386_FULL =
  process.env.I386_BZIMAGE ??
  join(
    process.env.XDG_CACHE_HOME || join(homedir(), ".cache"),
    "kexec-lab/artifacts/kernel-i386/bzImage-i386-tiny",
  );
if (!existsSync(I386_FULL)) {
  console.warn(
    `loader-bzimage32: ${I386_FULL} is not there (scripts/fixtures/build-i386-bzimage.sh builds it, I386_BZIMAGE names another): the whole-file check is SKIPPED; the committed setup code is checked`,
  );
}
const AMD64 = new Uint8Array(readFileSync(dataFile("debian-6.1.0-56-cloud-amd64.bzImage")));
const X86_IOMEM = readFileSync(dataFile("x86_64-cloud-vm.txt"), "utf8");
const MiB = 1024 * 1024;
const PURG = purgatoryPreset("debian-trixie", "x86_64"); // bufsz 0x70e0, memsz 0x9000, entry +0x730

/** The amd64 bzImage with its setup header patched (a constructed variant, see the file header). */
function variant(patch: (dv: DataView) => void): Uint8Array {
  const b = AMD64.slice();
  patch(new DataView(b.buffer));
  return b;
}
const NO64 = variant((dv) => dv.setUint16(0x236, dv.getUint16(0x236, true) & ~1, true));
const NOT_ABOVE_4G = variant((dv) => dv.setUint16(0x236, dv.getUint16(0x236, true) & ~2, true));
const NOT_RELOC = variant((dv) => {
  dv.setUint16(0x236, dv.getUint16(0x236, true) & ~1, true);
  dv.setUint8(0x234, 0);
});

const have = (tool: string) => spawnSync(tool, ["--version"]).error === undefined;

function ramMap(banks: [number, number][]): MemoryMap {
  return new MemoryMap(
    banks.map(([s, e]): Region => ({ start: s, end: e, type: "ram", name: "System RAM" })),
  );
}

const seg = (p: Plan, label: string) => p.segments.find((s) => s.label === label)!;
const layout = (p: Plan) => p.segments.map((s) => [s.label, s.mem, s.memsz]);

function base(kernel: Uint8Array, extra: Partial<PlanInput> = {}): PlanInput {
  return {
    arch: "x86_64",
    loader: "kexec-tools",
    kernel,
    iomem: X86_IOMEM,
    append: "console=ttyS0", // 14 bytes with the NUL
    purgatory: PURG,
    ...extra,
  };
}

describe("probes (kexec-tools' file_type order on x86_64: bzImage64, then bzImage)", () => {
  it("bzImage64_probe wants protocol 2.12, LOADED_HIGH and xloadflags & 3 == 3; bzImage_probe less", () => {
    expect(bzImage64Probe(parseBzImage(AMD64))).toBe(true);
    for (const v of [NO64, NOT_ABOVE_4G, NOT_RELOC]) {
      const h = parseBzImage(v);
      expect(bzImage64Probe(h)).toBe(false);
      expect(bzImageProbe(h)).toBe(true);
    }
  });

  it("a bzImage64 without XLF_CAN_BE_LOADED_ABOVE_4G goes to the 32-bit loader too", () => {
    const p = planLoad(base(NOT_ABOVE_4G, { kexecToolsVersion: "2.0.32" }));
    expect(p.notes.join("\n")).toContain("32-bit bzImage loader");
    expect(seg(p, "setup").placement.source).toContain("kexec-bzImage.c do_bzImage_load");
  });
});

describe("do_bzImage_load placement, derived from source", () => {
  it("kexec-tools 2.0.32: purgatory below 2 GiB top-down, setup below 640 KiB bottom-up, kernel from pref_address bottom-up", () => {
    const p = planLoad(base(NO64, { kexecToolsVersion: "2.0.32" }));
    // RAM pieces: [0x1000, 0x9fbff], [0x100000, 0xbfffffff], [0x100000000, 0x63fffffff].
    // purgatory: hole_max 0x7fffffff -> alignDown(0x7fffffff - 0x9000 + 1) = 0x7fff7000.
    // setup: max(40 * 512, 4096) + 14 + 64 = 0x504e -> 0x6000 at the first start >= 0x3000.
    // kernel: memsz init_size 0x3378000, align 2 MiB, min max(1 MiB, pref_address 16 MiB) = 0x1000000.
    // setup_data (RNG seed): page-aligned, bottom-up from 1 MiB.
    expect(layout(p)).toEqual([
      ["setup", 0x3000, 0x6000],
      ["setup_data", 0x100000, 0x1000],
      ["kernel", 0x1000000, 0x3378000],
      ["purgatory", 0x7fff7000, 0x9000],
    ]);
    expect(p.entry).toBe(0x7fff7000 + 0x730); // purgatory_start
    expect(p.kernelEntry).toBe(0x1000000); // startup_32 at the load address
    expect(segmentBufszOf(seg(p, "kernel"))).toBe(AMD64.length - 40 * 512);
    expect(p.verdict.ok).toBe(true);
  });

  it("kexec-tools 2.0.25 (before ec3e4df/07a6217 in 2.0.30): memsz is the file size and min 1 MiB", () => {
    const p = planLoad(base(NO64, { kexecToolsVersion: "2.0.25" }));
    // kernel: memsz = 14186432 - 0x5000 = 14165952 -> 3459 pages = 0xd83000; first 2 MiB-aligned
    // start >= 1 MiB in [0x100000, 0x7fff6fff] is 0x200000. The RNG seed then takes 1 MiB.
    expect(layout(p)).toEqual([
      ["setup", 0x3000, 0x6000],
      ["setup_data", 0x100000, 0x1000],
      ["kernel", 0x200000, 0xd83000],
      ["purgatory", 0x7fff7000, 0x9000],
    ]);
    expect(seg(p, "kernel").placement.source).toContain("from 2.0.30");
  });

  it("the initrd goes top-down below initrd_addr_max (0x7fffffff here), from 16 MiB", () => {
    const initrd = new Uint8Array(5 * MiB + 123);
    const p = planLoad(base(NO64, { initrd }));
    // The purgatory holds [0x7fff7000, 0x80000000): the initrd ends below it, page-aligned down.
    const i = seg(p, "initrd");
    expect(i.mem).toBe(Math.floor((0x7fff6fff - (5 * MiB + 4096) + 1) / 4096) * 4096);
    expect(p.initrd).toEqual({ start: i.mem, end: i.mem + initrd.length });
    // A lower initrd_addr_max (protocol 2.03+) is honoured: 0x0fffffff.
    const low = variant((dv) => {
      dv.setUint16(0x236, dv.getUint16(0x236, true) & ~1, true);
      dv.setUint32(0x22c, 0x0fffffff, true);
    });
    const q = planLoad(base(low, { initrd }));
    expect(seg(q, "initrd").mem + seg(q, "initrd").memsz - 1).toBeLessThanOrEqual(0x0fffffff);
    // ... and caps the kernel too: min(DEFAULT_BZIMAGE_ADDR_MAX, initrd_addr_max).
    expect(seg(q, "kernel").placement.window.max).toBe(0x10000000);
  });

  it("--real-mode: purgatory and setup below 640 KiB, the whole setup code plus its heap, no RNG seed", () => {
    const p = planLoad(base(NO64, { x86Entry: "real-mode", append: undefined }));
    // heap_end_ptr 0x5be0 > 0x5000: kern16_size_needed 0x5be0, heap alignDown(0xfffc - 0x5be0, 0x200) =
    // 0xa400 -> 0xffe0; setup_size 0xffe0 + 1 + 64 = 0x10021 -> 0x11000 at 0x3000.
    // purgatory: top-down in [0x3000, 0xa0000]: alignDown(0x9fbff - 0x9000 + 1) = 0x96000.
    expect(layout(p)).toEqual([
      ["setup", 0x3000, 0x11000],
      ["purgatory", 0x96000, 0x9000],
      ["kernel", 0x1000000, 0x3378000],
    ]);
    expect(p.kernelEntry).toBe(0x3200); // (0x3000 >> 4) + 0x20 : 0
    expect(segmentBufszOf(seg(p, "setup"))).toBe(0x10021);
  });

  it("--entry-32bit on a bzImage64 uses the same loader", () => {
    const p = planLoad(base(AMD64, { x86Entry: "32bit" }));
    const q = planLoad(base(NO64));
    expect(layout(p)).toEqual(layout(q));
  });

  it("a kernel that is not relocatable goes to KERN32_BASE and its purgatory below 640 KiB", () => {
    const p = planLoad(base(NOT_RELOC));
    expect(seg(p, "kernel")).toMatchObject({ mem: 0x100000 });
    expect(seg(p, "kernel").placement.direction).toBe("fixed");
    expect(seg(p, "purgatory").mem).toBe(0x96000);
  });

  it('dies "Could not put setup code above the kernel parameters" when only a higher hole takes the setup', () => {
    // Low RAM [0x3000, 0x10000) takes the purgatory (0x9000) at 0x7000; the setup (0x6000) fits only
    // in [0x20000, 0x26000), above it.
    const memoryMap = ramMap([
      [0x3000, 0x10000],
      [0x20000, 0x26000],
      [0x100000, 0x40000000],
    ]);
    const e = fail(() => planLoad(base(NOT_RELOC, { iomem: undefined, memoryMap })));
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.detail).toContain("Could not put setup code above the kernel parameters");
  });

  it("crash loads: every segment in the crash region; refused with --real-mode or a fixed kernel", () => {
    const crashRegion = { start: 0x20000000, end: 0x30000000 };
    const p = planLoad(base(NO64, { crash: true, crashRegion, acpiRsdp: 0xf5a30 }));
    for (const s of p.segments) {
      expect(s.mem).toBeGreaterThanOrEqual(crashRegion.start);
      expect(s.mem + s.memsz).toBeLessThanOrEqual(crashRegion.end);
    }
    expect(seg(p, "kernel").mem).toBe(0x20000000);
    expect(p.cmdline).toMatch(/^console=ttyS0 acpi_rsdp=0xf5a30 elfcorehdr=\d+K$/);
    expect(fail(() => planLoad(base(NO64, { crash: true, crashRegion, x86Entry: "real-mode" }))).code).toBe(
      "E_KERNEL_UNSUPPORTED",
    );
    expect(fail(() => planLoad(base(NOT_RELOC, { crash: true, crashRegion }))).detail).toContain(
      "not relocatable",
    );
  });

  it("a command line longer than cmdline_size is refused", () => {
    expect(fail(() => planLoad(base(NO64, { append: "x".repeat(2047) }))).code).toBe("E_CMDLINE_TOO_LONG");
  });

  it("fast-check: any RAM layout gives a load inside every window that the kernel's checks accept, or E_NO_HOLE", () => {
    const h = parseBzImage(NO64);
    let placed = 0;
    fc.assert(
      fc.property(
        // A low bank (pages below 640 KiB) and banks from 1 MiB up, in pages: gap, length.
        fc.tuple(fc.integer({ min: 0, max: 0x20 }), fc.integer({ min: 1, max: 0x9f })),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 0x8000 }), fc.integer({ min: 1, max: 0x40000 })), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.constantFrom("2.0.25", "2.0.32"),
        fc.boolean(),
        ([lowGap, lowLen], banks, version, realMode) => {
          const ranges: [number, number][] = [[lowGap * 4096, Math.min(lowGap + lowLen, 0x9f) * 4096]];
          let at = 0x100;
          for (const [gap, len] of banks) {
            const s = (at + gap) * 4096;
            ranges.push([s, s + len * 4096]);
            at += gap + len + 1;
          }
          if (ranges[0]![1] <= ranges[0]![0]) ranges.shift();
          const input = base(NO64, {
            iomem: undefined,
            memoryMap: ramMap(ranges),
            kexecToolsVersion: version,
            initrd: new Uint8Array(3 * MiB),
            ...(realMode ? { x86Entry: "real-mode" as const } : {}),
          });
          let p: Plan;
          try {
            p = planLoad(input);
          } catch (e) {
            expect(e).toBeInstanceOf(KexecLabError);
            expect((e as KexecLabError).code).toBe("E_NO_HOLE");
            return;
          }
          const setup = seg(p, "setup");
          const purg = seg(p, "purgatory");
          const kernel = seg(p, "kernel");
          const initrd = seg(p, "initrd");
          expect(setup.mem).toBeGreaterThanOrEqual(0x3000);
          expect(setup.mem + setup.memsz - 1).toBeLessThanOrEqual(0xa0000);
          expect(purg.mem).toBeGreaterThanOrEqual(setup.mem);
          expect(purg.mem + purg.memsz - 1).toBeLessThanOrEqual(realMode ? 0xa0000 : 0x7fffffff);
          expect(kernel.mem % h.kernelAlignment).toBe(0);
          expect(kernel.mem).toBeGreaterThanOrEqual(version === "2.0.32" ? h.prefAddress : 0x100000);
          expect(kernel.mem + kernel.memsz - 1).toBeLessThanOrEqual(0x37ffffff);
          expect(initrd.mem).toBeGreaterThanOrEqual(16 * MiB);
          expect(initrd.mem + initrd.memsz - 1).toBeLessThanOrEqual(h.initrdAddrMax);
          const v = validateLoad({
            arch: "x86_64",
            pageSize: 4096,
            ramBytes: BigInt(p.memoryMap.ramBytes),
            segments: p.segments.map((s) => ({
              mem: BigInt(s.mem),
              memsz: BigInt(s.memsz),
              bufsz: BigInt(segmentBufszOf(s)),
            })),
          });
          // The kernel's checks pass, except its half-of-RAM rule on a small machine.
          if (!v.ok) expect(v.check).toBe("segment_pages");
          else placed++;
        },
      ),
      { seed: 1414, numRuns: 300 },
    );
    // The generator must reach the placement, not only E_NO_HOLE.
    expect(placed).toBeGreaterThan(100);
  });
});

describe("bzImage64 (do_bzImage64_load): pref_address from kexec-tools 2.0.30 (07a6217)", () => {
  it("64 MiB of RAM: 2.0.25 puts the kernel below 16 MiB top-down; 2.0.32 may not, and finds no hole", () => {
    // RAM [1 MiB, 64 MiB): purgatory (0x9000) and setup (0x6000) top-down first, then the kernel
    // (init_size 0x3378000, 2 MiB-aligned) at alignDown(0x3ff4fff - 0x3378000 + 1, 2 MiB) = 0xc00000.
    const memoryMap = ramMap([[0x100000, 0x4000000]]);
    const old = planLoad(base(AMD64, { iomem: undefined, memoryMap, kexecToolsVersion: "2.0.25" }));
    expect(seg(old, "kernel").mem).toBe(0xc00000);
    expect(seg(old, "kernel").placement.window.min).toBe(0x100000);
    const e = fail(() => planLoad(base(AMD64, { iomem: undefined, memoryMap, kexecToolsVersion: "2.0.32" })));
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.detail).toContain("within [0x1000000,");
  });
});

describe("auto (kexec -l) and kexec_file_load", () => {
  it("kexec-tools 2.0.27+: kexec_file_load fails with ENOEXEC, kexec-tools falls back to kexec_load", () => {
    const p = planLoad({ ...base(NO64), loader: "auto", kexecToolsVersion: "2.0.32" });
    expect(p.loader).toBe("kexec-tools");
    expect(p.selection).toMatch(/ENOEXEC.*falls back to kexec_load/);
    expect(seg(p, "setup").placement.source).toContain("do_bzImage_load");
  });

  it("kexec-tools 2.0.25: kexec_load only", () => {
    const p = planLoad({ ...base(NO64), loader: "auto", kexecToolsVersion: "2.0.25" });
    expect(p.loader).toBe("kexec-tools");
    expect(p.selection).not.toContain("ENOEXEC");
  });

  it("kexec_file_load alone: the kernel's bzImage64_probe refuses it with ENOEXEC", () => {
    const e = fail(() => planLoad({ ...base(NO64), loader: "kexec-file" }));
    expect(e.code).toBe("E_KERNEL_UNSUPPORTED");
    expect(e.detail).toContain("ENOEXEC");
  });
});

const TMP = testTempDir("bzimage32");

/** The i386 head padded with zeros to the whole file's recorded size (what placement reads of it). */
function i386Padded(): Uint8Array {
  const head = new Uint8Array(readFileSync(I386_HEAD));
  const size = Number(/^size: (\d+)$/m.exec(I386_TXT)?.[1]);
  const out = new Uint8Array(size);
  out.set(head);
  return out;
}

describe("a real i386 bzImage (tinyconfig, scripts/fixtures/build-i386-bzimage.sh)", () => {
  const head = new Uint8Array(readFileSync(I386_HEAD));
  const field = (k: string) =>
    /^(\S+): (.*)$/m.exec(I386_TXT.split("\n").find((l) => l.startsWith(`${k}:`)) ?? "")?.[2];

  it("its header: no XLF_KERNEL_64, relocatable, LOADED_HIGH; init_size as the build recorded", () => {
    const h = parseBzImage(head, I386_HEAD);
    expect(h.kernel64).toBe(false);
    expect(h.xloadflags).toBe(0);
    expect(h.relocatable).toBe(true);
    expect(h.loadflags & 1).toBe(1);
    expect(h.setupSize).toBe(head.length);
    expect(h.initSize).toBe(Number(field("init_size")));
    expect(bzImage64Probe(h)).toBe(false);
    expect(bzImageProbe(h)).toBe(true);
  });

  it.skipIf(!have("file"))("file(1) agrees: a bzImage (LOADED_HIGH) and the same version string", () => {
    const out = execFileSync("file", ["-b", I386_HEAD], { encoding: "utf8" }).trim();
    const h = parseBzImage(head, I386_HEAD);
    expect(out).toMatch(/^Linux kernel x86 boot executable bzImage, version /);
    expect(out).toContain(`version ${h.kernelVersion},`);
    // The same as file(1) printed for the whole file when it was built.
    expect(out).toBe(field("file"));
  });

  it("plans with auto (2.0.32): ENOEXEC from kexec_file_load, then the 32-bit loader from pref_address", () => {
    const h = parseBzImage(head, I386_HEAD);
    // The setup code alone is a truncated kernel (syssize says 749 KiB): padded to the recorded size.
    expect(fail(() => planLoad({ ...base(head), loader: "auto" })).code).toBe("E_FORMAT_TRUNCATED");
    const p = planLoad({ ...base(i386Padded()), loader: "auto", kexecToolsVersion: "2.0.32" });
    expect(p.selection).toContain("ENOEXEC");
    const k = seg(p, "kernel");
    // Bottom-up from max(1 MiB, pref_address 16 MiB), 2 MiB-aligned, memsz init_size rounded.
    expect(k.mem).toBe(Math.ceil(Math.max(0x100000, h.prefAddress) / h.kernelAlignment) * h.kernelAlignment);
    expect(k.memsz).toBe(Math.ceil(h.initSize / 4096) * 4096);
    expect(p.kernelEntry).toBe(k.mem);
    expect(p.verdict.ok).toBe(true);
  });

  it.skipIf(!existsSync(I386_FULL))(
    "the whole file (where the build script left it): bufsz and 2.0.25's memsz",
    () => {
      const full = new Uint8Array(readFileSync(I386_FULL));
      expect(full.length).toBe(Number(field("size")));
      expect(Buffer.compare(Buffer.from(full.subarray(0, head.length)), Buffer.from(head))).toBe(0);
      const p = planLoad(base(full, { kexecToolsVersion: "2.0.32" }));
      expect(segmentBufszOf(seg(p, "kernel"))).toBe(full.length - head.length);
      // 2.0.25: memsz is the protected-mode part (749 KiB - 16 KiB), bottom-up from 1 MiB at 2 MiB alignment.
      const q = planLoad(base(full, { kexecToolsVersion: "2.0.25" }));
      expect(seg(q, "kernel")).toMatchObject({
        mem: 0x200000,
        memsz: Math.ceil((full.length - head.length) / 4096) * 4096,
      });
    },
  );
});

describe("the command lines", () => {
  it("kexec's --real-mode / --entry-32bit / --args-* parse as kexec-tools takes them", () => {
    expect(parseKexecArgs(["-l", "k", "--real-mode"]).x86Entry).toBe("real-mode");
    expect(parseKexecArgs(["-l", "k", "--entry-32bit"]).x86Entry).toBe("32bit");
    // bzImage64_load: --real-mode wins when both are given.
    expect(parseKexecArgs(["-l", "k", "--real-mode", "--entry-32bit"]).x86Entry).toBe("real-mode");
    expect(parseKexecArgs(["-l", "k", "--args-linux"]).elfArgs).toBe("linux");
    expect(parseKexecArgs(["-l", "k", "--args-none"]).elfArgs).toBe("none");
  });

  it("plan --real-mode --json on the i386 bzImage (its head padded to its size)", async () => {
    const padded = join(TMP, "bzImage-i386");
    writeFileSync(padded, i386Padded());
    const r = await runCli([
      "plan",
      "--arch",
      "x86_64",
      "--kernel",
      padded,
      "--iomem",
      dataFile("x86_64-cloud-vm.txt"),
      "--loader",
      "kexec-tools",
      "--real-mode",
      "--purgatory",
      "debian-trixie",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { segments: { kind: string; mem: string }[] };
    expect(j.segments.map((s) => s.kind)).toEqual(["setup", "purgatory", "kernel"]);
    expect(j.segments[0]!.mem).toBe("0x3000");
  });
});
