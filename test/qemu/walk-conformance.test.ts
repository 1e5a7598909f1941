/**
 * Walk conformance: random mappings -> tables built by src/mmu in RAM (some descriptors then broken on
 * purpose) -> the A64 routine loads from chosen VAs on QEMU with the MMU on -> every load's value, or
 * its fault (ESR DFSC, FAR), must equal what the simulator's walker predicts. 4K, 16K and 64K granules
 * with 48-bit VA and 40-bit PA (so an output address bit flipped above bit 39 is an Address size
 * fault), the 2- and 3-level configurations (39/42/47-bit VA), and 52-bit VA and PA (FEAT_LPA2 for
 * 4K/16K, with a level -1 table for 4K; FEAT_LVA/LPA for 64K).
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ARM64_PARAM, QEMU_VIRT_RAM_BASE, STATUS_DONE } from "../../src/emit/arm64.js";
import { get64 } from "../../src/emit/blobs.js";
import {
  decodeProbeResults,
  describeOutcome,
  emitProbeImage,
  fullVa,
  type ProbeOutcome,
  predictProbe,
} from "../../src/emit/probe.js";
import { ttbrValue } from "../../src/emit/strategy.js";
import { type PageSize, PhysMem } from "../../src/machine/physmem.js";
import { bumpAllocator, TableBuilder } from "../../src/mmu/builder.js";
import { createFormat, MAIR_EL1, tcrFor } from "../../src/mmu/formats.js";
import { type MapAttributes, type TranslationFormat, toVaParts, type WalkStep } from "../../src/mmu/types.js";
import { walk } from "../../src/mmu/walker.js";
import { QEMU_ARM64, requireTool, runEmitted } from "./harness.js";

const haveQemu = requireTool(QEMU_ARM64);

const MiB = 1024 * 1024;
const RAM_START = QEMU_VIRT_RAM_BASE;
const RAM_END = RAM_START + 96 * MiB;
const ROUTINE = RAM_START + 2 * MiB;
const TABLES = [RAM_START + 4 * MiB, RAM_START + 16 * MiB] as const;
/** Where mappings point: 32 MiB, aligned so 2M and 32M blocks fit. */
const TARGET = [RAM_START + 32 * MiB, RAM_START + 64 * MiB] as const;
/** No RAM and no device here on QEMU virt (between RAM's end and the high PCIe windows). */
const NO_RAM = 0x1000000000;

