/**
 * The reboot model end to end on a 512 MiB load (goal: under 10 s including the relocation on the
 * simulated CPU, its verification, the timing model of its access stream and every phase from
 * `kexec -e` to the new kernel, with the what-if savings): the default arm64 machine with the initrd
 * grown to 484 MiB (kernel 28 MiB + initrd = 512 MiB), synthetic contents, per strategy. Prints the
 * phases so the figures in docs/model.md can be checked.
 *
 *   npx tsx bench/run.ts reboot
 */

import { traceModeler } from "../src/model/model.js";
import { builtinProfile } from "../src/model/profiles.js";
import { rebootReport } from "../src/model/reboot.js";
import { runScenario } from "../src/reloc/run.js";
import { defaultScenario } from "../src/scenario/default.js";
import type { BenchFigure } from "./run.js";

const MiB = 1024 * 1024;

export default {
  title: "reboot phases, 512 MiB end to end",
  run(): BenchFigure[] {
    const figures: BenchFigure[] = [];
    const base = defaultScenario("arm64", "synthetic", 1);
    const segments = base.segments.map((s) => {
      if (s.label !== "initrd" || s.content.kind !== "synthetic") return s;
      const bufsz = 512 * MiB - 28 * MiB;
      return { ...s, memsz: bufsz, content: { ...s.content, bufsz } };
    });
    const sc = { ...base, segments };
    const profile = builtinProfile("ampere-altra");
    for (const strategy of ["linear-map-copy", "mmu-off"]) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const out = runScenario(sc, { strategies: [strategy], model: traceModeler([profile]) });
      if (!out.ok) throw new Error(`refused: ${out.verdict.reason}`);
      const rb = rebootReport(out.result, profile, { call: "kexec_load", purgatoryChecks: true, cma: false });
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      const s = rb.strategies[0]!;
      figures.push({
        name: `512 MiB ${strategy} end to end (sampled=${s.sampled})`,
        value: seconds,
        unit: "s",
        goal: "< 10 s",
        met: seconds < 10,
      });
      figures.push({
        name: "  of which CPU time (user + system)",
        value: (cpu.user + cpu.system) / 1e6,
        unit: "s",
      });
      for (const p of s.phases) {
        figures.push({ name: `  modeled ${p.name} on ${profile.name}`, value: p.seconds, unit: "s" });
      }
      for (const v of rb.savings) figures.push({ name: `  with ${v.change}`, value: v.seconds, unit: "s" });
    }
    return figures;
  },
};
