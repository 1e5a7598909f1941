/**
 * The architectural cache-state check (src/reloc/lines.ts): strategies whose bytes end up right in
 * simulated memory but only in a cache fail verification with the address, the step and the missing
 * operation; every built-in strategy passes on every shipped profile; the va-copy series as posted
 * passes only where the PoU is the PoC.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IND_DESTINATION, IND_DONE, IND_INDIRECTION, IND_SOURCE } from "../src/kimage/constants.js";
import type { Segment } from "../src/kimage/kimage.js";
import { MemoryMap } from "../src/machine/memmap.js";
import { TableBuilder } from "../src/mmu/builder.js";
import { BUILTIN_PROFILES, coherenceOf } from "../src/model/profiles.js";
import type { RelocCpu } from "../src/reloc/cpu.js";
import { ARM64_DEFAULT_COHERENCE, type Coherence } from "../src/reloc/lines.js";
import { walkEntryList } from "../src/reloc/list.js";
import {
  CODE_ATTRS,
  cleanRelocationCode,
  DATA_ATTRS,
  fetch,
  formatFor,
  installTlb,
  memstartOf,
  tableCost,
  tablePagePas,
} from "../src/reloc/mmu-common.js";
import { BUILTIN_STRATEGIES, findStrategy } from "../src/reloc/registry.js";
import { type RelocScenario, runStrategy } from "../src/reloc/run.js";
import type { RelocationStrategy } from "../src/reloc/strategy.js";
import {
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  CMO_DC_CIVAC,
  CMO_DC_CVAU,
  CMO_IC_IALLU,
} from "../src/reloc/trace.js";

const MiB = 1024 * 1024;
const TWO_32 = 4294967296;

/** A small arm64 machine: 256 MiB of RAM, a 3 MiB "kernel" and a 1 MiB "initrd", random free pages (some in place). */
function small(arch: "arm64" | "x86_64" = "arm64", seed = 5): RelocScenario {
  const base = arch === "arm64" ? 0x40000000 : 0x100000;
  const segments: Segment[] = [
    {
      mem: base + 2 * MiB,
      memsz: 3 * MiB,
      content: { kind: "synthetic", seed: 11, bufsz: 3 * MiB },
      label: "kernel",
    },
    {
      mem: base + 8 * MiB,
      memsz: MiB,
      content: { kind: "synthetic", seed: 12, bufsz: MiB - 100 },
      label: "initrd",
    },
  ];
  return {
    name: "small",
    arch,
    pageSize: 4096,
    vaBits: 48,
    memoryMap: MemoryMap.fromRam([{ start: base, end: base + 256 * MiB }]),
    segments,
    contentMode: "synthetic",
    seed,
    freePages: { kind: "fragmented", seed, fraction: 0.5 },
  };
}

interface LoopOptions {
  /** Maintenance on each destination page after its copy (0: none). */
  clean: number;
  /** ic iallu before the MMU goes off. */
  icache: boolean;
  /** Skip pages whose source is their destination (nothing to copy, so nothing cleaned either). */
  skipInPlace?: boolean;
  /** Copy the segments into place in prepare(), at load time. */
  copyInPrepare?: boolean;
}

/**
 * A linear-map strategy with its own list loop (through cpu.readEntry, the documented way), whose
 * cache maintenance the test chooses: the real linear-map-copy is { clean: CMO_DC_CIVAC, icache: true }.
 */
