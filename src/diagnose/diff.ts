/**
 * `kexec-lab diff`: a real log against the same load planned here. Every difference and every
 * failure in the log gets a finding: what matched, what differs and why (the rule or model behind
 * it), what failed and which constraint ruled each free range out, and the smallest change that
 * makes the load fit. A finding that cannot be explained is marked so and counted: the goal is none.
 */

import { KexecLabError } from "../errors.js";
import { hex } from "../formats/bytes.js";
import { parseIomem } from "../formats/iomem.js";
import type { GateState } from "../gates/types.js";
import { type KtSegment, kexecLoadFlags } from "../kexectools/debug.js";
import { validateLoad } from "../kimage/validate.js";
import { loaderSearchRanges } from "../loader/memory.js";
import { type Plan, type PlanInput, planLoad, segmentBufszOf } from "../loader/plan.js";
import { loadMemory } from "../memory/load-memory.js";
import { formatBytes } from "../report/format.js";
import type { FindingStatus } from "./finding.js";
import { explainGateErrno, explainGateLines } from "./gates.js";
import { type KexecLogFacts, LOG_KINDS, type Refusal, recognisedAny } from "./log.js";

export type { FindingStatus } from "./finding.js";

export interface Finding {
  topic: string;
  status: FindingStatus;
  text: string;
}

export interface DiffInput {
  facts: KexecLogFacts;
  plan: PlanInput;
  /** The memory-range lines kexec-lab derives for the machine (x86MemoryRanges / arm64MemoryRanges). */
  ourMemoryRanges?: string[];
  /** totalram of the machine (MemTotal) for kexec_load's checks. */
  memTotal?: number;
  memFree?: number;
  /** What the gates read on the logged machine (the --host's host.gates, with the gate options). */
  gates?: GateState;
}

export interface DiffReport {
  findings: Finding[];
  unexplained: number;
}

const GiB = 2 ** 30;

function tryPlan(input: PlanInput): { plan?: Plan; error?: KexecLabError } {
  try {
    return { plan: planLoad(input) };
  } catch (e) {
    if (e instanceof KexecLabError) return { error: e };
    throw e;
  }
}

/** Largest n in [lo, hi] (step `step`) for which ok(n) holds, assuming ok is monotone; undefined if none. */
function largest(lo: number, hi: number, step: number, ok: (n: number) => boolean): number | undefined {
  if (!ok(lo)) return undefined;
  let a = lo;
  let b = hi;
  while (b - a > step) {
    const mid = Math.floor((a + b) / 2 / step) * step;
    if (mid <= a) break;
    if (ok(mid)) a = mid;
    else b = mid;
  }
  return a;
}

/** Smallest n in [lo, hi] for which ok(n) holds (monotone), undefined if none. */
function smallest(lo: number, hi: number, step: number, ok: (n: number) => boolean): number | undefined {
  if (!ok(hi)) return undefined;
  let a = lo;
  let b = hi;
  while (b - a > step) {
    const mid = Math.ceil((a + b) / 2 / step) * step;
    if (mid >= b) break;
    if (ok(mid)) b = mid;
    else a = mid;
  }
  return b;
}

/** The crash region of a crash load: given, or the iomem's last "Crash kernel" line. */
function crashRegionOf(input: PlanInput): { start: number; end: number } | undefined {
  if (!input.crash) return undefined;
  if (input.crashRegion !== undefined) return input.crashRegion;
  if (input.iomem === undefined) return undefined;
  return parseIomem(input.iomem).crashKernel.at(-1);
}

