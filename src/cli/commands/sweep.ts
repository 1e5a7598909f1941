import { availableParallelism } from "node:os";
import { basename, dirname } from "node:path";
import { Worker } from "node:worker_threads";
import { type Command, Option } from "commander";
import { KexecLabError } from "../../errors.js";
import { ARCHES, type Arch } from "../../kimage/constants.js";
import type { Segment } from "../../kimage/kimage.js";
import type { FreePagePolicy } from "../../machine/freepages.js";
import type { ContentMode } from "../../machine/machine.js";
import type { PageSize } from "../../machine/physmem.js";
import { traceModeler } from "../../model/model.js";
import { builtinProfile } from "../../model/profiles.js";
import { strategiesFor } from "../../reloc/registry.js";
import { type RelocScenario, runScenario } from "../../reloc/run.js";
import { formatBytes } from "../../report/format.js";
import { defaultScenario } from "../../scenario/default.js";
import { loadScenario, runLoadedScenario, type Scenario, strategyLabel } from "../../scenario/load.js";
import { parseSize, toSafeNumber } from "../../scenario/numbers.js";
import { parseJson } from "../../scenario/validate-input.js";
import { EXIT_OK } from "../exit.js";
import { readInputFile, readTextFile, writeOutputFile } from "../files.js";
import type { CliContext } from "../main.js";
import { startProgress } from "../progress.js";
import { signalCheckpoint } from "../signals.js";

/** One point of the grid: a machine and image; every strategy runs on it. */
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
  profile?: string;
  /** A scenario file as the base instead of the default machine (its path; read in the worker). */
  scenarioFile?: string;
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
  modelSeconds: number | null;
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

export function parseFreePages(text: string, seed: number): FreePagePolicy {
  const [kind, arg] = text.split(":");
  if (kind === "lowest" || kind === "highest") return { kind };
  if (kind === "random") return { kind, seed: arg !== undefined ? Number(arg) : seed };
  if (kind === "fragmented") return { kind, seed, fraction: arg !== undefined ? Number(arg) : 0.5 };
  throw new KexecLabError(
    "E_FIELD_VALUE",
    `free-page policy "${text}" (use lowest, highest, random[:seed], fragmented[:fraction])`,
    { field: "--free-pages" },
  );
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
  const file = p.scenarioFile!;
  const base = loadScenario(parseJson(readTextFile(file), file), dirname(file), basename(file, ".json"));
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
        file,
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

function evaluateScenarioPoint(p: SweepPoint): SweepRow[] {
  const sc = scenarioPoint(p);
  const model =
    p.profile !== undefined ? traceModeler([builtinProfile(p.profile)], { sample: 4096 }) : undefined;
  const out = runLoadedScenario(sc, readInputFile, model !== undefined ? { model } : {});
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
      tablePages: 0,
      tableBytes: 0,
      controlPages: 0,
      entriesRead: 0,
      tlbMisses: 0,
      bytesCopied: 0,
      modelSeconds: null,
    }));
  }
  const relocatedBytes = out.result.kimage.segments.reduce((a, g) => a + g.memsz, 0);
  return out.result.strategies.map((s, k) => ({
    ...common,
    relocatedBytes,
    strategy: s.name,
    linearMap: (entries[k]?.options as { linearMap?: string } | undefined)?.linearMap ?? "block",
    outcome: s.verified ? "verified" : "failed",
    tablePages: s.pageTables.pages,
    tableBytes: s.pageTables.bytes,
    controlPages: s.counters.controlPages,
    entriesRead: s.counters.entriesRead,
    tlbMisses: s.counters.tlbMisses,
    bytesCopied: s.counters.bytesCopied,
    modelSeconds: s.model?.[0]?.seconds ?? null,
  }));
}

/** Run every strategy on one grid point. */
export function evaluatePoint(p: SweepPoint): SweepRow[] {
  if (p.scenarioFile !== undefined) return evaluateScenarioPoint(p);
  const sc = sweepScenario(p);
  const relocatedBytes = sc.segments.reduce((a, s) => a + s.memsz, 0);
  const model =
    p.profile !== undefined ? traceModeler([builtinProfile(p.profile)], { sample: 4096 }) : undefined;
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
      const empty = {
        tablePages: 0,
        tableBytes: 0,
        controlPages: 0,
        entriesRead: 0,
        tlbMisses: 0,
        bytesCopied: 0,
      };
      if (!out.ok) {
        rows.push({ ...common, strategy, linearMap, outcome: "refused", ...empty, modelSeconds: null });
        continue;
      }
      const s = out.result.strategies[0]!;
      rows.push({
        ...common,
        strategy,
        linearMap,
        outcome: s.verified ? "verified" : "failed",
        tablePages: s.pageTables.pages,
        tableBytes: s.pageTables.bytes,
        controlPages: s.counters.controlPages,
        entriesRead: s.counters.entriesRead,
        tlbMisses: s.counters.tlbMisses,
        bytesCopied: s.counters.bytesCopied,
        modelSeconds: s.model?.[0]?.seconds ?? null,
      });
    }
  }
  return rows;
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(rows: readonly SweepRow[]): string {
  return `${[SWEEP_COLUMNS.join(","), ...rows.map((r) => SWEEP_COLUMNS.map((c) => csvCell(r[c])).join(","))].join("\n")}\n`;
}

