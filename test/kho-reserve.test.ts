/**
 * Where the kernel reserves its KHO scratch areas at boot (src/kho/reserve.ts), checked against the
 * recorded custom arm64 7.3.4 boots with kho=on: every area the kernel chose (kho-scratch.txt, from
 * debugfs kho/out/scratch_{phys,len}) is reproduced from the recorded memblock dumps and command line.
 */

import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arm64DmaPhysLimit } from "../src/crash/reserve.js";
import { parseKhoScratch } from "../src/host/host.js";
import { readHostDir } from "../src/host/node/read.js";
import { hostPlanFields } from "../src/host/plan.js";
import { hostKhoScratch } from "../src/kho/host.js";
import {
  khoEnabledBy,
  khoReserveScratch,
  khoScratchFromBootedMemblock,
  kstrtobool,
  type MemblockRegion,
  memparse,
  parseKhoScratchParam,
  parseMemblockRegions,
} from "../src/kho/reserve.js";
import { planLoad } from "../src/loader/plan.js";
import { kexecFileSegments, recordedCases, recordedPlanInput } from "./helpers/recordings.js";

const MiB = 2 ** 20;
const cases = recordedCases();
const khoCases = cases.filter((c) => /-linux-7\.3-custom-kho.*-kexec_file_load$/.test(c.id));
const plain = cases.find((c) => c.id === "arm64-virt-4g-linux-7.3-custom-kexec_file_load");

function memblockOf(c: (typeof cases)[number]) {
  const memory = parseMemblockRegions(c.text("memblock-memory.txt")!);
  const reserved = parseMemblockRegions(c.text("memblock-reserved.txt")!);
  // the custom kernel has no ZONE_DMA/DMA32: ARCH_LOW_ADDRESS_LIMIT = PHYS_MASK
  const lowLimit = arm64DmaPhysLimit(memory, false) - 1;
  return { memory, reserved, lowLimit };
}

const areasOf = (r: { areas: { start: number; end: number }[] }) =>
  r.areas.map((a) => ({ start: a.start, end: a.end }));

describe("KHO scratch reservation, recorded (custom arm64 7.3.4, kho=on)", () => {
  it("has the four recorded KHO boots", () => {
    expect(khoCases.map((c) => c.id)).toEqual([
      "arm64-virt-4g-linux-7.3-custom-kho-kexec_file_load",
      "arm64-virt-4g-linux-7.3-custom-kho-scratch-4m-kexec_file_load",
      "arm64-virt-4g-linux-7.3-custom-kho-scratch-64m-kexec_file_load",
      "arm64-virt-4g-linux-7.3-custom-kho-scratch-too-small-kexec_file_load",
    ]);
    expect(plain).toBeDefined();
  });

  for (const c of khoCases) {
    const recorded = parseKhoScratch(c.text("kho-scratch.txt")!, `${c.id}/kho-scratch.txt`);
    const cmdline = c.text("cmdline.txt")!.trim();

    it(`${c.id}: each area from the boot's own memblock dump and command line`, () => {
      const { memory, reserved, lowLimit } = memblockOf(c);
      const got = khoScratchFromBootedMemblock({ memory, reserved, cmdline, lowLimit });
      expect(areasOf(got)).toEqual(recorded);
      expect(got.areas.map((a) => a.kind)).toEqual(["lowmem", "global", "node"]);
      expect(got.notes.join(" ")).toMatch(/rebuilt from memblock.reserved/);
    });

    it(`${c.id}: each area from the same kernel's boot without kho=on (memblock before KHO)`, () => {
      const { memory, reserved, lowLimit } = memblockOf(plain!);
      const got = khoReserveScratch({ memory, reserved, cmdline, lowLimit });
      expect(got.enabled).toBe(true);
      expect(areasOf(got)).toEqual(recorded);
    });

    it(`${c.id}: a collected host without kho-scratch.txt gets the same areas for its plan`, () => {
      const host = readHostDir(join(c.dir, "collect"));
      expect(host.khoScratch).toEqual(recorded);
      delete host.khoScratch;
      const fields = hostPlanFields(host, "arm64", "kexec-file");
      expect(fields.khoScratch).toEqual(recorded);
      expect(fields.khoScratchFrom).toMatch(/memblock-reserved.txt/);
    });

    it(`${c.id}: a plan on the predicted areas places every segment where the real load did`, () => {
      const input = recordedPlanInput(c);
      const host = readHostDir(join(c.dir, "collect"));
      delete host.khoScratch;
      const kho = hostKhoScratch(host, "arm64")!;
      input.khoScratch = kho.areas.map((a) => ({ start: a.start, end: a.end }));
      input.khoScratchFrom = kho.from;
      const real = kexecFileSegments(c.text("dmesg.txt")!);
      if (c.json.exitCode !== 0) {
        expect(() => planLoad(input)).toThrow(/EADDRNOTAVAIL/);
        return;
      }
      const plan = planLoad(input);
      expect(plan.segments.map((s) => [s.mem, s.memsz])).toEqual(real!.map((s) => [s.mem, s.memsz]));
      expect(plan.notes.join("\n")).toMatch(/rebuilt from memblock.reserved/);
    });

    it(`${c.id}: the kernel's own kho_scratch= notice`, () => {
      const line = /KHO: scratch areas: [^\n]*/.exec(c.text("dmesg.txt")!)?.[0];
      const ours = parseKhoScratchParam(cmdline).messages.find((m) => m.startsWith("KHO: scratch areas"));
      expect(ours).toBe(line);
    });
  }

  it("default scale 200%: 2 x the kern bytes, the global area empty (all memory is low), the node area counts the two before it", () => {
    const { memory, reserved, lowLimit } = memblockOf(plain!);
    const got = khoReserveScratch({ memory, reserved, cmdline: "kho=on", lowLimit });
    expect(got.kern!.low).toBe(got.kern!.all);
    expect(got.areas.map((a) => (a.end - a.start) / MiB)).toEqual([168, 0, 504]);
    // the empty global area still gets an address: the top of the highest free range below the lowmem area
    expect(got.areas[1]!.start).toBe(got.areas[0]!.start);
  });
});

