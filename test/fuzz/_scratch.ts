import { describeFailure, fuzzTarget } from "../../src/fuzz/harness.js";
import { TARGETS } from "./targets.js";

const probe = () => {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
};
const only = process.argv[3]?.split(",");
for (const t of TARGETS) {
  if (only && !only.includes(t.name)) continue;
  const s = await fuzzTarget(t, {
    cases: Number(process.argv[2] ?? 2000),
    memoryProbe: probe,
    runSeed: Number(process.argv[4] ?? 1),
  });
  console.log(
    t.name,
    s.cases,
    s.accepted,
    s.rejected,
    Math.round(s.totalMs),
    "ms max",
    s.maxCaseMs.toFixed(1),
    s.maxCaseIndex,
    JSON.stringify(s.byCode),
  );
  const seen = new Set<string>();
  for (const f of s.failures) {
    const k = (f.outcome.message ?? "").slice(0, 60);
    if (seen.has(k)) continue;
    seen.add(k);
    console.log("  ", describeFailure(f).slice(0, 400));
    console.log("     ", (f.outcome.stack ?? "").split("\n").slice(1, 4).join(" | "));
  }
  for (const u of s.unclear.slice(0, 3)) console.log("  unclear", u.index, u.message.slice(0, 200));
}
