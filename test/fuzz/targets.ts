/**
 * The fuzz targets: one table entry per parser or command (name, seeds, function under test).
 * Seeds are the real files of the test data (test/helpers/data.ts: committed or in the data cache, read
 * in place, never copied) plus small generated inputs. Used by test/fuzz/fuzz.test.ts (the CI budget) and scripts/fuzz.ts (`npm run fuzz`).
 *
 * A target's `run` must return, or throw a KexecLabError; anything else is a crash. CLI targets also
 * fail the case when the exit code is not 0, 1 or 2, or when the CLI reports an internal error.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "fflate";
import { CATALOG, type ErrorCode, KexecLabError, REFUSAL_CODES } from "../../src/errors.js";
import { parseArm64Image } from "../../src/formats/arm64-image.js";
import { parseBzImage } from "../../src/formats/bzimage.js";
import { detectCompression } from "../../src/formats/compression.js";
import { decompress } from "../../src/formats/decompress.js";
import { inspectBytes } from "../../src/formats/detect.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../../src/formats/devicetree.js";
import { parseElf64 } from "../../src/formats/elf.js";
import { parseFdt, serializeFdt } from "../../src/formats/fdt.js";
import { iomemToMemoryMap, parseIomem } from "../../src/formats/iomem.js";
import { parsePe, peSectionData } from "../../src/formats/pe.js";
import { peFile, zbootFile } from "../../src/formats/synth.js";
import { unwrapKernel } from "../../src/formats/unwrap.js";
import { parseZboot } from "../../src/formats/zboot.js";
import type { FuzzSeed, FuzzTarget } from "../../src/fuzz/harness.js";
import { HTML_PROBE_SCRIPT, HTML_PROBE_TAG } from "../../src/fuzz/mutate.js";
import { kexecLoad } from "../../src/kimage/load.js";
import { validateLoad } from "../../src/kimage/validate.js";
import { editDtbKexecTools } from "../../src/loader/dtb-edit.js";
import { type PlanInput, planLoad } from "../../src/loader/plan.js";
import { Machine } from "../../src/machine/machine.js";
import { MemoryMap } from "../../src/machine/memmap.js";
import type { PageSize } from "../../src/machine/physmem.js";
import { makeTempDir, type TempDir } from "../../src/node/tmp.js";
import { runScenario } from "../../src/reloc/run.js";
import { renderHtmlReport } from "../../src/report/html.js";
import { loadRunResult } from "../../src/report/result-schema.js";
import { loadScenario, toRelocScenario } from "../../src/scenario/load.js";
import { toSafeNumber } from "../../src/scenario/numbers.js";
import { parseJson, parseLoadRequest } from "../../src/scenario/validate-input.js";
import { peCertificateTable } from "../../src/signature/pe-hash.js";
import { type TrustedCert, trustedCertsFromFile, verifyKernelSignature } from "../../src/signature/verify.js";
import { fakeIo, runCli } from "../helpers/cli.js";
import { dataFile } from "../helpers/data.js";

/**
 * A real input file of the test data (a key of test/fixtures/data-manifest.json); a missing file throws
 * (test/helpers/data.ts: vitest's globalSetup and `npm run fuzz` fetch them first).
 */
function realFile(key: string, maxBytes?: number): FuzzSeed[] {
  const path = dataFile(key);
  const bytes = new Uint8Array(readFileSync(path));
  return [{ name: key, bytes: maxBytes !== undefined ? bytes.subarray(0, maxBytes) : bytes }];
}

const enc = new TextEncoder();
const dec = new TextDecoder();
function jsonSeed(name: string, value: unknown): FuzzSeed {
  return { name, bytes: enc.encode(JSON.stringify(value, null, 1)) };
}

// ---- in-process CLI ------------------------------------------------------------------------------

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export { fakeIo, runCli };

/** A crash as the fuzz harness sees it: not a KexecLabError. */
export class CliCrash extends Error {
  override name = "CliCrash";
}

let scratch: TempDir | null = null;
/** A per-process scratch directory for CLI inputs (removed by disposeScratchDir, and at exit). */
export function scratchDir(): string {
  if (scratch === null) scratch = makeTempDir("kexec-lab-fuzz");
  return scratch.path;
}

/**
 * Remove the scratch directory now. Test files call it in afterAll: a vitest fork may be ended
 * without running its exit hooks, which would leave the directory behind.
 */
export function disposeScratchDir(): void {
  scratch?.dispose();
  scratch = null;
}

/**
 * Run a CLI command on `bytes` written to a file. Exit codes 0, 1, 2 are answers; anything else, an
 * internal error, or a non-JSON stdout under --json is a crash.
 */
