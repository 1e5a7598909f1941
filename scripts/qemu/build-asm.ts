/**
 * Assemble the project's bare-metal routines (asm/) with Debian's binutils and write the bytes, with the
 * symbol offsets the emitter needs, to src/emit/generated/*.ts. The generated files are committed, so
 * the library (and the browser build) never needs a toolchain; test/qemu/asm.test.ts reassembles and
 * checks that the committed bytes are still what the sources produce.
 *
 *   npx tsx scripts/qemu/build-asm.ts           write src/emit/generated/
 *   npx tsx scripts/qemu/build-asm.ts --check   exit 1 when the committed files are stale
 *
 * Tools: aarch64-linux-gnu-{as,ld,objcopy,nm} (binutils-aarch64-linux-gnu) and the host's x86 binutils
 * (as --32, ld -m elf_i386, nm), or x86_64-linux-gnu-* when present.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSyncOwned } from "../../src/node/child.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface AssembledRoutine {
  /** Flat bytes (arm64) or the whole ELF32 file (x86_64). */
  bytes: Uint8Array;
  /** Symbol -> offset from the start of `bytes`'s load address. */
  symbols: Record<string, number>;
  /** x86_64: file offset of the params block inside the ELF. */
  paramsFileOffset?: number;
  /** x86_64: link (and load) address. */
  linkAddress?: number;
}

function tool(name: string, x86 = false): string {
  if (!x86) return `aarch64-linux-gnu-${name}`;
  try {
    execFileSyncOwned(`x86_64-linux-gnu-${name}`, ["--version"], { stdio: "ignore" });
    return `x86_64-linux-gnu-${name}`;
  } catch {
    return name;
  }
}

function run(cmd: string, args: string[]): string {
  return execFileSyncOwned(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function symbolsOf(nm: string, elf: string, base: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of run(nm, [elf]).split("\n")) {
    const m = /^([0-9a-f]+) ([TtDdBb]) (\w+)$/.exec(line.trim());
    if (m === null || m[3]!.startsWith("_")) continue;
    out[m[3]!] = Number.parseInt(m[1]!, 16) - base;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function assembleArm64(): AssembledRoutine {
  const dir = mkdtempSync(join(tmpdir(), "kexec-asm-"));
  try {
    const obj = join(dir, "reloc.o");
    const elf = join(dir, "reloc.elf");
    const bin = join(dir, "reloc.bin");
    run(tool("as"), ["-o", obj, join(ROOT, "asm/arm64/reloc.S")]);
    run(tool("ld"), ["-Ttext=0", "-e", "reloc_entry", "-o", elf, obj]);
    run(tool("objcopy"), ["-O", "binary", elf, bin]);
    return { bytes: new Uint8Array(readFileSync(bin)), symbols: symbolsOf(tool("nm"), elf, 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const X86_LINK_ADDRESS = 0x100000;

/** x86: link twice (stripped for the bytes, unstripped for the symbols) and find the text file offset. */
export function assembleX86WithSymbols(): AssembledRoutine {
  const dir = mkdtempSync(join(tmpdir(), "kexec-asm-"));
  try {
    const obj = join(dir, "boot.o");
    const elf = join(dir, "boot.elf");
    run(tool("as", true), ["--32", "-o", obj, join(ROOT, "asm/x86_64/boot.S")]);
    run(tool("ld", true), [
      "-m",
      "elf_i386",
      "-N",
      "--build-id=none",
      `-Ttext=0x${X86_LINK_ADDRESS.toString(16)}`,
      "-e",
      "_start",
      "-o",
      elf,
      obj,
    ]);
    const symbols = symbolsOf(tool("nm", true), elf, X86_LINK_ADDRESS);
    run(tool("strip", true), ["-s", elf]);
    const bytes = new Uint8Array(readFileSync(elf));
    const textOffset = elfTextFileOffset(bytes);
    return {
      bytes,
      symbols,
      linkAddress: X86_LINK_ADDRESS,
      paramsFileOffset: textOffset + symbols.params!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** File offset of the single PT_LOAD segment of an ELF32 file. */
function elfTextFileOffset(elf: Uint8Array): number {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) === 1) return dv.getUint32(p + 4, true);
  }
  throw new Error("no PT_LOAD segment");
}

function objectLiteral(o: Record<string, number>): string {
  return `{\n${Object.entries(o)
    .map(([k, v]) => `  ${k}: ${v},\n`)
    .join("")}}`;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function wrap(s: string, width = 100): string {
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += width) lines.push(`  "${s.slice(i, i + width)}"`);
  return lines.join(" +\n");
}

export function renderArm64(r: AssembledRoutine): string {
  return `// Generated by scripts/qemu/build-asm.ts from asm/arm64/reloc.S. Do not edit.

/** The A64 relocation routine, position independent; load it at a page boundary and start at reloc_entry. */
export const ARM64_RELOC_BASE64 =
${wrap(base64(r.bytes))};

export const ARM64_RELOC_SIZE = ${r.bytes.length};

/** Symbol offsets from the start of the routine. */
export const ARM64_RELOC_SYMBOLS = ${objectLiteral(r.symbols)} as const;
`;
}

export function renderX86(r: AssembledRoutine): string {
  return `// Generated by scripts/qemu/build-asm.ts from asm/x86_64/boot.S. Do not edit.

/** The x86_64 boot stub: a Multiboot ELF32 file, linked at X86_BOOT_LINK_ADDRESS. */
export const X86_BOOT_ELF_BASE64 =
${wrap(base64(r.bytes))};

export const X86_BOOT_ELF_SIZE = ${r.bytes.length};
export const X86_BOOT_LINK_ADDRESS = 0x${r.linkAddress!.toString(16)};
/** File offset of the parameter block inside the ELF (patched by the emitter). */
export const X86_BOOT_PARAMS_FILE_OFFSET = 0x${r.paramsFileOffset!.toString(16)};

/** Symbol offsets from the link address. */
export const X86_BOOT_SYMBOLS = ${objectLiteral(r.symbols)} as const;
`;
}

export const GENERATED = {
  arm64: join(ROOT, "src/emit/generated/arm64-reloc.ts"),
  x86: join(ROOT, "src/emit/generated/x86-boot.ts"),
};

function mainScript(): void {
  const check = process.argv.includes("--check");
  const outputs: [string, string][] = [
    [GENERATED.arm64, renderArm64(assembleArm64())],
    [GENERATED.x86, renderX86(assembleX86WithSymbols())],
  ];
  let stale = false;
  for (const [path, text] of outputs) {
    let old = "";
    try {
      old = readFileSync(path, "utf8");
    } catch {
      // missing
    }
    if (old === text) continue;
    stale = true;
    if (!check) writeFileSync(path, text);
    process.stdout.write(`${check ? "stale" : "wrote"} ${path}\n`);
  }
  if (check && stale) process.exitCode = 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  mainScript();
}