function listStrategy(name: string, o: LoopOptions): RelocationStrategy {
  return {
    name,
    description: `test strategy ${name}`,
    arches: ["arm64"],
    phase: "after-segments",
    prepare(ctx) {
      const { image, machine } = ctx;
      const ps = machine.pageSize;
      if (o.copyInPrepare) {
        walkEntryList(machine.mem, image.head, { source: (d, s) => void machine.mem.copyPage(d, s) });
      }
      const format = formatFor(machine, 48);
      const builder = new TableBuilder(machine.mem, format, (level) => ctx.allocTable(level));
      const memstart = memstartOf(machine);
      for (const r of machine.mem.ram.ranges) {
        builder.map({
          half: 1,
          va: r.start - memstart,
          pa: r.start,
          size: r.end - r.start,
          attrs: DATA_ATTRS,
        });
      }
      const code = image.controlCodePage;
      builder.map({ half: 0, va: code, pa: code, size: ps, attrs: CODE_ATTRS }, { pageGranular: true });
      const translation = { format, ...builder.rootsForTlb() };
      return {
        pageTables: tableCost(builder),
        livePages: tablePagePas(builder),
        translation,
        execute(cpu: RelocCpu) {
          cleanRelocationCode(cpu, code);
          installTlb(cpu, format, builder);
          cpu.barrier(BARRIER_MMU_ON);
          if (fetch(cpu, machine, translation, 0, code) < 0) return;
          let entry = image.head;
          let ptr = -1;
          let dest = 0;
          for (let n = 0; n < 1e7; n++) {
            const low = entry % TWO_32;
            if ((low & IND_DONE) !== 0) break;
            const addr = entry - (low % ps);
            if ((low & IND_SOURCE) !== 0) {
              const src = cpu.translate(1, addr - memstart);
              const dst = cpu.translate(1, dest - memstart);
              if (src < 0 || dst < 0) return;
              if (!(o.skipInPlace && src === dst)) {
                cpu.copyPage(dst, src, 0);
                if (o.clean !== 0) cpu.cmo(dst, ps, o.clean);
              }
              dest += ps;
            } else if ((low & IND_INDIRECTION) !== 0) ptr = addr;
            else if ((low & IND_DESTINATION) !== 0) dest = addr;
            const at = cpu.translate(1, ptr - memstart);
            if (at < 0) return;
            entry = cpu.readEntry(at, false);
            ptr += 8;
          }
          cpu.barrier(BARRIER_DSB);
          if (o.icache) cpu.cmo(0, 0, CMO_IC_IALLU);
          cpu.barrier(BARRIER_ISB);
          cpu.barrier(BARRIER_MMU_OFF);
        },
      };
    },
  };
}

const N1 = coherenceOf(BUILTIN_PROFILES["neoverse-n1-server"]!);
const run = (s: RelocationStrategy, coherence: Coherence = N1, sc = small()) =>
  runStrategy(sc, s, { coherence }).result;