export async function cliCase(
  args: (file: string) => string[],
  bytes: Uint8Array,
  ext: string,
): Promise<CliRun> {
  const file = join(scratchDir(), `input.${ext}`);
  writeFileSync(file, bytes);
  const r = await runCli(args(file));
  if (r.code !== 0 && r.code !== 1 && r.code !== 2) throw new CliCrash(`exit code ${r.code}`);
  if (r.err.includes("E_INTERNAL")) throw new CliCrash(r.err.split("\n")[0] ?? r.err);
  surfaceCatalogued(r);
  if (args(file).includes("--json")) {
    try {
      JSON.parse(r.out);
    } catch {
      throw new CliCrash(`--json printed something that is not one JSON document: ${r.out.slice(0, 200)}`);
    }
  }
  return r;
}

/**
 * A catalogued error the CLI printed, surfaced to the harness as that KexecLabError: exit 2 for bad
 * input, exit 1 for a refusal the real kexec would make too (REFUSAL_CODES). Exit 2 without a
 * catalogued line, or an error line with the other exit code, is a crash.
 */
function surfaceCatalogued(r: CliRun): void {
  const m = /kexec-lab: error\[(E_[A-Z0-9_]+)\]: (.*)/.exec(r.err);
  if (m !== null && m[1]! in CATALOG) {
    const code = m[1] as ErrorCode;
    const want = REFUSAL_CODES.has(code) ? 1 : 2;
    if (r.code !== want) throw new CliCrash(`${code} exited ${r.code}, not ${want}`);
    throw new KexecLabError(code, m[2]!);
  }
  if (r.code === 2) {
    if (/^error: /m.test(r.err)) throw new KexecLabError("E_USAGE", r.err.trim());
    throw new CliCrash(`exit 2 without a catalogued error line: ${r.err.slice(0, 200)}`);
  }
}

// ---- seeds ---------------------------------------------------------------------------------------

export function loadRequestSeeds(): FuzzSeed[] {
  return [
    jsonSeed("load-arm64", {
      arch: "arm64",
      pageSize: 4096,
      ramBytes: "64M",
      segments: [
        { mem: "0x40200000", memsz: "0x20000", bufsz: 70000 },
        { mem: "0x40400000", memsz: 8192, bufsz: 5000 },
        { mem: "0x40600000", memsz: 4096, bufsz: 4096 },
      ],
    }),
    jsonSeed("load-arm64-64k", {
      arch: "arm64",
      pageSize: 65536,
      ramBytes: "0x4000000",
      segments: [{ mem: "0x40000000", memsz: "256K", bufsz: 1000 }],
      flags: 0,
      permitted: true,
    }),
    jsonSeed("load-x86-crash", {
      arch: "x86_64",
      pageSize: 4096,
      ramBytes: "64M",
      segments: [{ mem: "0x1000000", memsz: 16384, bufsz: 100 }],
      crash: { start: "0x1000000", end: "0x1ffffff" },
      entry: "0x1000000",
      x86Levels: 5,
    }),
  ];
}

/** RAM base of the simulated machine the `load` target builds from a validate request. */
const RAM_BASE = { arm64: 0x40000000, x86_64: 0x100000 } as const;

/** validate's input, then kexec_load on a machine with that much RAM (tiny segments: fast cases). */
export function loadOnMachine(bytes: Uint8Array): void {
  const req = parseLoadRequest(parseJson(dec.decode(bytes)));
  const verdict = validateLoad(req);
  if (!verdict.ok) return;
  const base = RAM_BASE[req.arch];
  const ram = toSafeNumber(req.ramBytes, "ramBytes");
  const machine = new Machine({
    arch: req.arch,
    pageSize: req.pageSize as PageSize,
    memoryMap: MemoryMap.fromRam([{ start: base, end: base + ram - (ram % req.pageSize) }]),
    contentMode: "synthetic",
    maxBytes: 256 * 2 ** 20,
  });
  const segments = req.segments.map((s, i) => ({
    mem: toSafeNumber(s.mem, `segments[${i}].mem`),
    memsz: toSafeNumber(s.memsz, `segments[${i}].memsz`),
    content: {
      kind: "synthetic" as const,
      seed: i + 1,
      bufsz: toSafeNumber(s.bufsz, `segments[${i}].bufsz`),
    },
  }));
  const crash = req.crash;
  kexecLoad(
    machine,
    segments,
    crash !== undefined
      ? {
          crashRegion: {
            start: toSafeNumber(crash.start, "crash.start"),
            end: toSafeNumber(crash.end + 1n, "crash.end"),
          },
        }
      : {},
  );
}

// ---- generated seeds ------------------------------------------------------------------------------

function put32(b: Uint8Array, at: number, v: number, le = true): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(at, v >>> 0, le);
}
function put64(b: Uint8Array, at: number, v: number): void {
  put32(b, at, v % 0x100000000);
  put32(b, at + 4, Math.floor(v / 0x100000000));
}

