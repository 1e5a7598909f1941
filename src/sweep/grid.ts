/**
 * Parameter sweeps: a grid of machines and images (granule, VA bits, initrd size, free-page policy,
 * seed), each run through the relocation strategies and verified, one row per point and strategy.
 * Browser-safe: files (a scenario's real kernel, initrd, ...) come through a ReadFile callback; the
 * worker-thread pool is in src/sweep/node/pool.ts.
 */

import { DEFAULT_FREE_PAGES_TEXT } from "../defaults.js";
import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import type { ContentMode } from "../machine/machine.js";
import type { PageSize } from "../machine/physmem.js";
import { traceModeler } from "../model/model.js";
import { builtinProfile, checkProfileArch, defaultProfileName } from "../model/profiles.js";
import { findStrategy, strategiesFor, strategyNames } from "../reloc/registry.js";
import type { RunResult } from "../reloc/result.js";
import { type RelocScenario, runScenario } from "../reloc/run.js";
import { defaultScenario } from "../scenario/default.js";
import {
  loadScenario,
  type ReadFile,
  runLoadedScenario,
  type Scenario,
  strategyLabel,
} from "../scenario/load.js";
import { parseSize, toSafeNumber } from "../scenario/numbers.js";

/** A scenario file as a sweep's base: its parsed JSON, its directory (for relative paths) and name. */
export interface SweepScenarioSource {
  json: unknown;
  dir: string;
  name: string;
}

/** One point of the grid: a machine and image; every strategy runs on it. Structured-clonable. */
export interface SweepPoint {
  arch: Arch;
  granule: PageSize;
  vaBits: number;
  initrdBytes: number;
  freePages: string;
  seed: number;
  content: ContentMode;
  strategies: string[];
  linearMaps: ("block" | "page")[];
  /** Builtin timing-model profile for modelSeconds; absent: no model. */
  profile?: string;
  /** A scenario file as the base instead of the default machine. */
  scenario?: SweepScenarioSource;
  /** Override the initrd's size (scenario files: only when given). */
  overrideInitrd?: boolean;
}

export interface SweepRow {
  arch: string;
  granule: number;
  vaBits: number;
  initrdBytes: number;
  relocatedBytes: number;
  freePages: string;
  seed: number;
  strategy: string;
  linearMap: string;
  outcome: "verified" | "failed" | "refused";
  tablePages: number;
  tableBytes: number;
  controlPages: number;
  entriesRead: number;
  tlbMisses: number;
  bytesCopied: number;
  /** Modeled relocation time on the point's profile (seconds), null without a profile or when refused. */
  modelSeconds: number | null;
}

/** The columns of a row that come from one strategy's result. */
function strategyColumns(s: RunResult["strategies"][number]) {
  return {
    outcome: s.verified ? ("verified" as const) : ("failed" as const),
    tablePages: s.pageTables.pages,
    tableBytes: s.pageTables.bytes,
    controlPages: s.counters.controlPages,
    entriesRead: s.counters.entriesRead,
    tlbMisses: s.counters.tlbMisses,
    bytesCopied: s.counters.bytesCopied,
    modelSeconds: s.model?.[0]?.seconds ?? null,
  };
}

export const SWEEP_COLUMNS: readonly (keyof SweepRow)[] = [
  "arch",
  "granule",
  "vaBits",
  "initrdBytes",
  "relocatedBytes",
  "freePages",
  "seed",
  "strategy",
  "linearMap",
  "outcome",
  "tablePages",
  "tableBytes",
  "controlPages",
  "entriesRead",
  "tlbMisses",
  "bytesCopied",
  "modelSeconds",
];

/**
 * "lowest", "highest", "random[:seed]", "fragmented[:fraction]" as a FreePagePolicy (src/machine/freepages.ts);
 * `seed` is the policy's seed where the text gives none. Errors: E_FIELD_VALUE naming --free-pages for
 * another kind, a seed that is not a non-negative integer, or a fraction outside [0, 1).
 */
export function parseFreePages(text: string, seed: number): FreePagePolicy {
  const [kind, arg] = text.split(":");
  switch (kind) {
    case "lowest":
    case "highest":
      return { kind };
    case "random":
      return { kind, seed: arg !== undefined ? parseInteger(arg, "--free-pages") : seed };
    case "fragmented": {
      const fraction = arg !== undefined ? Number(arg) : 0.5;
      if (!(fraction >= 0 && fraction < 1)) {
        throw new KexecLabError("E_FIELD_VALUE", `fragmented fraction "${arg}" is not in [0, 1)`, {
          field: "--free-pages",
        });
      }
      return { kind, seed, fraction };
    }
    default:
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `free-page policy "${text}" (use lowest, highest, random[:seed], fragmented[:fraction])`,
        { field: "--free-pages" },
      );
  }
}

