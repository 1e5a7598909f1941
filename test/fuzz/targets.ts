/**
 * The fuzz targets: one table entry per parser or command (name, seeds, function under test).
 * Seeds are the real files in ../shared/data (read in place, never copied) plus small generated
 * inputs. Used by test/fuzz/fuzz.test.ts (the CI budget) and scripts/fuzz.ts (`npm run fuzz`).
 *
 * A target's `run` must return, or throw a KexecLabError; anything else is a crash. CLI targets also
 * fail the case when the exit code is not 0, 1 or 2, or when the CLI reports an internal error.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { CATALOG, type ErrorCode, KexecLabError } from "../../src/errors.js";
import type { FuzzSeed, FuzzTarget } from "../../src/fuzz/harness.js";
import { kexecLoad } from "../../src/kimage/load.js";
import { validateLoad } from "../../src/kimage/validate.js";
import { Machine } from "../../src/machine/machine.js";
import { MemoryMap } from "../../src/machine/memmap.js";
import type { PageSize } from "../../src/machine/physmem.js";
import { toSafeNumber } from "../../src/scenario/numbers.js";
import { parseJson, parseLoadRequest } from "../../src/scenario/validate-input.js";

/** ../shared/data, relative to the repository root. */
export const DATA_DIR = fileURLToPath(new URL("../../../shared/data/", import.meta.url));

/** A real input file, read once; missing files are skipped (the data set is read-only and external). */
function realFile(rel: string, maxBytes?: number): FuzzSeed[] {
  const path = join(DATA_DIR, rel);
  if (!existsSync(path)) return [];
  const bytes = new Uint8Array(readFileSync(path));
  return [{ name: rel, bytes: maxBytes !== undefined ? bytes.subarray(0, maxBytes) : bytes }];
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

export function fakeIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
    isTTY: false,
    stderrTTY: false,
    env: {},
    cwd: process.cwd(),
  };
  return io;
}

export async function runCli(args: string[]): Promise<CliRun> {
  const io = fakeIo();
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}

/** A crash as the fuzz harness sees it: not a KexecLabError. */
export class CliCrash extends Error {
  override name = "CliCrash";
}

let scratch: string | null = null;
/** A per-process scratch directory for CLI inputs (removed at exit). */
export function scratchDir(): string {
  if (scratch === null) {
    scratch = mkdtempSync(join(tmpdir(), "kexec-lab-fuzz-"));
    const dir = scratch;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
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
  if (r.code !== 2 && args(file).includes("--json")) {
    try {
      JSON.parse(r.out);
    } catch {
      throw new CliCrash(`--json printed something that is not one JSON document: ${r.out.slice(0, 200)}`);
    }
  }
  if (r.code === 2) {
    // A refusal: surface it to the harness as the catalogued error the CLI printed.
    const m = /kexec-lab: error\[(E_[A-Z0-9_]+)\]: (.*)/.exec(r.err);
    if (m !== null && m[1]! in CATALOG) throw new KexecLabError(m[1] as ErrorCode, m[2]!);
    if (/^error: /m.test(r.err)) throw new KexecLabError("E_USAGE", r.err.trim());
    throw new CliCrash(`exit 2 without a catalogued error line: ${r.err.slice(0, 200)}`);
  }
  return r;
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

// ---- the table -----------------------------------------------------------------------------------

export const TARGETS: FuzzTarget[] = [
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
    name: "cli-validate",
    description: "kexec-lab validate FILE --json",
    kind: "json",
    seeds: loadRequestSeeds,
    run: (bytes) => cliCase((f) => ["validate", f, "--json"], bytes, "json"),
  },
];

export function target(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (t === undefined)
    throw new Error(`no fuzz target "${name}" (have ${TARGETS.map((x) => x.name).join(", ")})`);
  return t;
}

export { realFile };
