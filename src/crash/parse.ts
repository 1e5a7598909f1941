/**
 * crashkernel= as the kernel parses it (kernel/crash_reserve.c since 6.9, kernel/crash_core.c before):
 * parse_crashkernel -> __parse_crashkernel -> get_last_crashkernel, then one of
 *   parse_crashkernel_mem     "start-[end]:size[,start-[end]:size...][@offset]" (ranges)
 *   parse_crashkernel_simple  "size[@offset]"
 *   parse_crashkernel_suffix  "size,high" / "size,low" / "size,cma"
 * with memparse's number syntax (simple_strtoull base 0: 0x.. hex, 0.. octal, else decimal; then an
 * optional K/M/G/T/P/E suffix, either case). Browser-safe, no I/O.
 *
 * Version differences modelled (each from the source named; none yet checked against a recording
 * except where docs/kdump.md says so):
 *   - parse_crashkernel_mem rounds the RAM size up to 128 MiB before matching a range (Tao Liu's
 *     "kdump: round up the total memory size to 128M for crashkernel reservation", posted for 5.19/6.0;
 *     modelled from 6.0);
 *   - "crashkernel size resulted in zero bytes" (pr_info when no range matches) as read in
 *     kernel/crash_reserve.c (6.9+); not printed by older versions here (not checked when it came);
 *   - a missing crashkernel= returns -ENOENT since 5.19 (-EINVAL before): only the arch code's choice
 *     of what to try next depends on it;
 *   - ",cma" (SUFFIX_CMA, Jiri Bohac's crashkernel CMA series) is a known suffix from 6.17 on every
 *     arch (a ",cma" option is then skipped by the plain search; before 6.17 it is parsed as a plain
 *     option and refused: "unrecognized char: ,"); only x86_64 passes cma_size and reserves it. arm64
 *     and riscv support is a series rebased on 7.2-rc1 (Ruan Jinjie, v17, 2026), not merged here;
 *   - the generic parse_crashkernel(..., low_size, cma_size, high) that also parses ",high"/",low"
 *     (CONFIG_ARCH_HAS_GENERIC_CRASHKERNEL_RESERVATION) from 6.7; before it the arch code called
 *     parse_crashkernel_high / parse_crashkernel_low itself (src/crash/reserve.ts models both).
 */

const SUFFIXES = [",high", ",low", ",cma"] as const;
export type CrashkernelSuffix = "high" | "low" | "cma";

/** memparse(): a number and where it stopped; `end === pos` when no digit was read. */
export function memparse(s: string, pos: number): { value: number; end: number } {
  let i = pos;
  let base = 10;
  if (s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-fA-F]/.test(s[i + 2] ?? "")) {
    base = 16;
    i += 2;
  } else if (s[i] === "0") base = 8;
  let value = 0;
  const start = i;
  for (; i < s.length; i++) {
    const d = Number.parseInt(s[i]!, 16);
    if (Number.isNaN(d) || d >= base) break;
    value = value * base + d;
  }
  if (i === start) return { value: 0, end: pos };
  const shift = { K: 10, M: 20, G: 30, T: 40, P: 50, E: 60 }[(s[i] ?? "").toUpperCase()];
  if (shift !== undefined) {
    value *= 2 ** shift;
    i++;
  }
  return { value, end: i };
}

export interface ParseOptions {
  /** Kernel MAJOR.MINOR as numbers. */
  version: [number, number];
  arch: "arm64" | "x86_64";
}

/** What __parse_crashkernel found for one syntax. */
export interface ParsedValue {
  /** 0: not found (-ENOENT), or -EINVAL with `warnings` saying why. */
  ret: 0 | "ENOENT" | "EINVAL";
  size: number;
  base: number;
  /** Which syntax parsed it. */
  syntax?: "ranges" | "simple" | "suffix";
  /** The pr_warn/pr_info lines the kernel prints while parsing. */
  messages: string[];
  /** The option's text after "crashkernel=". */
  text?: string;
}

const ENDS_OPTION = (c: string | undefined) => c === undefined || c === " ";

/** get_last_crashkernel: the last "crashkernel=" whose value ends with `suffix` (none: no known suffix). */
export function getLastCrashkernel(
  cmdline: string,
  suffix: CrashkernelSuffix | undefined,
  known: readonly string[] = SUFFIXES,
): number | undefined {
  const name = "crashkernel=";
  let found: number | undefined;
  let p = cmdline.indexOf(name);
  while (p >= 0) {
    let end = cmdline.indexOf(" ", p);
    if (end < 0) end = cmdline.length;
    const word = cmdline.slice(p, end);
    if (suffix === undefined) {
      if (!known.some((s) => word.endsWith(s))) found = p;
    } else if (word.endsWith(`,${suffix}`)) found = p;
    p = cmdline.indexOf(name, p + 1);
  }
  return found;
}