/** A small arm64 Image without EFI stub: text_offset 0, image_size 1 MiB, LE, 4K, place anywhere; 64 KiB. */
export function smallArm64Image(): Uint8Array {
  const b = new Uint8Array(64 * 1024);
  put32(b, 0, 0x14000010); // code0: b to the kernel (no EFI stub, so no PE header)
  put32(b, 4, 0);
  put64(b, 8, 0);
  put64(b, 0x10, 1024 * 1024);
  put64(b, 0x18, 0xa);
  put32(b, 0x38, 0x644d5241);
  put32(b, 0x3c, 0x40);
  return b;
}

/** A minimal ELF64 executable with two PT_LOAD segments (machine `em`). */
export function smallElf64(em: number): Uint8Array {
  const b = new Uint8Array(0x3000);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELFCLASS64, LSB, EV_CURRENT
  b[16] = 2; // ET_EXEC
  b[18] = em;
  put32(b, 20, 1);
  put64(b, 24, 0x40080000); // e_entry
  put64(b, 32, 64); // e_phoff
  put64(b, 40, 0); // e_shoff
  b[52] = 64; // e_ehsize
  b[54] = 56; // e_phentsize
  b[56] = 2; // e_phnum
  for (let i = 0; i < 2; i++) {
    const ph = 64 + i * 56;
    put32(b, ph, 1); // PT_LOAD
    put32(b, ph + 4, i === 0 ? 5 : 6);
    put64(b, ph + 8, 0x1000 * (i + 1)); // p_offset
    put64(b, ph + 16, 0x40080000 + i * 0x200000); // p_vaddr
    put64(b, ph + 24, 0x40080000 + i * 0x200000); // p_paddr
    put64(b, ph + 32, 0x1000); // p_filesz
    put64(b, ph + 40, 0x2000 + i * 0x1000); // p_memsz
    put64(b, ph + 48, 0x1000); // p_align
  }
  return b;
}

function elfSeeds(): FuzzSeed[] {
  return [
    { name: "gen-elf-aarch64", bytes: smallElf64(183) },
    { name: "gen-elf-x86_64", bytes: smallElf64(62) },
    // A real ELF64 from this machine, if there is one (not a kernel, but a real file nobody here wrote).
    ...(existsSync("/bin/true")
      ? [{ name: "/bin/true", bytes: new Uint8Array(readFileSync("/bin/true")) }]
      : []),
  ];
}

const DTBS = ["qemu-virt-4g", "juno", "apm-mustang", "fvp-base-revc", "thunder2-99xx"].map((n) => `${n}.dtb`);
const IOMEMS = ["arm64-qemu-virt-4g.txt", "x86_64-cloud-vm.txt"];
const ARM64_IMAGE = "debian-6.1.0-50-cloud-arm64.Image";
const BZIMAGE = "debian-6.1.0-56-cloud-amd64.bzImage";

const dtbSeeds = () => DTBS.flatMap((f) => realFile(f));
const iomemSeeds = () => IOMEMS.flatMap((f) => realFile(f));
const fdtHints = {
  endian: "be" as const,
  fieldOffsets: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 56],
};
const imageHints = { fieldOffsets: [0, 4, 8, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x3c, 0x40, 0x44, 0x80] };
const bzHints = {
  fieldOffsets: [
    0x1f1, 0x1f4, 0x1fe, 0x202, 0x206, 0x211, 0x214, 0x218, 0x21c, 0x22c, 0x230, 0x234, 0x235, 0x236, 0x238,
    0x248, 0x24c, 0x250, 0x258, 0x260, 0x264, 0x268,
  ],
};
const elfHints = {
  fieldOffsets: [
    4, 5, 16, 18, 24, 32, 40, 52, 54, 56, 58, 60, 62, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136,
  ],
};

