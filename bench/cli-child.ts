/**
 * Child process of bench/run-large.bench.ts: runs `kexec-lab ARGS` as the CLI's entry point does (the
 * command on a worker thread, src/cli/thread.ts) and prints, as one JSON line on stderr, the wall time
 * and the whole process's peak RSS (getrusage ru_maxrss: every thread).
 */

import { runOnThread } from "../src/cli/thread.js";

const t0 = performance.now();
const code = await runOnThread(process.argv.slice(2));
const seconds = (performance.now() - t0) / 1000;
process.stderr.write(
  `\n${JSON.stringify({ code, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`,
);
