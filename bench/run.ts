/**
 * `npm run bench`: runs every bench/*.bench.ts (or the ones named on the command line) and prints
 * figures and ratios. `--json` prints one JSON document instead.
 */

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ensureData } from "../test/helpers/data.js";

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
  /** The goal, if the project has one, and whether it was met. */
  goal?: string;
  met?: boolean;
}

export interface BenchModule {
  title: string;
  run(): Promise<BenchFigure[]> | BenchFigure[];
}

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const only = args.filter((a) => !a.startsWith("--"));
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

// the real files some benchmarks read (test/helpers/data.ts): from the data cache, fetched when missing
await ensureData();
const results: Record<string, BenchFigure[]> = {};
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)).default as BenchModule;
  if (!json) process.stdout.write(`\n== ${mod.title} (${f})\n`);
  const figures = await mod.run();
  results[f] = figures;
  if (!json) {
    for (const fig of figures) {
      const goal = fig.goal ? `   goal ${fig.goal}: ${fig.met ? "met" : "NOT met"}` : "";
      process.stdout.write(
        `  ${fig.name.padEnd(48)} ${fig.value.toPrecision(4).padStart(12)} ${fig.unit}${goal}\n`,
      );
    }
  }
}
if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
