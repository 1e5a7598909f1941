/**
 * `kexec-lab run` with a 1 GiB initrd (issue 20: it peaked at 5.4 GB RSS and took 80 s): a synthetic
 * 28 MiB arm64 Image, a 4 GiB machine's DTB and a 1 GiB initrd file (sparse: no disk), every arm64
 * strategy with exact contents and the timing model, in a child process run as the CLI runs (the
 * command on a worker thread). Prints the wall time and the peak RSS of the whole process against the
 * goal of at most 2.5 GiB.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bigRunFiles } from "../test/helpers/big-run.js";
import type { BenchFigure, BenchModule } from "./run.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const GOAL_BYTES = 2.5 * 2 ** 30;

const bench: BenchModule = {
  title: "run with a 1 GiB initrd (memory and time)",
  run(): BenchFigure[] {
    const dir = mkdtempSync(join(tmpdir(), "kexec-lab-bench-"));
    try {
      const files = bigRunFiles(dir);
      const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "cli-child.ts"), ...files.args], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, KEXEC_LAB_NO_PROGRESS: "1" },
        maxBuffer: 64 * 2 ** 20,
      });
      const last = r.stderr.trim().split("\n").pop() ?? "";
      let m: { code: number; seconds: number; maxRssBytes: number };
      try {
        m = JSON.parse(last);
      } catch {
        throw new Error(`run child failed: ${r.stderr}`);
      }
      if (m.code !== 0) throw new Error(`run exited ${m.code}: ${r.stderr}`);
      return [
        { name: "run, 1 GiB initrd: wall time", value: m.seconds, unit: "s" },
        {
          name: "run, 1 GiB initrd: peak RSS of the process",
          value: m.maxRssBytes / 2 ** 30,
          unit: "GiB",
          goal: "<= 2.5 GiB",
          met: m.maxRssBytes <= GOAL_BYTES,
        },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