/** Tiny scenarios (a few pages per segment) so `run` cases stay fast. */
export function tinyScenarioSeeds(): FuzzSeed[] {
  const MiB = 1024 * 1024;
  return [
    jsonSeed("scenario-arm64-4k", {
      name: "tiny-arm64",
      machine: {
        arch: "arm64",
        pageSize: 4096,
        vaBits: 48,
        memoryMap: [
          { start: "0x40000000", end: "0x44000000", type: "ram" },
          { start: "0x40200000", end: "0x40400000", type: "reserved", name: "Kernel code" },
        ],
      },
      segments: [
        { label: "kernel", mem: "0x40800000", memsz: "64K", bufsz: 60000 },
        { label: "initrd", mem: "0x40a00000", memsz: "32K" },
        { label: "dtb", mem: "0x40c00000", memsz: "4K" },
      ],
      freePages: "lowest",
      seed: 1,
      contentMode: "exact",
    }),
    jsonSeed("scenario-arm64-64k", {
      name: "tiny-arm64-64k",
      machine: { arch: "arm64", pageSize: "64K", vaBits: 42, ram: [{ start: "0x80000000", size: 32 * MiB }] },
      segments: [
        { label: "kernel", mem: "0x80400000", memsz: "256K" },
        { label: "dtb", mem: "0x80800000", memsz: "64K" },
      ],
      strategies: ["mmu-off", "va-copy", { name: "linear-map-copy", linearMap: "page" }],
      freePages: { kind: "random", seed: 3 },
      contentMode: "synthetic",
    }),
    jsonSeed("scenario-x86", {
      name: "tiny-x86",
      machine: {
        arch: "x86_64",
        memoryMap: [
          { start: "0x1000", end: "0x9f000", type: "ram" },
          { start: "0x100000", end: "0x4000000", type: "ram" },
        ],
      },
      segments: [
        { label: "params", mem: "0x2000000", memsz: "8K" },
        { label: "kernel", mem: "0x3000000", memsz: "64K", bufsz: 50000 },
      ],
      strategies: ["x86-ident", { name: "x86-ident", x86Swap: true }],
      freePages: { kind: "fragmented", seed: 2, fraction: 0.5 },
      seed: 9,
    }),
  ];
}

function scenarioRun(bytes: Uint8Array): void {
  const sc = loadScenario(parseJson(dec.decode(bytes)), "", "fuzz");
  // Files are not read here: the file-reading paths have their own targets.
  const rs = toRelocScenario(sc);
  rs.maxBytes = 256 * 2 ** 20;
  runScenario(rs, { strategies: sc.strategies.map((s) => s.name) });
}

/** `run --json` results of the tiny scenarios: the report's input. */
function runResultSeeds(): FuzzSeed[] {
  return tinyScenarioSeeds().map((seed) => {
    const sc = loadScenario(parseJson(dec.decode(seed.bytes)), "", seed.name);
    const out = runScenario(toRelocScenario(sc), { strategies: sc.strategies.map((s) => s.name) });
    if (!out.ok) throw new Error(`seed scenario ${seed.name} was refused`);
    return jsonSeed(`result-${seed.name}`, out.result);
  });
}

/** The HTML report of a (mutated) run result; markup from the input must come out escaped. */
function reportCase(bytes: Uint8Array): void {
  const html = renderHtmlReport(loadRunResult(parseJson(dec.decode(bytes)), "result.json"), {
    chartJs: "/* chart.js */",
    subtitle: HTML_PROBE_SCRIPT,
  });
  for (const probe of ["<script>kexecLabProbe", "<img src=x", HTML_PROBE_TAG]) {
    if (html.includes(probe)) throw new CliCrash(`unescaped input in the HTML report: ${probe}`);
  }
}

const I386_BZIMAGE = fileURLToPath(new URL("../fixtures/bzimage32/bzImage-i386-tiny.head", import.meta.url));

/**
 * Kernels for kexec-tools' 32-bit bzImage loader and x86_64 ELF loader: the Debian bzImage with
 * XLF_KERNEL_64 cleared, the real i386 tinyconfig bzImage's setup code, a small x86_64 ELF.
 */
function x86LoaderSeeds(): FuzzSeed[] {
  return [
    ...realFile(BZIMAGE).map((s) => {
      const b = s.bytes.slice();
      if (b.length > 0x237) b[0x236]! &= ~1;
      return { name: "kernel:bzImage32-derived", bytes: b };
    }),
    ...(existsSync(I386_BZIMAGE)
      ? [{ name: "kernel:bzImage-i386-tiny", bytes: new Uint8Array(readFileSync(I386_BZIMAGE)) }]
      : []),
    { name: "kernel:gen-elf-x86_64", bytes: smallElf64(62) },
  ];
}

/** Which role a plan seed plays; the other inputs stay the real, unmutated files. */
function planSeeds(): FuzzSeed[] {
  return [
    ...realFile(ARM64_IMAGE).map((s) => ({ ...s, name: `kernel:${s.name}` })),
    ...realFile(BZIMAGE).map((s) => ({ ...s, name: `kernel:${s.name}` })),
    ...x86LoaderSeeds(),
    { name: "kernel:gen-image", bytes: smallArm64Image() },
    ...dtbSeeds().map((s) => ({ ...s, name: `dtb:${s.name}` })),
    ...iomemSeeds().map((s) => ({ ...s, name: `iomem:${s.name}` })),
  ];
}

