/**
 * The checks can fail: deliberately broken strategies are caught (a table page in a destination, a
 * skipped entry, a wrong descriptor bit, a write into an indirection page), on the default scenarios
 * and in a property test over random kimages and free-page policies, where every real strategy must
 * verify at the same time.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Arch } from "../src/kimage/constants.js";
import type { Segment } from "../src/kimage/kimage.js";
import type { FreePagePolicy } from "../src/machine/freepages.js";
import type { ContentMode } from "../src/machine/machine.js";
import { MemoryMap } from "../src/machine/memmap.js";
import type { PageSize } from "../src/machine/physmem.js";
import { bumpAllocator, TableBuilder } from "../src/mmu/builder.js";
import type { WalkStep } from "../src/mmu/types.js";
import { walk } from "../src/mmu/walker.js";
import { type RelocCpu, relocateList } from "../src/reloc/cpu.js";
import { walkEntryList } from "../src/reloc/list.js";
import {
  DATA_ATTRS,
  formatFor,
  installTlb,
  memstartOf,
  tableCost,
  tablePagePas,
} from "../src/reloc/mmu-common.js";
import { findStrategy, strategiesFor } from "../src/reloc/registry.js";
import { type RelocScenario, runStrategy } from "../src/reloc/run.js";
import type { RelocationStrategy } from "../src/reloc/strategy.js";
import { BARRIER_MMU_OFF, BARRIER_MMU_ON } from "../src/reloc/trace.js";
import { defaultScenario } from "../src/scenario/default.js";

const MiB = 1024 * 1024;

/** Identity-mapped tables whose pages are taken from the destinations instead of control pages. */
const tableInDestination: RelocationStrategy = {
  name: "broken-table-in-destination",
  description: "identity map built in pages of a destination",
  arches: ["arm64", "x86_64"],
  phase: "after-segments",
  prepare(ctx) {
    const { image, machine } = ctx;
    const ps = machine.pageSize;
    const format = formatFor(machine, machine.arch === "arm64" ? 48 : 48);
    // every destination page, in order, as the table pool
    const pools = image.segments.map((s) => bumpAllocator(machine.mem, s.mem, s.mem + s.memsz, ps));
    const alloc = (level: number) => {
      for (const p of pools) {
        const pa = p(0);
        if (pa >= 0) return pa;
      }
      return ctx.allocTable(level); // destinations exhausted: the rest from control pages
    };
    const builder = new TableBuilder(machine.mem, format, alloc);
    for (const r of machine.mem.ram.ranges) {
      const start = Math.floor(r.start / (2 * MiB)) * 2 * MiB;
      const end = Math.ceil(r.end / (2 * MiB)) * 2 * MiB;
      builder.map(
        { half: 0, va: start, pa: start, size: end - start, attrs: DATA_ATTRS },
        { overwrite: true },
      );
    }
    return {
      pageTables: tableCost(builder),
      livePages: tablePagePas(builder),
      execute(cpu) {
        installTlb(cpu, format, builder);
        relocateList(cpu, {
          head: image.head,
          mmuOn: true,
          half: 0,
          vaOffset: 0,
          copyFlags: 0,
          cmoBefore: 0,
          cmoAfter: 0,
          swapPage: -1,
          maxEntries: 1e9,
        });
      },
    };
  },
};

/**
 * The same identity map built at relocation time, with the MMU off, in the first pages of the largest
 * destination (declared live, so the guard watches them), then walked with the MMU on.
 */
const tableInDestinationAtReboot: RelocationStrategy = {
  name: "broken-table-in-destination-at-reboot",
  description: "identity map built at reboot, MMU off, in pages of a destination",
  arches: ["arm64", "x86_64"],
  phase: "after-segments",
  prepare(ctx) {
    const { image, machine } = ctx;
    const ps = machine.pageSize;
    const seg = image.segments.reduce((a, b) => (b.memsz > a.memsz ? b : a));
    const pool = Math.min(64, Math.floor(seg.memsz / ps));
    const live = Array.from({ length: pool }, (_, i) => seg.mem + i * ps);
    return {
      pageTables: { pages: 0, bytes: 0, byLevel: {} },
      livePages: live,
      execute(cpu) {
        cpu.barrier(BARRIER_MMU_OFF);
        const format = formatFor(machine, 48);
        const builder = new TableBuilder(
          machine.mem,
          format,
          bumpAllocator(machine.mem, seg.mem, seg.mem + pool * ps, ps),
        );
        for (const r of machine.mem.ram.ranges) {
          const start = Math.floor(r.start / (2 * MiB)) * 2 * MiB;
          const end = Math.ceil(r.end / (2 * MiB)) * 2 * MiB;
          builder.map(
            { half: 0, va: start, pa: start, size: end - start, attrs: DATA_ATTRS },
            { overwrite: true },
          );
        }
        installTlb(cpu, format, builder);
        cpu.barrier(BARRIER_MMU_ON);
        relocateList(cpu, {
          head: image.head,
          mmuOn: true,
          half: 0,
          vaOffset: 0,
          copyFlags: 0,
          cmoBefore: 0,
          cmoAfter: 0,
          swapPage: -1,
          maxEntries: 1e9,
        });
      },
    };
  },
};