describe("the cache-state check", () => {
  it("a correct own loop (clean to PoC, ic iallu) verifies, and readEntry counts every list read", () => {
    const r = run(listStrategy("own-loop", { clean: CMO_DC_CIVAC, icache: true }));
    expect(r.failures).toEqual([]);
    expect(r.verified).toBe(true);
    const lm = run(findStrategy("linear-map-copy"));
    expect(r.counters.entriesRead).toBe(lm.counters.entriesRead);
    expect(r.checks?.coherence).toMatch(/^neoverse-n1-server: CLIDR_EL1 LoUU 0, LoC 2/);
    expect(r.checks?.linesChecked).toBe((4 * MiB) / 64);
  });

  it("no cleaning at all: the destination is dirty in the caches at the jump", () => {
    const r = run(listStrategy("no-clean", { clean: 0, icache: true }));
    expect(r.verified).toBe(false);
    expect(r.failures.filter((f) => f.kind === "content")).toEqual([]); // the bytes are right, in a cache
    const f = r.failures.find((x) => x.kind === "coherence")!;
    expect(f.message).toMatch(
      /^segment 0 \(kernel\): line 0x[0-9a-f]+ written by copy step \d+ is dirty in the caches at the jump, where the new kernel \(and arm64 purgatory\) read memory with the MMU and D-cache off: missing dc cvac\/civac to PoC before SCTLR_EL1.M\/C are cleared/,
    );
    expect(f.address).toMatch(/^0x[0-9a-f]+$/);
    expect(f.step).toBeGreaterThan(0);
    expect(f.segment).toBe(0);
  });

  it("a clean to PoU only, where the PoU is not the PoC (every arm64 profile), fails; where it is, passes", () => {
    const r = run(listStrategy("pou-only", { clean: CMO_DC_CVAU, icache: true }));
    expect(r.verified).toBe(false);
    expect(r.failures[0]!.message).toMatch(
      /line 0x[0-9a-f]+ written by copy step \d+ is dirty beyond the PoU, short of the PoC \(cleaned to PoU only; neoverse-n1-server: CLIDR_EL1 LoUU 0, LoC 2 .*\): the PoU is not the PoC\) at the jump.*missing dc cvac\/civac to PoC/,
    );
    const pouIsPoc: Coherence = { name: "PoU = PoC", coherent: false, louu: 2, loc: 2 };
    expect(run(listStrategy("pou-only", { clean: CMO_DC_CVAU, icache: true }), pouIsPoc).verified).toBe(true);
  });

  it("the va-copy series as posted fails on every arm64 profile; va-copy (clean to PoC) passes", () => {
    for (const [name, p] of Object.entries(BUILTIN_PROFILES)) {
      if (p.arch !== "arm64") continue;
      const c = coherenceOf(p);
      const series = run(findStrategy("va-copy-series"), c);
      expect(series.verified, name).toBe(false);
      expect(series.reference).toMatch(/PoU only/);
      expect(series.failures[0]!.message).toMatch(/cleaned to PoU only.*missing dc cvac\/civac to PoC/);
      expect(run(findStrategy("va-copy"), c).verified, name).toBe(true);
    }
    const pouIsPoc: Coherence = { name: "PoU = PoC", coherent: false, louu: 2, loc: 2 };
    expect(run(findStrategy("va-copy-series"), pouIsPoc).verified).toBe(true);
  });

  it("pages already in place, never copied, are never cleaned: their load-time writes are still in the caches", () => {
    const sc = small();
    const r = run(
      listStrategy("skip-in-place", { clean: CMO_DC_CIVAC, icache: true, skipInPlace: true }),
      N1,
      sc,
    );
    expect(r.verified).toBe(false);
    expect(r.failures.filter((f) => f.kind === "content")).toEqual([]);
    expect(r.failures[0]!.message).toMatch(
      /^segment \d \((kernel|initrd)\): line 0x[0-9a-f]+ written at load time by the running kernel is dirty in the caches at the jump.*missing dc cvac\/civac to PoC/,
    );
  });

  it("a missing ic iallu leaves the kernel's lines stale in the I-cache (the initrd is not code)", () => {
    const r = run(listStrategy("no-ic", { clean: CMO_DC_CIVAC, icache: false }));
    expect(r.verified).toBe(false);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]!.message).toMatch(
      /^segment 0 \(kernel\): line 0x[0-9a-f]+ written by copy step \d+ may be stale in the I-cache at the jump \(booting.rst: no stale instruction-cache entries for the image\): missing ic iallu \(or ic ivau over the image\) after the copy/,
    );
  });

  it("load-time copies in prepare() are refused: the running kernel still owns the destinations", () => {
    const r = run(listStrategy("copy-at-load", { clean: CMO_DC_CIVAC, icache: true, copyInPrepare: true }));
    expect(r.verified).toBe(false);
    expect(r.failures[0]).toMatchObject({ kind: "load-write" });
    expect(r.failures[0]!.message).toMatch(
      /^copy-at-load: prepare\(\) wrote 0x[0-9a-f]+, the destination of segment \d \((kernel|initrd)\): at load time a strategy may write only the control pages it allocated/,
    );
    expect(r.counters.pagesCopied).toBe(0);
  });

  it("mmu-off without kexec_list_flush reads a list the caches still hold", () => {
    const real = findStrategy("mmu-off");
    const noFlush: RelocationStrategy = {
      ...real,
      name: "mmu-off-no-flush",
      prepare(ctx) {
        const p = real.prepare(ctx);
        return {
          ...p,
          execute(cpu) {
            // what mmu-off does, minus the cleaning before the MMU goes off
            const image = ctx.image;
            for (const s of image.segments) cpu.cmo(s.mem, s.memsz, CMO_DC_CIVAC);
            cpu.cmo(image.controlCodePage, cpu.pageSize, CMO_DC_CIVAC);
            cpu.barrier(BARRIER_MMU_OFF);
            // the first entries of the list, read with the MMU off as arm64_relocate_new_kernel does
            let entry = image.head;
            let ptr = -1;
            for (let n = 0; n < 3; n++) {
              const low = entry % TWO_32;
              if ((low & IND_INDIRECTION) !== 0) ptr = entry - (low % cpu.pageSize);
              if (ptr < 0) break;
              entry = cpu.readEntry(ptr, true);
              ptr += 8;
            }
          },
        };
      },
    };
    const r = run(noFlush);
    expect(r.verified).toBe(false);
    expect(r.failures.find((f) => f.kind === "coherence")?.message).toMatch(
      /^step 0: entry list line 0x[0-9a-f]+ read with the MMU\/D-cache off \(memory, at the PoC\) holds data written at load time by the running kernel that is still dirty in the caches: missing dc cvac\/civac to PoC before SCTLR_EL1.M\/C are cleared/,
    );
  });
});