/** The smallest changes that make a failing load place: a smaller initrd, a higher --mem-max, a larger crash region. */
export function smallestChanges(input: PlanInput): string[] {
  const out: string[] = [];
  const fits = (i: PlanInput) => tryPlan(i).plan !== undefined;
  const initrd = input.initrd;
  if (initrd !== undefined && initrd.length > 0) {
    const { initrd: _initrd, initrdName: _name, ...noInitrd } = input;
    const n = largest(0, initrd.length, 4096, (size) =>
      fits(size === 0 ? noInitrd : { ...input, initrd: initrd.subarray(0, size) }),
    );
    if (n !== undefined && n < initrd.length)
      out.push(
        `an initrd of at most ${hex(n)} bytes (${formatBytes(n)}) fits; this one is ${formatBytes(initrd.length)}`,
      );
  }
  if (input.memMax !== undefined) {
    const m = smallest(input.memMax, 2 ** 48, 4096, (max) => fits({ ...input, memMax: max }));
    if (m !== undefined) out.push(`--mem-max ${hex(m)} (or higher) fits; it is ${hex(input.memMax)}`);
    else if (fits({ ...input, memMax: undefined as unknown as number }))
      out.push("without --mem-max it fits");
  }
  const region = crashRegionOf(input);
  if (region !== undefined) {
    const r = region;
    const size = r.end - r.start;
    // The region can grow only within the RAM it starts in (a crashkernel= beyond RAM is not reserved).
    const ram = tryPlan({ ...input, crash: false }).plan?.memoryMap.ram.find(r.start);
    const most = Math.max(size, Math.min(size + 64 * GiB, ram !== undefined ? ram.end - r.start : size));
    const s = smallest(size, most - ((most - size) % (1 << 20)), 1 << 20, (sz) =>
      fits({ ...input, crashRegion: { start: r.start, end: r.start + sz } }),
    );
    if (s !== undefined && s > size)
      out.push(
        `crashkernel=${s / 2 ** 20}M@${hex(r.start)} (${formatBytes(s - size)} more) fits; it is ${formatBytes(size)}`,
      );
  }
  return out;
}

/** Which constraint rules out each free range for a hole of `size` bytes (the largest first). */
export function explainNoHole(input: PlanInput, size: number): string[] {
  const out: string[] = [];
  let plan: Plan | undefined;
  try {
    // The load without its initrd: where everything else lands.
    const { initrd: _initrd, initrdName: _name, ...rest } = input;
    plan = planLoad(rest);
  } catch {
    plan = undefined;
  }
  if (plan === undefined) return out;
  const free = loaderSearchRanges(input, plan);
  const placed = plan.segments.map((s) => ({ start: s.mem, end: s.mem + s.memsz }));
  const min = input.memMin ?? 0;
  const max = input.memMax !== undefined ? input.memMax + 1 : Number.POSITIVE_INFINITY;
  const region = crashRegionOf(input);
  // A crash load has one place to go: its reservation.
  const ranges =
    region !== undefined ? [region] : [...free.ranges].sort((a, b) => b.end - b.start - (a.end - a.start));
  for (const r of ranges.slice(0, 8)) {
    const len = r.end - r.start;
    const why: string[] = [];
    if (len < size) why.push(`too small (${formatBytes(len)} < ${formatBytes(size)})`);
    if (r.end <= min) why.push(`below --mem-min ${hex(min)}`);
    if (r.start >= max) why.push(`above --mem-max ${hex(max - 1)}`);
    if (region !== undefined && (r.end <= region.start || r.start >= region.end))
      why.push("outside the crashkernel reservation");
    const taken = placed
      .filter((p) => p.start < r.end && p.end > r.start)
      .reduce((a, p) => a + Math.min(p.end, r.end) - Math.max(p.start, r.start), 0);
    if (taken > 0 && why.length === 0)
      why.push(`the other segments take ${formatBytes(taken)} of it, leaving no ${formatBytes(size)} gap`);
    out.push(
      `${region !== undefined ? "crashkernel reservation" : "free range"} [${hex(r.start)}, ${hex(r.end)}) ${formatBytes(len)}: ${why.length > 0 ? why.join("; ") : "fits on its own"}`,
    );
  }
  return out;
}

/**
 * Why a logged segment field can differ from the plan and still be explained: only where the plan
 * rests on a model rather than the logged machine's own facts. Since the purgatory is read from the
 * kexec binary (or a recorded preset), the DTB is edited as kexec-tools' libfdt does, and the
 * elfcorehdr is counted as kexec-tools counts it, those fields are exact; a difference there means
 * the inputs differ, and stays unexplained with a hint at the input to check.
 */