/**
 * MMU-off list walk that skips the SOURCE entry of the first page whose copy matters (its source
 * holds different bytes than the destination already does). `skipped` is -1 when no page matters.
 */
function skippedEntry(): RelocationStrategy & { skipped: number } {
  const s = {
    name: "broken-skipped-entry",
    description: "skips one source page",
    arches: ["arm64", "x86_64"] as Arch[],
    phase: "after-segments" as const,
    skipped: -1,
    prepare(ctx: Parameters<RelocationStrategy["prepare"]>[0]) {
      const { image, machine } = ctx;
      const mem = machine.mem;
      const a = new Uint8Array(machine.pageSize);
      const b = new Uint8Array(machine.pageSize);
      let n = 0;
      s.skipped = -1;
      walkEntryList(mem, image.head, {
        source(dest, src) {
          if (s.skipped < 0 && dest !== src) {
            mem.readBytes(dest, a);
            mem.readBytes(src, b);
            if (a.some((x, i) => x !== b[i])) s.skipped = n;
          }
          n++;
        },
      });
      const pairs: [number, number][] = [];
      walkEntryList(mem, image.head, { source: (d, src) => void pairs.push([d, src]) });
      return {
        pageTables: { pages: 0, bytes: 0, byLevel: {} },
        livePages: [],
        execute(cpu: RelocCpu) {
          for (const [i, [d, src]] of pairs.entries()) if (i !== s.skipped) cpu.copyPage(d, src, 0);
        },
      };
    },
  };
  return s;
}

/** The real MMU strategy of the arch, with the valid/present bit of one leaf descriptor cleared. */
function wrongDescriptorBit(arch: Arch, bit = 0): RelocationStrategy {
  const real = findStrategy(arch === "arm64" ? "linear-map-copy" : "x86-ident");
  return {
    ...real,
    name: `broken-descriptor-bit-${bit}`,
    prepare(ctx) {
      const p = real.prepare(ctx);
      if (real.phase === "before-segments") {
        // x86: tables are built before the segments: flip the bit in execute, when the list exists
        return {
          ...p,
          execute(cpu) {
            flipLeafBit(ctx, p, bit);
            p.execute(cpu);
          },
        };
      }
      flipLeafBit(ctx, p, bit);
      return p;
    },
  };
}

function flipLeafBit(
  ctx: Parameters<RelocationStrategy["prepare"]>[0],
  p: ReturnType<RelocationStrategy["prepare"]>,
  bit: number,
): void {
  const { machine, image } = ctx;
  const t = p.translation!;
  const dest = image.segments[0]!.mem;
  const arm = machine.arch === "arm64";
  const steps: WalkStep[] = [];
  const r = walk(
    machine.mem,
    t.format,
    arm ? t.ttbr1 : t.ttbr0,
    arm ? 1 : 0,
    arm ? dest - memstartOf(machine) : dest,
    steps,
  );
  expect(r.ok).toBe(true);
  const leaf = steps[steps.length - 1]!;
  const word = bit < 32 ? leaf.lo : leaf.hi;
  const flipped = (word ^ (1 << (bit % 32))) >>> 0;
  machine.mem.write32(leaf.descriptorPa + (bit < 32 ? 0 : 4), flipped);
}

/** Copies one extra page over the first indirection page before relocating. */
function writesIndirection(arch: Arch): RelocationStrategy {
  const real = findStrategy(arch === "arm64" ? "mmu-off" : "x86-ident");
  return {
    ...real,
    name: "broken-writes-indirection",
    prepare(ctx) {
      const p = real.prepare(ctx);
      return {
        ...p,
        execute(cpu) {
          const ind = ctx.image.indirectionPages[0]!;
          cpu.copyPage(ind, ctx.image.segments[0]!.mem, 0);
          p.execute(cpu);
        },
      };
    },
  };
}

