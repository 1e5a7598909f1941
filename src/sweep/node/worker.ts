/** Worker thread of a sweep (see pool.ts): evaluates its share of the grid points and posts the rows back. */

import { parentPort, workerData } from "node:worker_threads";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { loadStrategyFile } from "../../request/node/strategy-file.js";
import { evaluatePoint, type SweepPoint } from "../grid.js";
import type { SweepWorkerMessage } from "./pool.js";

const { chunk, strategyFiles } = workerData as {
  chunk: { index: number; point: SweepPoint }[];
  strategyFiles: string[];
};
// the user's strategies (sweep --load-strategy), registered in this thread too
for (const f of strategyFiles) await loadStrategyFile(f, "/");
for (const { index, point } of chunk) {
  try {
    parentPort!.postMessage({
      index,
      rows: evaluatePoint(point, readInputFile),
    } satisfies SweepWorkerMessage);
  } catch (e) {
    parentPort!.postMessage({
      index,
      error: e instanceof KexecLabError ? { code: e.code, message: e.detail } : { message: String(e) },
    } satisfies SweepWorkerMessage);
    break;
  }
}
