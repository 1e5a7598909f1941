import { ftruncateSync, mkdirSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import {
  ARM64_PARAM,
  type QemuRamFile,
  qemuArm64Args,
  qemuRamBase,
  qemuRamMiB,
  STATUS_DONE,
} from "../../emit/arm64.js";
import { get64 } from "../../emit/blobs.js";
import { compareEmission } from "../../emit/compare.js";
import { haveTool, QEMU_ARM64, QEMU_X86, runEmitted, writeRamImage } from "../../emit/node/qemu.js";
import { fitScenarioForQemu, qemuDemoScenario } from "../../emit/scenario.js";
import { emitStrategy, type StrategyEmission } from "../../emit/strategy.js";
import { qemuX86Args, X86_PARAM } from "../../emit/x86.js";
import { KexecLabError } from "../../errors.js";
import type { PageSize } from "../../machine/physmem.js";
import { formatBytes, hexAddr, renderTable } from "../../report/format.js";
import { loadScenario, toRelocScenario } from "../../scenario/load.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readInputFile, readTextFile, writeOutputFile, writeOutputFileWith } from "../files.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";

const TARGETS = ["qemu-virt-arm64", "qemu-pc-x86_64"] as const;
/** Blobs listed one per row in the text output; the rest are summed up (a scattered kimage has thousands). */
const BLOB_ROWS = 16;
type Target = (typeof TARGETS)[number];

interface EmitOptions {
  target: Target;
  strategy?: string;
  granule: string;
  seed: string;
  scenario?: string;
  linearMap: "block" | "page";
  x86Swap?: boolean;
  x86ClearNx?: boolean;
  out?: string;
  force?: boolean;
  run?: boolean;
  timeout: string;
  json?: boolean;
}

const HELP = `
Writes a bare-metal image of one relocation strategy for QEMU, built from a small seeded scenario
(kernel 4 MiB, initrd 2 MiB, DTB 2 MiB; pages handed out in random order) on a machine laid out like
QEMU's: every RAM page the kimage populated (indirection pages, source pages, control pages with the
strategy's translation tables), the project's relocation routine (asm/arm64/reloc.S in the control
code page; on x86_64 the Multiboot stub asm/x86_64/boot.S), and its parameter block.

--out DIR writes: ram.img (QEMU's RAM as a sparse file: only the populated pages are written, at
PA - RAM base), boot.elf (x86_64), expected.img (the same layout holding the simulator's memory after its
own relocation in every checked range), manifest.json, and run-qemu.sh (QEMU with ram.img as its RAM and
the QMP monitor on stdio, stopped at the end by -no-shutdown so memory can be saved with pmemsave).
--run runs QEMU itself (qemu-system-aarch64 / qemu-system-x86_64), dumps the checked ranges and compares
them with the simulator's, byte for byte.

Exit status: 0 written (and, with --run, QEMU's memory equals the simulator's), 1 a difference or a
QEMU run that did not finish, 2 bad input or a missing tool.

Examples:
  $ kexec-lab emit --target qemu-virt-arm64 --strategy linear-map-copy --granule 16K --run
  $ kexec-lab emit --target qemu-virt-arm64 --strategy va-copy --out /tmp/va-copy-4k
  $ kexec-lab emit --target qemu-pc-x86_64 --x86-swap --x86-clear-nx --run --json
  $ kexec-lab emit --scenario examples/qemu-virt-4g.json --strategy va-copy --run
`;

function parseGranule(s: string, target: Target): PageSize {
  const m: Record<string, PageSize> = {
    "4K": 4096,
    "16K": 16384,
    "64K": 65536,
    "4096": 4096,
    "16384": 16384,
    "65536": 65536,
  };
  const g = m[s.toUpperCase()];
  if (g === undefined) throw new KexecLabError("E_PAGE_SIZE", `granule "${s}"`, { field: "--granule" });
  if (target === "qemu-pc-x86_64" && g !== 4096) {
    throw new KexecLabError("E_PAGE_SIZE", "x86_64 has 4K pages only", { field: "--granule" });
  }
  return g;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KexecLabError("E_JSON_PARSE", (e as Error).message, { file });
  }
}

function parseCount(s: string, field: string): number {
  if (!/^\d+$/.test(s)) throw new KexecLabError("E_USAGE", `"${s}" is not a non-negative integer`, { field });
  return Number(s);
}

/**
 * Write the image as files: ram.img (the RAM image: a sparse file of QEMU's -m bytes, every blob at
 * PA - RAM base, written blob by blob), boot.elf (x86_64), expected.img (the same layout with the
 * simulator's memory after its own relocation in every checked range), manifest.json, run-qemu.sh.
 */
