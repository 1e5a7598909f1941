/**
 * Loading a scenario file: validate the JSON against the zod definitions (schema.ts), turn every
 * problem into a catalogued KexecLabError naming the field path (machine.ram[1].size), parse numbers
 * exactly (numbers.ts), apply defaults, and resolve file paths against the scenario's directory.
 *
 *   loadScenario(json, baseDir?)            -> Scenario (plain data; no file is read)
 *   toRelocScenario(scenario, readFile?)    -> RelocScenario for src/reloc/run.ts (reads iomem/dtb/segment files
 *                                              through the injected readFile, so this module runs in a browser)
 *
 * Browser-safe: no node: imports.
 */

import type { z } from "zod";
import { DEFAULT_FREE_PAGES_TEXT, DEFAULT_LOADER } from "../defaults.js";
import { KexecLabError } from "../errors.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../formats/devicetree.js";
import { parseFdt } from "../formats/fdt.js";
import { iomemToMemoryMap, parseIomem } from "../formats/iomem.js";
import type { Arch } from "../kimage/constants.js";
import type { Segment } from "../kimage/kimage.js";
import { type LoaderKind, planLoad } from "../loader/plan.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import type { ContentMode } from "../machine/machine.js";
import { MemoryMap, type Region } from "../machine/memmap.js";
import type { PageSize } from "../machine/physmem.js";
import { findStrategy, strategiesFor } from "../reloc/registry.js";
import type { RunResult } from "../reloc/result.js";
import {
  machineFor,
  type RelocScenario,
  type RunOutcome,
  type RunScenarioOptions,
  runScenario,
} from "../reloc/run.js";
import type { StrategyOptions } from "../reloc/strategy.js";
import { scenarioPageMap } from "../report/pagemap.js";
import { parseSize, parseU64, toSafeNumber } from "./numbers.js";
import { scenarioSchema } from "./schema.js";

export interface ScenarioSegment {
  label: string;
  mem: number;
  memsz: number;
  /** Undefined: memsz, or the file's size. */
  bufsz: number | undefined;
  content: { kind: "synthetic"; seed: number } | { kind: "file"; path: string } | { kind: "zero" };
}

export type ScenarioMemory =
  | { kind: "map"; regions: Region[] }
  | { kind: "iomem"; path: string }
  | { kind: "dtb"; path: string };

export interface ScenarioFiles {
  kernel: string;
  initrd?: string;
  dtb?: string;
  append?: string;
  loader: LoaderKind;
  wipeKaslrSeed: boolean;
}

export interface ScenarioStrategy {
  name: string;
  options: Partial<StrategyOptions>;
}

/** A validated scenario with defaults applied and paths resolved. Plain data (serializable). */
export interface Scenario {
  name: string;
  description: string;
  arch: Arch;
  pageSize: PageSize;
  vaBits: number;
  paBits?: number;
  x86Levels: 4 | 5;
  memory: ScenarioMemory;
  /** Explicit segments; empty when `files` is given. */
  segments: ScenarioSegment[];
  files?: ScenarioFiles;
  /** Empty: every strategy of the arch. */
  strategies: ScenarioStrategy[];
  freePages: FreePagePolicy;
  seed: number;
  contentMode: ContentMode;
  /** Profile names or inline profile objects, for the timing model (src/model/profiles.ts loads them). */
  profiles: (string | Record<string, unknown>)[];
  /** Directory relative paths were resolved against ("" when none was given). */
  baseDir: string;
}

/** Join a relative path to a base directory (POSIX or Windows separators; no node:path, for browsers). */
export function resolvePath(baseDir: string, path: string): string {
  if (baseDir === "" || path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\")) {
    return path;
  }
  const sep = baseDir.includes("\\") && !baseDir.includes("/") ? "\\" : "/";
  return baseDir.endsWith("/") || baseDir.endsWith("\\") ? `${baseDir}${path}` : `${baseDir}${sep}${path}`;
}

