/**
 * Mutation of fuzz inputs: byte flips, random bytes, truncations, inserted and duplicated chunks,
 * and "interesting" integers (0, all ones, sign boundaries, 2^40, 2^52, sizes near the file length)
 * written at the header offsets a format declares, in its byte order. JSON inputs are also mutated
 * structurally (a leaf replaced by a hostile value, a key dropped or added, an array blown up, deep
 * nesting), since byte noise in JSON mostly just tests JSON.parse.
 *
 * Big inputs (the real kernels are 14-27 MB) are mutated in place with an undo log, so a case costs
 * what it changes, not a copy of the file; length-changing operations become truncations there.
 */

import type { FuzzRng } from "./rng.js";

export interface MutationHints {
  /** Byte offsets of header fields worth hitting with interesting integers. */
  fieldOffsets?: readonly number[];
  /** Byte order of the format's multi-byte integers. Default "le". */
  endian?: "le" | "be";
  /** Inputs larger than this are mutated in place (no insertions). Default 1 MiB. */
  inPlaceAbove?: number;
  /** The most operations stacked in one case. Default 4. */
  maxOps?: number;
}

export interface MutatedInput {
  bytes: Uint8Array;
  /** What was done, in order, for failure reports. */
  ops: string[];
  /** Undo in-place changes to the seed buffer. Always call it (a no-op for copies). */
  restore(): void;
}

/** 32-bit halves [lo, hi] of 64-bit values that break parsers; `len` marks file-length-relative ones. */
function interestingValues(len: number): Array<[number, number]> {
  const hiLo = (v: number): [number, number] => [(v % 0x100000000) >>> 0, Math.floor(v / 0x100000000) >>> 0];
  return [
    [0, 0],
    [1, 0],
    [0x7f, 0],
    [0x80, 0],
    [0xff, 0],
    [0xffff, 0],
    [0x7fffffff, 0],
    [0x80000000, 0],
    [0xffffffff, 0],
    [0, 1], // 2^32
    [0, 0x100], // 2^40
    [0, 0x100000], // 2^52
    [0, 0x80000000], // 2^63
    [0xffffffff, 0xffffffff],
    [0xfffff000, 0xffffffff],
    hiLo(len),
    hiLo(Math.max(0, len - 1)),
    hiLo(len + 1),
    hiLo(len * 2),
    hiLo(Math.floor(len / 2)),
    hiLo(Math.max(0, len - 8)),
    [0x40, 0],
    [0x1000, 0],
    [0x200000, 0],
  ];
}

const WIDTHS = [1, 2, 4, 4, 8, 8] as const;

class Editor {
  /** Undo log for in-place edits: offsets and their original bytes. */
  private readonly undo: Array<[number, Uint8Array]> = [];
  bytes: Uint8Array;
  readonly inPlace: boolean;

  constructor(
    private readonly seed: Uint8Array,
    inPlace: boolean,
  ) {
    this.inPlace = inPlace;
    this.bytes = inPlace ? seed : seed.slice();
  }

  /** Overwrite bytes at `at` (clipped to the current length). */
  write(at: number, data: ArrayLike<number>): void {
    const n = Math.min(data.length, this.bytes.length - at);
    if (at < 0 || n <= 0) return;
    if (this.inPlace) this.undo.push([at, this.seed.slice(at, at + n)]);
    for (let i = 0; i < n; i++) this.bytes[at + i] = data[i]!;
  }

  truncate(len: number): void {
    this.bytes = this.bytes.subarray(0, Math.max(0, Math.min(len, this.bytes.length)));
  }

  insert(at: number, data: Uint8Array): void {
    at = Math.max(0, Math.min(at, this.bytes.length));
    const out = new Uint8Array(this.bytes.length + data.length);
    out.set(this.bytes.subarray(0, at), 0);
    out.set(data, at);
    out.set(this.bytes.subarray(at), at + data.length);
    this.bytes = out;
  }

  restore(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const [at, orig] = this.undo[i]!;
      this.seed.set(orig, at);
    }
    this.undo.length = 0;
  }
}

function encodeInt(lo: number, hi: number, width: number, endian: "le" | "be"): number[] {
  const le: number[] = [];
  for (let i = 0; i < width; i++) {
    const word = i < 4 ? lo : hi;
    le.push((word >>> ((i % 4) * 8)) & 0xff);
  }
  return endian === "le" ? le : le.reverse();
}

/** An offset: near a declared field most of the time, anywhere otherwise. */
function pickOffset(rng: FuzzRng, len: number, hints: MutationHints): number {
  const fields = hints.fieldOffsets;
  if (fields !== undefined && fields.length > 0 && rng.chance(0.6)) {
    const f = rng.pick(fields);
    return rng.chance(0.8) ? f : Math.max(0, f + rng.below(16) - 8);
  }
  // Headers matter most: bias towards the first 4 KiB.
  if (rng.chance(0.5)) return rng.below(Math.min(len, 4096));
  return rng.below(len);
}

