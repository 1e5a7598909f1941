/**
 * Emit a relocation strategy's image for QEMU, and the simulator's result for the same inputs.
 *
 * The machine and kimage are built as src/reloc/run.ts's runStrategy builds them (kexecLoad, the
 * strategy's prepare() at its phase, tables from control pages), then RAM is snapshotted into blobs
 * BEFORE the simulated CPU runs, then the strategy's execute() runs on the simulator. The emitted
 * image carries what the routine needs in its parameter block:
 *
 *   mmu-off           head
 *   linear-map-copy   head, MAIR, TCR, TTBR0 (idmap of the control code page), TTBR1 (linear map),
 *                     linear offset = PAGE_OFFSET - memstart (va = pa + offset mod 2^64)
 *   va-copy           MAIR, TCR, TTBRs, source base (bottom of the TTBR1 range), destination base
 *                     (its middle), length = source pages x PAGE_SIZE
 *   in-place          head = IND_DONE: nothing to copy
 *   x86-ident         head, CR3 = the identity map's PML4, swap page in swap mode
 *
 * The roots come from the prepared relocation's `translation` (TTBR0/TTBR1, CR3 = its ttbr0); without
 * one, TTBR0 is the start-level table through which the control code page translates to itself.
 */

import { KexecLabError } from "../errors.js";
import type { Kimage } from "../kimage/kimage.js";
import { kexecLoad, type LoadOptions } from "../kimage/load.js";
import type { Machine } from "../machine/machine.js";
import { MAIR_EL1, tcrFor } from "../mmu/formats.js";
import { fromVaParts, type TranslationFormat } from "../mmu/types.js";
import { walk } from "../mmu/walker.js";
import { RelocCpu } from "../reloc/cpu.js";
import { PageGuard } from "../reloc/guard.js";
import { walkEntryList } from "../reloc/list.js";
import { formatFor, memstartOf } from "../reloc/mmu-common.js";
import { findStrategy } from "../reloc/registry.js";
import {
  defaultCoherence,
  defaultInPlaceRegion,
  machineFor,
  type RelocScenario,
  strategyOptionsFor,
} from "../reloc/run.js";
import type { PreparedRelocation, StrategyContext, StrategyOptions } from "../reloc/strategy.js";
import { NULL_SINK } from "../reloc/trace.js";
import { verifySegments } from "../reloc/verify.js";
import {
  type Arm64Params,
  type EmittedImage,
  emitArm64,
  type QemuRamFile,
  type QemuRange,
  qemuArm64Args,
  segmentChecks,
} from "./arm64.js";
import { kimagePages } from "./blobs.js";
import { emitX86, qemuX86Args } from "./x86.js";

export interface StrategyEmission {
  image: EmittedImage;
  /**
   * The simulator's memory after its relocation for image.checks[i], read on demand from the
   * simulated machine (nothing is copied until asked; compareEmission streams instead).
   */
  simulated(i: number): Uint8Array;
  /** The simulator verified its own relocation (every destination byte). */
  simulatorVerified: boolean;
  kimage: Kimage;
  machine: Machine;
  /** Table pages the strategy allocated, with the level each was asked for. */
  tables: { pa: number; level: number }[];
  /** The strategy's prepared relocation (its translation regime, when it has one). */
  prepared: PreparedRelocation;
}

export interface EmitStrategyOptions extends Partial<StrategyOptions> {
  /** Also compare every page carried into QEMU (sources, indirection pages, tables) after the run. */
  compareAllPages?: boolean;
  /**
   * x86_64 only: clear NX (bit 63) in every present entry of the emitted copy of the strategy's tables
   * (the simulator's tables are left alone, and the table pages are left out of the comparison). The
   * kernel's identity map is executable (init_pgtable's page_flag is __PAGE_KERNEL_LARGE_EXEC) and the
   * stub executes from it; use this to check the list walk while a strategy maps it NX.
   */
  x86ClearNx?: boolean;
}

const TWO_64 = 1n << 64n;

