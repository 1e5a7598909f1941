/**
 * A fuzz worker: runs a slice of one target's cases and reports every case index (the parent's
 * watchdog uses them to name the case that hangs) and every failure.
 */

import { parentPort, workerData } from "node:worker_threads";
import { fuzzTarget } from "../../src/fuzz/harness.js";
import { target } from "./targets.js";

export interface WorkerJob {
  target: string;
  runSeed: number;
  start: number;
  cases: number;
  budgetMs: number;
  caseTimeMs: number;
}

export type WorkerMessage =
  | { type: "case"; index: number }
  | { type: "failure"; index: number; verdict: string; message: string; ops: string[]; stack?: string }
  | {
      type: "done";
      cases: number;
      accepted: number;
      rejected: number;
      byCode: Record<string, number>;
      unclear: Array<{ index: number; message: string }>;
      totalMs: number;
      maxCaseMs: number;
      maxCaseIndex: number;
    };

const job = workerData as WorkerJob;
const port = parentPort!;
const post = (m: WorkerMessage) => port.postMessage(m);

function memoryProbe(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
}

const stats = await fuzzTarget(target(job.target), {
  cases: job.cases,
  start: job.start,
  runSeed: job.runSeed,
  budgetMs: job.budgetMs,
  caseTimeMs: job.caseTimeMs,
  memoryProbe,
  keepFailures: 0,
  onCase: (index) => post({ type: "case", index }),
  onFailure: (f) =>
    post({
      type: "failure",
      index: f.index,
      verdict: f.outcome.verdict,
      message: f.outcome.message ?? "",
      ops: f.ops,
      ...(f.outcome.stack !== undefined ? { stack: f.outcome.stack } : {}),
    }),
});
post({
  type: "done",
  cases: stats.cases,
  accepted: stats.accepted,
  rejected: stats.rejected,
  byCode: stats.byCode,
  unclear: stats.unclear,
  totalMs: stats.totalMs,
  maxCaseMs: stats.maxCaseMs,
  maxCaseIndex: stats.maxCaseIndex,
});
