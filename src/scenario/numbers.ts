/**
 * Numbers at the input boundary. Addresses and sizes arrive as JSON numbers, decimal strings or
 * 0x-prefixed hex strings, optionally with a K/M/G/T suffix (binary units) for sizes. They are parsed
 * to BigInt first so any 64-bit value is judged correctly, and only then narrowed to a JS number where
 * the simulator needs one.
 */

import { KexecLabError } from "../errors.js";

export const U64_LIMIT = 1n << 64n;

const SUFFIX: Record<string, bigint> = {
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
};

/** Parse an unsigned 64-bit value; throws a catalogued error naming `field`. */
export function parseU64(value: unknown, field: string, opts: { suffixes?: boolean } = {}): bigint {
  let out: bigint;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || !Number.isInteger(value)) {
      throw new KexecLabError("E_FIELD_TYPE", `expected a non-negative integer, got ${value}`, { field });
    }
    if (value < 0) throw new KexecLabError("E_NUMBER_RANGE", `negative value ${value}`, { field });
    if (!Number.isSafeInteger(value)) {
      throw new KexecLabError(
        "E_NUMBER_RANGE",
        `${value} is above 2^53 and lost precision in JSON; write it as a "0x..." string`,
        { field },
      );
    }
    out = BigInt(value);
  } else if (typeof value === "string") {
    const s = value.trim();
    const m = /^(0x[0-9a-f]+|[0-9]+)([KMGTP]i?B?)?$/i.exec(s);
    if (m === null || (m[2] !== undefined && !opts.suffixes)) {
      if (/^-/.test(s)) throw new KexecLabError("E_NUMBER_RANGE", `negative value "${value}"`, { field });
      throw new KexecLabError(
        "E_FIELD_TYPE",
        `expected an unsigned integer (decimal or 0x hex${opts.suffixes ? ", optional K/M/G/T/P suffix (binary)" : ""}), got "${value}"`,
        { field },
      );
    }
    // "MB" could mean 10^6 or 2^20: sizes here are binary (the kernel's memparse: K, M, G...), so
    // only the unit letter alone or its IEC name is taken.
    if (m[2] !== undefined && /^[KMGTP]B$/i.test(m[2]))
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `"${value}" is ambiguous: sizes are binary, as the kernel's memparse reads them; write ${m[1]}${m[2][0]!.toUpperCase()} or ${m[1]}${m[2][0]!.toUpperCase()}iB`,
        { field },
      );
    out = BigInt(m[1]!);
    if (m[2] !== undefined) out *= SUFFIX[m[2][0]!.toUpperCase()]!;
  } else {
    throw new KexecLabError("E_FIELD_TYPE", `expected a number or a "0x..." string, got ${describe(value)}`, {
      field,
    });
  }
  if (out >= U64_LIMIT) {
    throw new KexecLabError("E_NUMBER_RANGE", `${value} does not fit in 64 bits`, { field });
  }
  return out;
}

/** Parse a size with optional K/M/G/T suffix ("64M", "0x4000", 4096). */
export function parseSize(value: unknown, field: string): bigint {
  return parseU64(value, field, { suffixes: true });
}

/** Narrow to a JS number; refuses values the simulator cannot hold exactly. */
export function toSafeNumber(v: bigint, field: string, max = 2n ** 53n - 1n): number {
  if (v > max) {
    throw new KexecLabError(
      "E_NUMBER_RANGE",
      `0x${v.toString(16)} is larger than the simulator supports (max 0x${max.toString(16)})`,
      { field },
    );
  }
  return Number(v);
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `"${value.length > 40 ? `${value.slice(0, 40)}...` : value}"`;
  return `${typeof value} ${String(value)}`;
}

export function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}