export function emitStrategy(
  sc: RelocScenario,
  strategyName: string,
  opts: EmitStrategyOptions = {},
): StrategyEmission {
  const strategy = findStrategy(strategyName);
  const options = strategyOptionsFor(sc, strategy, opts);
  const machine = machineFor(sc);
  const tables: { pa: number; level: number }[] = [];
  let prepared: PreparedRelocation | undefined;
  const contextFor = (image: Kimage): StrategyContext => ({
    image,
    machine,
    options,
    coherence: defaultCoherence(sc.arch),
    allocTable: (level) => {
      const pa = image.allocControlPages(0, "table");
      tables.push({ pa, level });
      return pa;
    },
    allocControlPage: () => image.allocControlPages(0, "other"),
  });
  const loadOpts: LoadOptions = {};
  if (sc.x86Levels !== undefined) loadOpts.x86Levels = sc.x86Levels;
  if (strategy.image === "in-place") {
    loadOpts.type = "crash";
    loadOpts.crashRegion = sc.inPlaceRegion ?? defaultInPlaceRegion(sc);
  }
  if (strategy.phase === "before-segments") {
    loadOpts.beforeSegments = (image) => {
      prepared = strategy.prepare(contextFor(image));
    };
  }
  const loaded = kexecLoad(machine, sc.segments, loadOpts);
  if (!loaded.ok) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `the kernel would refuse this load with ${loaded.verdict.errno}: ${loaded.verdict.reason}`,
      { field: "segments" },
    );
  }
  const image = loaded.image;
  if (prepared === undefined) prepared = strategy.prepare(contextFor(image));

  // Snapshot RAM into the QEMU image before the simulated CPU touches it.
  const pages = new Set(kimagePages(image));
  if (image.type === "crash") {
    for (const s of image.segments) {
      for (let p = s.mem; p < s.mem + s.memsz; p += image.pageSize) pages.add(p);
    }
  }
  const checks: QemuRange[] = segmentChecks(image);
  const ps = image.pageSize;
  const description = `${sc.arch} ${ps / 1024}K ${strategy.name}${options.x86Swap && sc.arch === "x86_64" ? " (swap)" : ""}`;
  let emitted: EmittedImage;
  if (sc.arch === "arm64") {
    const format = prepared.translation?.format ?? formatFor(machine, options.vaBits);
    const params = arm64ParamsFor(strategy.name, image, machine, format, tables, prepared);
    emitted = emitArm64({
      mem: machine.mem,
      pages,
      routinePage: image.controlCodePage,
      params,
      checks,
      description,
    });
  } else {
    if (strategy.name !== "x86-ident") {
      throw new KexecLabError("E_NOT_MODELED", `no QEMU image for ${strategy.name} on x86_64`, {
        field: "--strategy",
      });
    }
    const format = prepared.translation?.format ?? formatFor(machine, options.vaBits === 57 ? 57 : 48);
    if (format.levels.length !== 4) {
      throw new KexecLabError("E_NOT_MODELED", "the x86_64 boot stub enters 4-level paging only", {
        field: "vaBits",
      });
    }
    const cr3 = prepared.translation?.ttbr0 ?? tables.find((t) => t.level === format.startLevel)!.pa;
    emitted = emitX86({
      image,
      cr3,
      mode: options.x86Swap ? "swap" : "copy",
      pages,
      description,
    });
    if (options.gbpages) emitted.cpu = "qemu64,+pdpe1gb";
    if (opts.x86ClearNx) {
      clearNxInBlobs(emitted, tables);
      emitted.description += " (NX cleared in the emitted tables)";
    }
  }
  if (opts.compareAllPages) {
    const skip = opts.x86ClearNx ? new Set(tables.map((t) => t.pa)) : new Set<number>();
    for (const b of emitted.blobs) {
      // one check per run of pages that are not skipped
      let start = -1;
      for (let pa = b.addr; pa <= b.addr + b.bytes.length; pa += ps) {
        const keep = pa < b.addr + b.bytes.length && !skip.has(pa);
        if (keep && start < 0) start = pa;
        if (!keep && start >= 0) {
          emitted.checks.push({ addr: start, size: pa - start, label: `ram 0x${start.toString(16)}` });
          start = -1;
        }
      }
    }
  }

  // The simulator's relocation, on the same machine, as runStrategy runs it.
  const guard = new PageGuard(machine.mem);
  const cpu = new RelocCpu(machine.mem, guard, NULL_SINK);
  prepared.execute(cpu);
  cpu.finish();
  const verify = verifySegments(machine.mem, image.segments);
  const checksNow = emitted.checks;
  return {
    image: emitted,
    simulated(i: number): Uint8Array {
      const c = checksNow[i];
      if (c === undefined) throw new RangeError(`no check ${i}`);
      const out = new Uint8Array(c.size);
      machine.mem.readBytes(c.addr, out);
      return out;
    },
    simulatorVerified: cpu.failures.length === 0 && verify.badPages === 0,
    kimage: image,
    machine,
    tables,
    prepared,
  };
}

