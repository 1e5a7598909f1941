/**
 * Node-only: run a sweep's grid points on worker threads (src/sweep/node/worker.ts), rows back in grid
 * order whatever the number of workers. Files a scenario names are read with readInputFile.
 */

import { Worker } from "node:worker_threads";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { evaluatePoint, type SweepPoint, type SweepRow } from "../grid.js";

/** A message from a worker: the rows of one point, or the error that stopped it. */
export interface SweepWorkerMessage {
  index: number;
  rows?: SweepRow[];
  error?: { code?: string; message: string };
}

/**
 * Evaluate points on `jobs` worker threads (in-process when jobs <= 1 or there is one point).
 * `onPoint(done, total)` after each point. A catalogued error in a worker is rethrown as the same
 * KexecLabError code.
 */
export async function runGrid(
  points: readonly SweepPoint[],
  jobs: number,
  onPoint?: (done: number, total: number) => void,
  /** Strategy modules (absolute paths) every worker loads first (sweep --load-strategy; already loaded here). */
  strategyFiles: readonly string[] = [],
): Promise<SweepRow[]> {
  const results: SweepRow[][] = new Array(points.length);
  if (jobs <= 1 || points.length <= 1) {
    points.forEach((p, i) => {
      results[i] = evaluatePoint(p, readInputFile);
      onPoint?.(i + 1, points.length);
    });
    return results.flat();
  }
  const isTs = import.meta.url.endsWith(".ts");
  const workerUrl = new URL(isTs ? "./worker.ts" : "./worker.js", import.meta.url);
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
                { eval: true, workerData: { chunk, strategyFiles } },
              )
            : new Worker(workerUrl, { workerData: { chunk, strategyFiles } });
          w.on("message", (m: SweepWorkerMessage) => {
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
          });
          w.on("error", reject);
          w.on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`sweep worker exited with ${code}`)),
          );
        }),
    ),
  );
  return results.flat();
}