/** "machine.ram[1].size" from a zod issue path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** One zod issue -> one catalogued error (the first issue is reported; zod orders them by path). */
export function issueToError(issue: z.core.$ZodIssue, input: unknown): KexecLabError {
  const field = fieldPath(issue.path);
  switch (issue.code) {
    case "invalid_type": {
      const here = valueAt(input, issue.path);
      if (here === undefined) {
        return new KexecLabError("E_FIELD_MISSING", `"${String(issue.path.at(-1) ?? field)}" is required`, {
          field,
        });
      }
      return new KexecLabError("E_FIELD_TYPE", `expected ${issue.expected}, got ${describeValue(here)}`, {
        field,
      });
    }
    case "unrecognized_keys": {
      const key = issue.keys[0] ?? "?";
      return new KexecLabError("E_FIELD_VALUE", `unknown field "${key}"`, {
        field: fieldPath([...issue.path, key]),
      });
    }
    case "invalid_union": {
      // Report the most specific branch: the one whose first issue goes deepest.
      let best: z.core.$ZodIssue | undefined;
      for (const branch of issue.errors) {
        const first = branch[0];
        if (first !== undefined && (best === undefined || first.path.length > best.path.length)) best = first;
      }
      const here = valueAt(input, issue.path);
      if (best !== undefined && best.path.length > 0) {
        return issueToError({ ...best, path: [...issue.path, ...best.path] } as z.core.$ZodIssue, input);
      }
      if (here === undefined) {
        return new KexecLabError("E_FIELD_MISSING", `"${String(issue.path.at(-1) ?? field)}" is required`, {
          field,
        });
      }
      const firsts = issue.errors.map((b) => b[0]).filter((f) => f !== undefined);
      if (firsts.every((f) => f.code === "invalid_type")) {
        const expected = [...new Set(firsts.map((f) => (f as { expected: string }).expected))].join(" or ");
        return new KexecLabError("E_FIELD_TYPE", `expected ${expected}, got ${describeValue(here)}`, {
          field,
        });
      }
      return new KexecLabError("E_FIELD_VALUE", `${describeValue(here)} is not allowed here`, { field });
    }
    case "too_big":
    case "too_small":
      return new KexecLabError("E_NUMBER_RANGE", issue.message, { field });
    default:
      return new KexecLabError("E_FIELD_VALUE", issue.message, { field });
  }
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return `${typeof v} ${String(v)}`;
}

const addr = (v: string | number, field: string) => toSafeNumber(parseU64(v, field), field);
const size = (v: string | number, field: string) => toSafeNumber(parseSize(v, field), field);

function regionEnd(
  r: { start: string | number; size?: string | number | undefined; end?: string | number | undefined },
  path: string,
): { start: number; end: number } {
  const start = addr(r.start, `${path}.start`);
  if ((r.size === undefined) === (r.end === undefined)) {
    throw new KexecLabError(
      r.size === undefined ? "E_FIELD_MISSING" : "E_FIELD_VALUE",
      'give exactly one of "size" and "end"',
      { field: path },
    );
  }
  const end = r.end !== undefined ? addr(r.end, `${path}.end`) : start + size(r.size!, `${path}.size`);
  if (!(end > start))
    throw new KexecLabError("E_RAM_LAYOUT", "the region is empty or reversed", { field: path });
  if (end > 2 ** 53) throw new KexecLabError("E_NUMBER_RANGE", "the region ends above 2^53", { field: path });
  return { start, end };
}

/**
 * Validate a parsed scenario document. `name` defaults to `defaultName` (e.g. the file's base name);
 * relative paths (iomem, dtb, files, segment files) are resolved against baseDir.
 */