function parseMem(s: string, systemRam: number, opts: ParseOptions): ParsedValue {
  const roundup = atLeast(opts.version, 6, 0);
  const messages: string[] = [];
  const fail = (m: string): ParsedValue => ({
    ret: "EINVAL",
    size: 0,
    base: 0,
    syntax: "ranges",
    messages: [...messages, m],
  });
  const totalMem = roundup ? Math.ceil(systemRam / 2 ** 27) * 2 ** 27 : systemRam;
  let cur = 0;
  let size = 0;
  let base = 0;
  for (;;) {
    const a = memparse(s, cur);
    if (a.end === cur) return fail("crashkernel: Memory value expected");
    cur = a.end;
    if (s[cur] !== "-") return fail("crashkernel: '-' expected");
    cur++;
    let end = Number.POSITIVE_INFINITY;
    if (s[cur] !== ":") {
      const b = memparse(s, cur);
      if (b.end === cur) return fail("crashkernel: Memory value expected");
      cur = b.end;
      if (b.value <= a.value) return fail("crashkernel: end <= start");
      end = b.value;
    }
    if (s[cur] !== ":") return fail("crashkernel: ':' expected");
    cur++;
    const z = memparse(s, cur);
    if (z.end === cur) return fail("crashkernel: Memory value expected");
    cur = z.end;
    if (z.value >= totalMem) return fail("crashkernel: invalid size");
    if (totalMem >= a.value && totalMem < end) {
      size = z.value;
      break;
    }
    // `while (*cur++ == ',')`: the character is consumed either way
    const c = s[cur];
    cur++;
    if (c !== ",") break;
  }
  if (size > 0) {
    while (cur < s.length && s[cur] !== " " && s[cur] !== "@") cur++;
    if (s[cur] === "@") {
      cur++;
      const o = memparse(s, cur);
      if (o.end === cur) return fail("crashkernel: Memory value expected after '@'");
      base = o.value;
    }
  } else if (atLeast(opts.version, 6, 9)) messages.push("crashkernel size resulted in zero bytes");
  return { ret: 0, size, base, syntax: "ranges", messages };
}

function parseSimple(s: string): ParsedValue {
  const a = memparse(s, 0);
  if (a.end === 0)
    return {
      ret: "EINVAL",
      size: 0,
      base: 0,
      syntax: "simple",
      messages: ["crashkernel: memory value expected"],
    };
  let base = 0;
  if (s[a.end] === "@") base = memparse(s, a.end + 1).value;
  else if (!ENDS_OPTION(s[a.end]))
    return {
      ret: "EINVAL",
      size: 0,
      base: 0,
      syntax: "simple",
      messages: [`crashkernel: unrecognized char: ${s[a.end]}`],
    };
  return { ret: 0, size: a.value, base, syntax: "simple", messages: [] };
}

function parseSuffix(s: string, suffix: CrashkernelSuffix): ParsedValue {
  const a = memparse(s, 0);
  const bad = (c: string | undefined): ParsedValue => ({
    ret: "EINVAL",
    size: 0,
    base: 0,
    syntax: "suffix",
    messages: [`crashkernel: unrecognized char: ${c ?? ""}`],
  });
  if (a.end === 0)
    return {
      ret: "EINVAL",
      size: 0,
      base: 0,
      syntax: "suffix",
      messages: ["crashkernel: memory value expected"],
    };
  const sfx = `,${suffix}`;
  if (!s.startsWith(sfx, a.end)) return bad(s[a.end]);
  const after = a.end + sfx.length;
  if (!ENDS_OPTION(s[after])) return bad(s[after]);
  return { ret: 0, size: a.value, base: 0, syntax: "suffix", messages: [] };
}

/**
 * __parse_crashkernel(cmdline, system_ram, suffix): the last crashkernel= option of that kind, parsed.
 * `known` is suffix_tbl (",cma" only where the version has it).
 */
export function parseCrashkernelOption(
  cmdline: string,
  systemRam: number,
  suffix: CrashkernelSuffix | undefined,
  opts: ParseOptions,
): ParsedValue {
  const known = SUFFIXES.filter((s) => s !== ",cma" || hasCmaSuffix(opts));
  const at = getLastCrashkernel(cmdline, suffix, known);
  if (at === undefined) {
    const old = !atLeast(opts.version, 5, 19);
    return { ret: old ? "EINVAL" : "ENOENT", size: 0, base: 0, messages: [] };
  }
  const rest = cmdline.slice(at + "crashkernel=".length);
  const end = rest.indexOf(" ");
  const text = end < 0 ? rest : rest.slice(0, end);
  let r: ParsedValue;
  if (suffix !== undefined) r = parseSuffix(rest, suffix);
  else {
    const colon = rest.indexOf(":");
    r = colon >= 0 && (end < 0 || colon < end) ? parseMem(rest, systemRam, opts) : parseSimple(rest);
  }
  return { ...r, text };
}

