/**
 * Machine profiles for the timing model: the memory system of one CPU core running the relocation
 * code, as documented data. The shipped profiles live in profiles/*.json (with their sources); the same
 * data is embedded in builtin-profiles.ts so the library works in a browser (a test checks they match).
 *
 * Units are in the field names: ...Bytes, ...Cycles (core clock), ...Ns (nanoseconds), ...GBps (10^9
 * bytes per second). Every number a profile does not know for sure is marked in `sources` as an estimate.
 */

import { z } from "zod";
import { KexecLabError } from "../errors.js";
import { ARM64_DEFAULT_COHERENCE, type Coherence, X86_COHERENCE } from "../reloc/lines.js";
import { BUILTIN_PROFILE_DATA } from "./builtin-profiles.js";

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
const count = z.number().int().positive();

const cacheLevelSchema = z.object({
  /** "L1D", "L2", "L3", "SLC". */
  name: z.string().min(1),
  bytes: count,
  ways: count,
  /** Load-to-use latency of a hit in this level. */
  latencyCycles: nonNegative,
});

export const profileSchema = z.object({
  name: z.string().min(1),
  description: z.string(),
  arch: z.enum(["arm64", "x86_64"]),
  /** Where each number comes from: "field: source". Estimates say "estimate". */
  sources: z.array(z.string()),
  cpu: z.object({
    ghz: positive,
    /** Bytes a cached copy loop moves per cycle when every access hits L1 (load+store pairs). */
    copyBytesPerCycle: positive,
    /** Core cycles of the entry-walk loop per entry read (decode flags, branch), besides the load. */
    entryCycles: nonNegative,
    /** Sustained instructions per cycle on scalar integer code (SHA-256 rounds) with warm caches. */
    ipc: positive.default(2),
  }),
  lineBytes: z.union([z.literal(32), z.literal(64), z.literal(128)]),
  /** Data cache levels, innermost first. */
  caches: z.array(cacheLevelSchema).min(1).max(4),
  /** Full-line store misses allocate without reading the line first (Arm write streaming, x86 fast strings). */
  writeStreaming: z.boolean(),
  prefetcher: z.object({
    enabled: z.boolean(),
    /** Sequential line misses a stream needs before it starts prefetching. */
    trainLines: count,
    /** Accesses after training until the prefetch distance reaches its maximum. */
    rampLines: count,
    /** Maximum distance ahead of the demand stream, in lines. */
    distanceLines: z.number().int().min(1).max(1024),
    /** Concurrent streams tracked. */
    streams: z.number().int().min(1).max(64),
    /** Whether a stream continues into the next (virtual) page; when false it stops at boundaryBytes. */
    crossesPages: z.boolean(),
    boundaryBytes: count,
  }),
  tlb: z.object({
    /** Fixed cost of a TLB miss besides the descriptor reads (walk start, pipeline refill). */
    missCycles: nonNegative,
  }),
  dram: z.object({
    latencyNs: positive,
    /** Copy bandwidth one core can reach (reads + writes), the denominator of the physical limit. */
    bandwidthGBps: positive,
    /** Demand misses one core can have in flight (line fill buffers / MSHRs). */
    outstandingMisses: z.number().int().min(1).max(256),
  }),
  /**
   * Accesses with the MMU off: arm64 data accesses are Device-nGnRnE (no gathering, no reordering, no
   * early write acknowledgement), so every access, load or store, costs one full round trip to memory
   * and none overlaps the next. Instruction fetches with SCTLR.I clear are Normal Non-cacheable.
   */
  uncached: z.object({
    /** Bytes per access of the copy loop (ldp/stp of two X registers: 16). */
    accessBytes: count,
    /** Round trip of one Device access to DRAM (load data back, or store acknowledged), in ns. */
    loadNs: positive,
    /** Bytes per Non-cacheable instruction fetch request (I-cache off: each is a round trip). */
    fetchBytes: count.default(16),
    /**
     * Round trips the relocation copy loop's own instruction fetches add per 64 bytes copied with the
     * MMU off (SCTLR_ELx.I cleared with M: Non-cacheable fetches). 0: the loop is replayed from the
     * core's fetch buffers (the likely value); up to 12, one per instruction of copy_page's loop.
     */
    loopFetches: nonNegative.default(0),
  }),
  /** Cache maintenance by VA, one instruction per line. */
  cmo: z.object({
    /** Issue cost per line in the core. */
    lineCycles: nonNegative,
    /** Time for a maintenance operation to reach the Point of Coherency (civac, ivac, cvac). */
    pocNs: nonNegative,
    /** Time for a maintenance operation to reach the Point of Unification (cvau, ic ivau). */
    pouNs: nonNegative,
    /** Maintenance operations in flight at once. */
    outstanding: z.number().int().min(1).max(256),
    /** Whole I-cache invalidate (ic iallu). */
    icacheInvalidateNs: nonNegative,
  }),
  barrierCycles: z.object({
    dsb: nonNegative,
    isb: nonNegative,
    tlbi: nonNegative,
    /** Turning the MMU on or off (SCTLR write, TTBR switch, pipeline flush). */
    mmuSwitch: nonNegative,
  }),
  /**
   * Where cache maintenance reaches on this machine, for the relocation's architectural check
   * (src/reloc/lines.ts): CLIDR_EL1.LoUU (levels a clean to the Point of Unification cleans; 0: L1 D is
   * at the PoU) and LoC (levels a clean to the Point of Coherency cleans); `coherent` on x86_64 (no
   * maintenance needed). Absent: arm64 takes LoUU 1, LoC 2 (the PoU is not the PoC), x86_64 coherent.
   */
  coherence: z
    .object({
      coherent: z.boolean().default(false),
      louu: z.number().int().min(0).max(7),
      loc: z.number().int().min(0).max(7),
    })
    .optional(),
  /** Dotted paths of numeric fields `calibrate` may fit (e.g. "uncached.loadNs"). */
  free: z.array(z.string()),
  /**
   * The published time this machine spent between `kexec -e` and the start of relocation (kernel_kexec:
   * kernel_restart_prepare's device_shutdown, then machine_shutdown taking the secondary CPUs offline).
   * A measured constant of one machine, not modeled: it depends on its drivers' shutdown callbacks. Only
   * profiles of a machine with a published figure have it; phases.ts adds a "shutdown" phase for them.
   */
  publishedShutdown: z.object({ seconds: nonNegative, source: z.string().min(1) }).optional(),
  /**
   * What the sources allow for a numeric field (dotted path, e.g. "dram.latencyNs"): min and max over
   * its sources, or for one source or an estimate a stated uncertainty, with `why`. Fields without a
   * range are exact. src/model/ranges.ts carries them through the model (docs/model.md, "Ranges").
   */
  ranges: z
    .record(z.string(), z.object({ low: nonNegative, high: nonNegative, why: z.string().min(1) }))
    .optional(),
});