describe("broken strategies are caught on the default scenarios", () => {
  for (const arch of ["arm64", "x86_64"] as const) {
    const sc = defaultScenario(arch, "synthetic", 4);
    const scr: RelocScenario = { ...sc, freePages: { kind: "random", seed: 11 } };

    it(`${arch}: a table page in a destination is refused at load time (prepare() writes it)`, () => {
      const r = runStrategy(scr, tableInDestination).result;
      expect(r.verified).toBe(false);
      const c = r.failures.find((f) => f.kind === "load-write");
      expect(c?.message).toMatch(
        /^broken-table-in-destination: prepare\(\) wrote 0x[0-9a-f]+, the destination of segment \d+ \(\w+\): at load time a strategy may write only the control pages it allocated/,
      );
      expect(c?.address).toMatch(/^0x[0-9a-f]+$/);
      expect(r.counters.pagesCopied).toBe(0); // nothing ran
    });

    it(`${arch}: a table page in a destination built at relocation time is a clobber of a table page`, () => {
      const r = runStrategy(scr, tableInDestinationAtReboot).result;
      expect(r.verified).toBe(false);
      const c = r.failures.find((f) => f.kind === "clobber");
      expect(c?.message).toMatch(/a table page still to be read/);
      expect(c?.address).toMatch(/^0x[0-9a-f]+$/);
      expect(typeof c?.step).toBe("number");
      if (arch === "arm64") {
        // written Non-cacheable over lines a cache may hold, then walked cacheably
        const t = r.failures.find((f) => f.kind === "coherence" && /translation table line/.test(f.message));
        expect(t?.message).toMatch(
          /^step 0: translation table line 0x[0-9a-f]+ read with the caches on may hit a cached copy older than memory: .* missing dc ivac\/civac of the line/,
        );
      }
    });

    it(`${arch}: a skipped entry leaves a wrong destination byte`, () => {
      const s = skippedEntry();
      const r = runStrategy(scr, s).result;
      expect(s.skipped).toBeGreaterThanOrEqual(0);
      expect(r.verified).toBe(false);
      const content = r.failures.find((f) => f.kind === "content");
      expect(content?.message).toMatch(
        /first wrong byte at 0x[0-9a-f]+: expected 0x[0-9a-f]{2}, found 0x[0-9a-f]{2}/,
      );
    });

    it(`${arch}: a cleared valid bit faults`, () => {
      const r = runStrategy(scr, wrongDescriptorBit(arch)).result;
      expect(r.verified).toBe(false);
      expect(r.failures.some((f) => f.kind === "fault" && /translation fault/.test(f.message))).toBe(true);
    });

    it(`${arch}: a write into an indirection page is a clobber`, () => {
      const r = runStrategy(scr, writesIndirection(arch)).result;
      expect(r.verified).toBe(false);
      expect(r.failures[0]!.message).toMatch(/an indirection page still to be read/);
    });
  }

  it("x86_64: an NX identity map cannot run relocate_kernel's copy (the fetch faults)", () => {
    const real = findStrategy("x86-ident");
    const nx: RelocationStrategy = {
      ...real,
      name: "broken-nx-identity",
      prepare(ctx) {
        const p = real.prepare(ctx);
        return {
          ...p,
          execute(cpu) {
            const t = p.translation!;
            const steps: WalkStep[] = [];
            expect(walk(ctx.machine.mem, t.format, t.ttbr0, 0, ctx.image.controlCodePage, steps).ok).toBe(
              true,
            );
            const leaf = steps[steps.length - 1]!;
            ctx.machine.mem.write32(leaf.descriptorPa + 4, (leaf.hi | 0x80000000) >>> 0);
            p.execute(cpu);
          },
        };
      },
    };
    const r = runStrategy(defaultScenario("x86_64", "synthetic"), nx).result;
    expect(r.verified).toBe(false);
    expect(
      r.failures.some((f) => f.kind === "fault" && /non-executable mapping \(NX set\)/.test(f.message)),
    ).toBe(true);
    expect(runStrategy(defaultScenario("x86_64", "synthetic"), real).result.verified).toBe(true);
  });

  it("arm64: a wrong output-address bit in the linear map is caught", () => {
    // bit 30 of a 1 GiB block moves the mapping by 1 GiB
    const r = runStrategy(defaultScenario("arm64", "synthetic"), wrongDescriptorBit("arm64", 30)).result;
    expect(r.verified).toBe(false);
  });
});