function writeDirectory(dir: string, e: StrategyEmission, force: boolean, qemuBin: string): string[] {
  mkdirSync(dir, { recursive: true });
  const img = e.image;
  const base = qemuRamBase(img);
  const files: string[] = [];
  writeOutputFileWith(join(dir, "ram.img"), (fd) => writeRamImage(fd, img), force);
  files.push("ram.img");
  const blobs = img.blobs.map((b) => ({ addr: hexAddr(b.addr), size: b.bytes.length, label: b.label }));
  if (img.kernelElf !== undefined) {
    writeOutputFile(join(dir, "boot.elf"), img.kernelElf, force);
    files.push("boot.elf");
  }
  writeOutputFileWith(
    join(dir, "expected.img"),
    (fd) => {
      ftruncateSync(fd, qemuRamMiB(img) * 1024 * 1024);
      const chunk = new Uint8Array(1024 * 1024);
      for (const c of img.checks) {
        for (let off = 0; off < c.size; off += chunk.length) {
          const part = chunk.subarray(0, Math.min(chunk.length, c.size - off));
          e.machine.mem.readBytes(c.addr + off, part);
          writeSync(fd, part, 0, part.length, c.addr + off - base);
        }
      }
    },
    force,
  );
  files.push("expected.img");
  const checks = img.checks.map((c) => ({
    label: c.label,
    addr: hexAddr(c.addr),
    size: c.size,
    expected: "expected.img",
    offset: c.addr - base,
  }));
  const args = qemuArgsFor(e, { path: "ram.img", share: false }, "boot.elf");
  const manifest = {
    target: img.target,
    description: img.description,
    qemu: qemuBin,
    args,
    entry: hexAddr(img.entry),
    ramBase: hexAddr(base),
    ramImage: "ram.img",
    params: { addr: hexAddr(img.paramsAddr), size: img.paramsSize, statusDone: hexAddr(STATUS_DONE) },
    blobs,
    checks,
    note: "ram.img and expected.img are sparse: byte PA - ramBase holds PA; only the blobs (ram.img) and the checked ranges (expected.img) are written. The routine's own page (the control code page) holds code and parameters the simulator does not have.",
    controlCodePage: hexAddr(e.kimage.controlCodePage),
  };
  writeOutputFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`, force);
  const script = [
    "#!/bin/sh",
    "# Generated by kexec-lab emit. QMP on stdio: send",
    '#   {"execute":"qmp_capabilities"}  then  {"execute":"cont"}',
    "# and, after the SHUTDOWN event, pmemsave each range of manifest.json's checks",
    "# (ram.img is mapped copy-on-write: the run leaves it as it is).",
    'cd "$(dirname "$0")" || exit 2',
    `exec ${qemuBin} ${args.map((a) => (/^[\w,=.+:/-]+$/.test(a) ? a : `'${a}'`)).join(" ")} -S -qmp stdio`,
    "",
  ].join("\n");
  writeOutputFile(join(dir, "run-qemu.sh"), script, force);
  files.push("manifest.json", "run-qemu.sh");
  return files;
}

function qemuArgsFor(e: StrategyEmission, ram: QemuRamFile, kernel: string): string[] {
  return e.image.target === "qemu-virt-arm64"
    ? qemuArm64Args(e.image, ram)
    : qemuX86Args(e.image, ram, kernel);
}

export function registerEmit(program: Command, ctx: CliContext): Command {
  return program
    .command("emit")
    .description(
      "write a strategy's relocation as a bare-metal image for QEMU, and optionally run and check it",
    )
    .addOption(
      new Option("--target <target>", "QEMU machine").choices([...TARGETS]).default("qemu-virt-arm64"),
    )
    .option(
      "--strategy <name>",
      "mmu-off, linear-map-copy, va-copy, in-place (arm64); x86-ident (x86_64; the default there)",
    )
    .option("--granule <size>", "arm64 translation granule and page size: 4K, 16K or 64K", "4K")
    .option("--seed <n>", "seed of the built-in scenario's contents and free-page order", "1")
    .option(
      "--scenario <file>",
      "a scenario file with explicit segments (docs/scenario.md) instead of the built-in one; its RAM must lie where the target's is",
    )
    .addOption(
      new Option("--linear-map <kind>", "linear-map-copy: block-mapped or page-granular linear map")
        .choices(["block", "page"])
        .default("block"),
    )
    .option("--x86-swap", "x86-ident: pre-6.14 three-copy swap through the swap page")
    .option(
      "--x86-clear-nx",
      "x86_64: clear NX in the emitted copy of the tables (the kernel's identity map is executable)",
    )
    .option("--out <dir>", "write the image files into this directory")
    .option("--force", "overwrite files in --out")
    .option("--run", "run the image on QEMU and compare its memory with the simulator's")
    .option("--timeout <seconds>", "hard limit for one QEMU run", "60")
    .option("--json", "print one JSON document")
    .addHelpText("after", HELP)
    .action(async (opts: EmitOptions) => {
      const arch = opts.target === "qemu-virt-arm64" ? "arm64" : "x86_64";
      const strategy = opts.strategy ?? (arch === "arm64" ? "linear-map-copy" : "x86-ident");
      let pageSize = parseGranule(opts.granule, opts.target);
      let seed = parseCount(opts.seed, "--seed");
      let sc = qemuDemoScenario({ arch, pageSize, seed });
      if (opts.scenario !== undefined) {
        const file = resolve(ctx.io.cwd, opts.scenario);
        const loaded = loadScenario(parseJson(readTextFile(file), file), dirname(file));
        if (loaded.arch !== arch) {
          throw new KexecLabError(
            "E_FIELD_VALUE",
            `the scenario is ${loaded.arch}; target ${opts.target} runs ${arch}`,
            { file, field: "machine.arch" },
          );
        }
        sc = fitScenarioForQemu(toRelocScenario(loaded, readInputFile));
        pageSize = sc.pageSize;
        seed = sc.seed;
      }
      const timeout = parseCount(opts.timeout, "--timeout");
      if (opts.out === undefined && !opts.run) {
        throw new KexecLabError("E_USAGE", "give --out DIR, --run, or both", { field: "--out" });
      }
      const e = emitStrategy({ ...sc, maxBytes: ctx.maxMemory }, strategy, {
        linearMap: opts.linearMap,
        x86Swap: opts.x86Swap === true,
        x86ClearNx: opts.x86ClearNx === true,
        compareAllPages: true,
      });
      const qemuBin = arch === "arm64" ? QEMU_ARM64 : QEMU_X86;
      const files =
        opts.out !== undefined
          ? writeDirectory(resolve(ctx.io.cwd, opts.out), e, opts.force === true, qemuBin)
          : [];

      let run:
        | { outcome: string; status: string; differences: string[]; pagesCopied: number; entriesRead: number }
        | undefined;
      if (opts.run) {
        if (!haveTool(qemuBin)) {
          throw new KexecLabError("E_TOOL_MISSING", `${qemuBin} is not installed`, { field: "--run" });
        }
        // Streamed: each checked range is read back from QEMU's RAM in chunks and compared with the
        // simulator's (compareEmission); the routine's own page is left out on arm64.
        const r = await runEmitted(e.image, {
          timeoutMs: timeout * 1000,
          dumps: false,
          inspect: (mem) => compareEmission(e, mem),
        });
        const status = r.params.length >= 8 ? Number(get64(r.params, 0)) : 0;
        const differences: string[] = [];
        if (r.outcome === "shutdown" && status === STATUS_DONE) {
          differences.push(...(r.inspected ?? []));
        } else {
          differences.push(
            r.outcome !== "shutdown"
              ? `QEMU did not finish (${r.outcome})`
              : `the routine did not finish (status ${hexAddr(status)})`,
          );
        }
        const offsets = arch === "arm64" ? ARM64_PARAM : X86_PARAM;
        const counter = (at: number) => (r.params.length >= at + 8 ? Number(get64(r.params, at)) : 0);
        run = {
          outcome: r.outcome,
          status: hexAddr(status),
          differences,
          pagesCopied: counter(offsets.pagesCopied),
          entriesRead: counter(offsets.entriesRead),
        };
      }

      const verified = run === undefined ? undefined : run.differences.length === 0;
      if (opts.json) {
        printJson(ctx.io, {
          target: e.image.target,
          description: e.image.description,
          strategy,
          pageSize,
          seed,
          simulatorVerified: e.simulatorVerified,
          blobs: e.image.blobs.map((b) => ({ addr: hexAddr(b.addr), size: b.bytes.length })),
          checks: e.image.checks.map((c) => ({ label: c.label, addr: hexAddr(c.addr), size: c.size })),
          ...(opts.out !== undefined ? { out: opts.out, files } : {}),
          ...(run !== undefined
            ? {
                qemu: {
                  outcome: run.outcome,
                  status: run.status,
                  pagesCopied: run.pagesCopied,
                  entriesRead: run.entriesRead,
                  verified,
                  differences: run.differences,
                },
              }
            : {}),
        });
      } else {
        ctx.io.stdout(`${e.image.description} for ${e.image.target} (seed ${seed})\n\n`);
        ctx.io.stdout(
          `${renderTable(
            ["blob", "address", "size"],
            e.image.blobs
              .slice(0, BLOB_ROWS)
              .map((b) => [b.label, hexAddr(b.addr), formatBytes(b.bytes.length)]),
          )}\n${
            e.image.blobs.length > BLOB_ROWS
              ? `... and ${e.image.blobs.length - BLOB_ROWS} more blobs: ${e.image.blobs.length} in all, ${formatBytes(e.image.blobs.reduce((n, b) => n + b.bytes.length, 0))} of populated pages\n`
              : ""
          }`,
        );
        if (opts.out !== undefined) ctx.io.stdout(`\nwrote ${files.length} files to ${opts.out}\n`);
        if (run !== undefined) {
          ctx.io.stdout(
            verified
              ? `\nQEMU: ${run.pagesCopied} pages copied, ${e.image.checks.length} ranges equal the simulator's byte for byte\n`
              : `\nQEMU: MISMATCH\n${run.differences.map((d) => `  ${d}`).join("\n")}\n`,
          );
        }
      }
      ctx.exitCode = verified === false ? EXIT_REFUSED : EXIT_OK;
    });
}