export type Profile = z.infer<typeof profileSchema>;

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== "object" || !(String(key) in (cur as object))) {
      return { found: false, value: undefined };
    }
    cur = (cur as Record<string, unknown>)[String(key)];
  }
  return { found: true, value: cur };
}

function fieldPath(path: readonly PropertyKey[]): string {
  let s = "";
  for (const k of path) s += typeof k === "number" ? `[${k}]` : s === "" ? String(k) : `.${String(k)}`;
  return s;
}

/**
 * Validate a profile (parsed JSON). Throws a catalogued KexecLabError naming the first bad field:
 * E_FIELD_MISSING, E_FIELD_TYPE or E_FIELD_VALUE.
 */
export function loadProfile(json: unknown, file?: string): Profile {
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldPath(issue.path) || "(profile)";
    const at = valueAt(json, issue.path);
    const where = file === undefined ? { field } : { file, field };
    if (issue.code === "invalid_type" && !at.found && issue.path.length > 0) {
      throw new KexecLabError("E_FIELD_MISSING", `profile field ${field} is required`, where);
    }
    if (issue.code === "invalid_type" || (issue.code === "invalid_union" && typeof at.value !== "number")) {
      throw new KexecLabError(
        "E_FIELD_TYPE",
        `profile field ${field}: ${issue.message} (got ${typeName(at.value)})`,
        where,
      );
    }
    throw new KexecLabError("E_FIELD_VALUE", `profile field ${field}: ${issue.message}`, where);
  }
  const p = parsed.data;
  for (let i = 0; i < p.caches.length; i++) {
    const c = p.caches[i]!;
    const lines = c.bytes / p.lineBytes;
    if (!Number.isInteger(lines) || lines % c.ways !== 0) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `cache ${c.name}: ${c.bytes} bytes is not a whole number of ${c.ways}-way sets of ${p.lineBytes}-byte lines`,
        file === undefined ? { field: `caches[${i}].bytes` } : { file, field: `caches[${i}].bytes` },
      );
    }
  }
  for (let i = 0; i < p.free.length; i++) {
    const v = valueAt(p, p.free[i]!.split("."));
    if (!v.found || typeof v.value !== "number") {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `free parameter "${p.free[i]}" is not a numeric field of the profile`,
        file === undefined ? { field: `free[${i}]` } : { file, field: `free[${i}]` },
      );
    }
  }
  for (const [path, r] of Object.entries(p.ranges ?? {})) {
    const where = file === undefined ? { field: `ranges.${path}` } : { file, field: `ranges.${path}` };
    const v = valueAt(p, path.split("."));
    if (!v.found || typeof v.value !== "number") {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `range "${path}" is not a numeric field of the profile`,
        where,
      );
    }
    if (!(r.low <= v.value && v.value <= r.high)) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `range of ${path}: [${r.low}, ${r.high}] does not contain the profile's value ${v.value}`,
        where,
      );
    }
    for (const end of [r.low, r.high]) {
      const probe = withParam(p, path, end);
      const ok = profileSchema.safeParse(probe);
      if (!ok.success) {
        throw new KexecLabError(
          "E_FIELD_VALUE",
          `range of ${path}: ${end} is not a valid value (${ok.error.issues[0]!.message})`,
          where,
        );
      }
    }
  }
  return p;
}