/** A non-negative integer option ("--seed", "--va-bits"); E_FIELD_VALUE naming `field` otherwise. */
export function parseInteger(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new KexecLabError("E_FIELD_VALUE", `"${text}" is not a non-negative integer`, { field });
  }
  return n;
}

/** The text form of a policy (inverse of parseFreePages). */
export function policyText(p: FreePagePolicy): string {
  switch (p.kind) {
    case "lowest":
    case "highest":
      return p.kind;
    case "random":
      return `random:${p.seed}`;
    case "fragmented":
      return `fragmented:${p.fraction}`;
  }
}

/** The default scenario's machine and kernel/DTB with an initrd of `initrdBytes` (page-rounded). */
export function sweepScenario(p: SweepPoint): RelocScenario {
  const base = defaultScenario(p.arch, p.content, p.seed, { pageSize: p.granule, vaBits: p.vaBits });
  const initrd = Math.ceil(p.initrdBytes / p.granule) * p.granule;
  const segs: Segment[] = base.segments.map((s) => ({ ...s }));
  const i = segs.findIndex((s) => s.label === "initrd");
  const old = segs[i]!;
  const delta = initrd - old.memsz;
  segs[i] = { ...old, memsz: initrd, content: { kind: "synthetic", seed: p.seed * 7919 + 2, bufsz: initrd } };
  // Keep the layout: what lies above the initrd moves up (arm64), what lies below moves down (x86_64).
  for (const s of segs) {
    if (s === segs[i]) continue;
    if (p.arch === "arm64" && s.mem > old.mem) s.mem += delta;
    if (p.arch === "x86_64" && s.mem < old.mem) s.mem -= delta;
  }
  if (p.arch === "x86_64") segs[i] = { ...segs[i]!, mem: old.mem - delta };
  return {
    ...base,
    name: `sweep-${p.arch}`,
    segments: segs,
    freePages: parseFreePages(p.freePages, p.seed),
  };
}

/** A grid point on a scenario file: the file's scenario with the point's parameters. */
export function scenarioPoint(p: SweepPoint): Scenario {
  const src = p.scenario!;
  const base = loadScenario(src.json, src.dir, src.name);
  const sc: Scenario = {
    ...base,
    pageSize: p.granule,
    vaBits: p.vaBits,
    seed: p.seed,
    freePages: parseFreePages(p.freePages, p.seed),
    contentMode: p.content,
  };
  if (p.overrideInitrd) {
    const i = sc.segments.findIndex((g) => g.label === "initrd");
    if (i < 0) {
      throw new KexecLabError("E_FIELD_VALUE", `the scenario has no segment labelled "initrd" to resize`, {
        file: src.name,
        field: "--initrd",
      });
    }
    const size = Math.ceil(p.initrdBytes / p.granule) * p.granule;
    // Segments above the initrd move up with its end, as kexec-tools would place them (arm64 order).
    const old = sc.segments[i]!;
    const delta = size - old.memsz;
    sc.segments = sc.segments.map((g, k) =>
      k === i ? { ...g, memsz: size, bufsz: size } : g.mem > old.mem ? { ...g, mem: g.mem + delta } : g,
    );
  }
  if (p.strategies.length > 0) {
    sc.strategies = p.strategies.flatMap((name) =>
      name === "linear-map-copy"
        ? p.linearMaps.map((m) => ({ name, options: m === "block" ? {} : { linearMap: m } }))
        : [{ name, options: {} }],
    );
  }
  return sc;
}

/** The timing model of a point: the same default sampling as `run`. */
function modelFor(p: SweepPoint) {
  return p.profile !== undefined ? traceModeler([builtinProfile(p.profile)]) : undefined;
}

const EMPTY_COUNTERS = {
  tablePages: 0,
  tableBytes: 0,
  controlPages: 0,
  entriesRead: 0,
  tlbMisses: 0,
  bytesCopied: 0,
};

