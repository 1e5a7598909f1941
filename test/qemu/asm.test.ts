/**
 * The committed routine bytes (src/emit/generated/) are what asm/ assembles to with Debian's binutils,
 * and the parameter-block layout the emitter writes matches the assembly's.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  assembleArm64,
  assembleX86WithSymbols,
  GENERATED,
  renderArm64,
  renderX86,
} from "../../scripts/qemu/build-asm.js";
import { ARM64_PARAM, arm64RoutineWithParams } from "../../src/emit/arm64.js";
import { get64 } from "../../src/emit/blobs.js";
import { ARM64_RELOC_SIZE, ARM64_RELOC_SYMBOLS } from "../../src/emit/generated/arm64-reloc.js";
import { X86_BOOT_PARAMS_FILE_OFFSET } from "../../src/emit/generated/x86-boot.js";
import { X86_PARAM, x86BootWithParams } from "../../src/emit/x86.js";
import { execFileSyncOwned } from "../../src/node/child.js";
import { requireTool } from "./harness.js";

const haveArmAs = requireTool("aarch64-linux-gnu-as");
function haveX86As(): boolean {
  for (const t of ["x86_64-linux-gnu-as", "as"]) {
    try {
      if (/target of `(x86_64|i\d86)/.test(execFileSyncOwned(t, ["--version"], { encoding: "utf8" })))
        return true;
    } catch {
      // not installed
    }
  }
  process.stderr.write("\n*** no x86 assembler: the x86_64 stub reassembly check is SKIPPED ***\n\n");
  return false;
}
const haveX86 = haveX86As();

/** The .set P_* offsets of an assembly source. */
function paramOffsets(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync(path, "utf8").matchAll(/\.set\s+P_(\w+),\s*(0x[0-9a-f]+)/g)) {
    out[m[1]!] = Number.parseInt(m[2]!, 16);
  }
  return out;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

describe("assembled routines", () => {
  it.skipIf(!haveArmAs)("arm64: committed bytes equal a fresh assembly of asm/arm64/reloc.S", () => {
    expect(readFileSync(GENERATED.arm64, "utf8")).toBe(renderArm64(assembleArm64()));
  });
  it.skipIf(!haveX86)("x86_64: committed ELF equals a fresh assembly of asm/x86_64/boot.S", () => {
    expect(readFileSync(GENERATED.x86, "utf8")).toBe(renderX86(assembleX86WithSymbols()));
  });

  it("the parameter offsets in TypeScript match the assembly's", () => {
    const arm = paramOffsets(new URL("../../asm/arm64/reloc.S", import.meta.url).pathname);
    for (const [name, off] of Object.entries(arm)) {
      expect(ARM64_PARAM[camel(name) as keyof typeof ARM64_PARAM], name).toBe(off);
    }
    const x86 = paramOffsets(new URL("../../asm/x86_64/boot.S", import.meta.url).pathname);
    for (const [name, off] of Object.entries(x86)) {
      expect(X86_PARAM[camel(name) as keyof typeof X86_PARAM], name).toBe(off);
    }
    expect(Object.keys(arm).length).toBeGreaterThan(15);
    expect(Object.keys(x86).length).toBe(10);
  });

  it("the routine fits one 4K control page and its vector table is 2K-aligned", () => {
    expect(ARM64_RELOC_SIZE).toBeLessThanOrEqual(4096);
    expect(ARM64_RELOC_SYMBOLS.reloc_start % 2048).toBe(0);
    expect(ARM64_RELOC_SYMBOLS.params + ARM64_PARAM.size).toBeLessThanOrEqual(ARM64_RELOC_SIZE);
  });

  it("parameters land where the routines read them", () => {
    const code = arm64RoutineWithParams({
      mode: "va-copy",
      pageSize: 16384,
      head: 0x4123_4002,
      length: 3 * 16384,
      srcVa: 0xffff000000000000n,
      dstVa: 0xffff800000000000n,
      mmu: { mair: 0x4ff00n, tcr: 0x5b5103510n, ttbr0: 0x40400000n, ttbr1: 0x40404000n },
    });
    const at = ARM64_RELOC_SYMBOLS.params;
    expect(get64(code, at + ARM64_PARAM.mode)).toBe(2n);
    expect(get64(code, at + ARM64_PARAM.pageSize)).toBe(16384n);
    expect(get64(code, at + ARM64_PARAM.dstVa)).toBe(0xffff800000000000n);
    expect(get64(code, at + ARM64_PARAM.tcr)).toBe(0x5b5103510n);
    const elf = x86BootWithParams({ mode: "swap", head: 0x3064002, cr3: 0x5848000, swapPage: 0x1234000 });
    expect(get64(elf, X86_BOOT_PARAMS_FILE_OFFSET + X86_PARAM.mode)).toBe(1n);
    expect(get64(elf, X86_BOOT_PARAMS_FILE_OFFSET + X86_PARAM.cr3)).toBe(0x5848000n);
    expect(() => x86BootWithParams({ mode: "copy", head: 4, cr3: 2 ** 33, swapPage: 0 })).toThrow(
      /below 4 GiB/,
    );
  });
});