/** Read a numeric field by dotted path ("dram.bandwidthGBps", "caches.1.latencyCycles"). */
export function getParam(p: Profile, path: string): number {
  const v = valueAt(p, path.split("."));
  if (!v.found || typeof v.value !== "number") {
    throw new KexecLabError("E_FIELD_VALUE", `"${path}" is not a numeric field of profile ${p.name}`, {
      field: path,
    });
  }
  return v.value;
}

/**
 * A copy of the profile with one numeric field replaced. A range of that field (Profile.ranges) that
 * does not contain the new value is stretched to it, so a profile's range always holds its value.
 */
export function withParam(p: Profile, path: string, value: number): Profile {
  getParam(p, path);
  const copy = structuredClone(p) as unknown as Record<string, unknown>;
  const keys = path.split(".");
  let cur = copy;
  for (let i = 0; i < keys.length - 1; i++) cur = cur[keys[i]!] as Record<string, unknown>;
  cur[keys[keys.length - 1]!] = value;
  const out = copy as unknown as Profile;
  const r = out.ranges?.[path];
  if (r !== undefined && (value < r.low || value > r.high)) {
    out.ranges![path] = { ...r, low: Math.min(r.low, value), high: Math.max(r.high, value) };
  }
  return out;
}

/** The shipped profiles, by name (identical to profiles/NAME.json). */
export const BUILTIN_PROFILES: Record<string, Profile> = Object.fromEntries(
  Object.entries(BUILTIN_PROFILE_DATA).map(([name, data]) => [
    name,
    loadProfile(data, `profiles/${name}.json`),
  ]),
);

/** A builtin profile by name, or a catalogued error listing the names. */
export function builtinProfile(name: string): Profile {
  const p = BUILTIN_PROFILES[name];
  if (p === undefined) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `unknown profile "${name}" (builtin: ${Object.keys(BUILTIN_PROFILES).join(", ")})`,
      { field: "profile" },
    );
  }
  return p;
}

/**
 * A scenario's `profiles` list (builtin names or inline profile objects) as profiles. Errors name the
 * entry (`profiles[1].dram.latencyNs`).
 */
export function resolveProfileRefs(
  refs: readonly (string | Record<string, unknown>)[],
  field = "profiles",
  file?: string,
): Profile[] {
  return refs.map((ref, i) => {
    try {
      return typeof ref === "string" ? builtinProfile(ref) : loadProfile(ref);
    } catch (e) {
      if (e instanceof KexecLabError) {
        const inner = e.where.field !== undefined && e.where.field !== "profile" ? `.${e.where.field}` : "";
        const where = { field: `${field}[${i}]${inner}`, ...(file !== undefined ? { file } : {}) };
        throw new KexecLabError(e.code, e.detail, where);
      }
      throw e;
    }
  });
}

/** The profile `run` models with when none is named (src/defaults.ts). */
import { defaultProfileName } from "../defaults.js";

export { defaultProfileName };

/**
 * E_ARCH_MISMATCH when `profile` models a core of another architecture than the scenario's `arch`
 * (an arm64 profile's caches, TLB and SHA-256 cost say nothing of an x86_64 relocation).
 */
export function checkProfileArch(profile: Profile, arch: "arm64" | "x86_64", field = "--profile"): void {
  if (profile.arch === arch) return;
  throw new KexecLabError(
    "E_ARCH_MISMATCH",
    `profile ${profile.name} models an ${profile.arch} machine; the scenario is ${arch}`,
    { field },
    `name a profile of ${arch} (the default is ${defaultProfileName(arch)}; \`kexec-lab calibrate\` makes your own)`,
  );
}

/**
 * The cache rules a relocation is verified against on this profile's machine (its `coherence` field,
 * else the architecture's default): named after the profile and the CLIDR_EL1 levels, with where the
 * PoU and PoC fall among the profile's caches.
 */
export function coherenceOf(profile: Profile): Coherence {
  const c = profile.coherence;
  if (c === undefined) return profile.arch === "x86_64" ? X86_COHERENCE : ARM64_DEFAULT_COHERENCE;
  if (c.coherent) return { ...X86_COHERENCE, name: `${profile.name} (caches coherent)` };
  const after = (n: number) => (n === 0 ? "at L1 D" : `after ${profile.caches[n - 1]?.name ?? `level ${n}`}`);
  return {
    name: `${profile.name}: CLIDR_EL1 LoUU ${c.louu}, LoC ${c.loc} (PoU ${after(c.louu)}, PoC ${after(c.loc)})`,
    coherent: false,
    louu: c.louu,
    loc: c.loc,
  };
}