describe("every built-in strategy passes on every shipped profile", () => {
  for (const [name, p] of Object.entries(BUILTIN_PROFILES)) {
    it(name, () => {
      const c = coherenceOf(p);
      const sc = small(p.arch);
      for (const s of BUILTIN_STRATEGIES) {
        if (!s.arches.includes(p.arch)) continue;
        const r = runStrategy(sc, s, { coherence: c }).result;
        expect(r.failures, `${s.name} on ${name}`).toEqual([]);
        expect(r.verified).toBe(true);
        if (p.arch === "x86_64") expect(r.checks?.coherence).toMatch(/^coherent/);
        else expect(r.checks?.linesChecked).toBeGreaterThan(0);
      }
    });
  }

  it("and on the arm64 default rules (no profile)", () => {
    for (const s of BUILTIN_STRATEGIES) {
      if (!s.arches.includes("arm64")) continue;
      expect(run(s, ARM64_DEFAULT_COHERENCE).verified, s.name).toBe(true);
    }
  });
});

describe("property: any cache hierarchy, any free-page order", () => {
  it("built-ins verify, an uncleaned copy never does, and va-copy-series exactly where the PoU is the PoC", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.constantFrom("lowest", "highest", "random", "fragmented"),
        (louu, locExtra, seed, kind) => {
          const loc = Math.min(4, louu + locExtra - 1);
          const c: Coherence = { name: `LoUU ${louu}, LoC ${loc}`, coherent: false, louu, loc };
          const sc = small("arm64", seed);
          sc.freePages =
            kind === "random"
              ? { kind, seed }
              : kind === "fragmented"
                ? { kind, seed, fraction: 0.5 }
                : { kind: kind as "lowest" | "highest" };
          for (const s of BUILTIN_STRATEGIES) {
            if (!s.arches.includes("arm64")) continue;
            expect(runStrategy(sc, s, { coherence: c }).result.failures, s.name).toEqual([]);
          }
          const noClean = runStrategy(sc, listStrategy("no-clean", { clean: 0, icache: true }), {
            coherence: c,
          });
          // a lowest-first load may place every page in place: then nothing is copied, and the load-time
          // writes are what is left dirty; either way the image is not at the PoC
          expect(noClean.result.verified).toBe(false);
          const series = runStrategy(sc, findStrategy("va-copy-series"), { coherence: c }).result;
          expect(series.verified).toBe(louu >= loc || series.counters.pagesCopied === 0);
        },
      ),
      { numRuns: 12, seed: 2126 },
    );
  }, 300_000);
});