function segmentExplanation(
  label: string | undefined,
  field: string,
  real: number,
  ours: number,
  purgatoryModelled: boolean,
): { status: FindingStatus; text: string } | undefined {
  if (label === "purgatory" && (field === "bufsz" || field === "memsz")) {
    if (purgatoryModelled)
      return {
        status: "explained",
        text: `no kexec binary or preset was given, so the purgatory's ${field} is a model (${hex(ours)}); this kexec build's purgatory has ${hex(real)} (give --kexec-binary to size it exactly)`,
      };
    return {
      status: "unexplained",
      text: `purgatory ${field} ${hex(real)} in the log, ${hex(ours)} from the given kexec binary or preset: is it the kexec that wrote the log?`,
    };
  }
  if (label === "dtb" && field === "bufsz")
    return {
      status: "unexplained",
      text: `the DTB after kexec-tools' edits is ${hex(real)} bytes in the log, ${hex(ours)} here: is --dtb the tree the logged kexec read (/sys/firmware/fdt unless it was given --dtb), and the command line the same?`,
    };
  if (label === "elfcorehdr" && field === "bufsz")
    return {
      status: "unexplained",
      text: `the ELF core header is ${hex(real)} bytes in the log, ${hex(ours)} here: it holds one PT_NOTE per possible CPU and one PT_LOAD per RAM range, so check --cpus and the memory map (--host)`,
    };
  return undefined;
}

/** The plan's purgatory size is kexec-lab's default model, not read from a kexec binary or preset. */
function purgatoryIsModel(input: PlanInput): boolean {
  return input.purgatory === undefined || (input.purgatory.source ?? "model").startsWith("model");
}

/** A logged segment with its index in the log (kexec-tools' segment[N], the kernel's "segment N"). */
type LogSegment = KtSegment & { index: number };

/** The log's segments, each with its own index: the array position, unless the log printed one. */
function indexed(
  segments: readonly (KtSegment | (Omit<KtSegment, "bufsz"> & { index: number }))[],
): LogSegment[] {
  return segments.map((s, i) => ({ bufsz: 0, index: i, ...s }));
}

/**
 * Which plan segment each logged segment is compared with: the one at the same address, else (for a
 * segment placed elsewhere) the remaining ones paired in address order. The result is in the log's
 * order, so each finding names the segment as the log does (kexec_file_load logs the segments in the
 * order the kernel added them: on x86_64 the purgatory before the boot parameters, though it lies
 * above them).
 */
export function pairSegments<P extends { mem: number }>(
  real: readonly LogSegment[],
  ours: readonly P[],
): { real: LogSegment; ours: P }[] {
  const used = new Set<P>();
  const pair = new Map<LogSegment, P>();
  for (const r of real) {
    const o = ours.find((x) => x.mem === r.mem && !used.has(x));
    if (o !== undefined) {
      used.add(o);
      pair.set(r, o);
    }
  }
  const restReal = real.filter((r) => !pair.has(r)).sort((a, b) => a.mem - b.mem);
  const restOurs = ours.filter((o) => !used.has(o)).sort((a, b) => a.mem - b.mem);
  restReal.forEach((r, i) => {
    if (i < restOurs.length) pair.set(r, restOurs[i]!);
  });
  return real.filter((r) => pair.has(r)).map((r) => ({ real: r, ours: pair.get(r)! }));
}

/**
 * Segment by segment, the logged load against the plan (pairSegments: same address, else address
 * order), each named by the log's own index: each field that differs is a finding, explained where a
 * known model stands behind it.
 */
function compareSegments(
  real: readonly LogSegment[],
  ours: readonly Plan["segments"][number][],
  add: (topic: string, status: FindingStatus, text: string) => void,
  purgatoryModelled: boolean,
  table: { prefix: string; fields: readonly ("mem" | "memsz" | "bufsz")[] } = {
    prefix: "",
    fields: ["mem", "memsz", "bufsz"],
  },
): void {
  if (real.length !== ours.length)
    add(
      `${table.prefix}segments`,
      "unexplained",
      `${real.length} segments in the log, ${ours.length} here (${ours.map((s) => s.label).join(", ")})`,
    );
  for (const { real: r, ours: o } of pairSegments(real, ours)) {
    const ob: KtSegment = { mem: o.mem, memsz: o.memsz, bufsz: segmentBufszOf(o) };
    const name = `${table.prefix}segment[${r.index}] (${o.label ?? "?"})`;
    const diffs = table.fields.filter((k) => r[k] !== ob[k]);
    if (diffs.length === 0) {
      add(name, "same", table.fields.map((k) => `${k} ${hex(r[k])}`).join(" "));
      continue;
    }
    for (const k of diffs) {
      const why = segmentExplanation(o.label, k, r[k], ob[k], purgatoryModelled);
      add(
        name,
        why?.status ?? "unexplained",
        why?.text ?? `${k} ${hex(r[k])} in the log, ${hex(ob[k])} here`,
      );
    }
  }
}