/** Apply 1..maxOps random operations to (a copy of, or for big inputs in place) `seed`. */
export function mutateBytes(seed: Uint8Array, rng: FuzzRng, hints: MutationHints = {}): MutatedInput {
  const inPlace = seed.length > (hints.inPlaceAbove ?? 1 << 20);
  const ed = new Editor(seed, inPlace);
  const endian = hints.endian ?? "le";
  const maxOps = hints.maxOps ?? 4;
  const nOps = 1 + (rng.chance(0.5) ? 0 : rng.below(maxOps));
  const ops: string[] = [];
  for (let k = 0; k < nOps; k++) {
    const len = ed.bytes.length;
    const choice = rng.below(100);
    if (len === 0) {
      const data = randomBytes(rng, 1 + rng.below(64));
      if (inPlace) break;
      ed.insert(0, data);
      ops.push(`insert 0 +${data.length}`);
      continue;
    }
    if (choice < 20) {
      const at = pickOffset(rng, len, hints);
      const bit = rng.below(8);
      ed.write(at, [ed.bytes[at]! ^ (1 << bit)]);
      ops.push(`flip ${at}.${bit}`);
    } else if (choice < 30) {
      const at = pickOffset(rng, len, hints);
      const n = 1 + rng.below(8);
      ed.write(at, randomBytes(rng, n));
      ops.push(`random ${at} ${n}`);
    } else if (choice < 60) {
      const at = pickOffset(rng, len, hints);
      const width = rng.pick(WIDTHS);
      const [lo, hi] = rng.pick(interestingValues(seed.length));
      const order = rng.chance(0.9) ? endian : endian === "le" ? "be" : "le";
      ed.write(at, encodeInt(lo, hi, width, order));
      ops.push(`int ${at} u${width * 8}${order} 0x${hi.toString(16)}_${lo.toString(16).padStart(8, "0")}`);
    } else if (choice < 72) {
      const r = rng.below(4);
      const to =
        r === 0
          ? rng.below(Math.min(len, 512))
          : r === 1
            ? Math.max(0, len - 1 - rng.below(16))
            : r === 2 && hints.fieldOffsets?.length
              ? rng.pick(hints.fieldOffsets) + rng.below(8)
              : rng.below(len);
      ed.truncate(to);
      ops.push(`truncate ${to}`);
    } else if (choice < 82) {
      // Copy a chunk of the input over another place (in place: same length).
      const from = rng.below(len);
      const n = 1 + rng.below(Math.min(256, len - from));
      const chunk = ed.bytes.slice(from, from + n);
      const at = pickOffset(rng, len, hints);
      if (!inPlace && rng.chance(0.5)) {
        ed.insert(at, chunk);
        ops.push(`duplicate ${from}+${n} at ${at}`);
      } else {
        ed.write(at, chunk);
        ops.push(`overwrite ${from}+${n} at ${at}`);
      }
    } else if (choice < 90) {
      const at = pickOffset(rng, len, hints);
      const n = 1 + rng.below(rng.chance(0.2) ? 4096 : 32);
      const fill = rng.chance(0.5) ? 0 : rng.chance(0.5) ? 0xff : rng.below(256);
      ed.write(at, new Uint8Array(n).fill(fill));
      ops.push(`fill ${at} ${n} 0x${fill.toString(16)}`);
    } else {
      const at = rng.below(len + 1);
      const data = randomBytes(rng, 1 + rng.below(rng.chance(0.1) ? 4096 : 64));
      if (inPlace) {
        ed.write(at, data);
        ops.push(`random ${at} ${data.length}`);
      } else {
        ed.insert(at, data);
        ops.push(`insert ${at} +${data.length}`);
      }
    }
  }
  return { bytes: ed.bytes, ops, restore: () => ed.restore() };
}

function randomBytes(rng: FuzzRng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.below(256);
  return out;
}

// ---- JSON ----------------------------------------------------------------------------------------

/** Strings a report must escape; their unescaped appearance in HTML output is an injection. */
export const HTML_PROBE_SCRIPT = "</script><script>kexecLabProbe(1)</script>";
export const HTML_PROBE_TAG = "\"'><img src=x onerror=kexecLabProbe(2)>";

/** Markers replaced by deeply nested arrays in the serialized text (JSON.stringify itself recurses). */
const DEEP_MARKER_100 = "\u0000deep:100\u0000";
const DEEP_MARKER_100K = "\u0000deep:100000\u0000";

/** At most this many characters of deep nesting per document: copies of a marker must not multiply it past V8's string limit. */
const DEEP_BUDGET = 4_000_000;