export function loadScenario(json: unknown, baseDir = "", defaultName = "scenario"): Scenario {
  const parsed = scenarioSchema.safeParse(json);
  if (!parsed.success) throw issueToError(parsed.error.issues[0]!, json);
  const s = parsed.data;
  const m = s.machine;
  const arch = m.arch;
  const pageSize: PageSize =
    m.pageSize === undefined
      ? 4096
      : typeof m.pageSize === "number"
        ? m.pageSize
        : ({ "4K": 4096, "16K": 16384, "64K": 65536 } as const)[m.pageSize];
  if (arch === "x86_64" && pageSize !== 4096) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${pageSize} is not supported on x86_64`, {
      field: "machine.pageSize",
    });
  }
  const vaBits = m.vaBits ?? (arch === "x86_64" && m.x86Levels === 5 ? 57 : 48);
  if (arch === "arm64" && vaBits > 52) {
    throw new KexecLabError("E_FIELD_VALUE", `arm64 VA sizes are 39..52 bits, not ${vaBits}`, {
      field: "machine.vaBits",
    });
  }
  if (arch === "x86_64" && vaBits !== 48 && vaBits !== 57) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `x86_64 VA sizes are 48 (4-level) or 57 (5-level), not ${vaBits}`,
      {
        field: "machine.vaBits",
      },
    );
  }

  // Exactly one source of the memory map.
  const given = (["ram", "memoryMap", "iomem", "dtb"] as const).filter((k) => m[k] !== undefined);
  if (given.length !== 1) {
    throw new KexecLabError(
      given.length === 0 ? "E_FIELD_MISSING" : "E_FIELD_VALUE",
      given.length === 0
        ? "the machine needs RAM: give one of ram, memoryMap, iomem or dtb"
        : `give only one of ram, memoryMap, iomem, dtb (got ${given.join(", ")})`,
      { field: "machine" },
    );
  }
  if (m.reserved !== undefined && m.ram === undefined) {
    throw new KexecLabError("E_FIELD_VALUE", '"reserved" goes with "ram"; put reservations in memoryMap', {
      field: "machine.reserved",
    });
  }
  let memory: ScenarioMemory;
  if (m.ram !== undefined) {
    const regions: Region[] = m.ram.map((b, i) => ({
      ...regionEnd(b, `machine.ram[${i}]`),
      type: "ram" as const,
      name: "System RAM",
    }));
    (m.reserved ?? []).forEach((r, i) => {
      regions.push({
        ...regionEnd(r, `machine.reserved[${i}]`),
        type: "reserved",
        name: r.name ?? "reserved",
      });
    });
    memory = { kind: "map", regions };
  } else if (m.memoryMap !== undefined) {
    memory = {
      kind: "map",
      regions: m.memoryMap.map((r, i) => ({
        ...regionEnd(r, `machine.memoryMap[${i}]`),
        type: r.type,
        name: r.name ?? (r.type === "ram" ? "System RAM" : r.type),
      })),
    };
  } else if (m.iomem !== undefined) {
    memory = { kind: "iomem", path: resolvePath(baseDir, m.iomem) };
  } else {
    memory = { kind: "dtb", path: resolvePath(baseDir, m.dtb!) };
  }
  if (memory.kind === "map") {
    // Validate the layout now, so a bad map is reported against the scenario.
    try {
      new MemoryMap(memory.regions);
    } catch (e) {
      if (e instanceof KexecLabError) {
        throw new KexecLabError(e.code, e.detail, {
          field: m.ram !== undefined ? "machine.ram" : "machine.memoryMap",
        });
      }
      throw e;
    }
  }

  if ((s.segments === undefined) === (s.files === undefined)) {
    throw new KexecLabError(
      s.segments === undefined ? "E_FIELD_MISSING" : "E_FIELD_VALUE",
      s.segments === undefined ? 'give "segments" or "files"' : 'give "segments" or "files", not both',
      { field: "(root)" },
    );
  }
  const seed = s.seed ?? 1;
  const segments: ScenarioSegment[] = (s.segments ?? []).map((g, i) => {
    const path = `segments[${i}]`;
    const mem = addr(g.mem, `${path}.mem`);
    const memsz = size(g.memsz, `${path}.memsz`);
    const bufsz = g.bufsz === undefined ? undefined : size(g.bufsz, `${path}.bufsz`);
    const c = g.content ?? { kind: "synthetic" as const };
    const content: ScenarioSegment["content"] =
      c.kind === "synthetic"
        ? { kind: "synthetic", seed: c.seed ?? syntheticSeed(seed, i) }
        : c.kind === "file"
          ? { kind: "file", path: resolvePath(baseDir, c.path) }
          : { kind: "zero" };
    return { label: g.label ?? `segment${i}`, mem, memsz, bufsz, content };
  });
  const files: ScenarioFiles | undefined =
    s.files === undefined
      ? undefined
      : {
          kernel: resolvePath(baseDir, s.files.kernel),
          ...(s.files.initrd !== undefined ? { initrd: resolvePath(baseDir, s.files.initrd) } : {}),
          ...(s.files.dtb !== undefined ? { dtb: resolvePath(baseDir, s.files.dtb) } : {}),
          ...(s.files.append !== undefined ? { append: s.files.append } : {}),
          loader: s.files.loader ?? DEFAULT_LOADER,
          wipeKaslrSeed: s.files.wipeKaslrSeed ?? false,
        };
  const strategies: ScenarioStrategy[] = (s.strategies ?? []).map((st) => {
    if (typeof st === "string") return { name: st, options: {} };
    const { name, ...options } = st;
    return { name, options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  });
  const fp = s.freePages ?? DEFAULT_FREE_PAGES_TEXT;
  const kind = typeof fp === "string" ? fp : fp.kind;
  const freePages: FreePagePolicy =
    kind === "lowest" || kind === "highest"
      ? { kind }
      : kind === "random"
        ? { kind, seed: (typeof fp === "object" && "seed" in fp ? fp.seed : undefined) ?? seed }
        : {
            kind: "fragmented",
            seed: (typeof fp === "object" && "seed" in fp ? fp.seed : undefined) ?? seed,
            fraction: (typeof fp === "object" && "fraction" in fp ? fp.fraction : undefined) ?? 0.5,
          };
  const out: Scenario = {
    name: s.name ?? defaultName,
    description: s.description ?? "",
    arch,
    pageSize,
    vaBits,
    x86Levels: m.x86Levels ?? (vaBits === 57 ? 5 : 4),
    memory,
    segments,
    strategies,
    freePages,
    seed,
    contentMode: s.contentMode ?? "exact",
    profiles: s.profiles ?? [],
    baseDir,
  };
  if (m.paBits !== undefined) out.paBits = m.paBits;
  if (files !== undefined) out.files = files;
  return out;
}

/** The synthetic-content seed of segment i (the default scenario uses the same rule). */
export function syntheticSeed(scenarioSeed: number, index: number): number {
  return (scenarioSeed * 7919 + index + 1) >>> 0;
}

export type ReadFile = (path: string) => Uint8Array;

function noFiles(path: string): Uint8Array {
  throw new KexecLabError("E_FILE_READ", "this scenario reads files, but no file reader was given", {
    file: path,
  });
}

/** The scenario's memory map (reads the iomem or DTB file through readFile). */
export function scenarioMemoryMap(sc: Scenario, readFile: ReadFile = noFiles): MemoryMap {
  switch (sc.memory.kind) {
    case "map":
      return new MemoryMap(sc.memory.regions);
    case "iomem":
      return iomemToMemoryMap(parseIomem(new TextDecoder().decode(readFile(sc.memory.path)), sc.memory.path));
    case "dtb":
      return deviceTreeMemoryMap(deviceTreeInfo(parseFdt(readFile(sc.memory.path), sc.memory.path)));
  }
}

/** Explicit segments as the kimage takes them. */
export function scenarioSegments(sc: Scenario, readFile: ReadFile = noFiles): Segment[] {
  // bufsz > memsz is kept as given: kexec_load refuses it with EINVAL (pass 3), and the verdict says so.
  return sc.segments.map((g) => {
    let content: Segment["content"];
    if (g.content.kind === "synthetic") {
      content = { kind: "synthetic", seed: g.content.seed, bufsz: g.bufsz ?? g.memsz };
    } else if (g.content.kind === "zero") {
      content = { kind: "bytes", data: new Uint8Array(0) };
    } else {
      const data = readFile(g.content.path);
      content = {
        kind: "bytes",
        data: g.bufsz !== undefined && g.bufsz < data.length ? data.subarray(0, g.bufsz) : data,
      };
    }
    return { mem: g.mem, memsz: g.memsz, content, label: g.label };
  });
}

/**
 * Place a scenario's `files` with the loader's rules (src/loader/plan.ts) on the scenario's memory map.
 * Returns the placed segments; a placement the kernel would refuse is left to run's verdict.
 */
export function placeScenarioFiles(
  sc: Scenario,
  readFile: ReadFile = noFiles,
): { segments: Segment[]; memoryMap: MemoryMap } {
  const f = sc.files;
  if (f === undefined) {
    throw new KexecLabError("E_FIELD_MISSING", 'the scenario has no "files"', { field: "files" });
  }
  const memoryMap = scenarioMemoryMap(sc, readFile);
  const plan = planLoad({
    arch: sc.arch,
    loader: f.loader,
    kernel: readFile(f.kernel),
    kernelName: f.kernel,
    ...(f.initrd !== undefined ? { initrd: readFile(f.initrd), initrdName: f.initrd } : {}),
    ...(f.dtb !== undefined ? { dtb: readFile(f.dtb), dtbName: f.dtb } : {}),
    ...(f.append !== undefined ? { append: f.append } : {}),
    memoryMap,
    pageSize: sc.pageSize,
    seed: sc.seed,
    wipeKaslrSeed: f.wipeKaslrSeed,
  });
  return { segments: plan.segments, memoryMap: plan.memoryMap };
}

/**
 * The scenario as src/reloc/run.ts runs it. Scenarios with `files` are placed by the loader first
 * (or pass `placed` when you placed them yourself).
 */
export function toRelocScenario(
  sc: Scenario,
  readFile: ReadFile = noFiles,
  placed?: { segments: Segment[]; memoryMap?: MemoryMap },
): RelocScenario {
  const where = placed ?? (sc.files !== undefined ? placeScenarioFiles(sc, readFile) : undefined);
  const out: RelocScenario = {
    name: sc.name,
    arch: sc.arch,
    pageSize: sc.pageSize,
    vaBits: sc.vaBits,
    memoryMap: where?.memoryMap ?? scenarioMemoryMap(sc, readFile),
    segments: where?.segments ?? scenarioSegments(sc, readFile),
    contentMode: sc.contentMode,
    seed: sc.seed,
    freePages: sc.freePages,
  };
  if (sc.arch === "x86_64") out.x86Levels = sc.x86Levels;
  if (sc.paBits !== undefined) out.paBits = sc.paBits;
  return out;
}

/** "linear-map-copy (linearMap=page)" for a strategy entry with options; the bare name without. */
export function strategyLabel(st: ScenarioStrategy): string {
  const opts = Object.entries(st.options);
  return opts.length === 0 ? st.name : `${st.name} (${opts.map(([k, v]) => `${k}=${String(v)}`).join(", ")})`;
}

export interface RunLoadedOptions extends Omit<RunScenarioOptions, "strategies"> {
  /** Attach RunResult.pageMap (one extra kexec_load of the image, no relocation). For the HTML report. */
  pageMap?: boolean;
  /** Already placed segments (see toRelocScenario). */
  placed?: { segments: Segment[]; memoryMap?: MemoryMap };
  /** Host-memory budget for exact page contents (the CLI's --max-memory). */
  maxBytes?: number;
}

/**
 * Run a loaded scenario: every strategy entry with its own options (the same strategy may appear
 * twice with different options; entries with options are named "name (option=value)"), as one
 * RunResult. Options given here (linearMap, x86Swap, ...) apply where an entry does not set them.
 */
export function runLoadedScenario(
  sc: Scenario,
  readFile: ReadFile = noFiles,
  opts: RunLoadedOptions = {},
): RunOutcome {
  const reloc = toRelocScenario(sc, readFile, opts.placed);
  if (opts.maxBytes !== undefined) reloc.maxBytes = opts.maxBytes;
  const entries: ScenarioStrategy[] =
    sc.strategies.length > 0
      ? sc.strategies
      : strategiesFor(sc.arch).map((s) => ({ name: s.name, options: {} }));
  for (const e of entries) findStrategy(e.name);
  const { pageMap, placed: _placed, maxBytes: _maxBytes, onStrategy, ...runOpts } = opts;
  let merged: RunResult | undefined;
  for (const [i, entry] of entries.entries()) {
    const out = runScenario(reloc, {
      ...runOpts,
      ...entry.options,
      strategies: [entry.name],
      onStrategy: (name) => onStrategy?.(name, i, entries.length),
    });
    if (!out.ok) return out;
    const r = out.result.strategies[0]!;
    r.name = strategyLabel(entry);
    if (merged === undefined) merged = out.result;
    else merged.strategies.push(r);
  }
  const result = merged!;
  if (pageMap === true) {
    const map = scenarioPageMap(machineFor(reloc), reloc.segments, reloc.x86Levels);
    if (map !== undefined) result.pageMap = map;
  }
  return { ok: true, result };
}