export function diffLoad(d: DiffInput): DiffReport {
  const findings: Finding[] = [];
  const f = d.facts;
  const add = (topic: string, status: FindingStatus, text: string) => findings.push({ topic, status, text });

  if (!recognisedAny(f)) {
    // Nothing to compare is not a match: say so, unexplained, so diff exits non-zero.
    add(
      "log",
      "unexplained",
      `no kexec output recognised in the log; kexec-lab reads ${LOG_KINDS.join("; ")} (run kexec with -d and keep stdout and stderr, or give dmesg with kexec's dynamic debug on)`,
    );
    return { findings, unexplained: 1 };
  }

  if (f.memoryRanges !== undefined && d.ourMemoryRanges !== undefined) {
    const a = f.memoryRanges;
    const b = d.ourMemoryRanges;
    const first = a.findIndex((l, i) => l !== b[i]);
    if (first < 0 && a.length === b.length) add("memory ranges", "same", `${a.length} lines, the same`);
    else
      add(
        "memory ranges",
        "explained",
        `the log's machine is not the --host machine: line ${first + 1} is "${a[first] ?? "(none)"}" in the log, "${b[first] ?? "(none)"}" here`,
      );
  }

  const { plan, error } = tryPlan(d.plan);
  if (
    error !== undefined &&
    f.noFreeArea.length === 0 &&
    f.failures.length === 0 &&
    f.refusals.length === 0 &&
    f.gateLines.length === 0 &&
    !f.fileLoadUnavailable
  )
    add(
      "placement",
      "unexplained",
      `kexec-lab cannot place this load but the log shows no failure: ${error.code}: ${error.detail}`,
    );

  if (f.table !== undefined && plan !== undefined) {
    const ours = plan.segments;
    const real = indexed(f.table.segments);
    const flags = kexecLoadFlags(plan.arch, plan.crashRegion !== undefined);
    add(
      "flags",
      flags === f.table.flags ? "same" : "unexplained",
      flags === f.table.flags
        ? `flags ${hex(flags)}`
        : `flags ${hex(f.table.flags)} in the log, ${hex(flags)} here (architecture or -p differ)`,
    );
    compareSegments(real, ours, add, purgatoryIsModel(d.plan));
    if (f.table.entry === plan.entry) add("entry", "same", `entry ${hex(plan.entry)}`);
    else {
      const purg = plan.segments.find((s) => s.label === "purgatory");
      const inPurg = purg !== undefined && f.table.entry >= purg.mem && f.table.entry < purg.mem + purg.memsz;
      // purgatory_start's offset is known from the kexec binary or preset; only the model lacks it.
      const explained = inPurg && d.plan.purgatory?.entryOffset === undefined;
      add(
        "entry",
        explained ? "explained" : "unexplained",
        explained
          ? `the entry is purgatory_start, ${hex(f.table.entry - purg!.mem)} into this build's purgatory; without its kexec binary kexec-lab puts it at the purgatory's base (${hex(plan.entry)})`
          : `entry ${hex(f.table.entry)} in the log, ${hex(plan.entry)} here`,
      );
    }
  }

  if (f.fileSegments !== undefined && plan !== undefined) {
    if (plan.loader !== "kexec-file")
      add(
        "syscall",
        "unexplained",
        `the log shows kexec_file_load's segments; kexec-lab planned ${plan.loader === "kexec-tools" ? "kexec_load" : plan.loader} (give --loader kexec-file)`,
      );
    const ours = plan.segments;
    const real = indexed(f.fileSegments);
    compareSegments(real, ours, add, purgatoryIsModel(d.plan));
  }
  if (f.kimageInfo !== undefined && plan !== undefined) {
    // arm64's "kexec kimage info" block: the kernel's own view of the segments after either syscall
    // (arch/arm64/kernel/machine_kexec.c _kexec_image_info); it prints mem and memsz, no bufsz.
    const k = f.kimageInfo;
    const crash = plan.crashRegion !== undefined;
    add(
      "kimage type",
      (k.type === 1) === crash ? "same" : "unexplained",
      (k.type === 1) === crash
        ? `type ${k.type} (${crash ? "KEXEC_TYPE_CRASH" : "KEXEC_TYPE_DEFAULT"})`
        : `type ${k.type} in the log, ${crash ? "a crash load (-p)" : "a normal load"} here`,
    );
    // 7.x prints a shorter block (type, head, kern_reloc, el2_vectors: no start, no segments); its
    // segments and entry are in kexec_file's own lines, compared above.
    if (k.segments.length > 0) {
      const ours = plan.segments;
      const real = indexed(k.segments);
      compareSegments(real, ours, add, purgatoryIsModel(d.plan), {
        prefix: "kimage ",
        fields: ["mem", "memsz"],
      });
    }
    if (k.start !== undefined)
      add(
        "kimage start",
        k.start === plan.entry ? "same" : "unexplained",
        k.start === plan.entry
          ? `start ${hex(k.start)}`
          : `start ${hex(k.start)} in the log, entry ${hex(plan.entry)} here`,
      );
  }
  if (f.signatureCheck !== undefined)
    add(
      "signature",
      "explained",
      `the kernel could not verify the new kernel's signature (${f.signatureCheck}) and loaded it anyway: it does not enforce signatures (no CONFIG_KEXEC_SIG_FORCE, no lockdown)`,
    );

  for (const size of f.noFreeArea) {
    const lines = explainNoHole(d.plan, size);
    const changes = smallestChanges(d.plan);
    const here =
      error !== undefined
        ? `kexec-lab fails too: ${error.detail}`
        : "kexec-lab places the load: the inputs differ from the logged run";
    add(
      "locate_hole",
      error !== undefined ? "explained" : "unexplained",
      [
        `Could not find a free area of memory of ${hex(size)} bytes (${formatBytes(size)}): ${here}`,
        ...lines.map((l) => `  ${l}`),
        ...changes.map((c) => `  smallest change: ${c}`),
      ].join("\n"),
    );
  }
  for (const max of f.noFreeAreaBelow) {
    const changes = smallestChanges(d.plan);
    add(
      "locate_hole",
      error !== undefined ? "explained" : "unexplained",
      [
        `a hole was found but it ends above hole_max ${hex(max)} (the loader's upper bound for that segment, or --mem-max)`,
        ...changes.map((c) => `  smallest change: ${c}`),
      ].join("\n"),
    );
  }

  if (f.refusals.length > 0) {
    let why = error;
    let note = "";
    // The log says the tree's kaslr-seed was not wiped: the running kernel left it (built without
    // KASLR, or booted with nokaslr), so a --host fdt.dtb taken as wiped is re-planned as it is.
    if (
      why === undefined &&
      d.plan.wipeKaslrSeed === true &&
      f.refusals.some((r) => r.kind === "kaslr-seed")
    ) {
      why = tryPlan({ ...d.plan, wipeKaslrSeed: false }).error;
      if (why !== undefined)
        note =
          " (the running kernel did not wipe /chosen/kaslr-seed, so the DTB is planned as it is, not as wiped)";
    }
    const [status, text] = explainRefusals(f.refusals, why);
    add("kexec-tools", status, `${text}${note}`);
  }
  for (const fail of f.failures) {
    const gate = explainGateErrno(fail.syscall, fail.errno, f, d.plan, d.gates);
    add(
      gate !== undefined ? "gate" : "syscall",
      ...(gate ?? explainErrno(fail.syscall, fail.errno, d, plan, error)),
    );
  }
  for (const g of explainGateLines(f)) add("gate", ...g);
  if (f.fileLoadUnavailable)
    add(
      "syscall",
      "explained",
      'kexec_file_load was refused (kexec-tools prints "not available" for ENOSYS, EINVAL, ENOEXEC or ENOTSUP: a kernel without CONFIG_KEXEC_FILE, an image the kernel\'s loader does not take, e.g. a compressed arm64 Image, or a flag it does not know); with -a kexec-tools falls back to kexec_load',
    );
  for (const l of f.unrecognisedKexecLines) add("log", "unexplained", `not understood: ${l}`);
  return { findings, unexplained: findings.filter((x) => x.status === "unexplained").length };
}