describe("hosts the model does not answer for", () => {
  it("no kho=on, or a kernel before 6.16: nothing is predicted", () => {
    const host = readHostDir(join(plain!.dir, "collect"));
    expect(hostKhoScratch(host, "arm64")).toBeUndefined();
    expect(
      hostKhoScratch({ ...host, cmdline: `${host.cmdline} kho=on`, release: "6.12.0" }, "arm64"),
    ).toBeUndefined();
    expect(hostKhoScratch({ ...host, cmdline: `${host.cmdline} kho=on` }, "x86_64")).toBeUndefined();
  });
});

describe("kho= and kho_scratch= as the kernel parses them", () => {
  it("kstrtobool", () => {
    expect(["on", "1", "y", "Yes", "true"].map(kstrtobool)).toEqual([true, true, true, true, true]);
    expect(["off", "0", "n", "false"].map(kstrtobool)).toEqual([false, false, false, false]);
    expect(kstrtobool("maybe")).toBeUndefined();
    expect(khoEnabledBy("console=ttyAMA0 kho=on")).toBe(true);
    expect(khoEnabledBy("kho=on kho=off")).toBe(false);
    expect(khoEnabledBy("kho=on kho=banana")).toBe(true);
    expect(khoEnabledBy("quiet")).toBe(false);
    expect(khoEnabledBy("quiet", true)).toBe(true);
  });

  it("memparse", () => {
    expect(memparse("64M,")).toEqual({ value: 64 * MiB, rest: "," });
    expect(memparse("0x1000k")).toEqual({ value: 0x400000, rest: "" });
    expect(memparse("010")).toEqual({ value: 8, rest: "" });
    expect(memparse("1G")).toEqual({ value: 2 ** 30, rest: "" });
    expect(memparse("M")).toBeUndefined();
  });

  it("sizes, percentages and what is rejected", () => {
    expect(parseKhoScratchParam("kho_scratch=64M,64M,32M")).toMatchObject({
      scale: 0,
      lowmem: 64 * MiB,
      global: 64 * MiB,
      pernode: 32 * MiB,
    });
    expect(parseKhoScratchParam("kho_scratch=50%").scale).toBe(50);
    expect(parseKhoScratchParam("").scale).toBe(200);
    for (const bad of [
      "kho_scratch=0,0,0",
      "kho_scratch=1M,2M",
      "kho_scratch=1M,2M,3Mx",
      "kho_scratch=12345678901%",
      "kho_scratch=",
    ]) {
      const p = parseKhoScratchParam(bad);
      expect(p.scale, bad).toBe(200);
      expect(p.messages.join(), bad).toMatch(/Malformed early option/);
    }
    // a later N% wins over earlier sizes (scratch_size_update looks at the scale first)
    expect(parseKhoScratchParam("kho_scratch=4M,4M,4M kho_scratch=100%").scale).toBe(100);
  });
});