/** Clear bit 63 (NX) of every present entry of the given table pages, in the emitted blobs only. */
function clearNxInBlobs(img: EmittedImage, tables: readonly { pa: number }[]): void {
  for (const t of tables) {
    const blob = img.blobs.find((b) => t.pa >= b.addr && t.pa < b.addr + b.bytes.length);
    if (blob === undefined) continue;
    const at = t.pa - blob.addr;
    const bytes = blob.bytes;
    for (let off = at; off < at + 4096; off += 8) {
      if ((bytes[off]! & 1) === 1) bytes[off + 7] = bytes[off + 7]! & 0x7f;
    }
  }
}

/** The start-level tables, told apart: TTBR0 translates the control code page to itself. */
export function arm64Roots(
  machine: Machine,
  format: TranslationFormat,
  image: Kimage,
  tables: readonly { pa: number; level: number }[],
): { ttbr0: number; ttbr1: number } {
  const roots = tables.filter((t) => t.level === format.startLevel).map((t) => t.pa);
  const code = image.controlCodePage;
  const ttbr0 = roots.find((r) => {
    const w = walk(machine.mem, format, r, 0, code);
    return w.ok && w.pa === code;
  });
  if (ttbr0 === undefined || roots.length !== 2) {
    throw new KexecLabError(
      "E_NOT_MODELED",
      `expected two root tables, one identity-mapping the control code page; found ${roots.length}`,
    );
  }
  return { ttbr0, ttbr1: roots.find((r) => r !== ttbr0)! };
}

/**
 * Which of the QEMU routine's copy loops (asm/arm64/reloc.S) runs a user strategy: the kernel's
 * MMU-off list walk when it builds no tables; linear-map-copy's list walk when its tables map the
 * linear map (va = pa - memstart in TTBR1) over every page the walk touches; va-copy's linear loop
 * when they map source i and destination i at va-copy's windows; the code page must be identity
 * mapped in TTBR0 either way. Else E_NOT_MODELED saying which mapping is missing where.
 */
function userStrategyMode(
  name: string,
  image: Kimage,
  machine: Machine,
  prepared: PreparedRelocation,
): "mmu-off" | "linear-map-copy" | "va-copy" {
  const t = prepared.translation;
  if (t === undefined) return "mmu-off";
  const ps = image.pageSize;
  const mem = machine.mem;
  const maps = (half: 0 | 1, va: number, pa: number) => {
    const w = walk(mem, t.format, half === 1 ? t.ttbr1 : t.ttbr0, half, va);
    return w.ok && w.pa === pa;
  };
  const hex = (n: number) => `0x${n.toString(16)}`;
  const code = image.controlCodePage;
  if (!maps(0, code, code)) {
    throw new KexecLabError(
      "E_NOT_MODELED",
      `strategy "${name}": its TTBR0 does not identity-map the control code page ${hex(code)}, where the QEMU routine runs with the MMU on`,
      { field: "--strategy" },
    );
  }
  const pairs = image.sourcePairs();
  const memstart = memstartOf(machine);
  const pages: number[] = [];
  for (const { dest, src } of pairs) pages.push(src, dest);
  walkIndirection(image, (p) => pages.push(p));
  const linearMiss = pages.find((pa) => !maps(1, pa - memstart, pa));
  if (linearMiss === undefined) return "linear-map-copy";
  const dstBase = 2 ** (t.format.vaBits - 1);
  const vaMiss = pairs.findIndex(
    ({ dest, src }, i) => !maps(1, i * ps, src) || !maps(1, dstBase + i * ps, dest),
  );
  if (vaMiss < 0) return "va-copy";
  throw new KexecLabError(
    "E_NOT_MODELED",
    `strategy "${name}": the QEMU routine (asm/arm64/reloc.S) has two MMU-on copy loops and this strategy's tables fit neither: linear-map-copy's list walk needs every list page at va = pa - memstart in TTBR1 (page ${hex(linearMiss)} is not at ${hex(linearMiss - memstart)}), va-copy's linear loop needs source i at TTBR1 i * PAGE_SIZE and destination i at ${hex(dstBase)} + i * PAGE_SIZE (pair ${vaMiss} is not); its own loop cannot be generated`,
    { field: "--strategy" },
  );
}

