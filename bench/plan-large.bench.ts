/**
 * `kexec-lab plan` with a 1 GiB initrd file (sparse, so it costs no disk): the command reads the
 * initrd's size, not its bytes. Prints the time of the command inside its process (goal < 1 s) and the
 * process's peak RSS (goal < 200 MB; Node and tsx included). Also `--initrd-size 1G`.
 */

import { spawnSync } from "node:child_process";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { dataFile } from "../test/helpers/data.js";
import type { BenchFigure, BenchModule } from "./run.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

function runPlan(args: string[]): { seconds: number; maxRssBytes: number; code: number } {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, "plan-child.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
  });
  const last = r.stderr.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`plan child failed: ${r.stderr}`);
  }
}

const bench: BenchModule = {
  title: "plan with a 1 GiB initrd (bounded memory)",
  run(): BenchFigure[] {
    const dir = mkdtempSync(join(tmpdir(), "kexec-lab-bench-"));
    try {
      const initrd = join(dir, "initrd-1g.img");
      const fd = openSync(initrd, "w");
      ftruncateSync(fd, 2 ** 30);
      closeSync(fd);
      const figures: BenchFigure[] = [];
      const cases: [string, string[]][] = [
        [
          "x86_64 bzImage + 1 GiB initrd file",
          [
            "plan",
            "--kernel",
            dataFile("debian-6.1.0-56-cloud-amd64.bzImage"),
            "--initrd",
            initrd,
            "--iomem",
            dataFile("x86_64-cloud-vm.txt"),
          ],
        ],
        [
          "arm64 Image + --initrd-size 1G",
          [
            "plan",
            "--kernel",
            dataFile("debian-6.1.0-50-cloud-arm64.Image"),
            "--initrd-size",
            "1G",
            "--iomem",
            dataFile("arm64-qemu-virt-4g.txt"),
            "--dtb",
            dataFile("qemu-virt-4g.dtb"),
            "--wipe-kaslr-seed",
          ],
        ],
      ];
      for (const [name, args] of cases) {
        const r = runPlan(args);
        if (r.code !== 0) throw new Error(`${name}: exit ${r.code}`);
        figures.push({
          name: `${name}: plan`,
          value: r.seconds,
          unit: "s",
          goal: "< 1 s",
          met: r.seconds < 1,
        });
        figures.push({
          name: `${name}: peak RSS of the process`,
          value: r.maxRssBytes / 2 ** 20,
          unit: "MiB",
          // issue #16 asks for under 200 MB (decimal): 190.7 MiB
          goal: "< 190.7 MiB",
          met: r.maxRssBytes < 200e6,
        });
      }
      return figures;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
export default bench;
