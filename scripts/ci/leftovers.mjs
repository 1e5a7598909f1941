#!/usr/bin/env node
/**
 * After the test suite: what did it leave behind? (Linux; used by .ci/run)
 *
 *   node scripts/ci/leftovers.mjs MEASURE_JSON BEFORE_LIST
 *
 * - Processes: every process whose environment carries KEXEC_LAB_CI_RUN=<this run's marker> (set by
 *   .ci/run and inherited by everything the tests start), other than this script and its ancestors.
 *   Zombies do not count (they hold nothing and only wait for init to reap them).
 * - Temporary directories: entries of os.tmpdir() named kexec-* that were not there before the run
 *   (BEFORE_LIST, one name a line). A name kexec-<what>-<pid>-XXXXXX (src/node/tmp.ts) whose pid was
 *   in the suite's process tree (MEASURE_JSON from scripts/ci/measure.mjs) is a leftover; other new
 *   kexec-* entries cannot be attributed (another user of the machine may have made them) and are
 *   listed as a note.
 *
 * Prints what it finds; exits 1 when something was left, 0 otherwise.
 */

import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";

const [measureFile, beforeFile] = process.argv.slice(2);
const marker = process.env.KEXEC_LAB_CI_RUN;
if (marker === undefined || measureFile === undefined || beforeFile === undefined) {
  process.stderr.write(
    "usage: KEXEC_LAB_CI_RUN=... node scripts/ci/leftovers.mjs MEASURE_JSON BEFORE_LIST\n",
  );
  process.exit(2);
}
let treePids = new Set();
try {
  treePids = new Set(JSON.parse(readFileSync(measureFile, "utf8")).pids ?? []);
} catch {
  process.stdout.write(`note: no process list in ${measureFile}; directories are attributed by name only\n`);
}

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0], ppid: Number(rest[1]), comm: s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")) };
  } catch {
    return null;
  }
}

const mine = new Set();
for (let p = process.pid; p > 1; ) {
  mine.add(p);
  const s = stat(p);
  if (s === null) break;
  p = s.ppid;
}

let left = 0;
for (const d of readdirSync("/proc")) {
  if (!/^\d+$/.test(d)) continue;
  const pid = Number(d);
  if (mine.has(pid)) continue;
  let env;
  try {
    env = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    continue; // gone, or not ours to read
  }
  if (!env.split("\0").includes(`KEXEC_LAB_CI_RUN=${marker}`)) continue;
  const s = stat(pid);
  if (s === null || s.state === "Z" || s.state === "X") continue;
  let cmd = "?";
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 160);
  } catch {}
  process.stdout.write(`left running: pid ${pid} (${s.comm}): ${cmd}\n`);
  left++;
}

const before = new Set(
  readFileSync(beforeFile, "utf8")
    .split("\n")
    .filter((l) => l !== ""),
);
const unattributed = [];
for (const name of readdirSync(tmpdir())) {
  if (!name.startsWith("kexec-") || before.has(name)) continue;
  const m = /-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
  if (m !== null && treePids.has(Number(m[1]))) {
    process.stdout.write(`left in ${tmpdir()}: ${name} (made by pid ${m[1]} of the suite)\n`);
    left++;
  } else {
    unattributed.push(name);
  }
}
if (unattributed.length > 0) {
  process.stdout.write(
    `note: new in ${tmpdir()} but not attributable to the suite (no owner pid of its tree in the name): ${unattributed.join(", ")}\n`,
  );
}
process.stdout.write(
  left > 0
    ? `FAIL: the tests left ${left} processes or temporary directories behind\n`
    : "no process and no temporary directory left behind\n",
);
process.exit(left > 0 ? 1 : 0);
