/**
 * Reading the recorded real loads in test/fixtures/recordings/<case>/ (format: README.md there) into
 * a PlanInput and the segments the real kexec-tools or kernel printed.
 */

import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KernelConfig, parseKernelConfig } from "../../src/formats/kconfig.js";
import { describeLayers, unwrapKernel } from "../../src/formats/unwrap.js";
import { parseHostCma } from "../../src/host/cma.js";
import { parseKhoScratch } from "../../src/host/host.js";
import type { PlanInput } from "../../src/loader/plan.js";
import { dataRef } from "./data.js";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const RECORDINGS = join(REPO, "test/fixtures/recordings");

export interface RecordedSegment {
  mem: number;
  memsz: number;
  bufsz: number;
}

export interface RecordedCase {
  id: string;
  dir: string;
  json: {
    id: string;
    arch: "arm64" | "x86_64";
    command: string[];
    syscall: "kexec_load" | "kexec_file_load";
    crash: boolean;
    exitCode: number;
    runningKernel: { file: string; uname?: string };
    kexecTools: { version: string };
    loaded: {
      kernel: { file: string; size: number; sha256?: string; head?: string };
      initrd: { size: number } | null;
      append: string;
    };
  };
  text(name: string): string | undefined;
}

export function recordedCases(): RecordedCase[] {
  if (!existsSync(RECORDINGS)) return [];
  return readdirSync(RECORDINGS)
    .filter(
      (d) => statSync(join(RECORDINGS, d)).isDirectory() && existsSync(join(RECORDINGS, d, "case.json")),
    )
    .sort()
    .map((id) => {
      const dir = join(RECORDINGS, id);
      return {
        id,
        dir,
        json: JSON.parse(readFileSync(join(dir, "case.json"), "utf8")),
        text: (name: string) =>
          existsSync(join(dir, name)) ? readFileSync(join(dir, name), "utf8") : undefined,
      };
    });
}

/** kexec-tools' print_segments block of `kexec -d`, and the entry it printed. */
export function kexecDebugSegments(
  text: string,
): { segments: RecordedSegment[]; entry?: number } | undefined {
  const n = /^nr_segments = (\d+)$/m.exec(text);
  if (!n) return undefined;
  const segments: RecordedSegment[] = [];
  for (let i = 0; i < Number(n[1]); i++) {
    const get = (f: string) => {
      const m = new RegExp(`^segment\\[${i}\\]\\.${f}\\s*= 0x([0-9a-f]+)$`, "m").exec(text);
      if (!m) throw new Error(`segment[${i}].${f} missing`);
      return Number.parseInt(m[1]!, 16);
    };
    segments.push({ mem: get("mem"), memsz: get("memsz"), bufsz: get("bufsz") });
  }
  const e = /kexec_load: entry = 0x([0-9a-f]+)/.exec(text);
  return { segments, ...(e ? { entry: Number.parseInt(e[1]!, 16) } : {}) };
}

/**
 * The kernel's kexec_file segment lines: 6.1's pr_debug "Loading segment N: ... bufsz=0x.. mem=0x..
 * memsz=0x..", or from 6.8 on (with KEXEC_FILE_DEBUG) "segment[N]: buf=... bufsz=0x.. mem=0x.. memsz=0x..".
 */
export function kexecFileSegments(dmesg: string): RecordedSegment[] | undefined {
  const out: RecordedSegment[] = [];
  const line =
    /kexec_file: (?:Loading segment (?<old>\d+):|segment\[(?<new>\d+)\]:) .*bufsz=0x(?<bufsz>[0-9a-f]+) mem=0x(?<mem>[0-9a-f]+) memsz=0x(?<memsz>[0-9a-f]+)/g;
  for (const m of dmesg.matchAll(line)) {
    const g = m.groups!;
    out[Number(g.old ?? g.new)] = {
      bufsz: Number.parseInt(g.bufsz!, 16),
      mem: Number.parseInt(g.mem!, 16),
      memsz: Number.parseInt(g.memsz!, 16),
    };
  }
  return out.length ? out : undefined;
}

/**
 * Kernels the recording keeps only the first 64 KiB of (kernel-head.bin): built artifacts, Debian packages
 * named deb:<package>=<version>:<path>, and testkey: re-signed copies (scripts/record/record.ts).
 */
const HEAD_ONLY = /^(artifact|deb|testkey):/;

/**
 * The kernel file: a data file (`data:<key>`, test/helpers/data.ts), or rebuilt from kernel-head.bin
 * padded to its size (HEAD_ONLY references).
 */
function kernelBytes(c: RecordedCase): Uint8Array {
  const k = c.json.loaded.kernel;
  if (HEAD_ONLY.test(k.file)) {
    const head = readFileSync(join(c.dir, k.head ?? "kernel-head.bin"));
    const out = new Uint8Array(k.size);
    out.set(head.subarray(0, Math.min(head.length, k.size)));
    return out;
  }
  return new Uint8Array(readFileSync(dataRef(k.file)));
}