let planFixed: {
  image: Uint8Array;
  bz: Uint8Array;
  dtb: Uint8Array;
  iomemArm: string;
  iomemX86: string;
} | null = null;
function planFixedInputs() {
  planFixed ??= {
    image: smallArm64Image(),
    bz: realFile(BZIMAGE)[0]!.bytes,
    dtb: realFile("qemu-virt-4g.dtb")[0]!.bytes,
    iomemArm: dec.decode(realFile("arm64-qemu-virt-4g.txt")[0]!.bytes),
    iomemX86: dec.decode(realFile("x86_64-cloud-vm.txt")[0]!.bytes),
  };
  return planFixed;
}

function planCase(bytes: Uint8Array, seedName: string): void {
  const fixed = planFixedInputs();
  const [role, name] = seedName.split(":") as [string, string];
  let input: PlanInput;
  if (role === "kernel") {
    const x86 = name.includes("bzImage") || name.includes("x86_64");
    input = x86
      ? { arch: "x86_64", kernel: bytes, kernelName: name, iomem: fixed.iomemX86, append: "console=ttyS0" }
      : {
          arch: "arm64",
          kernel: bytes,
          kernelName: name,
          dtb: fixed.dtb,
          append: "console=ttyAMA0",
          wipeKaslrSeed: true,
        };
  } else if (role === "dtb") {
    input = {
      arch: "arm64",
      kernel: fixed.image,
      dtb: bytes,
      dtbName: name,
      initrd: new Uint8Array(8192),
      wipeKaslrSeed: true,
    };
  } else {
    const x86 = name.includes("x86");
    input = x86
      ? { arch: "x86_64", kernel: fixed.bz, iomem: dec.decode(bytes), iomemName: name }
      : {
          arch: "arm64",
          kernel: fixed.image,
          dtb: fixed.dtb,
          iomem: dec.decode(bytes),
          iomemName: name,
          wipeKaslrSeed: true,
        };
  }
  planLoad(input);
  planLoad({ ...input, loader: input.arch === "arm64" ? "kexec-file" : "kexec-tools", crash: false });
  if (role === "kernel" && input.arch === "x86_64") {
    // The 32-bit loader's real-mode path and the ELF loader's --args-linux path, on kexec_load.
    const x86Entry = name.includes("elf") ? undefined : ("real-mode" as const);
    planLoad({
      ...input,
      loader: "kexec-tools",
      ...(x86Entry ? { x86Entry } : { elfArgs: "linux" as const }),
    });
  }
}

/** Seeds for the CLI `plan`/`inspect` targets: small files only (each case writes its input to disk). */
function smallFileSeeds(): FuzzSeed[] {
  return [
    { name: "kernel:gen-image", bytes: smallArm64Image() },
    { name: "kernel:gen-elf", bytes: smallElf64(183) },
    ...dtbSeeds().map((s) => ({ ...s, name: `dtb:${s.name}` })),
    ...iomemSeeds().map((s) => ({ ...s, name: `iomem:${s.name}` })),
  ];
}

let cliFixed: { image: string; dtb: string } | null = null;
function cliFixedFiles() {
  if (cliFixed === null) {
    const image = join(scratchDir(), "fixed-Image");
    writeFileSync(image, smallArm64Image());
    cliFixed = { image, dtb: dataFile("qemu-virt-4g.dtb") };
  }
  return cliFixed;
}

// ---- wrapped kernels: PE, zboot, UKI, compressed ---------------------------------------------------

/** Output cap for the decompression targets: small, so a mutated length cannot make a case slow. */
const FUZZ_MAX_OUTPUT = 8 * 1024 * 1024;
const SYSTEMD_STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/** `tool args` on `input` when the tool exists (seeds from the real compressors), else nothing. */
function compressedBy(name: string, tool: string, args: string[], input: Uint8Array): FuzzSeed[] {
  const r = spawnSync(tool, args, { input, maxBuffer: 16 * 1024 * 1024 });
  return r.status === 0 && r.stdout.length > 0 ? [{ name, bytes: new Uint8Array(r.stdout) }] : [];
}

/** A small kernel-like payload: the generated Image plus some text, 64 KiB. */
function payload(): Uint8Array {
  const b = smallArm64Image();
  for (let i = 0x1000; i < b.length; i++) b[i] = (i * 31 + (i >> 7)) & 0xff;
  return b;
}

export function compressedSeeds(): FuzzSeed[] {
  const p = payload();
  return [
    { name: "gzip:fflate", bytes: gzipSync(p) },
    ...compressedBy("zstd", "zstd", ["-q", "-c"], p),
    ...compressedBy("xz", "xz", ["-c", "--check=crc32"], p),
    ...compressedBy("lz4", "lz4", ["-q", "-c"], p),
    ...compressedBy("lz4-legacy", "lz4", ["-l", "-q", "-c"], p),
    ...compressedBy("lzma", "lzma", ["-9", "-c"], p),
  ];
}