class Rng {
  constructor(private x: number) {
    this.x = x | 1;
  }
  next(): number {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

interface Scenario {
  mem: PhysMem;
  format: TranslationFormat;
  builder: TableBuilder;
  vas: bigint[];
  expected: ProbeOutcome[];
  pages: number[];
  corruptions: string[];
}

interface Config {
  granule: PageSize;
  vaBits: 39 | 42 | 47 | 48 | 52;
  paBits: number;
}

function buildScenario(cfg: Config, seed: number): Scenario {
  const { granule } = cfg;
  const rng = new Rng(seed);
  const mem = new PhysMem({ pageSize: granule, ram: [{ start: RAM_START, end: RAM_END }] });
  const format = createFormat({ arch: "arm64", granule, vaBits: cfg.vaBits, paBits: cfg.paBits });
  const builder = new TableBuilder(mem, format, bumpAllocator(mem, TABLES[0], TABLES[1], granule));
  const dataPage = ROUTINE + granule;
  const code: MapAttributes = { memType: "normal", writable: true, executable: true };
  builder.map({ half: 0, va: ROUTINE, pa: ROUTINE, size: 2 * granule, attrs: code });
  builder.root(1);

  const block = granule === 4096 ? 2 * MiB : granule === 16384 ? 32 * MiB : 0;
  const lowVa = 2 ** 32;
  const span = 2 ** cfg.vaBits;
  const mapped: { half: 0 | 1; va: number; size: number }[] = [];
  const nMaps = 1 + rng.int(10);
  for (let i = 0; i < nMaps; i++) {
    const half = rng.int(2) as 0 | 1;
    const useBlock = block > 0 && rng.next() < 0.25;
    const unit = useBlock ? block : granule;
    const size = useBlock ? block : granule * (1 + rng.int(12));
    const vaUnits = Math.floor((span - (half === 0 ? lowVa : 0) - size) / unit);
    const va = (half === 0 ? lowVa : 0) + rng.int(vaUnits) * unit;
    const paUnits = Math.floor((TARGET[1] - TARGET[0] - size) / unit);
    const pa = TARGET[0] + rng.int(paUnits + 1) * unit;
    const attrs: MapAttributes = {
      memType: "normal",
      writable: true,
      executable: false,
      accessed: rng.next() >= 0.15,
    };
    try {
      builder.map({ half, va, pa, size, attrs });
      mapped.push({ half, va, size });
    } catch {
      // overlaps an earlier mapping: leave it out
    }
  }

  // Break some descriptors, never on the path to the routine and its data.
  const keep = new Set<number>();
  for (const va of [ROUTINE, dataPage]) {
    const steps: WalkStep[] = [];
    walk(mem, format, builder.root(0), 0, va, steps);
    for (const s of steps) keep.add(s.descriptorPa);
  }
  const corruptions: string[] = [];
  const nCorrupt = 1 + rng.int(3);
  const tables = builder.tablePages();
  for (let c = 0; c < nCorrupt; c++) {
    const t = tables[rng.int(tables.length)]!;
    const valid: number[] = [];
    for (let off = 0; off < granule; off += 8) {
      const dpa = t.pa + off;
      if (!keep.has(dpa) && (mem.read32(dpa) & 1) === 1) valid.push(dpa);
    }
    if (valid.length === 0) continue;
    const dpa = valid[rng.int(valid.length)]!;
    const lo = mem.read32(dpa);
    const hi = mem.read32(dpa + 4);
    const kind = rng.int(4);
    if (kind === 0) {
      // output address -> a PA with no RAM (table: external abort on the walk; leaf: on the access)
      const addrMask = granule - 1;
      mem.write32(dpa, ((NO_RAM % 2 ** 32) | (lo & addrMask)) >>> 0);
      mem.write32(dpa + 4, ((hi & 0xffff0000) | Math.floor(NO_RAM / 2 ** 32)) >>> 0);
    } else if (kind === 1) {
      mem.write32(dpa + 4, (hi | (1 << (45 - 32))) >>> 0); // OA bit 45: beyond the 40-bit PA size
    } else if (kind === 2) {
      mem.write32(dpa, (lo & ~1) >>> 0); // invalid
    } else {
      mem.write32(dpa, (lo ^ (1 << 10)) >>> 0); // AF (a table descriptor ignores it)
    }
    corruptions.push(`${["no-ram", "oa-bit45", "invalid", "af"][kind]}@0x${dpa.toString(16)}`);
  }

  // Probe VAs: inside each mapping, just past it, random ones in both halves, out of range.
  const vas: bigint[] = [];
  const inside = (m: { va: number; size: number }) => m.va + Math.floor(rng.int(m.size) / 8) * 8;
  for (const m of mapped) {
    vas.push(fullVa(format, m.half, m.va));
    vas.push(fullVa(format, m.half, inside(m)));
    vas.push(fullVa(format, m.half, m.va + m.size - 8));
    if (m.va + m.size < span) vas.push(fullVa(format, m.half, m.va + m.size));
  }
  for (let i = 0; i < 6; i++) {
    vas.push(fullVa(format, (i & 1) as 0 | 1, Math.floor(rng.int(span / 8)) * 8));
  }
  vas.push(0x0001000000000000n + BigInt(rng.int(2 ** 30)) * 8n);
  vas.push(0xff00000000000000n + BigInt(rng.int(2 ** 30)) * 8n);
  const probes = vas.slice(0, 100);

  // Give every page a probe reads some content, then predict.
  const pages = new Set<number>(tables.map((t) => t.pa));
  const filled = new Set<number>();
  const roots = builder.rootsForTlb();
  const fill = new Uint8Array(granule);
  for (const va of probes) {
    const o = predictProbe(mem, format, roots, va);
    if (o.kind !== "value") continue;
    const parts = toVaParts(va, format.vaBits);
    if (parts === undefined) continue;
    const r = walk(mem, format, parts.half === 0 ? roots.ttbr0 : roots.ttbr1, parts.half, parts.va);
    if (!r.ok) continue;
    const page = r.pa - (r.pa % granule);
    if (page >= TARGET[0] && page < TARGET[1] && !filled.has(page)) {
      const prng = new Rng(seed ^ page);
      for (let i = 0; i < granule; i++) fill[i] = prng.int(256);
      mem.writeBytes(page, fill);
      filled.add(page);
      pages.add(page);
    }
  }
  const expected = probes.map((va) => predictProbe(mem, format, roots, va));
  return { mem, format, builder, vas: probes, expected, pages: [...pages], corruptions };
}

function mmuRegisters(s: Scenario) {
  const tcr = tcrFor(s.format, { ttbr0: true, ttbr1: true });
  const roots = s.builder.rootsForTlb();
  return {
    mair: (BigInt(MAIR_EL1.hi) << 32n) | BigInt(MAIR_EL1.lo),
    tcr: (BigInt(tcr.hi) << 32n) | BigInt(tcr.lo),
    ttbr0: ttbrValue(roots.ttbr0),
    ttbr1: ttbrValue(roots.ttbr1),
  };
}

async function runScenario(s: Scenario, granule: PageSize): Promise<ProbeOutcome[]> {
  const img = emitProbeImage({
    mem: s.mem,
    pages: s.pages,
    routinePage: ROUTINE,
    dataPage: ROUTINE + granule,
    mmu: mmuRegisters(s),
    vas: s.vas,
    description: `walk probe ${granule / 1024}K`,
  });
  const run = await runEmitted(img);
  if (run.outcome !== "shutdown") throw new Error(`QEMU ${run.outcome}: ${run.stderr}`);
  const status = Number(get64(run.params, ARM64_PARAM.status));
  if (status !== STATUS_DONE) {
    throw new Error(
      `routine status 0x${status.toString(16)}, ESR 0x${get64(run.params, ARM64_PARAM.faultEsr).toString(16)}`,
    );
  }
  return decodeProbeResults(run.dumps[0]!, s.vas.length);
}

function mismatches(s: Scenario, got: ProbeOutcome[]): string[] {
  const out: string[] = [];
  s.vas.forEach((va, i) => {
    const want = describeOutcome(s.expected[i]!);
    const have = describeOutcome(got[i]!);
    if (want !== have) out.push(`VA 0x${va.toString(16)}: walker ${want}, QEMU ${have}`);
  });
  return out;
}

describe.skipIf(!haveQemu)("walk conformance: src/mmu walker vs QEMU's MMU", () => {
  const configs: (Config & { runs: number })[] = [
    { granule: 4096, vaBits: 48, paBits: 40, runs: 8 },
    { granule: 16384, vaBits: 48, paBits: 40, runs: 8 },
    { granule: 65536, vaBits: 48, paBits: 40, runs: 8 },
    { granule: 4096, vaBits: 39, paBits: 48, runs: 4 },
    { granule: 16384, vaBits: 47, paBits: 48, runs: 4 },
    { granule: 65536, vaBits: 42, paBits: 48, runs: 4 },
    { granule: 4096, vaBits: 52, paBits: 52, runs: 4 },
    { granule: 16384, vaBits: 52, paBits: 52, runs: 4 },
    { granule: 65536, vaBits: 52, paBits: 52, runs: 4 },
  ];
  for (const cfg of configs) {
    const { granule } = cfg;
    it(`${granule / 1024}K granule, ${cfg.vaBits}-bit VA, ${cfg.paBits}-bit PA: random mappings and broken descriptors`, {
      timeout: 180_000,
    }, async () => {
      const kinds = new Set<string>();
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 0x7fffffff }), async (seed) => {
          const s = buildScenario(cfg, seed);
          const got = await runScenario(s, granule);
          for (const o of s.expected)
            kinds.add(o.kind === "value" ? "value" : `dfsc 0x${o.dfsc.toString(16)}`);
          const bad = mismatches(s, got);
          if (bad.length > 0) {
            throw new Error(`seed ${seed}, corruptions [${s.corruptions.join(", ")}]:\n${bad.join("\n")}`);
          }
        }),
        // A fixed seed per configuration: CI runs the same cases every time (KEXEC_QEMU_SEED varies it).
        {
          numRuns: Number(process.env.KEXEC_QEMU_RUNS ?? cfg.runs),
          seed: Number(process.env.KEXEC_QEMU_SEED ?? cfg.granule + cfg.vaBits * 1000 + cfg.paBits),
        },
      );
      if (process.env.KEXEC_QEMU_VERBOSE)
        process.stderr.write(`${cfg.granule}/${cfg.vaBits}/${cfg.paBits}: ${[...kinds].sort().join(" ")}\n`);
      // The runs must have exercised values and faults, or the comparison proves little.
      expect(kinds.has("value")).toBe(true);
      expect([...kinds].some((k) => k.startsWith("dfsc"))).toBe(true);
    });
  }

  it("a flipped output-address bit QEMU sees but the walker does not is caught", {
    timeout: 60_000,
  }, async () => {
    const granule = 4096;
    const cfg: Config = { granule, vaBits: 48, paBits: 40 };
    let seed = 1;
    let s = buildScenario(cfg, seed);
    while (s.corruptions.length > 0 || !s.expected.some((o) => o.kind === "value")) {
      s = buildScenario(cfg, ++seed);
    }
    // Predict with the intact tables, then flip OA bit 21 of one leaf on the path of a value probe.
    const i = s.expected.findIndex((o) => o.kind === "value");
    const va = s.vas[i]!;
    const { half, va: low } = toVaParts(va, s.format.vaBits)!;
    const steps: WalkStep[] = [];
    const roots = s.builder.rootsForTlb();
    walk(s.mem, s.format, half === 0 ? roots.ttbr0 : roots.ttbr1, half, low, steps);
    const leaf = steps[steps.length - 1]!;
    s.mem.write32(leaf.descriptorPa, (leaf.lo ^ (1 << 21)) >>> 0);
    const got = await runScenario(s, granule);
    expect(mismatches(s, got).length).toBeGreaterThan(0);
  });
});
