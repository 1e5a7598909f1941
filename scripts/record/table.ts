/**
 * npm run record:table [-- --replay]: the recorded cases as the markdown table of docs/recording.md, and the count
 * of cases per first-kernel version x syscall x arch (what the closing notes quote). Reads test/fixtures/recordings.
 * With --replay it also runs the replays (vitest: test/loader-recordings.test.ts, test/gates-recordings.test.ts)
 * and counts, per row, the cases replayed exactly: the case's placement replay passed (every recorded segment's
 * mem, memsz and bufsz and the entry, or the same refusal), or its gate replay did. A case whose replays are all
 * skipped (REPLAY_LEFT_OUT, the gate cases the gate replay cannot take) is not counted as exact.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DIR = join(REPO, "test", "fixtures", "recordings");

interface CaseJson {
  id: string;
  arch: string;
  syscall: string;
  crash: boolean;
  kexecTools: { version: string };
  runningKernel: { uname?: string };
  exitCode: number;
  confirmed: boolean;
  durationSeconds?: number;
  about?: string;
}

const cases: CaseJson[] = readdirSync(DIR)
  .filter((d) => existsSync(join(DIR, d, "case.json")))
  .sort()
  .map((d) => JSON.parse(readFileSync(join(DIR, d, "case.json"), "utf8")) as CaseJson);

const version = (c: CaseJson) => (c.runningKernel.uname ?? "6.1").replace(/^(\d+\.\d+).*$/, "$1");

/** The case ids whose placement replay or gate replay passed (vitest's JSON report of both files). */
function exactIds(): Set<string> {
  const tmp = mkdtempSync(join(tmpdir(), "kexec-lab-table-"));
  const out = join(tmp, "report.json");
  try {
    try {
      execFileSync(
        "npx",
        [
          "vitest",
          "run",
          "test/loader-recordings.test.ts",
          "test/gates-recordings.test.ts",
          "--reporter=json",
          `--outputFile=${out}`,
        ],
        { cwd: REPO, stdio: "ignore" },
      );
    } catch {
      // a failing replay still writes the report; its cases are not exact
    }
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      testResults: { assertionResults: { title: string; ancestorTitles: string[]; status: string }[] }[];
    };
    const ids = new Set<string>();
    for (const f of report.testResults)
      for (const a of f.assertionResults) {
        const suite = a.ancestorTitles[0] ?? "";
        const replay = /reproduce exactly|gates, replayed/.test(suite);
        if (replay && a.status === "passed") ids.add(a.title);
      }
    return ids;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

console.log("| case | first kernel | syscall | crash | kexec-tools | exit | confirmed | boot s | what |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const c of cases) {
  console.log(
    `| \`${c.id}\` | ${version(c)} | ${c.syscall} | ${c.crash ? "yes" : "no"} | ${c.kexecTools.version} | ${c.exitCode} | ${c.confirmed ? "yes" : "no"} | ${c.durationSeconds ?? ""} | ${c.about ?? ""} |`,
  );
}
const exact = process.argv.includes("--replay") ? exactIds() : undefined;
const counts = new Map<string, { n: number; exact: number }>();
for (const c of cases) {
  const k = `${version(c)} | ${c.syscall} | ${c.arch}`;
  const e = counts.get(k) ?? { n: 0, exact: 0 };
  e.n++;
  if (exact?.has(c.id)) e.exact++;
  counts.set(k, e);
}
const byVersion = (a: string, b: string) => {
  const v = (s: string) => s.split(" | ")[0]!.split(".").map(Number);
  const [x, y] = [v(a), v(b)];
  return x[0]! - y[0]! || x[1]! - y[1]! || a.localeCompare(b);
};
if (exact === undefined) {
  console.log("\n| first kernel | syscall | arch | cases |\n| --- | --- | --- | --- |");
  for (const [k, e] of [...counts].sort(([a], [b]) => byVersion(a, b))) console.log(`| ${k} | ${e.n} |`);
} else {
  console.log("\n| first kernel | syscall | arch | exact / total |\n| --- | --- | --- | --- |");
  for (const [k, e] of [...counts].sort(([a], [b]) => byVersion(a, b)))
    console.log(`| ${k} | ${e.exact} / ${e.n} |`);
  const all = [...counts.values()].reduce((a, e) => ({ n: a.n + e.n, exact: a.exact + e.exact }), {
    n: 0,
    exact: 0,
  });
  console.log(`| all | | | ${all.exact} / ${all.n} |`);
  const not = cases.filter((c) => !exact.has(c.id)).map((c) => c.id);
  if (not.length) console.log(`\nnot replayed exactly: ${not.join(", ")}`);
}
