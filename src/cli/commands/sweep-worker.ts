/** Worker thread of `kexec-lab sweep`: evaluates its share of the grid points and posts the rows back. */

import { parentPort, workerData } from "node:worker_threads";
import { KexecLabError } from "../../errors.js";
import { evaluatePoint, type SweepPoint } from "./sweep.js";

const chunk = workerData as { index: number; point: SweepPoint }[];
for (const { index, point } of chunk) {
  try {
    parentPort!.postMessage({ index, rows: evaluatePoint(point) });
  } catch (e) {
    parentPort!.postMessage({
      index,
      error: e instanceof KexecLabError ? { code: e.code, message: e.detail } : { message: String(e) },
    });
    break;
  }
}
