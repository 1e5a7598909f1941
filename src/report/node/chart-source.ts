/** Node-only: the Chart.js UMD bundle's text, for inlining into the HTML report. */

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { KexecLabError } from "../../errors.js";

let cached: string | undefined;

export function chartJsSource(): string {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    // The package exports map hides dist/chart.umd.js; it sits beside the CommonJS entry.
    path = join(dirname(require.resolve("chart.js")), "chart.umd.js");
  } catch {
    throw new KexecLabError("E_FILE_READ", "chart.js is not installed (run npm install)", {
      file: "node_modules/chart.js/dist/chart.umd.js",
    });
  }
  cached = readFileSync(path, "utf8");
  return cached;
}