export function atLeast(v: [number, number], major: number, minor: number): boolean {
  return v[0] > major || (v[0] === major && v[1] >= minor);
}

/** ",cma" is a known suffix (suffix_tbl[SUFFIX_CMA]) from 6.17. */
export function hasCmaSuffix(opts: ParseOptions): boolean {
  return atLeast(opts.version, 6, 17);
}

/** The arch passes cma_size to parse_crashkernel and reserves it (x86_64 from 6.17). */
export function reservesCma(opts: ParseOptions): boolean {
  return opts.arch === "x86_64" && atLeast(opts.version, 6, 17);
}

/** A crashkernel= value as kexec-lab writes it back: "256M", "512M@0x40000000", ranges, suffixes. */
export interface CrashkernelSpec {
  kind: "simple" | "ranges" | "suffix";
  /** simple/suffix: the size in bytes. */
  size?: number;
  /** simple/ranges: @offset. */
  offset?: number;
  suffix?: CrashkernelSuffix;
  ranges?: { start: number; end?: number; size: number }[];
}

/** memparse's inverse for display: the largest suffix that divides the value exactly. */
export function formatMem(n: number): string {
  if (n === 0) return "0";
  for (const [s, sh] of [
    ["E", 60],
    ["P", 50],
    ["T", 40],
    ["G", 30],
    ["M", 20],
    ["K", 10],
  ] as const) {
    const d = 2 ** sh;
    if (n % d === 0) return `${n / d}${s}`;
  }
  return String(n);
}

export function formatCrashkernel(spec: CrashkernelSpec): string {
  const at = spec.offset !== undefined ? `@${formatMem(spec.offset)}` : "";
  if (spec.kind === "ranges") {
    const list = (spec.ranges ?? [])
      .map((r) => `${formatMem(r.start)}-${r.end !== undefined ? formatMem(r.end) : ""}:${formatMem(r.size)}`)
      .join(",");
    return `${list}${at}`;
  }
  if (spec.kind === "suffix") return `${formatMem(spec.size ?? 0)},${spec.suffix}`;
  return `${formatMem(spec.size ?? 0)}${at}`;
}

/**
 * A single crashkernel= value read back into a spec (the syntax parse_crashkernel_* accept, without
 * the RAM-size match): for display, round trips and `--crashkernel` validation. Returns undefined
 * when the kernel would reject the syntax.
 */
export function specOf(value: string): CrashkernelSpec | undefined {
  for (const sfx of ["high", "low", "cma"] as const) {
    if (value.endsWith(`,${sfx}`)) {
      const a = memparse(value, 0);
      return a.end > 0 && a.end === value.length - sfx.length - 1
        ? { kind: "suffix", size: a.value, suffix: sfx }
        : undefined;
    }
  }
  if (value.includes(":")) {
    const ranges: { start: number; end?: number; size: number }[] = [];
    let cur = 0;
    for (;;) {
      const a = memparse(value, cur);
      if (a.end === cur || value[a.end] !== "-") return undefined;
      cur = a.end + 1;
      let end: number | undefined;
      if (value[cur] !== ":") {
        const b = memparse(value, cur);
        if (b.end === cur || b.value <= a.value) return undefined;
        end = b.value;
        cur = b.end;
      }
      if (value[cur] !== ":") return undefined;
      const z = memparse(value, cur + 1);
      if (z.end === cur + 1) return undefined;
      ranges.push({ start: a.value, ...(end !== undefined ? { end } : {}), size: z.value });
      cur = z.end;
      if (value[cur] === ",") {
        cur++;
        continue;
      }
      break;
    }
    if (cur === value.length) return { kind: "ranges", ranges };
    if (value[cur] !== "@") return undefined;
    const o = memparse(value, cur + 1);
    return o.end === value.length && o.end > cur + 1
      ? { kind: "ranges", ranges, offset: o.value }
      : undefined;
  }
  const a = memparse(value, 0);
  if (a.end === 0) return undefined;
  if (a.end === value.length) return { kind: "simple", size: a.value };
  if (value[a.end] !== "@") return undefined;
  const o = memparse(value, a.end + 1);
  return o.end === value.length && o.end > a.end + 1
    ? { kind: "simple", size: a.value, offset: o.value }
    : undefined;
}
