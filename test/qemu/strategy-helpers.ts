/** Scenarios and the QEMU-vs-simulator comparison shared by the strategy tests. */

import { expect } from "vitest";
import { ARM64_PARAM, QEMU_VIRT_RAM_BASE, STATUS_DONE } from "../../src/emit/arm64.js";
import { get64 } from "../../src/emit/blobs.js";
import { compareEmission, type MemoryReader } from "../../src/emit/compare.js";
import type { StrategyEmission } from "../../src/emit/strategy.js";
import { X86_PARAM } from "../../src/emit/x86.js";
import type { Arch } from "../../src/kimage/constants.js";
import type { FreePagePolicy } from "../../src/machine/freepages.js";
import type { PageSize } from "../../src/machine/physmem.js";
import type { RelocScenario } from "../../src/reloc/run.js";
import { pcMachine, smallSegments, virtMachine } from "./fixtures.js";
import { type QemuResult, runEmitted } from "./harness.js";

const MiB = 1024 * 1024;

export function scenario(
  arch: Arch,
  pageSize: PageSize,
  seed: number,
  freePages: FreePagePolicy = { kind: "random", seed },
): RelocScenario {
  const machine =
    arch === "arm64"
      ? virtMachine(pageSize, 64, { kind: "random", seed })
      : pcMachine(128, { kind: "random", seed });
  const base = arch === "arm64" ? QEMU_VIRT_RAM_BASE + 8 * MiB : 32 * MiB;
  return {
    name: `qemu ${arch} ${pageSize / 1024}K`,
    arch,
    pageSize,
    vaBits: 48,
    memoryMap: machine.memoryMap,
    segments: smallSegments(arch, base, seed),
    contentMode: "exact",
    seed,
    freePages,
  };
}

/**
 * Compare QEMU's dumps with the simulator's (compareEmission: streamed, ignoring the routine's own
 * page), reading QEMU's side from the run's dumps of image.checks.
 */
export function compare(e: StrategyEmission, run: QemuResult): string[] {
  const checks = e.image.checks;
  const qemu: MemoryReader = {
    read(addr, out) {
      out.fill(0);
      const i = checks.findIndex((c) => addr >= c.addr && addr + out.length <= c.addr + c.size);
      if (i < 0 || run.dumps[i] === undefined) throw new Error(`no dump of 0x${addr.toString(16)}`);
      out.set(run.dumps[i]!.subarray(addr - checks[i]!.addr, addr - checks[i]!.addr + out.length));
    },
  };
  return compareEmission(e, qemu);
}

export async function runAndCompare(e: StrategyEmission): Promise<{ run: QemuResult; diffs: string[] }> {
  const run = await runEmitted(e.image);
  expect(run.outcome, `${e.image.description}: ${run.stderr}`).toBe("shutdown");
  const statusAt = e.image.target === "qemu-virt-arm64" ? ARM64_PARAM.status : X86_PARAM.status;
  const status = Number(get64(run.params, statusAt));
  if (status !== STATUS_DONE && e.image.target === "qemu-pc-x86_64") {
    throw new Error(`${e.image.description}: the stub did not finish (status 0x${status.toString(16)})`);
  }
  if (status !== STATUS_DONE) {
    throw new Error(
      `${e.image.description}: routine status 0x${status.toString(16)} (ESR 0x${get64(run.params, ARM64_PARAM.faultEsr).toString(16)}, FAR 0x${get64(run.params, ARM64_PARAM.faultFar).toString(16)}, ELR 0x${get64(run.params, ARM64_PARAM.faultElr).toString(16)})`,
    );
  }
  return { run, diffs: compare(e, run) };
}
