/**
 * The scenario file format: one JSON document describing a machine, what to load on it and how to
 * relocate it. These zod definitions are the single source of truth: loadScenario() (load.ts)
 * validates with them, and scripts/gen-schema.ts writes schema/scenario.schema.json from them (a test
 * checks the committed file is current). docs/scenario.md documents every field.
 *
 * Numbers that are addresses or sizes may be JSON numbers or strings: decimal, "0x..." hex, and for
 * sizes a binary-unit suffix ("64M", "4G", "0x1000"). Strings keep 64-bit values exact; load.ts parses
 * them (src/scenario/numbers.ts) and reports the field path of a bad one.
 */

import { z } from "zod";

/** An address: a non-negative integer, or a decimal / "0x..." string. */
export const addressSchema = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(/^\s*(0[xX][0-9a-fA-F]+|[0-9]+)\s*$/, "expected a decimal or 0x-hex address"),
  ])
  .describe('Physical address: a JSON integer, or a string "0x40000000" / "1073741824" (exact to 64 bits).');

/** A size: like an address, with an optional binary suffix K/M/G/T/P (optionally "iB" or "B"). */
export const sizeSchema = z
  .union([
    z.number().int().nonnegative(),
    z
      .string()
      .regex(
        /^\s*(0[xX][0-9a-fA-F]+|[0-9]+)([KMGTP](i?B)?)?\s*$/i,
        'expected a size such as 4096, "0x1000", "64M" or "4GiB"',
      ),
  ])
  .describe('Size in bytes: a JSON integer, or a string "0x1000", "64M", "4G", "512KiB" (binary units).');

export const archSchema = z.enum(["arm64", "x86_64"]).describe("Architecture of the simulated machine.");

export const pageSizeSchema = z
  .union([z.literal(4096), z.literal(16384), z.literal(65536), z.enum(["4K", "16K", "64K"])])
  .describe('Page size / translation granule: 4096 | 16384 | 65536 (or "4K" | "16K" | "64K"). x86_64: 4096.');

export const ramBankSchema = z
  .object({
    start: addressSchema,
    size: sizeSchema.optional().describe("Bank size (give size or end)."),
    end: addressSchema.optional().describe("Exclusive end (give size or end)."),
  })
  .strict()
  .describe("One bank of System RAM.");

export const regionSchema = z
  .object({
    start: addressSchema,
    size: sizeSchema.optional(),
    end: addressSchema.optional().describe("Exclusive end."),
    type: z
      .enum(["ram", "reserved", "device"])
      .describe(
        "ram: System RAM; reserved: carved out of RAM (never free, never a destination); device: not RAM.",
      ),
    name: z.string().max(200).optional(),
  })
  .strict()
  .describe("One region of a memory map, as /proc/iomem lists them.");

export const machineSchema = z
  .object({
    arch: archSchema,
    pageSize: pageSizeSchema.optional().describe("Default 4096."),
    vaBits: z
      .number()
      .int()
      .min(39)
      .max(57)
      .optional()
      .describe("VA bits of the relocation's translation regime. arm64 39..52, x86_64 48 or 57. Default 48."),
    paBits: z.number().int().min(32).max(52).optional().describe("Physical address bits. Default: per arch."),
    x86Levels: z
      .union([z.literal(4), z.literal(5)])
      .optional()
      .describe("x86_64 paging levels. Default 4."),
    ram: z.array(ramBankSchema).min(1).max(1024).optional().describe("RAM banks (no reservations)."),
    memoryMap: z
      .array(regionSchema)
      .min(1)
      .max(100000)
      .optional()
      .describe("A full memory map: RAM, reserved carve-outs, devices."),
    reserved: z
      .array(regionSchema.omit({ type: true }))
      .max(100000)
      .optional()
      .describe("Reserved carve-outs added to `ram` banks."),
    iomem: z.string().min(1).optional().describe("Path of a /proc/iomem (or /sys/firmware/memmap) dump."),
    dtb: z
      .string()
      .min(1)
      .optional()
      .describe("Path of a DTB whose /memory nodes and reservations give RAM."),
  })
  .strict()
  .describe("The simulated machine. Give exactly one of ram, memoryMap, iomem, dtb.");

export const segmentContentSchema = z
  .union([
    z
      .object({
        kind: z.literal("synthetic"),
        seed: z
          .number()
          .int()
          .nonnegative()
          .max(0xffffffff)
          .optional()
          .describe("Default: derived from the scenario seed."),
      })
      .strict(),
    z.object({ kind: z.literal("file"), path: z.string().min(1) }).strict(),
    z.object({ kind: z.literal("zero") }).strict(),
  ])
  .describe("Bytes of the segment's buffer: synthetic pages from a seed, a file's bytes, or zeros.");