/**
 * A path to the recorded case's kernel (case.json `loaded.kernel`): the data file for `data:<key>`
 * (test/helpers/data.ts); for a built artifact, the whole file when it is a zboot fixture with the recorded
 * sha256 (test/fixtures/zboot), else its kernel-head.bin padded to its size written to `tmp`.
 */
export function recordedKernelPath(
  dir: string,
  kernel: { file: string; size: number; head?: string; sha256?: string },
  tmp: string,
): string {
  if (!HEAD_ONLY.test(kernel.file)) return dataRef(kernel.file);
  const fixture = join(ZBOOT_FIXTURES, basename(kernel.file));
  if (
    kernel.sha256 !== undefined &&
    existsSync(fixture) &&
    createHash("sha256").update(readFileSync(fixture)).digest("hex") === kernel.sha256
  )
    return fixture;
  const head = readFileSync(join(dir, kernel.head ?? "kernel-head.bin"));
  const bytes = new Uint8Array(kernel.size);
  bytes.set(head.subarray(0, Math.min(head.length, kernel.size)));
  const p = join(tmp, `${dir.split("/").pop()}.kernel`);
  writeFileSync(p, bytes);
  return p;
}

/**
 * The PlanInput that stands for the recorded run. Facts taken from the recording: the memory files,
 * the CPU count (nproc), whether the random pool was ready (dmesg "crng init done"), the ACPI RSDP
 * (dmesg "ACPI: RSDP"), the kexec-tools version (its purgatory preset and syscall choice), and the
 * Debian arm64 6.1 kernel's lack of CONFIG_KEXEC_FILE.
 */
export function recordedPlanInput(c: RecordedCase): PlanInput {
  const j = c.json;
  const cmd = j.command;
  const dmesg = c.text("dmesg.txt") ?? "";
  const input: PlanInput = {
    arch: j.arch,
    kernel: kernelBytes(c),
    kernelName: j.loaded.kernel.file.replace(/^data:/, ""),
    loader: cmd.includes("-s") ? "kexec-file" : cmd.includes("-c") ? "kexec-tools" : "auto",
    kexecToolsVersion: j.kexecTools.version,
    append: j.loaded.append,
    cpus: Number((c.text("nproc.txt") ?? "1").trim()),
    crngReady: /random: crng init done/.test(dmesg),
    kexecDebug: cmd.includes("-d"),
    purgatory: undefined,
    kernelVersion: (j.runningKernel.uname ?? "6.1").replace(/^(\d+\.\d+).*$/, "$1"),
  };
  delete input.purgatory;
  if (j.loaded.initrd) input.initrd = new Uint8Array(j.loaded.initrd.size);
  const iomem = c.text("iomem.txt");
  if (iomem !== undefined) {
    input.iomem = iomem;
    input.iomemName = `${c.id}/iomem.txt`;
  }
  const memmap = c.text("memmap.txt");
  if (memmap !== undefined && j.arch === "x86_64") {
    input.memmap = memmap;
    input.memmapName = `${c.id}/memmap.txt`;
  }
  const mm = c.text("memblock-memory.txt");
  const mr = c.text("memblock-reserved.txt");
  if (mm !== undefined) input.memblockMemory = mm;
  if (mr !== undefined) input.memblockReserved = mr;
  if (existsSync(join(c.dir, "fdt.dtb"))) {
    input.dtb = new Uint8Array(readFileSync(join(c.dir, "fdt.dtb")));
    input.dtbName = `${c.id}/fdt.dtb`;
  }
  if (j.crash) input.crash = true;
  const rsdp = /ACPI: RSDP 0x([0-9A-Fa-f]+)/.exec(dmesg);
  if (rsdp) input.acpiRsdp = Number.parseInt(rsdp[1]!, 16);
  if (j.arch === "arm64" && /debian-6\.1/.test(j.runningKernel.file)) input.kexecFileSyscall = false;
  const config = recordedKernelConfig(c);
  if (config !== undefined) {
    input.kernelConfig = config;
    // a kernel built without kexec_file_load (Debian's arm64 kernels) answers ENOSYS
    if (config.get("KEXEC_FILE") === "n") input.kexecFileSyscall = false;
  }
  Object.assign(input, recordedCma(dmesg, c.text("cma.txt")));
  // KHO on (kho=on): the scratch areas debugfs showed before the load (kho-scratch.txt)
  const kho = c.text("kho-scratch.txt");
  if (kho !== undefined) input.khoScratch = parseKhoScratch(kho, `${c.id}/kho-scratch.txt`);
  return input;
}

/**
 * The running kernel's build config for a case recorded on one of Debian's newer kernels (case.json
 * `runningConfig`), from the trimmed copies in test/fixtures/kernel-configs (README there).
 */