/** Evaluate points on `jobs` worker threads (in order of the grid in the output). */
export async function runGrid(
  points: readonly SweepPoint[],
  jobs: number,
  onPoint?: (done: number, total: number) => void,
): Promise<SweepRow[]> {
  const results: SweepRow[][] = new Array(points.length);
  if (jobs <= 1 || points.length <= 1) {
    points.forEach((p, i) => {
      results[i] = evaluatePoint(p);
      onPoint?.(i + 1, points.length);
    });
    return results.flat();
  }
  const isTs = import.meta.url.endsWith(".ts");
  const workerUrl = new URL(isTs ? "./sweep-worker.ts" : "./sweep-worker.js", import.meta.url);
  let done = 0;
  const chunks: { index: number; point: SweepPoint }[][] = Array.from(
    { length: Math.min(jobs, points.length) },
    () => [],
  );
  points.forEach((point, index) => {
    chunks[index % chunks.length]!.push({ index, point });
  });
  await Promise.all(
    chunks.map(
      (chunk) =>
        new Promise<void>((resolve, reject) => {
          // From TypeScript sources (tsx, vitest) the worker registers tsx's loader before importing itself.
          const w = isTs
            ? new Worker(
                `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(workerUrl.href)}); });`,
                { eval: true, workerData: chunk },
              )
            : new Worker(workerUrl, { workerData: chunk });
          w.on(
            "message",
            (m: { index: number; rows?: SweepRow[]; error?: { code?: string; message: string } }) => {
              if (m.error !== undefined) {
                reject(
                  m.error.code !== undefined
                    ? new KexecLabError(m.error.code as "E_FIELD_VALUE", m.error.message)
                    : new Error(m.error.message),
                );
                void w.terminate();
                return;
              }
              results[m.index] = m.rows!;
              onPoint?.(++done, points.length);
            },
          );
          w.on("error", reject);
          w.on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`sweep worker exited with ${code}`)),
          );
        }),
    ),
  );
  return results.flat();
}

function policyText(p: FreePagePolicy): string {
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

interface SweepOptions {
  arch: Arch;
  scenario?: string;
  granule?: string;
  vaBits?: string;
  initrd?: string;
  strategy?: string;
  linearMap: string;
  freePages?: string;
  seed?: string;
  content?: ContentMode;
  profile?: string;
  format: "csv" | "json";
  output?: string;
  force?: boolean;
  jobs?: string;
  json?: boolean;
}

/** The grid the options describe (cartesian product, in a fixed order). */
export function gridFrom(opts: SweepOptions): SweepPoint[] {
  // With --scenario, parameters not given come from the scenario file.
  let base: Scenario | undefined;
  if (opts.scenario !== undefined) {
    base = loadScenario(parseJson(readTextFile(opts.scenario), opts.scenario), dirname(opts.scenario));
    opts = { ...opts, arch: base.arch };
    if (opts.initrd !== undefined && base.files !== undefined) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        "--initrd resizes an explicit segment; this scenario places files",
        {
          field: "--initrd",
        },
      );
    }
  }
  const granuleText = opts.granule ?? (base !== undefined ? String(base.pageSize) : "4K");
  const vaText = opts.vaBits ?? String(base?.vaBits ?? 48);
  const initrdText = opts.initrd ?? (base !== undefined ? "0" : "64M");
  const seedText = opts.seed ?? String(base?.seed ?? 1);
  const freeText = opts.freePages ?? (base !== undefined ? policyText(base.freePages) : "lowest");
  const content: ContentMode = opts.content ?? "synthetic";
  const granules = list(granuleText).map((g) => {
    const v = GRANULES[g.toLowerCase()];
    if (v === undefined || (opts.arch === "x86_64" && v !== 4096)) {
      throw new KexecLabError("E_PAGE_SIZE", `granule "${g}" on ${opts.arch}`, { field: "--granule" });
    }
    return v;
  });
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
  for (const s of strategies) {
    if (!known.includes(s)) {
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
    if (m !== "block" && m !== "page")
      throw new KexecLabError("E_FIELD_VALUE", `linear map "${m}"`, { field: "--linear-map" });
    return m;
  });
  const policies = list(freeText);
  for (const p of policies) parseFreePages(p, 1);
  if (opts.profile !== undefined) builtinProfile(opts.profile);
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
              ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
              ...(opts.scenario !== undefined
                ? { scenarioFile: opts.scenario, overrideInitrd: opts.initrd !== undefined }
                : {}),
            });
  if (points.length > 10000) {
    throw new KexecLabError("E_LIMIT", `${points.length} grid points (at most 10000)`, { field: "(grid)" });
  }
  return points;
}