export const segmentSchema = z
  .object({
    label: z.string().max(200).optional().describe("kernel, initrd, dtb, purgatory, ..."),
    mem: addressSchema.describe("Destination physical address (page-aligned)."),
    memsz: sizeSchema.describe("Destination size (page-aligned)."),
    bufsz: sizeSchema.optional().describe("Bytes of buffer (<= memsz). Default memsz, or the file size."),
    content: segmentContentSchema.optional().describe('Default {"kind": "synthetic"}.'),
  })
  .strict()
  .describe("One kexec_load segment, given explicitly.");

export const filesSchema = z
  .object({
    kernel: z.string().min(1).describe("arm64 Image, x86_64 bzImage or ELF64 vmlinux."),
    initrd: z.string().min(1).optional(),
    dtb: z.string().min(1).optional().describe("arm64: the DTB passed to the new kernel."),
    append: z.string().max(65536).optional().describe("Kernel command line (bootargs)."),
    loader: z
      .enum(["auto", "kexec-tools", "kexec-file"])
      .optional()
      .describe(
        "Placement rules: auto (as kexec-tools chooses: kexec_file_load first, then kexec_load), kexec-tools' kexec_load or the kernel's kexec_file_load. Default auto.",
      ),
    wipeKaslrSeed: z
      .boolean()
      .optional()
      .describe("Zero /chosen/kaslr-seed first, as a running kernel does to the DTB in /sys/firmware/fdt."),
  })
  .strict()
  .describe("Real files, placed by the loader's rules.");

export const strategyNameSchema = z
  .string()
  .min(1)
  .describe(
    "A relocation strategy: mmu-off, va-copy, linear-map-copy, x86-ident, in-place, or a registered one.",
  );

export const strategySchema = z.union([
  strategyNameSchema,
  z
    .object({
      name: strategyNameSchema,
      linearMap: z
        .enum(["block", "page"])
        .optional()
        .describe("linear-map-copy: the running kernel's linear map."),
      x86Swap: z.boolean().optional().describe("x86-ident: pre-6.14 swap through the swap page (3 copies)."),
      gbpages: z.boolean().optional().describe("x86-ident: 1G pages where whole-GiB aligned."),
      vaBits: z.number().int().min(39).max(57).optional(),
    })
    .strict(),
]);

export const freePagesSchema = z
  .union([
    z.enum(["lowest", "highest", "random", "fragmented"]),
    z.object({ kind: z.literal("lowest") }).strict(),
    z.object({ kind: z.literal("highest") }).strict(),
    z
      .object({ kind: z.literal("random"), seed: z.number().int().nonnegative().max(0xffffffff).optional() })
      .strict(),
    z
      .object({
        kind: z.literal("fragmented"),
        seed: z.number().int().nonnegative().max(0xffffffff).optional(),
        fraction: z
          .number()
          .min(0)
          .max(0.99)
          .optional()
          .describe("Fraction of free pages already in use. Default 0.5."),
      })
      .strict(),
  ])
  .describe("Order in which the running kernel hands out free pages. Seeds default to the scenario seed.");

export const profileRefSchema = z
  .union([z.string().min(1), z.record(z.string(), z.unknown())])
  .describe("A timing-model profile: a built-in name (see profiles/), or an inline profile object.");

export const scenarioSchema = z
  .object({
    $schema: z.string().optional(),
    name: z.string().min(1).max(200).optional().describe("Shown in reports. Default: the file name."),
    description: z.string().max(10000).optional(),
    machine: machineSchema,
    segments: z.array(segmentSchema).min(1).max(64).optional().describe("Explicit segments (or give files)."),
    files: filesSchema
      .optional()
      .describe("Real kernel/initrd/dtb, placed by the loader (or give segments)."),
    strategies: z.array(strategySchema).max(32).optional().describe("Default: every strategy of the arch."),
    freePages: freePagesSchema
      .optional()
      .describe('Default "random" (seeded by the scenario seed), as run and sweep.'),
    seed: z.number().int().nonnegative().max(0xffffffff).optional().describe("Default 1."),
    contentMode: z
      .enum(["exact", "shared", "synthetic"])
      .optional()
      .describe(
        "Simulated page contents: exact bytes, shared copy-on-write frames, or synthetic. Default exact.",
      ),
    profiles: z
      .array(profileRefSchema)
      .max(32)
      .optional()
      .describe("Timing-model profiles to report times on."),
  })
  .strict()
  .describe("A kexec-lab scenario: machine, what to load, how to relocate it. See docs/scenario.md.");

export type ScenarioInput = z.input<typeof scenarioSchema>;

/** The JSON Schema (draft 2020-12) of scenario files, generated from the definitions above. */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(scenarioSchema, {
    target: "draft-2020-12",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: "https://github.com/kexec-lab/kexec-lab/schema/scenario.schema.json",
    title: "kexec-lab scenario",
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "$schema")),
  };
}