export function zbootSeeds(): FuzzSeed[] {
  const p = payload();
  const zstd = compressedBy("zstd", "zstd", ["-q", "-c", "--no-content-size"], p);
  return [
    { name: "zboot-gzip", bytes: zbootFile(gzipSync(p), "gzip", p.length) },
    ...zstd.map((s) => ({ name: "zboot-zstd22", bytes: zbootFile(s.bytes, "zstd22", p.length) })),
    ...compressedBy("lzma", "lzma", ["-9", "-c"], p).map((s) => ({
      name: "zboot-lzma",
      bytes: zbootFile(s.bytes, "lzma", p.length),
    })),
  ];
}

export function peSeeds(): FuzzSeed[] {
  const enc8 = (t: string) => new TextEncoder().encode(t);
  return [
    {
      name: "uki-synth",
      bytes: peFile({
        machine: 0xaa64,
        sections: [
          { name: ".text", data: new Uint8Array(0x400), characteristics: 0x60000020 },
          { name: ".osrel", data: enc8("ID=debian\n") },
          { name: ".cmdline", data: enc8("console=ttyAMA0") },
          { name: ".uname", data: enc8("6.1.0") },
          { name: ".linux", data: smallArm64Image() },
          { name: ".initrd", data: new Uint8Array(4096).fill(7) },
        ],
      }),
    },
    ...realFile(ARM64_IMAGE, 64 * 1024).map((s) => ({ ...s, name: "image-pe-64k" })),
    ...(existsSync(SYSTEMD_STUB)
      ? [{ name: "systemd-stub", bytes: new Uint8Array(readFileSync(SYSTEMD_STUB)) }]
      : []),
  ];
}

/**
 * Signed PE files, small: a synthetic PE with one .text section and, appended as its certificate table,
 * the real WIN_CERTIFICATE (Debian's PKCS#7) of the Debian bzImage; so mutations reach the PKCS#7
 * parser, the chain and trust checks (against the Debian CA) and the image hash.
 */
export function signedPeSeeds(): FuzzSeed[] {
  const real = realFile(BZIMAGE)[0]?.bytes;
  if (real === undefined) return [];
  const e = peCertificateTable(real, parsePe(real)).entries[0]!;
  const cert = real.subarray(e.offset, e.offset + ((e.length + 7) & ~7));
  const pe = peFile({
    machine: 0x8664,
    sections: [{ name: ".text", data: new Uint8Array(0x600).fill(0x90) }],
  });
  const b = new Uint8Array(pe.length + cert.length);
  b.set(pe);
  b.set(cert, pe.length);
  const dir = parsePe(pe).dataDirectoryOffset + 4 * 8;
  new DataView(b.buffer).setUint32(dir, pe.length, true);
  new DataView(b.buffer).setUint32(dir + 4, cert.length, true);
  return [{ name: "pe-with-debian-pkcs7", bytes: b }];
}

let debianCa: TrustedCert[] | undefined;
const DEBIAN_CA = fileURLToPath(new URL("../fixtures/signature/debian-secure-boot-ca.pem", import.meta.url));

const peHints = {
  fieldOffsets: [0, 0x3c, 0x40, 0x44, 0x46, 0x54, 0x56, 0x58, 0x70, 0x148, 0x150, 0x154, 0x158, 0x15c, 0x170],
};
const zbootHints = {
  fieldOffsets: [0, 4, 8, 12, 0x18, 0x3c, 0x40, 0x44, 0x46, 0x54, 0x58, 0x150, 0x178, 0x17c, 0x200, 0x400],
};

// ---- the table -----------------------------------------------------------------------------------