describe("kho_reserve_scratch from source (not yet recorded)", () => {
  const node = (start: number, end: number, nid = 0): MemblockRegion => ({
    start,
    end,
    nid,
    flags: ["NONE"],
  });
  const kern = (start: number, end: number, nid = 0): MemblockRegion => ({
    start,
    end,
    nid,
    flags: ["RSV_KERN"],
  });

  it("kho off: nothing is reserved", () => {
    const r = khoReserveScratch({
      memory: [node(0x40000000, 0x80000000)],
      reserved: [],
      cmdline: "",
      lowLimit: 0xffffffff,
    });
    expect(r).toMatchObject({ enabled: false, areas: [] });
  });

  it("the lowmem area never ends at ARCH_LOW_ADDRESS_LIMIT (an exclusive end one byte below 4 GiB)", () => {
    const r = khoReserveScratch({
      memory: [node(0, 2 ** 33)],
      reserved: [kern(2 ** 33 - 4 * MiB, 2 ** 33)],
      cmdline: "kho=on kho_scratch=16M,16M,16M",
      lowLimit: 0xffffffff,
    });
    expect(r.areas[0]).toMatchObject({ start: 2 ** 32 - 20 * MiB, end: 2 ** 32 - 4 * MiB, kind: "lowmem" });
    // the table took the page below the reserved top: the global area goes below that page
    expect(r.table).toEqual({ start: 2 ** 33 - 4 * MiB - 4096, end: 2 ** 33 - 4 * MiB - 4096 + 48 });
    expect(r.areas[1]).toMatchObject({ start: 2 ** 33 - 24 * MiB, kind: "global" });
    expect(r.areas[2]).toMatchObject({ start: 2 ** 33 - 40 * MiB, kind: "node", nid: 0 });
  });

  it("two NUMA nodes: one area per node, each on its node", () => {
    const r = khoReserveScratch({
      memory: [node(0x40000000, 0xc0000000, 0), node(0xc0000000, 0x140000000, 1)],
      reserved: [],
      cmdline: "kho=on kho_scratch=8M,8M,8M",
      lowLimit: 0xffffffff,
    });
    expect(r.areas.map((a) => [a.kind, a.nid, a.start])).toEqual([
      ["lowmem", undefined, 2 ** 32 - 12 * MiB],
      ["global", undefined, 0x140000000 - 12 * MiB],
      ["node", 0, 0xc0000000 - 8 * MiB],
      // node 1's top is the table page and the global area: its area goes below them
      ["node", 1, 0x140000000 - 20 * MiB],
    ]);
  });

  it("an area that fits nowhere: KHO is disabled with the kernel's message", () => {
    const r = khoReserveScratch({
      memory: [node(0x40000000, 0x48000000)],
      reserved: [],
      cmdline: "kho=on kho_scratch=64M,64M,32M",
      lowLimit: 0xffffffff,
    });
    expect(r).toMatchObject({
      enabled: false,
      areas: [],
      failure: "Failed to reserve global scratch buffer",
    });
  });

  it("property: areas are aligned, disjoint, inside free memory, and the booted dump gives them back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom("sizes", "kho=on", "kho_scratch=50%", "kho_scratch=150%"),
        fc.integer({ min: 0, max: 4095 }),
        (l, g, n, kernMiB, how, extraKiB) => {
          const memory = [node(0x40000000, 0x140000000)];
          // the boot's own allocations: a run at the top, of any size in KiB
          const reserved = [kern(0x140000000 - kernMiB * MiB - extraKiB * 1024, 0x140000000)];
          const cmdline =
            how === "sizes"
              ? `kho=on kho_scratch=${l * 4}M,${g * 4}M,${n * 4}M`
              : `kho=on ${how === "kho=on" ? "" : how}`;
          const r = khoReserveScratch({ memory, reserved, cmdline, lowLimit: 2 ** 48 - 1 });
          expect(r.enabled).toBe(true);
          const nonEmpty = r.areas.filter((a) => a.end > a.start).sort((a, b) => a.start - b.start);
          for (const [i, a] of nonEmpty.entries()) {
            expect(a.start % (4 * MiB)).toBe(0);
            expect(a.end <= 0x140000000 - kernMiB * MiB).toBe(true);
            if (i > 0) expect(a.start >= nonEmpty[i - 1]!.end).toBe(true);
          }
          const booted = [
            ...reserved,
            ...nonEmpty.map((a) => kern(a.start, a.end)),
            kern(r.table!.start, r.table!.end),
          ];
          const back = khoScratchFromBootedMemblock({
            memory,
            reserved: booted,
            cmdline,
            lowLimit: 2 ** 48 - 1,
          });
          expect(areasOf(back)).toEqual(areasOf(r));
        },
      ),
      { numRuns: 60 },
    );
  });
});