function explainErrno(
  syscall: string,
  errno: string,
  d: DiffInput,
  plan: Plan | undefined,
  error: KexecLabError | undefined,
): [FindingStatus, string] {
  const head = `${syscall} failed with ${errno}`;
  if (errno === "ENOMEM") {
    if (plan === undefined)
      return ["unexplained", `${head}: kexec-lab cannot place the load to count its memory`];
    const m = loadMemory(plan, { pageSize: d.plan.pageSize ?? 4096 });
    const free = d.memFree;
    return [
      free !== undefined ? "explained" : "unexplained",
      `${head}: kimage_alloc_pages() could not get the pages: the load needs ${formatBytes(m.peakBytes)} at its peak (${m.sourcePages} source pages, ${m.indirectionPages} indirection pages, ${m.controlPages} control pages, plus the files' copies)${free !== undefined ? `, MemFree is ${formatBytes(free)}` : "; give MemFree (--host with meminfo.txt or --mem-free) to compare"}`,
    ];
  }
  if (errno === "EBUSY")
    return [
      "explained",
      `${head}: kexec_load/kexec_file_load take kexec_lock with a trylock (kernel/kexec.c, kexec_file.c): another load or unload was running at the same moment (e.g. a kdump service loading the crash kernel); the load itself is not at fault, retry`,
    ];
  if (error !== undefined && error.code === "E_INITRD_WINDOW" && errno === "EADDRNOTAVAIL")
    return ["explained", `${head}: ${error.detail}`];
  if (
    syscall === "kexec_load" &&
    d.facts.table !== undefined &&
    d.memTotal !== undefined &&
    plan !== undefined
  ) {
    const t = d.facts.table;
    const crash = plan.crashRegion;
    const v = validateLoad({
      arch: plan.arch,
      pageSize: d.plan.pageSize ?? 4096,
      ramBytes: BigInt(d.memTotal),
      flags: t.flags & 0xffff,
      segments: t.segments.map((s) => ({
        mem: BigInt(s.mem),
        memsz: BigInt(s.memsz),
        bufsz: BigInt(s.bufsz),
      })),
      ...(crash !== undefined ? { crash: { start: BigInt(crash.start), end: BigInt(crash.end - 1) } } : {}),
      ...(t.entry !== 0 ? { entry: BigInt(t.entry) } : {}),
    });
    if (!v.ok && v.errno === errno)
      return [
        "explained",
        `${head}: the kernel's ${v.check} check${v.segment !== null ? ` (segment ${v.segment})` : ""}: ${v.reason}`,
      ];
    if (v.ok)
      return [
        "unexplained",
        `${head}, but the logged segments pass kexec_load's checks here (totalram ${formatBytes(d.memTotal)})`,
      ];
    return ["unexplained", `${head}; the checks here say ${v.errno} (${v.check}: ${v.reason})`];
  }
  if (error !== undefined)
    return ["explained", `${head}: kexec-lab refuses the load too: ${error.code}: ${error.detail}`];
  return [
    "unexplained",
    `${head}: no segment table in the log to check (run kexec with -d) or no MemTotal (--host)`,
  ];
}

