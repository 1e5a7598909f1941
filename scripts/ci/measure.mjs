#!/usr/bin/env node
/**
 * Run a command and report its wall time and memory, over the whole process tree:
 *
 *   node scripts/ci/measure.mjs [--interval MS] [--json FILE] -- CMD ARGS...
 *
 * Every --interval ms (default 250) it lists the command's descendants from /proc (by parent pid) and
 * reads each one's VmRSS and VmHWM from /proc/<pid>/status. It reports the peak of the SUM of VmRSS
 * over all processes alive at one sample (what the machine had to hold at once; sampling can miss a
 * spike shorter than the interval), and the largest VmHWM of any single process with its command (the
 * kernel's own high-water mark: exact, also for short-lived peaks of a process seen at least once).
 * /usr/bin/time -v reports only the latter for the largest single process; this covers all of them.
 *
 * Exits with the command's exit code (128 + signal number when it was killed). Linux only.
 */

import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";

const argv = process.argv.slice(2);
let interval = 250;
let jsonOut = null;
while (argv.length > 0 && argv[0] !== "--") {
  const k = argv.shift();
  if (k === "--interval") interval = Number(argv.shift());
  else if (k === "--json") jsonOut = argv.shift();
  else {
    process.stderr.write(`measure: unknown option ${k}\n`);
    process.exit(2);
  }
}
argv.shift();
if (argv.length === 0) {
  process.stderr.write("usage: node scripts/ci/measure.mjs [--interval MS] [--json FILE] -- CMD ARGS...\n");
  process.exit(2);
}

function statusOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
      return m === null ? 0 : Number(m[1]) * 1024;
    };
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(text)?.[1] ?? -1);
    return { ppid, rss: kb("VmRSS"), hwm: kb("VmHWM"), name: /^Name:\s+(.*)$/m.exec(text)?.[1] ?? "?" };
  } catch {
    return null;
  }
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 160);
  } catch {
    return "?";
  }
}

const t0 = performance.now();
const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
let peakSum = 0;
let peakSumAt = 0;
let peakSumCount = 0;
const perPid = new Map(); // pid -> { hwm, name, cmd }

function sample() {
  const procs = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = statusOf(Number(d));
    if (s !== null) procs.set(Number(d), s);
  }
  const tree = new Set([child.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, s] of procs) {
      if (!tree.has(pid) && tree.has(s.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let sum = 0;
  let n = 0;
  for (const pid of tree) {
    const s = procs.get(pid);
    if (s === undefined) continue;
    sum += s.rss;
    n++;
    const seen = perPid.get(pid);
    if (seen === undefined) perPid.set(pid, { hwm: s.hwm, name: s.name, cmd: cmdline(pid) });
    else if (s.hwm > seen.hwm) seen.hwm = s.hwm;
  }
  if (sum > peakSum) {
    peakSum = sum;
    peakSumAt = (performance.now() - t0) / 1000;
    peakSumCount = n;
  }
}

const timer = setInterval(sample, interval);
sample();
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => {
  clearInterval(timer);
  const wall = (performance.now() - t0) / 1000;
  const top = [...perPid.entries()].sort((a, b) => b[1].hwm - a[1].hwm).slice(0, 5);
  const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const lines = [
    `measure: wall time ${wall.toFixed(1)} s`,
    `measure: peak RSS of all processes together ${gib(peakSum)} (${peakSumCount} processes, at ${peakSumAt.toFixed(1)} s; sampled every ${interval} ms)`,
    `measure: largest single process VmHWM ${top.length > 0 ? gib(top[0][1].hwm) : "?"}; top: ${top
      .map(([pid, p]) => `${p.name}[${pid}] ${gib(p.hwm)}`)
      .join(", ")}`,
  ];
  process.stderr.write(`${lines.join("\n")}\n`);
  if (jsonOut !== null) {
    writeFileSync(
      jsonOut,
      `${JSON.stringify(
        {
          wallSeconds: wall,
          peakRssSumBytes: peakSum,
          peakRssSumProcesses: peakSumCount,
          intervalMs: interval,
          processes: top.map(([pid, p]) => ({ pid, name: p.name, hwmBytes: p.hwm, cmd: p.cmd })),
          // every pid seen in the command's process tree (scripts/ci/leftovers.mjs attributes
          // temporary directories named kexec-<what>-<pid>-XXXXXX by it)
          pids: [...perPid.keys()],
          exitCode: code,
          signal,
        },
        null,
        2,
      )}\n`,
    );
  }
  const signo = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11 };
  process.exit(code ?? 128 + (signo[signal] ?? 1));
});