function evaluateScenarioPoint(p: SweepPoint, readFile: ReadFile | undefined): SweepRow[] {
  const sc = scenarioPoint(p);
  const model = modelFor(p);
  const out = runLoadedScenario(sc, readFile, model !== undefined ? { model } : {});
  const initrd = sc.segments.find((g) => g.label === "initrd")?.memsz ?? 0;
  const entries =
    sc.strategies.length > 0
      ? sc.strategies
      : strategiesFor(sc.arch).map((x) => ({ name: x.name, options: {} }));
  const common = {
    arch: sc.arch,
    granule: sc.pageSize,
    vaBits: sc.vaBits,
    initrdBytes: initrd,
    freePages: p.freePages,
    seed: p.seed,
  };
  if (!out.ok) {
    return entries.map((e) => ({
      ...common,
      relocatedBytes: sc.segments.reduce((a, g) => a + g.memsz, 0),
      strategy: strategyLabel(e),
      linearMap: (e.options as { linearMap?: string }).linearMap ?? "block",
      outcome: "refused" as const,
      ...EMPTY_COUNTERS,
      modelSeconds: null,
    }));
  }
  const relocatedBytes = out.result.kimage.segments.reduce((a, g) => a + g.memsz, 0);
  return out.result.strategies.map((s, k) => ({
    ...common,
    relocatedBytes,
    strategy: s.name,
    linearMap: (entries[k]?.options as { linearMap?: string } | undefined)?.linearMap ?? "block",
    ...strategyColumns(s),
  }));
}

/**
 * Run every strategy on one grid point. `readFile` reads the files a scenario file names (its kernel,
 * initrd, ...); the default machine needs none.
 */
export function evaluatePoint(p: SweepPoint, readFile?: ReadFile): SweepRow[] {
  if (p.scenario !== undefined) return evaluateScenarioPoint(p, readFile);
  const sc = sweepScenario(p);
  const relocatedBytes = sc.segments.reduce((a, s) => a + s.memsz, 0);
  const model = modelFor(p);
  const rows: SweepRow[] = [];
  const common = {
    arch: p.arch,
    granule: p.granule,
    vaBits: p.vaBits,
    initrdBytes: sc.segments.find((s) => s.label === "initrd")!.memsz,
    relocatedBytes,
    freePages: p.freePages,
    seed: p.seed,
  };
  for (const strategy of p.strategies) {
    const maps = strategy === "linear-map-copy" ? p.linearMaps : [p.linearMaps[0] ?? "block"];
    for (const linearMap of maps) {
      const out = runScenario(sc, {
        strategies: [strategy],
        linearMap,
        ...(model !== undefined ? { model } : {}),
      });
      if (!out.ok) {
        rows.push({
          ...common,
          strategy,
          linearMap,
          outcome: "refused",
          ...EMPTY_COUNTERS,
          modelSeconds: null,
        });
        continue;
      }
      const s = out.result.strategies[0]!;
      rows.push({
        ...common,
        strategy,
        linearMap,
        ...strategyColumns(s),
      });
    }
  }
  return rows;
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV: a header of SWEEP_COLUMNS, one line per row; null cells empty. */
export function toCsv(rows: readonly SweepRow[]): string {
  return `${[SWEEP_COLUMNS.join(","), ...rows.map((r) => SWEEP_COLUMNS.map((c) => csvCell(r[c])).join(","))].join("\n")}\n`;
}

function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

const GRANULES: Record<string, PageSize> = {
  "4k": 4096,
  "4096": 4096,
  "16k": 16384,
  "16384": 16384,
  "64k": 65536,
  "65536": 65536,
};

/**
 * A granule as the CLI takes it ("4K", "16k", "65536"): E_PAGE_SIZE for another value, and for
 * anything but 4K on x86_64.
 */
export function parseGranule(text: string, arch: Arch): PageSize {
  const g = GRANULES[text.toLowerCase()];
  if (g === undefined) {
    throw new KexecLabError("E_PAGE_SIZE", `granule "${text}"`, { field: "--granule" });
  }
  if (arch === "x86_64" && g !== 4096) {
    throw new KexecLabError("E_PAGE_SIZE", `granule "${text}": x86_64 has 4K pages only`, {
      field: "--granule",
    });
  }
  return g;
}

/**
 * `--linear-map`: "block" (the largest blocks the granule allows, 1 GiB with 4K), "page"
 * (page-granular: rodata=full, debug_pagealloc, kfence) or a size such as 2M or 1G: blocks no larger
 * than that (2M is what x86_64's identity map uses, the seed thread's comparison). Any case.
 */
export function parseLinearMap(text: string): { linearMap: "block" | "page"; linearMapBlock: number } {
  const t = text.trim().toLowerCase();
  if (t === "block") return { linearMap: "block", linearMapBlock: 0 };
  if (t === "page") return { linearMap: "page", linearMapBlock: 0 };
  let bytes: number;
  try {
    bytes = toSafeNumber(parseSize(text, "--linear-map"), "--linear-map");
  } catch {
    bytes = Number.NaN;
  }
  if (!(bytes >= 4096) || !Number.isInteger(Math.log2(bytes))) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `linear map "${text}": give block, page, or the largest block size (a power of two such as 2M or 1G)`,
      { field: "--linear-map" },
    );
  }
  return { linearMap: "block", linearMapBlock: bytes };
}