export const TARGETS: FuzzTarget[] = [
  {
    name: "pe",
    description:
      "parsePe + every section's data on a synthetic UKI, the real Image's PE header and systemd's stub",
    seeds: peSeeds,
    hints: peHints,
    run: (bytes) => {
      const pe = parsePe(bytes, "file.efi");
      for (const s of pe.sections) peSectionData(bytes, s, "file.efi");
    },
  },
  {
    name: "signature",
    description:
      "verifyKernelSignature (certificate table, PKCS#7, chain, trust against the Debian CA, image hash) on a small PE carrying Debian's real signature",
    seeds: signedPeSeeds,
    hints: { fieldOffsets: [0x3c, 0x46, 0x98, 0xc4, 0xe8, 0xec, 0x154, 0x800, 0x804, 0x806, 0x808, 0x80a] },
    ciCases: 3000,
    run: async (bytes) => {
      debianCa ??= await trustedCertsFromFile(
        new Uint8Array(readFileSync(DEBIAN_CA)),
        DEBIAN_CA,
        ".platform",
      );
      await verifyKernelSignature(bytes, debianCa, "signed.efi");
    },
  },
  {
    name: "zboot",
    description: "parseZboot + unwrapKernel (payload decompressed, capped at 8 MiB) on zboot-shaped files",
    seeds: zbootSeeds,
    hints: zbootHints,
    run: async (bytes) => {
      parseZboot(bytes, "vmlinuz.efi");
      await unwrapKernel(bytes, "vmlinuz.efi", { maxOutput: FUZZ_MAX_OUTPUT });
    },
  },
  {
    name: "decompress",
    description:
      "decompress (gzip, zstd, xz, lz4 frame and legacy, lzma) on streams made by the real tools, capped at 8 MiB",
    seeds: compressedSeeds,
    hints: { fieldOffsets: [0, 4, 5, 6, 8, 12, 16] },
    run: async (bytes, seed) => {
      const method = detectCompression(bytes) ?? (seed.split(":")[0] as Parameters<typeof decompress>[1]);
      await decompress(bytes, method, { file: "k", maxOutput: FUZZ_MAX_OUTPUT });
    },
  },
  {
    name: "unwrap",
    description: "unwrapKernel on UKIs, zboot and compressed kernels (layers nested), capped at 8 MiB",
    seeds: () => [...peSeeds().slice(0, 1), ...zbootSeeds(), ...compressedSeeds()],
    hints: { fieldOffsets: [...peHints.fieldOffsets, ...zbootHints.fieldOffsets] },
    run: async (bytes) => {
      const u = await unwrapKernel(bytes, "kernel", { maxOutput: FUZZ_MAX_OUTPUT });
      if (u.layers.length > 0) inspectBytes(u.kernel, "inner");
    },
  },
  {
    name: "image",
    description:
      "parseArm64Image on the real Debian arm64 Image (mutated in place) and a small generated one",
    seeds: () => [...realFile(ARM64_IMAGE), { name: "gen-image", bytes: smallArm64Image() }],
    hints: imageHints,
    run: (bytes) => parseArm64Image(bytes, "Image"),
  },
  {
    name: "bzimage",
    description: "parseBzImage on the real Debian x86_64 bzImage (mutated in place) and its first 64 KiB",
    seeds: () => [
      ...realFile(BZIMAGE),
      ...realFile(BZIMAGE, 64 * 1024).map((s) => ({ ...s, name: "bz-64k" })),
    ],
    hints: bzHints,
    run: (bytes) => parseBzImage(bytes, "bzImage"),
  },
  {
    name: "elf",
    description: "parseElf64 on generated arm64/x86_64 kernels-shaped ELFs and a real ELF64 binary",
    seeds: elfSeeds,
    hints: elfHints,
    run: (bytes) => parseElf64(bytes, "vmlinux"),
  },
  {
    name: "fdt",
    description: "parseFdt, deviceTreeInfo, deviceTreeMemoryMap, kexec-tools DTB edits and serializeFdt",
    seeds: dtbSeeds,
    hints: fdtHints,
    run: (bytes) => {
      const fdt = parseFdt(bytes, "board.dtb");
      const info = deviceTreeInfo(fdt);
      try {
        deviceTreeMemoryMap(info);
      } finally {
        serializeFdt(
          editDtbKexecTools(fdt, {
            cmdline: "console=ttyAMA0",
            initrd: { start: 0x48000000, end: 0x48100000 },
            seed: 1,
            wipeKaslrSeed: true,
          }).fdt,
        );
      }
    },
  },
  {
    name: "iomem",
    description: "parseIomem + iomemToMemoryMap on the real /proc/iomem dumps",
    seeds: iomemSeeds,
    hints: { fieldOffsets: [0, 8, 9, 17, 18, 19, 20] },
    run: (bytes) => iomemToMemoryMap(parseIomem(dec.decode(bytes), "iomem")),
  },
  {
    name: "inspect",
    description: "inspectBytes (kind detection + every parser) on all real files",
    seeds: () => [
      ...realFile(ARM64_IMAGE),
      ...realFile(BZIMAGE),
      ...dtbSeeds(),
      ...iomemSeeds(),
      { name: "gen-elf", bytes: smallElf64(183) },
    ],
    hints: { fieldOffsets: [...imageHints.fieldOffsets, ...bzHints.fieldOffsets, ...fdtHints.fieldOffsets] },
    run: (bytes) => inspectBytes(bytes, "file"),
  },
  {
    name: "validate",
    description: "parseLoadRequest + validateLoad (the validate command's library path)",
    kind: "json",
    seeds: loadRequestSeeds,
    run: (bytes) => validateLoad(parseLoadRequest(parseJson(dec.decode(bytes)))),
  },
  {
    name: "load",
    description: "validate's input, then kexecLoad on a simulated machine of that RAM size",
    kind: "json",
    seeds: loadRequestSeeds,
    run: loadOnMachine,
  },
  {
    name: "scenario",
    description: "loadScenario + toRelocScenario on the example scenarios and tiny ones",
    kind: "json",
    seeds: () => [
      ...tinyScenarioSeeds(),
      ...[
        "qemu-virt-4g",
        "pc-4g-x86_64",
        "juno-16k-random",
        "qemu-virt-iomem-fragmented",
        "debian-arm64-files",
      ]
        .map((n) => fileURLToPath(new URL(`../../examples/${n}.json`, import.meta.url)))
        .filter((p) => existsSync(p))
        .map((p) => ({ name: p.replace(/.*\//, ""), bytes: new Uint8Array(readFileSync(p)) })),
    ],
    run: (bytes) => {
      const sc = loadScenario(parseJson(dec.decode(bytes)), "", "fuzz");
      if (sc.files === undefined && sc.memory.kind === "map") toRelocScenario(sc);
    },
  },
  {
    name: "run",
    description: "loadScenario + runScenario (every strategy, simulated MMU, verification) on tiny scenarios",
    kind: "json",
    seeds: tinyScenarioSeeds,
    run: scenarioRun,
  },
  {
    name: "report",
    description: "loadRunResult + renderHtmlReport on mutated run results; input markup must be escaped",
    kind: "json",
    seeds: runResultSeeds,
    run: reportCase,
  },
  {
    name: "plan",
    description: "planLoad (kexec-tools and kexec_file rules) with one of kernel, DTB or iomem mutated",
    seeds: planSeeds,
    hints: { fieldOffsets: [...imageHints.fieldOffsets, ...bzHints.fieldOffsets, ...fdtHints.fieldOffsets] },
    run: planCase,
  },
  {
    name: "cli-validate",
    description: "kexec-lab validate FILE --json",
    kind: "json",
    seeds: loadRequestSeeds,
    run: (bytes) => cliCase((f) => ["validate", f, "--json"], bytes, "json"),
  },
  {
    name: "cli-inspect",
    description: "kexec-lab inspect FILE --json on small real and generated files",
    seeds: smallFileSeeds,
    hints: { fieldOffsets: [...imageHints.fieldOffsets, ...fdtHints.fieldOffsets] },
    run: (bytes) => cliCase((f) => ["inspect", f, "--json"], bytes, "bin"),
  },
  {
    name: "cli-run",
    description:
      "kexec-lab run with mutated options (the default scenario, synthetic contents; 300 cases in CI)",
    kind: "json",
    ciCases: 300,
    ciCaseMs: 60_000,
    seeds: () =>
      [
        ["run", "--json", "--content", "synthetic"],
        ["run", "--arch", "x86_64", "--content", "synthetic", "--free-pages", "random:3", "--x86-swap"],
        [
          "run",
          "--granule",
          "64k",
          "--content",
          "synthetic",
          "--va-bits",
          "42",
          "--strategy",
          "mmu-off,va-copy",
        ],
        ["--max-memory", "256M", "run", "--content", "shared", "--free-pages", "fragmented:0.5", "--json"],
      ].map((args, i) => jsonSeed(`args-${i}`, args)),
    run: async (bytes) => {
      const args = parseJson(dec.decode(bytes));
      if (!Array.isArray(args)) return;
      const argv = args.map((a) =>
        typeof a === "string" ? a : typeof a === "number" || typeof a === "boolean" ? String(a) : "[]",
      );
      // Keep every case small: synthetic contents unless the case asks otherwise, never --timings.
      if (!argv.includes("--content")) argv.push("--content", "synthetic");
      const r = await runCli(argv.filter((a) => a !== "--timings" && a !== "--html"));
      if (r.code !== 0 && r.code !== 1 && r.code !== 2) throw new CliCrash(`exit code ${r.code}`);
      if (r.err.includes("E_INTERNAL")) throw new CliCrash(r.err.split("\n")[0] ?? r.err);
      surfaceCatalogued(r);
    },
  },
  {
    name: "cli-plan",
    description: "kexec-lab plan --json with one of kernel, DTB or iomem mutated",
    seeds: smallFileSeeds,
    hints: { fieldOffsets: [...imageHints.fieldOffsets, ...fdtHints.fieldOffsets] },
    run: (bytes, seedName) => {
      const fixed = cliFixedFiles();
      const role = seedName.split(":")[0];
      return cliCase(
        (f) => [
          "plan",
          "--arch",
          "arm64",
          "--kernel",
          role === "kernel" ? f : fixed.image,
          ...(role === "iomem" ? ["--iomem", f] : ["--dtb", role === "dtb" ? f : fixed.dtb]),
          "--append",
          "console=ttyAMA0",
          "--wipe-kaslr-seed",
          "--json",
        ],
        bytes,
        "bin",
      );
    },
  },
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined)
    throw new Error(`no fuzz target "${name}" (have ${TARGETS.map((x) => x.name).join(", ")})`);
  return t;
}