export function registerSweep(program: Command, ctx: CliContext): Command {
  return program
    .command("sweep")
    .description(
      "run the default machine over a grid of parameters (granule, VA bits, initrd size, policy, seed) to CSV or JSON",
    )
    .addOption(new Option("--arch <arch>", "architecture").choices(ARCHES).default("arm64"))
    .option(
      "--scenario <file>",
      "a scenario file as the base instead of the default machine (docs/scenario.md)",
    )
    .option("--granule <list>", "granules: 4K,16K,64K (default: 4K, or the scenario's)")
    .option("--va-bits <list>", "VA bits: e.g. 39,48,52 (default: 48, or the scenario's)")
    .option("--initrd <list>", "initrd sizes: e.g. 16M,64M,256M (default: 64M, or the scenario's initrd)")
    .option("--strategy <list>", "strategies (default: every one for the arch)")
    .option("--linear-map <list>", "linear-map-copy variants: block,page", "block")
    .option(
      "--free-pages <list>",
      "free-page policies: lowest,highest,random[:seed],fragmented[:fraction] (default: lowest, or the scenario's)",
    )
    .option("--seed <list>", "seeds (default: 1, or the scenario's)")
    .option("--content <mode>", "page contents: synthetic (fast), shared or exact", "synthetic")
    .option("--profile <name>", "add modeled seconds on this timing-model profile")
    .option("--format <format>", "csv or json", "csv")
    .option("-o, --output <file>", "write to a file instead of stdout")
    .option("--force", "overwrite the output file")
    .option("--jobs <n>", "worker threads (default: all cores, at most the number of points)")
    .option("--json", "the same as --format json")
    .addHelpText(
      "after",
      `
Every grid point is the default machine (QEMU virt 4 GiB for arm64, a 4 GiB PC for x86_64) with its
28 MiB kernel and 64 KiB DTB and an initrd of the given size, or the --scenario file's machine and
image (--initrd resizes its segment labelled "initrd"; segments above it move up), run through each
strategy on a fresh simulated machine and verified. The points run in parallel on worker threads.
Rows: one per point and strategy (and linear-map variant), in grid order, so the output is the same
whatever --jobs is.

Columns: ${SWEEP_COLUMNS.join(", ")}.

Examples:
  $ kexec-lab sweep --granule 4K,16K,64K --initrd 16M,64M,256M
  $ kexec-lab sweep --strategy linear-map-copy --linear-map block,page --initrd 64M,1G -o lm.csv
  $ kexec-lab sweep --free-pages lowest,random,fragmented --seed 1,2,3 --json
  $ kexec-lab sweep --arch x86_64 --initrd 64M,512M --profile x86_64-server
  $ kexec-lab sweep --scenario examples/juno-16k-random.json --granule 4K,16K,64K --seed 1,2,3`,
    )
    .action(async (opts: SweepOptions) => {
      if (opts.format !== "csv" && opts.format !== "json") {
        throw new KexecLabError("E_FIELD_VALUE", `format "${opts.format}" (csv or json)`, {
          field: "--format",
        });
      }
      if (opts.content !== undefined && !["synthetic", "shared", "exact"].includes(opts.content)) {
        throw new KexecLabError("E_FIELD_VALUE", `content "${opts.content}"`, { field: "--content" });
      }
      const points = gridFrom(opts);
      const jobs =
        opts.jobs !== undefined
          ? Math.max(1, Math.floor(Number(opts.jobs)) || 1)
          : Math.max(1, availableParallelism());
      const progress = startProgress(ctx.io, "sweep");
      let rows: SweepRow[];
      try {
        rows = await runGrid(points, Math.min(jobs, points.length), (d, t) =>
          progress.update(d, t, `sweep ${d}/${t}`),
        );
      } finally {
        progress.stop();
      }
      const json = opts.json === true || opts.format === "json";
      const text = json ? `${JSON.stringify({ columns: SWEEP_COLUMNS, rows }, null, 2)}\n` : toCsv(rows);
      if (opts.output !== undefined) {
        await signalCheckpoint(); // after a synchronous grid (--jobs 1), a pending signal stops here
        writeOutputFile(opts.output, text, opts.force === true);
        ctx.io.stderr(`wrote ${opts.output}: ${rows.length} rows (${formatBytes(text.length)})\n`);
      } else {
        ctx.io.stdout(text);
      }
      ctx.exitCode = EXIT_OK;
    });
}