export function recordedKernelConfig(c: RecordedCase): KernelConfig | undefined {
  const ref = (c.json as { runningConfig?: string }).runningConfig;
  // the kernels scripts/record/build-arm64-kernel.sh builds: artifact:kernel-arm64-<series>/config
  const built = ref === undefined ? undefined : /^artifact:kernel-arm64-([\d.]+)\/config$/.exec(ref)?.[1];
  const name =
    built !== undefined
      ? `custom-arm64-${built}`
      : ref === undefined
        ? undefined
        : /([67]\.[\d.]+\+deb\d+-[\w-]+?)(?:\/config)?$/.exec(ref)?.[1];
  if (name === undefined) return undefined;
  const file = join(REPO, "test/fixtures/kernel-configs", `${name}.config`);
  return parseKernelConfig(readFileSync(file, "utf8"), file);
}

/**
 * The default CMA area as the recorded kernel had it at load time: the library's reading of a collected
 * host (src/host/cma.ts parseHostCma: base and size from dmesg's "cma: Reserved N MiB at 0x..." or
 * debugfs, the taken pages from /sys/kernel/mm/cma/NAME in cma.txt), as `--host` gives it.
 */
export function recordedCma(dmesg: string, cmaText: string | undefined): Pick<PlanInput, "cma" | "cmaUsed"> {
  const cma = parseHostCma(cmaText, dmesg);
  if (cma === undefined) return {};
  return { cma: cma.area, ...(cma.used !== undefined && cma.used > 0 ? { cmaUsed: cma.used } : {}) };
}

/** Where the kernel build's zboot images live (test/fixtures/zboot, the files the recordings loaded). */
const ZBOOT_FIXTURES = join(REPO, "test", "fixtures", "zboot");

/**
 * A recorded load of a wrapped kernel (an EFI zboot artifact) whose whole file is a fixture in
 * test/fixtures/zboot with the recorded sha256: `input` gets the kernel inside (unwrapKernel) and the
 * file's format, as the CLI's readPlanFiles gives them. Returns false (input unchanged) otherwise.
 */
export async function useWrappedKernelFixture(c: RecordedCase, input: PlanInput): Promise<boolean> {
  const k = c.json.loaded.kernel;
  if (!k.file.startsWith("artifact:")) return false;
  const path = join(ZBOOT_FIXTURES, basename(k.file));
  if (!existsSync(path)) return false;
  const bytes = new Uint8Array(readFileSync(path));
  if (createHash("sha256").update(bytes).digest("hex") !== k.sha256) return false;
  const u = await unwrapKernel(bytes, k.file);
  input.kernel = u.kernel;
  if (u.layers.length > 0) {
    input.kernelFormat = u.format;
    input.unwrapped = describeLayers(u.layers);
  }
  return true;
}

/** The Debian purgatory preset for the recorded kexec-tools version. */
export function presetFor(version: string): string | undefined {
  return (
    { "2.0.25": "debian-bookworm", "2.0.29": "debian-trixie", "2.0.32": "debian-forky" } as Record<
      string,
      string
    >
  )[version];
}

const RANGE_LINE = /^[0-9a-f]{16}-[0-9a-f]{16} \(\d+\)$/;

function blockOf(lines: string[], first: string): string[] {
  const at = lines.indexOf(first);
  if (at < 0) return [];
  let end = at + 1;
  while (end < lines.length && RANGE_LINE.test(lines[end]!)) end++;
  return lines.slice(at, end);
}

/**
 * The memory ranges `kexec -d` prints as it reads them: x86_64's MEMORY RANGES block (from
 * /sys/firmware/memmap); arm64's get_memory_ranges lines and its "System RAM ranges;" block.
 */
export function memoryRangeLines(text: string, arch: "arm64" | "x86_64"): string[] {
  const lines = text.split("\n");
  if (arch === "x86_64") return blockOf(lines, "MEMORY RANGES");
  return [
    ...lines.filter((l) => l.startsWith("get_memory_ranges:")),
    ...blockOf(lines, "System RAM ranges;"),
  ];
}

/**
 * Recorded loads the replays (loader-recordings, host-collect) cannot match yet, each with its reason;
 * `only` names the one replay a reason applies to. Listed in docs/recording.md too.
 */
export const REPLAY_LEFT_OUT: Record<string, { reason: string; only?: "placement" | "collect" }> = {
  "x86_64-q35-2g-linux-6.12-nodebugflag-kexec_file_load-kexec-tools-2.0.25": {
    reason:
      "from 6.8 the kernel prints its segments only for KEXEC_FILE_DEBUG, which kexec-tools 2.0.25 does not pass: nothing to compare (the --print-segments replay checks that nothing was printed)",
    only: "placement",
  },
  "x86_64-q35-2g-linux-7.3-nodebugflag-kexec_file_load-kexec-tools-2.0.25": {
    reason: "as on 6.12: no segment lines without KEXEC_FILE_DEBUG, nothing to compare",
    only: "placement",
  },
};
