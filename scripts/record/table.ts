/**
 * npm run record:table: the recorded cases as the markdown table of docs/recording.md, and the count of cases
 * per first-kernel version x syscall x arch (what the closing notes quote). Reads test/fixtures/recordings only.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const DIR = join(
  resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."),
  "test",
  "fixtures",
  "recordings",
);

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

console.log("| case | first kernel | syscall | crash | kexec-tools | exit | confirmed | boot s | what |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const c of cases) {
  console.log(
    `| \`${c.id}\` | ${version(c)} | ${c.syscall} | ${c.crash ? "yes" : "no"} | ${c.kexecTools.version} | ${c.exitCode} | ${c.confirmed ? "yes" : "no"} | ${c.durationSeconds ?? ""} | ${c.about ?? ""} |`,
  );
}
const counts = new Map<string, number>();
for (const c of cases) {
  const k = `${version(c)} | ${c.syscall} | ${c.arch}`;
  counts.set(k, (counts.get(k) ?? 0) + 1);
}
console.log("\n| first kernel | syscall | arch | cases |\n| --- | --- | --- | --- |");
for (const [k, n] of [...counts].sort()) console.log(`| ${k} | ${n} |`);
