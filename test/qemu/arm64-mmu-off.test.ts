/**
 * The kimage relocated on QEMU's arm64 virt machine by the project's A64 routine with the MMU off, for
 * 4K, 16K and 64K pages; QEMU's destination memory must equal the simulator's byte for byte.
 */

import { describe, expect, it } from "vitest";
import { ARM64_PARAM, emitArm64, emitArm64MmuOff, STATUS_DONE } from "../../src/emit/arm64.js";
import { get64 } from "../../src/emit/blobs.js";
import { IND_INDIRECTION } from "../../src/kimage/constants.js";
import { type PageSize, PhysMem } from "../../src/machine/physmem.js";
import {
  expectedSegment,
  loadOrThrow,
  simulatedDestinations,
  smallSegments,
  virtMachine,
} from "./fixtures.js";
import { firstDiff, QEMU_ARM64, requireTool, runEmitted } from "./harness.js";

const haveQemu = requireTool(QEMU_ARM64);

describe.skipIf(!haveQemu)("arm64 mmu-off relocation on QEMU virt", () => {
  for (const pageSize of [4096, 16384, 65536] as PageSize[]) {
    it(`${pageSize / 1024}K pages: QEMU's destinations equal the simulator's`, {
      timeout: 120_000,
    }, async () => {
      const machine = virtMachine(pageSize, 64, { kind: "random", seed: 7 });
      const segments = smallSegments("arm64", 0x40000000 + 8 * 1024 * 1024, 11);
      const image = loadOrThrow(machine, segments);
      expect(image.counters.indirectionPages).toBeGreaterThan(0);
      const emitted = emitArm64MmuOff(image);
      const run = await runEmitted(emitted);
      expect(run.outcome, run.stderr).toBe("shutdown");
      expect(run.reason).toBe("guest-shutdown");
      expect(Number(get64(run.params, ARM64_PARAM.status))).toBe(STATUS_DONE);
      expect(Number(get64(run.params, ARM64_PARAM.pagesCopied))).toBe(image.counters.sourcePages);
      const sim = simulatedDestinations(image);
      segments.forEach((s, i) => {
        expect(firstDiff(sim[i]!, expectedSegment(s)), `simulator, ${s.label}`).toBe(-1);
        expect(firstDiff(run.dumps[i]!, sim[i]!), `QEMU vs simulator, ${s.label}`).toBe(-1);
      });
    });
  }
});

describe.skipIf(!haveQemu)("the harness bounds every run", () => {
  it("an entry list that loops for ever is killed at the hard timeout, its status read first", {
    timeout: 60_000,
  }, async () => {
    const mem = new PhysMem({ pageSize: 4096, ram: [{ start: 0x40000000, end: 0x44000000 }] });
    const page = 0x40400000;
    mem.write64(page, page + IND_INDIRECTION); // the first entry points back at its own page
    const img = emitArm64({
      mem,
      pages: [page],
      routinePage: 0x40200000,
      params: { mode: "mmu-off", pageSize: 4096, head: page + IND_INDIRECTION },
      checks: [],
      description: "looping list",
    });
    const run = await runEmitted(img, { timeoutMs: 3000 });
    expect(run.outcome).toBe("timeout");
    expect(run.seconds).toBeLessThan(30);
    expect(run.params.length).toBe(ARM64_PARAM.size);
    expect(Number(get64(run.params, ARM64_PARAM.status))).not.toBe(STATUS_DONE);
  });
});