function walkIndirection(image: Kimage, visit: (page: number) => void): void {
  walkEntryList(image.mem, image.head, { source() {}, indirection: visit });
}

function arm64ParamsFor(
  name: string,
  image: Kimage,
  machine: Machine,
  format: TranslationFormat,
  tables: readonly { pa: number; level: number }[],
  prepared: PreparedRelocation,
): Arm64Params {
  const ps = image.pageSize;
  if (name === "mmu-off" || name === "in-place") {
    return { mode: "mmu-off", pageSize: ps, head: image.head };
  }
  if (name !== "linear-map-copy" && name !== "va-copy" && name !== "va-copy-series") {
    name = userStrategyMode(name, image, machine, prepared);
    if (name === "mmu-off") return { mode: "mmu-off", pageSize: ps, head: image.head };
  }
  const roots = prepared.translation ?? arm64Roots(machine, format, image, tables);
  const tcr = tcrFor(format, { ttbr0: true, ttbr1: true });
  const mmu = {
    mair: (BigInt(MAIR_EL1.hi) << 32n) | BigInt(MAIR_EL1.lo),
    tcr: (BigInt(tcr.hi) << 32n) | BigInt(tcr.lo),
    ttbr0: ttbrValue(roots.ttbr0),
    ttbr1: ttbrValue(roots.ttbr1),
  };
  if (name === "linear-map-copy") {
    // va = pa - memstart + PAGE_OFFSET, PAGE_OFFSET = the bottom of the TTBR1 range
    const pageOffset = fromVaParts(1, 0, format.vaBits);
    const offset = (pageOffset - BigInt(memstartOf(machine)) + TWO_64) % TWO_64;
    return { mode: "linear-map-copy", pageSize: ps, head: image.head, mmu, linearOffset: offset };
  }
  if (name === "va-copy" || name === "va-copy-series") {
    const pairs = image.sourcePairs();
    const srcVa = fromVaParts(1, 0, format.vaBits);
    const dstVa = fromVaParts(1, 2 ** (format.vaBits - 1), format.vaBits);
    return {
      mode: "va-copy",
      pageSize: ps,
      head: image.head,
      mmu,
      srcVa,
      dstVa,
      length: pairs.length * ps,
    };
  }
  throw new KexecLabError("E_NOT_MODELED", `no QEMU image for strategy ${name}`, { field: "--strategy" });
}

/**
 * TTBRn_EL1.BADDR for a table PA: bits 47:1 hold PA[47:1]; with 52-bit PA (FEAT_LPA/LPA2) PA[51:48]
 * go in bits 5:2 (the table is then at least 64-byte aligned).
 */
export function ttbrValue(pa: number): bigint {
  const p = BigInt(pa);
  const high = (p >> 48n) & 0xfn;
  return (p & ((1n << 48n) - 1n)) | (high << 2n);
}

/**
 * QEMU's command-line arguments for an emission: qemuArm64Args on qemu-virt-arm64, else qemuX86Args
 * with `kernel` as the Multiboot boot stub (-kernel). `ram` is the RAM image QEMU maps.
 */
export function qemuArgsFor(e: StrategyEmission, ram: QemuRamFile, kernel: string): string[] {
  return e.image.target === "qemu-virt-arm64"
    ? qemuArm64Args(e.image, ram)
    : qemuX86Args(e.image, ram, kernel);
}