/** Serialize a mutated document, splicing in deep nesting where the markers are (within DEEP_BUDGET). */
export function serializeMutatedJson(value: unknown): string {
  const text = JSON.stringify(value) ?? "null";
  let budget = DEEP_BUDGET;
  return text.replace(/"\\u0000deep:(\d+)\\u0000"/g, (_m, n: string) => {
    const depth = Math.min(Number(n), Math.floor(budget / 2));
    budget -= 2 * depth;
    return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
  });
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function hostileValue(rng: FuzzRng, sibling: Json): Json {
  const r = rng.below(28);
  switch (r) {
    case 0:
      return 0;
    case 1:
      return -1;
    case 2:
      return 1.5;
    case 3:
      return 2 ** 53;
    case 4:
      return 1e308;
    case 5:
      return "0xffffffffffffffff";
    case 6:
      return "0x10000000000000"; // 2^52
    case 7:
      return "0x10000000000"; // 2^40
    case 8:
      return "";
    case 9:
      return "x".repeat(1 + rng.below(rng.chance(0.1) ? 100_000 : 20));
    case 10:
      return null;
    case 11:
      return rng.chance(0.5);
    case 12:
      return [];
    case 13:
      return {};
    case 14:
      // Deep nesting, spliced in as text after serialization (see DEEP_MARKER).
      return rng.chance(0.5) ? DEEP_MARKER_100 : DEEP_MARKER_100K;
    case 15: {
      // A long array of copies of a small sibling (e.g. 20,000 segments); a big one only 17 times,
      // and nothing past about 2 MB (stacked blow-ups grow exponentially).
      const size = (JSON.stringify(sibling) ?? "").length + 1;
      const count = size < 100 && rng.chance(0.3) ? 20_000 : 17;
      return size * count > 2_000_000 ? [sibling] : new Array(count).fill(sibling);
    }
    case 16:
      return "-4096";
    case 17:
      return "4096T";
    case 18:
      return "0x";
    case 19:
      return 0xfffff000;
    case 20:
      return "__proto__";
    case 21:
      return "0x1000";
    case 22:
      return 4096;
    case 23:
      return "1P";
    case 24:
      return -0;
    case 25:
      // Markup in a string: the HTML report must show it as text, never run it.
      return rng.chance(0.5) ? HTML_PROBE_SCRIPT : HTML_PROBE_TAG;
    case 26:
      return "\u2028\u0000\u001b[31m";
    default:
      return Number.MAX_SAFE_INTEGER;
  }
}

/** Collect paths to every node (bounded). */
function paths(v: Json, prefix: Array<string | number>, out: Array<Array<string | number>>): void {
  if (out.length > 2000) return;
  out.push(prefix);
  if (Array.isArray(v)) {
    const n = Math.min(v.length, 64);
    for (let i = 0; i < n; i++) paths(v[i]!, [...prefix, i], out);
  } else if (v !== null && typeof v === "object") {
    for (const k of Object.keys(v)) paths(v[k]!, [...prefix, k], out);
  }
}

function clone(v: Json): Json {
  return v === null || typeof v !== "object" ? v : (JSON.parse(JSON.stringify(v)) as Json);
}

/** Structurally mutate a parsed JSON document (the input is not modified). */
export function mutateJson(doc: unknown, rng: FuzzRng): { value: unknown; ops: string[] } {
  let root = clone(doc as Json);
  const ops: string[] = [];
  const nOps = 1 + (rng.chance(0.6) ? 0 : rng.below(3));
  for (let k = 0; k < nOps; k++) {
    // Stop stacking once the document is big: copies of copies grow exponentially.
    if (k > 0 && (JSON.stringify(root)?.length ?? 0) > 1_000_000) break;
    const all: Array<Array<string | number>> = [];
    paths(root, [], all);
    const path = rng.pick(all);
    const where = path.join(".");
    if (path.length === 0) {
      root = hostileValue(rng, root);
      ops.push("replace root");
      continue;
    }
    let parent: Json = root;
    for (const p of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[p]!;
    const key = path[path.length - 1]!;
    const container = parent as Record<string | number, Json>;
    const r = rng.below(10);
    if (r < 6) {
      const v = hostileValue(rng, container[key]!);
      container[key] = v;
      ops.push(`set ${where}`);
      // Copies share one object: editing one later would edit them all (a square blow-up). Stop here.
      if (Array.isArray(v) && v.length >= 17) break;
    } else if (r < 8) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete container[key];
      ops.push(`delete ${where}`);
    } else if (r < 9 && !Array.isArray(parent)) {
      container[`unknown${rng.below(10)}`] = 1;
      ops.push(`add key beside ${where}`);
    } else if (Array.isArray(parent)) {
      parent.push(clone(parent[key as number]!));
      ops.push(`duplicate ${where}`);
    } else {
      container[key] = [container[key]!];
      ops.push(`wrap ${where}`);
    }
  }
  return { value: root, ops };
}
