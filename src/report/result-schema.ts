/**
 * Checking a RunResult read back from a file (kexec-lab report RESULT.json): the fields the
 * renderers read, with catalogued errors naming the field. Extra fields are allowed (newer versions
 * add them); missing or mistyped ones are reported.
 */

import { z } from "zod";
import { KexecLabError } from "../errors.js";
import type { RunResult } from "../reloc/result.js";
import { issueToError } from "../scenario/load.js";

const hexString = z.string().regex(/^0x[0-9a-f]+$/i, 'expected a "0x..." address');
const count = z.number().nonnegative();
const bucketList = z.array(z.tuple([hexString, count]));

export const runResultSchema = z.looseObject({
  tool: z.looseObject({ name: z.literal("kexec-lab"), version: z.string() }),
  scenario: z.looseObject({
    name: z.string(),
    seed: z.number(),
    contentMode: z.string(),
    freePages: z.string(),
  }),
  machine: z.looseObject({
    arch: z.string(),
    pageSize: z.number().int().positive(),
    vaBits: z.number().int(),
    ramBytes: count,
    memoryMap: z.array(
      z.looseObject({
        start: hexString,
        end: hexString,
        type: z.enum(["ram", "reserved", "device"]),
        name: z.string(),
      }),
    ),
  }),
  kimage: z.looseObject({
    head: hexString,
    segments: z.array(z.looseObject({ label: z.string(), mem: hexString, memsz: count, bufsz: count })),
    sourcePages: count,
    entries: count,
    indirectionPages: count,
    inPlacePages: count,
    controlCodePage: hexString.nullable(),
    swapPage: hexString.nullable(),
  }),
  strategies: z.array(
    z.looseObject({
      name: z.string(),
      description: z.string(),
      verified: z.boolean(),
      failures: z.array(z.looseObject({ kind: z.string(), message: z.string() })),
      pageTables: z.looseObject({ pages: count, bytes: count, byLevel: z.record(z.string(), count) }),
      controlPages: z.array(hexString),
      counters: z.looseObject({
        bytesCopied: count,
        entriesRead: count,
        tlbMisses: count,
        controlPages: count,
      }),
      model: z
        .array(
          z.looseObject({ profile: z.string(), seconds: count, breakdown: z.record(z.string(), z.number()) }),
        )
        .optional(),
    }),
  ),
  pageMap: z
    .looseObject({
      bucketBytes: z.number().int().positive(),
      pageSize: z.number().int().positive(),
      source: bucketList,
      inPlace: bucketList,
      indirection: bucketList,
      control: bucketList,
    })
    .optional(),
  reboot: z
    .looseObject({
      profile: z.string(),
      call: z.string(),
      purgatoryChecks: z.boolean(),
      cma: z.boolean(),
      kernel: z.looseObject({ format: z.string(), codec: z.string() }).nullable(),
      strategies: z.array(
        z.looseObject({
          strategy: z.string(),
          seconds: count,
          phases: z.array(
            z.looseObject({
              name: z.string(),
              seconds: count,
              bytes: count,
              how: z.string(),
              range: z.tuple([count, count]).optional(),
            }),
          ),
        }),
      ),
      baseline: z.string(),
      baselineSeconds: count,
      savings: z.array(
        z.looseObject({ change: z.string(), seconds: count, saved: z.number(), note: z.string() }),
      ),
    })
    .optional(),
});

/** A run result is at most a few levels deep; deeper input is hostile (JSON.stringify would overflow). */
const MAX_DEPTH = 64;

/** The nesting depth of a parsed JSON value, without recursion; stops counting past `limit`. */
function jsonDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** Validate a parsed `run --json` document. */
export function loadRunResult(json: unknown, file?: string): RunResult {
  if (jsonDepth(json, MAX_DEPTH) > MAX_DEPTH) {
    throw new KexecLabError("E_LIMIT", `the document nests deeper than ${MAX_DEPTH} levels`, {
      ...(file !== undefined ? { file } : {}),
    });
  }
  const parsed = runResultSchema.safeParse(json);
  if (!parsed.success) {
    const e = issueToError(parsed.error.issues[0]!, json);
    throw new KexecLabError(e.code, `${e.detail} (is this the output of \`kexec-lab run --json\`?)`, {
      ...(file !== undefined ? { file } : {}),
      ...(e.where.field !== undefined ? { field: e.where.field } : {}),
    });
  }
  return parsed.data as unknown as RunResult;
}
