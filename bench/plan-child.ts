/**
 * Child process of bench/plan-large.bench.ts: runs `kexec-lab ARGS` in-process and prints, as one JSON
 * line on stderr, how long main() took and the process's peak RSS (getrusage ru_maxrss).
 */

import { main } from "../src/cli/main.js";

const args = process.argv.slice(2);
let out = "";
const t0 = performance.now();
const code = await main(args, {
  stdout: (t) => {
    out += t;
  },
  stderr: (t) => process.stderr.write(t),
  isTTY: false,
  stderrTTY: false,
  env: {},
  cwd: process.cwd(),
});
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(out);
process.stderr.write(
  `${JSON.stringify({ code, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
