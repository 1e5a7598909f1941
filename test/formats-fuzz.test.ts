/**
 * Every parser survives truncated and corrupted real files: fast-check mutates each file of the
 * test data (test/helpers/data.ts) by truncation, byte overwrites and bit flips, and the parser must either
 * return a value or throw a catalogued KexecLabError; anything else (TypeError, RangeError, a hang) fails.
 */

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CATALOG, KexecLabError } from "../src/errors.js";
import { parseArm64Image } from "../src/formats/arm64-image.js";
import { parseBzImage } from "../src/formats/bzimage.js";
import { inspectBytes } from "../src/formats/detect.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../src/formats/devicetree.js";
import { parseElf64 } from "../src/formats/elf.js";
import { parseFdt, serializeFdt } from "../src/formats/fdt.js";
import { iomemToMemoryMap, parseIomem } from "../src/formats/iomem.js";
import { elf64 } from "../src/formats/synth.js";
import { planLoad } from "../src/loader/plan.js";
import { dataFile } from "./helpers/data.js";

const read = (p: string) => new Uint8Array(readFileSync(dataFile(p)));
const HEAD = 64 * 1024;

interface Mutation {
  truncateTo: number | null;
  writes: [number, number][];
  flips: [number, number][];
}

const mutation = (len: number): fc.Arbitrary<Mutation> =>
  fc.record({
    truncateTo: fc.option(fc.nat(len), { freq: 3 }),
    writes: fc.array(fc.tuple(fc.nat(len - 1), fc.nat(255)), { maxLength: 8 }),
    flips: fc.array(fc.tuple(fc.nat(len - 1), fc.nat(7)), { maxLength: 8 }),
  });

/** Mutations biased to the header: most parsers only read the first bytes. */
const headerMutation = (len: number, hot: number): fc.Arbitrary<Mutation> =>
  fc.record({
    truncateTo: fc.option(fc.nat(len), { freq: 3 }),
    writes: fc.array(fc.tuple(fc.oneof(fc.nat(Math.min(hot, len) - 1), fc.nat(len - 1)), fc.nat(255)), {
      maxLength: 8,
    }),
    flips: fc.array(fc.tuple(fc.nat(Math.min(hot, len) - 1), fc.nat(7)), { maxLength: 8 }),
  });

function apply(src: Uint8Array, m: Mutation): Uint8Array {
  const b = src.slice(0, m.truncateTo ?? src.length);
  for (const [i, v] of m.writes) if (i < b.length) b[i] = v;
  for (const [i, bit] of m.flips) if (i < b.length) b[i]! ^= 1 << bit;
  return b;
}

const outcomes = new Map<string, number>();
function survives(f: () => unknown): void {
  try {
    f();
    outcomes.set("ok", (outcomes.get("ok") ?? 0) + 1);
  } catch (e) {
    if (!(e instanceof KexecLabError)) throw e;
    expect(CATALOG[e.code]).toBeDefined();
    outcomes.set(e.code, (outcomes.get(e.code) ?? 0) + 1);
  }
}

const RUNS = 400;

describe("parsers survive mutated real files", () => {
  it("arm64 Image header (first 64 KiB of the Debian Image)", () => {
    const src = read("debian-6.1.0-50-cloud-arm64.Image").slice(0, HEAD);
    fc.assert(
      fc.property(headerMutation(src.length, 0x100), (m) => {
        const b = apply(src, m);
        survives(() => parseArm64Image(b, "Image"));
        survives(() => inspectBytes(b, "Image"));
      }),
      { numRuns: RUNS },
    );
  });

  it("bzImage setup header (first 64 KiB of the Debian bzImage)", () => {
    const src = read("debian-6.1.0-56-cloud-amd64.bzImage").slice(0, HEAD);
    fc.assert(
      fc.property(headerMutation(src.length, 0x280), (m) => {
        const b = apply(src, m);
        survives(() => parseBzImage(b, "bzImage"));
        survives(() => inspectBytes(b, "bzImage"));
      }),
      { numRuns: RUNS },
    );
  });

  it("ELF64 (generated vmlinux-like files, both endians)", () => {
    for (const bigEndian of [false, true]) {
      const src = elf64({
        bigEndian,
        machine: 183,
        entry: 0x40200000,
        loads: [
          { paddr: 0x40200000, filesz: 0x100, memsz: 0x2000 },
          { paddr: 0x40400000, filesz: 0x80, memsz: 0x80 },
        ],
        extraPhdrs: 1,
      });
      fc.assert(
        fc.property(mutation(src.length), (m) => {
          survives(() => parseElf64(apply(src, m), "vmlinux"));
        }),
        { numRuns: RUNS },
      );
    }
  });

  for (const name of [
    "qemu-virt-4g.dtb",
    "juno.dtb",
    "apm-mustang.dtb",
    "fvp-base-revc.dtb",
    "thunder2-99xx.dtb",
  ]) {
    it(`DTB ${name}: parse, device-tree info, memory map, write back`, () => {
      const src = read(`${name}`);
      const fdtHot = Math.min(src.length, 0x1000);
      fc.assert(
        fc.property(fc.oneof(mutation(src.length), headerMutation(src.length, fdtHot)), (m) => {
          const b = apply(src, m);
          survives(() => {
            const fdt = parseFdt(b, name);
            const info = deviceTreeInfo(fdt);
            deviceTreeMemoryMap(info);
            parseFdt(serializeFdt(fdt));
          });
        }),
        { numRuns: name === "qemu-virt-4g.dtb" ? 150 : RUNS },
      );
    });
  }

  for (const name of ["arm64-qemu-virt-4g.txt", "x86_64-cloud-vm.txt"]) {
    it(`iomem ${name}`, () => {
      const src = read(`${name}`);
      fc.assert(
        fc.property(mutation(src.length), (m) => {
          const b = apply(src, m);
          survives(() => iomemToMemoryMap(parseIomem(new TextDecoder().decode(b), name)));
          survives(() => inspectBytes(b, name));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("planLoad with a mutated DTB and iomem (the whole arm64 path)", () => {
    const image = read("debian-6.1.0-50-cloud-arm64.Image").slice(0, HEAD);
    const dtb = read("juno.dtb");
    const iomem = read("arm64-qemu-virt-4g.txt");
    fc.assert(
      fc.property(mutation(dtb.length), mutation(iomem.length), fc.boolean(), (md, mi, useIomem) => {
        survives(() =>
          planLoad({
            arch: "arm64",
            kernel: image,
            dtb: apply(dtb, md),
            ...(useIomem ? { iomem: new TextDecoder().decode(apply(iomem, mi)) } : {}),
            append: "console=ttyAMA0",
          }),
        );
      }),
      { numRuns: 200 },
    );
    // Both outcomes were exercised: some mutated inputs still plan, some are refused.
    expect(outcomes.get("ok")).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((k) => k !== "ok").length).toBeGreaterThan(3);
  });
});