// ---- property test -----------------------------------------------------------------------------------

interface Case {
  arch: Arch;
  pageSize: PageSize;
  contentMode: ContentMode;
  freePages: FreePagePolicy;
  startPage: number;
  segments: { gap: number; pages: number; tail: number; seed: number; bytes: boolean }[];
}

const policyArb: fc.Arbitrary<FreePagePolicy> = fc.oneof(
  fc.constant({ kind: "lowest" } as const),
  fc.constant({ kind: "highest" } as const),
  fc.integer({ min: 0, max: 1000 }).map((seed) => ({ kind: "random", seed }) as const),
  fc.integer({ min: 0, max: 1000 }).map((seed) => ({ kind: "fragmented", seed, fraction: 0.3 }) as const),
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  arch: fc.constantFrom<Arch>("arm64", "x86_64"),
  pageSize: fc.constantFrom<PageSize>(4096, 16384, 65536),
  contentMode: fc.constantFrom<ContentMode>("exact", "shared", "synthetic"),
  freePages: policyArb,
  startPage: fc.integer({ min: 0, max: 600 }),
  segments: fc.array(
    fc.record({
      gap: fc.integer({ min: 0, max: 40 }),
      pages: fc.integer({ min: 1, max: 40 }),
      tail: fc.integer({ min: 0, max: 70000 }),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
      bytes: fc.boolean(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

function scenarioOf(c: Case): RelocScenario {
  const pageSize = c.arch === "x86_64" ? 4096 : c.pageSize;
  const ramStart = c.arch === "arm64" ? 0x40000000 : 0x100000;
  const ramEnd = c.arch === "arm64" ? 0x40000000 + 256 * MiB : 256 * MiB;
  let at = Math.ceil(ramStart / pageSize) * pageSize + c.startPage * pageSize;
  const segments: Segment[] = [];
  for (const [i, s] of c.segments.entries()) {
    at += s.gap * pageSize;
    const memsz = s.pages * pageSize;
    const bufsz = Math.max(0, memsz - (s.tail % (memsz + 1)));
    if (at + memsz > ramEnd) break;
    segments.push({
      mem: at,
      memsz,
      label: `seg${i}`,
      content: s.bytes
        ? { kind: "bytes", data: new Uint8Array(bufsz).map((_, j) => (j * 31 + s.seed) & 0xff) }
        : { kind: "synthetic", seed: s.seed, bufsz },
    });
    at += memsz;
  }
  return {
    name: "property",
    arch: c.arch,
    pageSize,
    vaBits: 48,
    memoryMap: MemoryMap.fromRam([{ start: ramStart, end: ramEnd }]),
    segments,
    contentMode: c.contentMode,
    seed: 1,
    freePages: c.freePages,
  };
}

describe("property: random kimages and free-page policies", () => {
  it("every strategy verifies and every broken strategy is caught", () => {
    let skipExercised = 0;
    let runs = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const sc = scenarioOf(c);
        if (sc.segments.length === 0) return;
        runs++;
        for (const s of strategiesFor(sc.arch).filter((x) => x.reference === undefined)) {
          const r = runStrategy(sc, s).result;
          expect(r.failures, `${s.name}`).toEqual([]);
          expect(r.verified, s.name).toBe(true);
        }
        for (const b of [tableInDestination, wrongDescriptorBit(sc.arch), writesIndirection(sc.arch)]) {
          expect(runStrategy(sc, b).result.verified, b.name).toBe(false);
        }
        const skip = skippedEntry();
        const r = runStrategy(sc, skip).result;
        if (skip.skipped >= 0) {
          skipExercised++;
          expect(r.verified, "skipped entry").toBe(false);
        } else {
          // nothing to skip that matters: every destination already holds its bytes (on arm64 the
          // strategy still fails the cache check: it cleans nothing and leaves the MMU on)
          expect(r.failures.filter((f) => f.kind !== "coherence")).toEqual([]);
        }
      }),
      { numRuns: 40, seed: 4242 },
    );
    expect(skipExercised).toBeGreaterThan(runs / 2);
  });
});
