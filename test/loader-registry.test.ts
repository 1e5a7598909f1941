/**
 * The loader laid out as the tools lay theirs out: kexec-tools' file_type[] and the kernel's
 * kexec_file_loaders[] as tables probed in order (src/loader/registry.ts), the machine read once
 * (src/loader/machine-view.ts) and read by the loaders and the crashkernel model alike, and the
 * no-reservation refusal owned by the gates on every gated path.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostMemblock } from "../src/crash/host.js";
import { KexecLabError } from "../src/errors.js";
import type { FileKind } from "../src/formats/detect.js";
import type { KernelFileFormat } from "../src/formats/unwrap.js";
import { GateRefusalError } from "../src/gates/error.js";
import { readHostDir } from "../src/host/node/read.js";
import { hostCrashRegion, hostMachineView, hostPlanFields } from "../src/host/plan.js";
import { acceptance } from "../src/loader/accept.js";
import { kexecFileAcceptance } from "../src/loader/auto.js";
import { addBuffer } from "../src/loader/context.js";
import type { FileType, KernelFile } from "../src/loader/file-ops.js";
import { MachineView, machineView } from "../src/loader/machine-view.js";
import { type PlanInput, planLoad } from "../src/loader/plan.js";
import {
  FILE_TYPES,
  KEXEC_FILE_LOADERS,
  probeFileTypes,
  probeKexecFileLoaders,
} from "../src/loader/registry.js";
import { gatedPlanLoad } from "../src/request/gates.js";
import { dataFile } from "./helpers/data.js";
import { fail } from "./helpers/errors.js";
import { RECORDINGS } from "./helpers/recordings.js";

const read = (p: string) => new Uint8Array(readFileSync(dataFile(p)));
const IMAGE = read("debian-6.1.0-50-cloud-arm64.Image");
const BZIMAGE = read("debian-6.1.0-56-cloud-amd64.bzImage");
const X86_HOST = join(RECORDINGS, "x86_64-q35-2g-kexec_load/collect");
const ARM_HOST = join(RECORDINGS, "arm64-virt-4g-kexec_load/collect");
const ARM_CRASH_HIGH_LOW = join(RECORDINGS, "arm64-virt-4g-linux-6.12-crash-high-low-kexec_load/collect");

const KINDS: (FileKind | undefined)[] = [
  "arm64-image",
  "bzimage",
  "elf64",
  "dtb",
  "iomem",
  "zboot",
  "uki",
  "pe",
  "compressed",
  undefined,
];

function fileOf(bytes: Uint8Array, kind: FileKind | undefined): KernelFile {
  return { bytes, kind, where: { offset: 0 }, parsed: new Map() };
}

describe("the registry: one table per arch and syscall, probed in order", () => {
  it("kexec-tools' file_type[] keeps kexec-tools' names and order", () => {
    expect(FILE_TYPES.arm64.map((t) => t.name)).toEqual(["vmlinux", "Image"]);
    expect(FILE_TYPES.x86_64.map((t) => t.name)).toEqual(["elf-x86_64", "bzImage64", "bzImage"]);
    expect(KEXEC_FILE_LOADERS.arm64.map((o) => o.name)).toEqual(["kexec_image_ops"]);
    expect(KEXEC_FILE_LOADERS.x86_64.map((o) => o.name)).toEqual(["kexec_bzImage64_ops"]);
    expect(KEXEC_FILE_LOADERS.x86_64[0]!.verifySig.config).toBe("CONFIG_KEXEC_BZIMAGE_VERIFY_SIG");
  });

  it("which files kexec_file_load takes is what the kexec_file_loaders' probes say, with their errno", () => {
    for (const arch of ["arm64", "x86_64"] as const) {
      for (const kind of KINDS) {
        const taken = KEXEC_FILE_LOADERS[arch].some((o) => o.probe(kind) === undefined);
        const a = kexecFileAcceptance(arch, kind);
        expect(a.accepted, `${arch} ${kind}`).toBe(taken);
        if (!a.accepted) expect(a.errno).toBe(arch === "arm64" ? "EINVAL" : "ENOEXEC");
      }
    }
    const e = fail(() => probeKexecFileLoaders("x86_64", fileOf(IMAGE, "arm64-image")));
    expect(e.code).toBe("E_SYSCALL_REFUSED");
    expect(e.detail).toMatch(
      /^ENOEXEC: x86_64 kexec_file_load takes a bzImage; bzImage64_probe refuses arm64-image/,
    );
  });

  it("the first file_type whose probe takes the file loads it; none is E_KERNEL_UNSUPPORTED", () => {
    expect(probeFileTypes("x86_64", fileOf(BZIMAGE, "bzimage")).name).toBe("kexec-tools file_type bzImage64");
    expect(probeFileTypes("arm64", fileOf(IMAGE, "arm64-image")).name).toBe("kexec-tools file_type Image");
    const e = fail(() => probeFileTypes("arm64", fileOf(BZIMAGE, "bzimage")));
    expect(e.code).toBe("E_KERNEL_UNSUPPORTED");
    expect(e.detail).toBe("arm64 loads an Image or an ELF64 vmlinux; this file is bzimage");
  });

  it("a new kernel format is one new entry: planLoad probes it like the others", () => {
    // A made-up format: "KLAB" then the kernel bytes, loaded bottom-up as one segment.
    const entry: FileType<Uint8Array> = {
      name: "klab-test",
      source: "test/loader-registry.test.ts",
      probe: (f) =>
        f.bytes[0] === 0x4b && f.bytes[1] === 0x4c && f.bytes[2] === 0x41 && f.bytes[3] === 0x42
          ? f.bytes.subarray(4)
          : undefined,
      load: ({ ctx }, k) => {
        const at = addBuffer(ctx, "kernel", k, k.length, {
          align: 2 * 2 ** 20,
          min: 0,
          max: Number.POSITIVE_INFINITY,
          topDown: false,
          source: "test",
        });
        return { entry: at, kernelEntry: at };
      },
      usage: "",
    };
    const kernel = new Uint8Array(3 * 4096);
    kernel.set([0x4b, 0x4c, 0x41, 0x42]);
    const input: PlanInput = {
      arch: "x86_64",
      loader: "kexec-tools",
      kernel,
      iomem: readFileSync(join(X86_HOST, "iomem.txt"), "utf8"),
    };
    expect(fail(() => planLoad(input)).code).toBe("E_KERNEL_UNSUPPORTED");
    const table = FILE_TYPES.x86_64 as FileType[];
    table.unshift(entry as FileType);
    try {
      const plan = planLoad(input);
      expect(plan.segments.map((s) => [s.label, s.mem % (2 * 2 ** 20), s.memsz])).toEqual([
        ["kernel", 0, kernel.length],
      ]);
    } finally {
      table.shift();
    }
  });
});

describe("the machine view: read once, read by every loader", () => {
  it("parses each text once and only when a loader reads it", () => {
    const host = readHostDir(ARM_HOST);
    const view = hostMachineView(host, "arm64");
    expect(view.texts).toBe(view.texts);
    expect(view.memblockMemory).toBe(view.memblockMemory);
    // A broken memblock dump: kexec_load on arm64 reads /proc/iomem and never the dump; the kernel's
    // kexec_file_load walks memblock and names the broken line.
    const fields = hostPlanFields(host, "arm64", "kexec-tools");
    const input: PlanInput = {
      arch: "arm64",
      kernel: IMAGE,
      ...fields,
      memblockMemory: "not a memblock dump\n",
    };
    expect(planLoad({ ...input, loader: "kexec-tools" }).loader).toBe("kexec-tools");
    const e = fail(() => planLoad({ ...input, loader: "kexec-file" }));
    expect(e.code).toBe("E_FORMAT_CORRUPT");
    expect(e.detail).toMatch(/^memblock memory: expected "N: 0xSTART\.\.0xEND"/);
  });

  it('the crashkernel model and the loaders read the same "Crash kernel" regions', () => {
    const host = readHostDir(ARM_CRASH_HIGH_LOW);
    const fields = hostPlanFields(host, "arm64", "auto");
    const loaders = machineView({ arch: "arm64", ...fields }).crashRegions;
    expect(loaders).toEqual([
      { start: 0xf8000000, end: 0xfc000000 },
      { start: 0x12b600000, end: 0x13b600000 },
    ]);
    expect(hostMemblock(host, "arm64").current).toEqual(loaders);
    expect(hostCrashRegion(host)).toEqual(loaders[1]);
    const plan = planLoad({ arch: "arm64", kernel: IMAGE, ...fields, crash: true, loader: "kexec-tools" });
    expect(plan.crashRegion).toEqual(loaders[1]);
  });

  it("says whether the running kernel holds a reservation", () => {
    const iomem = readFileSync(join(X86_HOST, "iomem.txt"), "utf8");
    expect(new MachineView({ arch: "x86_64", iomem }).crashReserved).toBe(false);
    expect(new MachineView({ arch: "x86_64" }).crashReserved).toBeUndefined();
    expect(
      new MachineView({ arch: "x86_64", iomem, crashRegion: { start: 0x1000000, end: 0x2000000 } })
        .crashReserved,
    ).toBe(true);
  });
});

describe("no crash reservation: the gate's refusal on every gated path", () => {
  const iomem = readFileSync(join(X86_HOST, "iomem.txt"), "utf8");
  const input: PlanInput = { arch: "x86_64", kernel: BZIMAGE, iomem, iomemName: "iomem.txt", crash: true };

  it('an --iomem without a "Crash kernel" line is refused by the crash-reserved gate, no host needed', () => {
    let err: unknown;
    try {
      gatedPlanLoad(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GateRefusalError);
    expect((err as GateRefusalError).refusal).toMatchObject({ gate: "crash-reserved", by: "kexec-tools" });
    expect((err as GateRefusalError).refusal.reason).toContain('no "Crash kernel" in iomem.txt');
  });

  it("systemd's kexec_file_load meets the kernel's crash-region gate instead (EADDRNOTAVAIL)", () => {
    let err: unknown;
    try {
      gatedPlanLoad({ ...input, via: "systemd", loader: "kexec-file" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GateRefusalError);
    expect((err as GateRefusalError).refusal).toMatchObject({ gate: "crash-region", errno: "EADDRNOTAVAIL" });
  });

  it("planLoad without the gates still refuses it, as E_CRASH_NOT_RESERVED", () => {
    const e = fail(() => planLoad(input));
    expect(e).toBeInstanceOf(KexecLabError);
    expect(e.code).toBe("E_CRASH_NOT_RESERVED");
    expect(e.where.file).toBe("iomem.txt");
  });
});

describe("systemd's own kexec_file_load path (systemd PRs 41390 and 42234; from source, not yet recorded)", () => {
  const image: KernelFileFormat = { kind: "arm64-image" };
  const zboot = (compressionName: string): KernelFileFormat => ({
    kind: "zboot",
    compressionName,
    inner: image,
  });
  const compressed = (method: string): KernelFileFormat => ({ kind: "compressed", method, inner: image });
  const path = "systemd:kexec_file_load" as const;

  it("decompresses what kexec_maybe_decompress_kernel recognises and retries once", () => {
    for (const f of [
      compressed("gzip"),
      compressed("xz"),
      compressed("zstd"),
      compressed("lz4"),
      zboot("zstd22"),
    ])
      expect(acceptance("arm64", f, path).outcome, JSON.stringify(f)).toBe("unwrapped");
    expect(acceptance("arm64", zboot("xzkern"), path).unwrap).toEqual([
      "extract the zboot payload and decompress xzkern",
    ]);
  });

  it("passes other compressions through: the kernel's EINVAL stands", () => {
    for (const method of ["bzip2", "lzma", "lzo", "lz4-legacy"]) {
      const a = acceptance("arm64", compressed(method), path);
      expect(a, method).toMatchObject({ outcome: "refused", refusedBy: "kernel", errno: "EINVAL" });
      expect(a.reason).toContain("systemd passes it through unchanged");
    }
  });

  it("refuses a zboot payload it cannot decode (EOPNOTSUPP in systemd, no syscall retried)", () => {
    const a = acceptance("arm64", zboot("lzma"), path);
    expect(a).toMatchObject({ outcome: "refused", refusedBy: "systemd" });
    expect(a.errno).toBeUndefined();
    expect(a.reason).toContain("Unsupported ZBOOT compression type");
  });

  it("unwraps one layer only: a UKI whose .linux is a zboot image is refused by the second call", () => {
    const uki: KernelFileFormat = { kind: "uki", inner: zboot("gzip"), hasInitrd: true };
    const a = acceptance("arm64", uki, path);
    expect(a).toMatchObject({ outcome: "refused", refusedBy: "kernel", errno: "EINVAL" });
    expect(a.unwrap).toEqual(["extract .linux", ".initrd as the initrd"]);
    // kexec-tools 2.0.30+ unwraps both layers (kexec/kexec-uki.c, then the zboot probe).
    expect(acceptance("arm64", uki, "kexec-tools:kexec_file_load", "2.0.32").outcome).toBe("unwrapped");
  });

  it("plan --via systemd: the refusal names systemd", () => {
    const e = fail(() =>
      planLoad({
        arch: "arm64",
        loader: "kexec-file",
        via: "systemd",
        kernel: IMAGE,
        kernelFormat: zboot("lzo"),
        dtb: new Uint8Array(readFileSync(join(ARM_HOST, "fdt.dtb"))),
        iomem: readFileSync(join(ARM_HOST, "iomem.txt"), "utf8"),
      }),
    );
    expect(e.code).toBe("E_KERNEL_UNSUPPORTED");
    expect(e.detail).toMatch(
      /^systemd:kexec_file_load \(systemd\) refuses this kernel: .*Unsupported ZBOOT compression type/,
    );
  });
});

describe("--loader systemd: systemd's caller of kexec_file_load as a loader of its own", () => {
  // A guest whose kernel has kexec_file_load (the custom arm64 build of scripts/record).
  const host = readHostDir(
    join(RECORDINGS, "arm64-virt-4g-kexec_file_load-zboot-gzip-kexec-tools-2.0.29-nodebug/collect"),
  );
  const fields = hostPlanFields(host, "arm64", "systemd");
  const zboot = (compressionName: string): KernelFileFormat => ({
    kind: "zboot",
    compressionName,
    inner: { kind: "arm64-image" },
  });

  it("places as kexec_file_load with systemd's unwrapping rules, and says so", () => {
    const viaSystemd = planLoad({
      arch: "arm64",
      kernel: IMAGE,
      ...fields,
      loader: "kexec-file",
      via: "systemd",
    });
    const plan = planLoad({
      arch: "arm64",
      kernel: IMAGE,
      ...fields,
      loader: "systemd",
      kernelFormat: zboot("gzip"),
    });
    expect(plan.loader).toBe("kexec-file");
    expect(plan.selection).toMatch(/^kexec_file_load \(--loader systemd: systemctl kexec calls it itself/);
    expect(plan.notes.join("\n")).toContain("systemd:kexec_file_load (systemd) unwraps the file first");
    expect(plan.segments.map((s) => [s.label, s.mem, s.memsz])).toEqual(
      viaSystemd.segments.map((s) => [s.label, s.mem, s.memsz]),
    );
    const e = fail(() =>
      planLoad({ arch: "arm64", kernel: IMAGE, ...fields, loader: "systemd", kernelFormat: zboot("lzo") }),
    );
    expect(e.detail).toMatch(/^systemd:kexec_file_load \(systemd\) refuses this kernel/);
  });

  it("meets the gates a systemd caller meets: no kexec-tools crash-reserved check, the kernel's crash-region", () => {
    let err: unknown;
    try {
      gatedPlanLoad({ arch: "arm64", kernel: IMAGE, ...fields, loader: "systemd", crash: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GateRefusalError);
    expect((err as GateRefusalError).refusal).toMatchObject({ gate: "crash-region", errno: "EADDRNOTAVAIL" });
  });
});