/** The grid's parameters as text lists ("4K,16K", "16M,64M", ...), as the CLI takes them. */
export interface SweepGridOptions {
  arch: Arch;
  granule?: string;
  vaBits?: string;
  initrd?: string;
  strategy?: string;
  linearMap: string;
  freePages?: string;
  seed?: string;
  content?: ContentMode;
  /**
   * Builtin profile name for modelSeconds; "none" for no model. Default: the architecture's default
   * profile (defaultProfileName), as `kexec-lab run` models.
   */
  profile?: string;
}

/** Most grid points one sweep takes. */
export const MAX_GRID_POINTS = 10000;

/**
 * The grid the options describe: the cartesian product granule x VA bits x initrd size x policy x
 * seed, in that fixed order. With a scenario file as the base, parameters not given come from it.
 * Errors: E_PAGE_SIZE (granule), E_FIELD_VALUE (other values), E_LIMIT (more than 10000 points).
 */
export function gridFrom(opts: SweepGridOptions, scenario?: SweepScenarioSource): SweepPoint[] {
  let base: Scenario | undefined;
  if (scenario !== undefined) {
    base = loadScenario(scenario.json, scenario.dir, scenario.name);
    opts = { ...opts, arch: base.arch };
    if (opts.initrd !== undefined && base.files !== undefined) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        "--initrd resizes an explicit segment; this scenario places files",
        { field: "--initrd" },
      );
    }
  }
  const granuleText = opts.granule ?? (base !== undefined ? String(base.pageSize) : "4K");
  const vaText = opts.vaBits ?? String(base?.vaBits ?? 48);
  const initrdText = opts.initrd ?? (base !== undefined ? "0" : "64M");
  const seedText = opts.seed ?? String(base?.seed ?? 1);
  const freeText =
    opts.freePages ?? (base !== undefined ? policyText(base.freePages) : DEFAULT_FREE_PAGES_TEXT);
  const content: ContentMode = opts.content ?? "synthetic";
  const granules = list(granuleText).map((g) => parseGranule(g, opts.arch));
  const vaBits = list(vaText).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 39 || n > 57) {
      throw new KexecLabError("E_FIELD_VALUE", `VA bits "${v}"`, { field: "--va-bits" });
    }
    return n;
  });
  const sizes = list(initrdText).map((s) => toSafeNumber(parseSize(s, "--initrd"), "--initrd"));
  const seeds = list(seedText).map((s) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new KexecLabError("E_FIELD_VALUE", `seed "${s}"`, { field: "--seed" });
    return n;
  });
  const known = strategiesFor(opts.arch).map((s) => s.name);
  const strategies = opts.strategy !== undefined ? list(opts.strategy) : base !== undefined ? [] : known;
  // registered ones too (sweep --load-strategy), when they exist on the arch
  const exists = (name: string) =>
    known.includes(name) || (strategyNames().includes(name) && findStrategy(name).arches.includes(opts.arch));
  for (const s of strategies) {
    if (!exists(s)) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `strategy "${s}" on ${opts.arch} (known: ${known.join(", ")})`,
        {
          field: "--strategy",
        },
      );
    }
  }
  const linearMaps = list(opts.linearMap).map((m) => {
    const lm = parseLinearMap(m);
    if (lm.linearMapBlock !== 0)
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `linear map "${m}": sweep takes block or page (a block-size limit is a run option: run --linear-map ${m})`,
        { field: "--linear-map" },
      );
    return lm.linearMap;
  });
  const policies = list(freeText);
  for (const p of policies) parseFreePages(p, 1);
  const profile = opts.profile === "none" ? undefined : (opts.profile ?? defaultProfileName(opts.arch));
  if (profile !== undefined) checkProfileArch(builtinProfile(profile), opts.arch);
  const points: SweepPoint[] = [];
  for (const granule of granules)
    for (const va of vaBits)
      for (const initrdBytes of sizes)
        for (const freePages of policies)
          for (const seed of seeds)
            points.push({
              arch: opts.arch,
              granule,
              vaBits: va,
              initrdBytes,
              freePages,
              seed,
              content,
              strategies,
              linearMaps,
              ...(profile !== undefined ? { profile } : {}),
              ...(scenario !== undefined ? { scenario, overrideInitrd: opts.initrd !== undefined } : {}),
            });
  if (points.length > MAX_GRID_POINTS) {
    throw new KexecLabError("E_LIMIT", `${points.length} grid points (at most ${MAX_GRID_POINTS})`, {
      field: "(grid)",
    });
  }
  return points;
}