/**
 * The plan errors that stand for "no loader takes this file" (kexec/kexec.c my_load: every
 * file_type[].probe refused it, or -t named another type).
 */
const FILE_TYPE_ERRORS = new Set([
  "E_KERNEL_UNSUPPORTED",
  "E_FORMAT_UNKNOWN",
  "E_COMPRESSION_UNSUPPORTED",
  "E_WRONG_FILE",
]);

/**
 * kexec-tools refused the load before any syscall (my_load's "Cannot determine the file type",
 * "Cannot load", ...): explained when the plan refuses it too, for a reason of the same kind (a file
 * type no loader takes: E_KERNEL_UNSUPPORTED and the acceptance reason; a kaslr-seed left in the tree:
 * E_DTB_KASLR_SEED; any loader failure for "Cannot load"), unexplained when kexec-lab places it.
 */
function explainRefusals(
  refusals: readonly Refusal[],
  error: KexecLabError | undefined,
): [FindingStatus, string] {
  const head = `kexec-tools refused the load before any syscall (${refusals.map((r) => `"${r.message}"`).join(", ")})`;
  if (error === undefined)
    return [
      "unexplained",
      `${head}, but kexec-lab places it: are the kernel file, --loader and the kexec-tools version (--kexec-tools or --host) those of the logged run?`,
    ];
  const kinds = new Set(refusals.map((r) => r.kind));
  const fileType = kinds.has("file-type") || kinds.has("wrong-type") || kinds.has("unsupported-type");
  const matches =
    (!fileType || FILE_TYPE_ERRORS.has(error.code)) &&
    (!kinds.has("kaslr-seed") || error.code === "E_DTB_KASLR_SEED");
  return [
    matches ? "explained" : "unexplained",
    matches
      ? `${head}: kexec-lab refuses it too: ${error.code}: ${error.detail}`
      : `${head}; kexec-lab refuses it for another reason: ${error.code}: ${error.detail}`,
  ];
}
