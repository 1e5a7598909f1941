/**
 * The input of `kexec-lab validate`: a kexec_load call described as JSON.
 *
 *   {"arch": "arm64" | "x86_64", "pageSize": 4096, "ramBytes": N,
 *    "segments": [{"mem": "0x40000000" | N, "memsz": N, "bufsz": N}, ...],
 *    "crash": {"start": ..., "end": ...},          optional; end inclusive, as crashk_res.end
 *    "flags": N, "entry": ..., "permitted": bool,  optional
 *    "x86Levels": 4 | 5}                           optional
 *
 * Every bad field is reported by its path (segments[2].memsz) with a catalogued error.
 */

import { KexecLabError } from "../errors.js";
import { ARCHES, type Arch } from "../kimage/constants.js";
import type { LoadRequest, SegmentRequest } from "../kimage/validate.js";
import { isPageSize } from "../machine/physmem.js";
import { describe, parseSize, parseU64 } from "./numbers.js";

export function parseJson(text: string, file?: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    throw new KexecLabError("E_JSON_PARSE", msg.replace(/^JSON\.parse: /, ""), {
      ...(file !== undefined ? { file } : {}),
      ...(pos ? { offset: Number(pos[1]) } : {}),
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function requireObject(v: unknown, field: string): Record<string, unknown> {
  if (!isObject(v))
    throw new KexecLabError("E_FIELD_TYPE", `expected an object, got ${describe(v)}`, { field });
  return v;
}

export function requireField(o: Record<string, unknown>, key: string, path: string): unknown {
  if (!(key in o) || o[key] === undefined) {
    throw new KexecLabError("E_FIELD_MISSING", `"${key}" is required`, { field: path });
  }
  return o[key];
}

export function parseArch(v: unknown, field: string): Arch {
  if (typeof v !== "string" || !(ARCHES as readonly string[]).includes(v)) {
    throw new KexecLabError("E_UNKNOWN_ARCH", `unknown arch ${describe(v)}`, { field });
  }
  return v as Arch;
}

export function parsePageSize(v: unknown, arch: Arch, field: string): number {
  const n = Number(parseSize(v, field));
  if (!isPageSize(n) || (arch === "x86_64" && n !== 4096)) {
    throw new KexecLabError("E_PAGE_SIZE", `page size ${n} is not supported on ${arch}`, { field });
  }
  return n;
}

const KNOWN_KEYS = new Set([
  "arch",
  "pageSize",
  "ramBytes",
  "segments",
  "crash",
  "flags",
  "entry",
  "permitted",
  "x86Levels",
  "$schema",
  "comment",
]);

export function parseLoadRequest(input: unknown): LoadRequest {
  const o = requireObject(input, "(root)");
  for (const k of Object.keys(o)) {
    if (!KNOWN_KEYS.has(k)) throw new KexecLabError("E_FIELD_VALUE", `unknown field "${k}"`, { field: k });
  }
  const arch = parseArch(requireField(o, "arch", "arch"), "arch");
  const pageSize = parsePageSize(requireField(o, "pageSize", "pageSize"), arch, "pageSize");
  const ramBytes = parseSize(requireField(o, "ramBytes", "ramBytes"), "ramBytes");
  const segsRaw = requireField(o, "segments", "segments");
  if (!Array.isArray(segsRaw)) {
    throw new KexecLabError("E_FIELD_TYPE", `expected an array, got ${describe(segsRaw)}`, {
      field: "segments",
    });
  }
  const segments: SegmentRequest[] = segsRaw.map((s, i) => {
    const path = `segments[${i}]`;
    const so = requireObject(s, path);
    for (const k of Object.keys(so)) {
      if (!["mem", "memsz", "bufsz", "label"].includes(k)) {
        throw new KexecLabError("E_FIELD_VALUE", `unknown field "${k}"`, { field: `${path}.${k}` });
      }
    }
    return {
      mem: parseU64(requireField(so, "mem", `${path}.mem`), `${path}.mem`),
      memsz: parseSize(requireField(so, "memsz", `${path}.memsz`), `${path}.memsz`),
      bufsz: parseSize(requireField(so, "bufsz", `${path}.bufsz`), `${path}.bufsz`),
    };
  });
  const req: LoadRequest = { arch, pageSize, ramBytes, segments };
  if (o.crash !== undefined) {
    const c = requireObject(o.crash, "crash");
    req.crash = {
      start: parseU64(requireField(c, "start", "crash.start"), "crash.start"),
      end: parseU64(requireField(c, "end", "crash.end"), "crash.end"),
    };
  }
  if (o.flags !== undefined) {
    const f = parseU64(o.flags, "flags");
    if (f >= 1n << 32n)
      throw new KexecLabError("E_NUMBER_RANGE", "flags is a 32-bit field", { field: "flags" });
    req.flags = Number(f);
  }
  if (o.entry !== undefined) req.entry = parseU64(o.entry, "entry");
  if (o.permitted !== undefined) {
    if (typeof o.permitted !== "boolean") {
      throw new KexecLabError("E_FIELD_TYPE", `expected true or false, got ${describe(o.permitted)}`, {
        field: "permitted",
      });
    }
    req.permitted = o.permitted;
  }
  if (o.x86Levels !== undefined) {
    if (o.x86Levels !== 4 && o.x86Levels !== 5) {
      throw new KexecLabError("E_FIELD_VALUE", `expected 4 or 5, got ${describe(o.x86Levels)}`, {
        field: "x86Levels",
      });
    }
    req.x86Levels = o.x86Levels;
  }
  return req;
}
