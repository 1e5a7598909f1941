/**
 * Figures for the QEMU proof: for each strategy and granule, the time to build and emit the image
 * (simulation included), the bytes carried into QEMU, QEMU's wall time for one run (boot, relocation
 * under TCG, dumps), and whether QEMU's memory equals the simulator's.
 *
 *   npx tsx scripts/qemu/measure.ts                 the demo scenario (8 MiB of segments)
 *   npx tsx scripts/qemu/measure.ts --initrd 64     with a 64 MiB initrd
 *
 * Wall times on TCG say nothing about real hardware; they size the test suite.
 */

import { compareEmission } from "../../src/emit/compare.js";
import { runEmitted } from "../../src/emit/node/qemu.js";
import { qemuDemoScenario } from "../../src/emit/scenario.js";
import { emitStrategy } from "../../src/emit/strategy.js";
import type { PageSize } from "../../src/machine/physmem.js";

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const initrdMiB = arg("--initrd") !== undefined ? Number(arg("--initrd")) : undefined;
const ramMiB = initrdMiB !== undefined ? Math.max(64, 4 * initrdMiB + 32) : undefined;

const rows: string[][] = [];
const cases: { arch: "arm64" | "x86_64"; pageSize: PageSize; strategy: string }[] = [];
for (const pageSize of [4096, 16384, 65536] as PageSize[]) {
  for (const strategy of ["mmu-off", "linear-map-copy", "va-copy"])
    cases.push({ arch: "arm64", pageSize, strategy });
}
cases.push({ arch: "x86_64", pageSize: 4096, strategy: "x86-ident" });

for (const c of cases) {
  const sc = qemuDemoScenario({
    arch: c.arch,
    pageSize: c.pageSize,
    seed: 1,
    ...(initrdMiB !== undefined ? { initrdMiB } : {}),
    ...(ramMiB !== undefined ? { ramMiB: c.arch === "x86_64" ? ramMiB + 32 : ramMiB } : {}),
  });
  const t0 = performance.now();
  const e = emitStrategy(sc, c.strategy, { x86ClearNx: c.arch === "x86_64" });
  const emitMs = performance.now() - t0;
  const r = await runEmitted(e.image, {
    timeoutMs: 300_000,
    dumps: false,
    inspect: (mem) => compareEmission(e, mem),
  });
  const equal = r.outcome === "shutdown" && r.inspected !== undefined && r.inspected.length === 0;
  const bytes = e.image.blobs.reduce((n, b) => n + b.bytes.length, 0);
  const segBytes = sc.segments.reduce((n, s) => n + s.memsz, 0);
  rows.push([
    `${c.arch} ${c.pageSize / 1024}K ${c.strategy}`,
    `${(segBytes / 2 ** 20).toFixed(0)} MiB`,
    `${(bytes / 2 ** 20).toFixed(1)} MiB`,
    `${emitMs.toFixed(0)} ms`,
    `${r.seconds.toFixed(2)} s`,
    equal ? "equal" : `DIFFERENT (${r.outcome})`,
  ]);
}
const header = ["image", "segments", "carried", "emit", "qemu run", "vs simulator"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ");
process.stdout.write(
  `${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(line).join("\n")}\n`,
);
