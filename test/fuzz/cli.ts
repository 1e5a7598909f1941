/**
 * `npm run fuzz -- [--minutes N | --cases N] [--target a,b] [--seed S] [--jobs J] [--no-save]`
 *
 * Runs every fuzz target (or the named ones) in worker threads. Each worker reports every case index;
 * a case that neither finishes nor fails within --hang-ms (default 10 s) is a hang: the worker is
 * terminated and the case saved. A worker that dies (out of memory) fails its current case likewise.
 * Every failing input is rebuilt from (target, seed, index) in this process and saved as
 * test/fuzz/regressions/TARGET-SEED-INDEX.bin (one per distinct failure message per run), which
 * test/fuzz/regressions.test.ts then replays on every test run.
 *
 *   --replay INDEX --target NAME --seed S [--out FILE]   rebuild one case, run it here, print the outcome
 */

import { appendFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { installSignalHandlers } from "../../src/cli/signals.js";
import { describeFailure, makeCase, runCase } from "../../src/fuzz/harness.js";
import { ensureData } from "../helpers/data.js";
import { TARGETS, target } from "./targets.js";
import type { WorkerJob, WorkerMessage } from "./worker.js";

const REGRESSIONS = fileURLToPath(new URL("./regressions/", import.meta.url));
const WORKER_URL = new URL("./worker.ts", import.meta.url).href;
/** Workers load TypeScript through tsx's loader, registered inside the worker. */
const WORKER_BOOT = `import("tsx/esm/api").then((m) => { m.register(); return import(require("node:worker_threads").workerData.url); });`;

interface Args {
  minutes: number | null;
  cases: number | null;
  targets: string[];
  seed: number;
  jobs: number;
  save: boolean;
  hangMs: number;
  caseTimeMs: number;
  replay: number | null;
  out: string | null;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    minutes: null,
    cases: null,
    targets: TARGETS.map((t) => t.name),
    seed: (Date.now() % 0x7fffffff) >>> 0,
    jobs: Math.max(1, Math.min(availableParallelism(), 8)),
    save: true,
    hangMs: 10_000,
    caseTimeMs: 2000,
    replay: null,
    out: null,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === "--minutes") a.minutes = Number(v());
    else if (k === "--cases") a.cases = Number(v());
    else if (k === "--target") a.targets = v().split(",");
    else if (k === "--seed") a.seed = Number(v());
    else if (k === "--jobs") a.jobs = Number(v());
    else if (k === "--no-save") a.save = false;
    else if (k === "--hang-ms") a.hangMs = Number(v());
    else if (k === "--case-ms") a.caseTimeMs = Number(v());
    else if (k === "--replay") a.replay = Number(v());
    else if (k === "--out") a.out = v();
    else if (k === "--json") a.json = true;
    else if (k === "--help" || k === "-h") {
      process.stdout.write(
        "usage: npm run fuzz -- [--minutes N | --cases N] [--target a,b] [--seed S] [--jobs J] [--no-save]\n" +
          "                        [--hang-ms MS] [--case-ms MS] [--json]\n" +
          "       npm run fuzz -- --replay INDEX --target NAME --seed S [--out FILE]\n\n" +
          `targets: ${TARGETS.map((t) => t.name).join(", ")}\n\n` +
          "Examples:\n  $ npm run fuzz -- --minutes 30\n  $ npm run fuzz -- --cases 100000 --target fdt,iomem\n",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  for (const t of a.targets) target(t);
  if (a.minutes === null && a.cases === null) a.cases = 10_000;
  return a;
}

interface TargetReport {
  target: string;
  cases: number;
  accepted: number;
  rejected: number;
  failures: number;
  hangs: number;
  ms: number;
  casesPerSecond: number;
  maxCaseMs: number;
  byCode: Record<string, number>;
  unclear: number;
  saved: string[];
}

const savedSignatures = new Set<string>();

function signature(targetName: string, message: string, stack?: string): string {
  const frame = stack?.split("\n").find((l) => l.includes(" at ")) ?? "";
  return `${targetName}|${message.replace(/\d+/g, "N").slice(0, 120)}|${frame.trim()}`;
}

function save(
  args: Args,
  rep: TargetReport,
  index: number,
  verdict: string,
  message: string,
  stack?: string,
) {
  if (!args.save) return;
  const sig = signature(rep.target, message, stack);
  if (savedSignatures.has(sig)) return;
  savedSignatures.add(sig);
  const c = makeCase(target(rep.target), args.seed, index);
  const name = `${rep.target}-${args.seed}-${index}.bin`;
  writeFileSync(`${REGRESSIONS}${name}`, c.input.bytes);
  const ops = c.input.ops.join("; ");
  c.input.restore();
  appendFileSync(
    `${REGRESSIONS}index.md`,
    `- \`${name}\`: ${verdict}: ${message.split("\n")[0]} (seed input ${c.seedName}; ops ${ops})\n`,
  );
  rep.saved.push(name);
}

/** Run cases [start, start + cases) of one target in a worker, restarting after a hang or a death. */
async function runTarget(args: Args, name: string, budgetMs: number, cases: number): Promise<TargetReport> {
  const rep: TargetReport = {
    target: name,
    cases: 0,
    accepted: 0,
    rejected: 0,
    failures: 0,
    hangs: 0,
    ms: 0,
    casesPerSecond: 0,
    maxCaseMs: 0,
    byCode: {},
    unclear: 0,
    saved: [],
  };
  const t0 = performance.now();
  let next = 0;
  while (next < cases && performance.now() - t0 < budgetMs) {
    const job: WorkerJob = {
      target: name,
      runSeed: args.seed,
      start: next,
      cases: cases - next,
      budgetMs: budgetMs - (performance.now() - t0),
      caseTimeMs: args.caseTimeMs,
    };
    next = await new Promise<number>((resolve) => {
      const w = new Worker(WORKER_BOOT, {
        eval: true,
        workerData: { ...job, url: WORKER_URL },
        resourceLimits: { maxOldGenerationSizeMb: 4096 },
      });
      let current = job.start - 1;
      let finished = false;
      const finish = (resumeAt: number) => {
        if (finished) return;
        finished = true;
        clearInterval(watchdog);
        void w.terminate();
        resolve(resumeAt);
      };
      let lastBeat = performance.now();
      const watchdog = setInterval(() => {
        if (performance.now() - lastBeat > args.hangMs) {
          rep.hangs++;
          rep.failures++;
          rep.cases += current - job.start + 1;
          save(args, rep, current, "hang", `no answer within ${args.hangMs} ms`);
          process.stderr.write(`  ${name}: case ${current} hangs (seed ${args.seed})\n`);
          finish(current + 1);
        }
      }, 250);
      w.on("message", (m: WorkerMessage) => {
        lastBeat = performance.now();
        if (m.type === "case") current = m.index;
        else if (m.type === "failure") {
          rep.failures++;
          process.stderr.write(`  ${name}: case ${m.index}: ${m.verdict}: ${m.message.split("\n")[0]}\n`);
          save(args, rep, m.index, m.verdict, m.message, m.stack);
        } else {
          rep.cases += m.cases;
          rep.accepted += m.accepted;
          rep.rejected += m.rejected;
          rep.unclear += m.unclear.length;
          rep.maxCaseMs = Math.max(rep.maxCaseMs, m.maxCaseMs);
          for (const [k, n] of Object.entries(m.byCode)) rep.byCode[k] = (rep.byCode[k] ?? 0) + n;
          finish(job.start + m.cases);
        }
      });
      w.on("error", (e) => {
        if (current < job.start) {
          // Died before its first case: a broken harness, not a finding. Give up on this target.
          process.stderr.write(`  ${name}: worker failed to start: ${e.message}\n`);
          rep.failures++;
          finish(cases);
          return;
        }
        rep.failures++;
        rep.cases += current - job.start + 1;
        process.stderr.write(`  ${name}: worker died at case ${current}: ${e.message}\n`);
        save(args, rep, current, "died", e.message);
        finish(current + 1);
      });
      w.on("exit", () => finish(Math.max(current + 1, job.start + 1)));
    });
  }
  rep.ms = performance.now() - t0;
  rep.casesPerSecond = Math.round((rep.cases / rep.ms) * 1000);
  return rep;
}

async function replay(args: Args): Promise<void> {
  const t = target(args.targets[0]!);
  const c = makeCase(t, args.seed, args.replay!);
  if (args.out !== null) writeFileSync(args.out, c.input.bytes);
  const o = await runCase(t, c.input.bytes, c.seedName, { caseTimeMs: args.caseTimeMs });
  process.stdout.write(
    `${t.name} case ${args.replay} (seed ${args.seed}, from ${c.seedName}, ${c.input.bytes.length} bytes, ops [${c.input.ops.join("; ")}])\n` +
      `${o.verdict}${o.code !== undefined ? ` ${o.code}` : ""}: ${o.message ?? ""} (${o.ms.toFixed(1)} ms)\n${o.stack ?? ""}\n`,
  );
  c.input.restore();
}

async function mainFuzz(): Promise<number> {
  // SIGINT/SIGTERM: exit 130/143 with one line, no worker, no scratch directory left (src/cli/signals.ts).
  installSignalHandlers();
  const args = parseArgs(process.argv.slice(2));
  // the real files the seeds read (test/helpers/data.ts): from the data cache, fetched when missing
  await ensureData();
  if (args.replay !== null) {
    await replay(args);
    return 0;
  }
  const budgetMs = args.minutes !== null ? args.minutes * 60_000 : Number.POSITIVE_INFINITY;
  const cases = args.cases ?? Number.MAX_SAFE_INTEGER;
  // With a time budget, every target gets an equal share of the wall clock on its worker slot.
  const perTargetMs =
    args.minutes !== null ? (budgetMs * args.jobs) / args.targets.length : Number.POSITIVE_INFINITY;
  process.stderr.write(
    `fuzz: seed ${args.seed}, ${args.targets.length} targets, ${args.jobs} workers, ` +
      `${args.minutes !== null ? `${args.minutes} min` : `${cases} cases per target`}\n`,
  );
  const queue = [...args.targets];
  const reports: TargetReport[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(args.jobs, queue.length) }, async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const remaining = budgetMs - (performance.now() - t0);
        const r = await runTarget(args, name, Math.min(perTargetMs, remaining), cases);
        process.stderr.write(
          `  ${name}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s (${r.casesPerSecond}/s), ` +
            `${r.failures} failures, slowest case ${r.maxCaseMs.toFixed(0)} ms\n`,
        );
        reports.push(r);
      }
    }),
  );
  reports.sort((a, b) => a.target.localeCompare(b.target));
  const failures = reports.reduce((n, r) => n + r.failures, 0);
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify({ seed: args.seed, jobs: args.jobs, targets: reports }, null, 2)}\n`,
    );
  } else {
    const rows = reports.map((r) =>
      [
        r.target.padEnd(14),
        String(r.cases).padStart(10),
        String(r.casesPerSecond).padStart(8),
        String(r.accepted).padStart(9),
        String(r.rejected).padStart(9),
        String(r.failures).padStart(8),
        r.maxCaseMs.toFixed(0).padStart(8),
      ].join("  "),
    );
    process.stdout.write(
      `${["target".padEnd(14), "cases".padStart(10), "cases/s".padStart(8), "accepted".padStart(9), "rejected".padStart(9), "failures".padStart(8), "max ms".padStart(8)].join("  ")}\n${rows.join("\n")}\n`,
    );
    if (failures > 0) {
      process.stdout.write(
        `\n${failures} failures; saved inputs: ${reports.flatMap((r) => r.saved).join(", ") || "(none, --no-save)"}\n`,
      );
    }
  }
  return failures > 0 ? 1 : 0;
}

export { describeFailure };

mainFuzz().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    process.exitCode = 2;
  },
);
