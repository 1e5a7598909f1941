/**
 * Resource limits: inputs that ask for absurd sizes or lie about their structure fail fast with a
 * catalogued error (never a RangeError, a stack overflow or a long allocation).
 */

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { parseElf64 } from "../src/formats/elf.js";
import { parseFdt } from "../src/formats/fdt.js";
import { parseIomem } from "../src/formats/iomem.js";
import { runScenario } from "../src/reloc/run.js";
import { loadScenario, toRelocScenario } from "../src/scenario/load.js";
import { smallElf64 } from "./fuzz/targets.js";
import { dataFile } from "./helpers/data.js";

function codeOf(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof KexecLabError) return e.code;
    throw e;
  }
}

const QEMU_DTB = new Uint8Array(readFileSync(dataFile("qemu-virt-4g.dtb")));

function withBe32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setUint32(at, v >>> 0, false);
  return b;
}

/** A DTB whose structure block is `depth` nested nodes (FDT_BEGIN_NODE "" ... FDT_END_NODE). */
function deepDtb(depth: number): Uint8Array {
  const structWords = depth * 2 + 2 + 1; // BEGIN + name word per level, root, ends, FDT_END
  const structLen = (depth * 2 + depth + 3) * 4;
  const header = 40;
  const rsv = 16;
  const total = header + rsv + structLen + 4;
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0xd00dfeed);
  dv.setUint32(4, total);
  dv.setUint32(8, header + rsv); // off_dt_struct
  dv.setUint32(12, total - 4); // off_dt_strings
  dv.setUint32(16, header); // off_mem_rsvmap
  dv.setUint32(20, 17);
  dv.setUint32(24, 16);
  dv.setUint32(32, 4); // size_dt_strings
  dv.setUint32(36, structLen);
  let o = header + rsv;
  for (let i = 0; i <= depth; i++) {
    dv.setUint32(o, 1); // FDT_BEGIN_NODE, empty name padded to 4
    o += 8;
  }
  for (let i = 0; i <= depth; i++) {
    dv.setUint32(o, 2);
    o += 4;
  }
  dv.setUint32(o, 9);
  void structWords;
  return b.subarray(0, Math.max(o + 4, total));
}

describe("structures that lie", () => {
  it("a DTB whose totalsize, block offsets or sizes lie is refused with E_FORMAT_*", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4, 8, 12, 16, 32, 36),
        fc.constantFrom(
          0,
          1,
          3,
          0x7fffffff,
          0x80000000,
          0xffffffff,
          QEMU_DTB.length + 1,
          QEMU_DTB.length * 2,
        ),
        (field, value) => {
          const code = codeOf(() => parseFdt(withBe32(QEMU_DTB, field, value), "x.dtb"));
          expect(["ok", "E_FORMAT_TRUNCATED", "E_FORMAT_CORRUPT", "E_FORMAT_UNKNOWN"]).toContain(code);
        },
      ),
      { numRuns: 200 },
    );
    expect(codeOf(() => parseFdt(withBe32(QEMU_DTB, 4, QEMU_DTB.length + 4096)))).toMatch(/^E_FORMAT_/);
  });

  it("a DTB nested 200,000 nodes deep gets an answer, not a stack overflow", () => {
    const code = codeOf(() => parseFdt(deepDtb(200_000), "deep.dtb"));
    expect(code).toMatch(/^(ok|E_FORMAT_CORRUPT|E_FORMAT_TRUNCATED|E_LIMIT)$/);
  });

  it("an ELF whose e_phnum and e_phoff point past the file is refused", () => {
    const elf = smallElf64(183);
    const dv = new DataView(elf.buffer);
    dv.setUint16(56, 0xffff, true);
    expect(codeOf(() => parseElf64(elf))).toMatch(/^E_FORMAT_/);
    const elf2 = smallElf64(183);
    new DataView(elf2.buffer).setBigUint64(32, 0xfffffffffffff000n, true);
    expect(codeOf(() => parseElf64(elf2))).toMatch(/^E_FORMAT_/);
  });

  it("an iomem dump indented 3,000 levels deep gets an answer", () => {
    const lines = ["40000000-7fffffff : System RAM"];
    for (let i = 1; i < 3000; i++) lines.push(`${"  ".repeat(i)}40000000-40000fff : reserved`);
    const code = codeOf(() => parseIomem(lines.join("\n"), "deep.txt"));
    expect(code).toMatch(/^(ok|E_FORMAT_CORRUPT|E_LIMIT)$/);
  });
});

describe("absurd sizes", () => {
  const scenario = (ram: string, segMemsz: string) => ({
    machine: { arch: "arm64", memoryMap: [{ start: "0x40000000", end: ram, type: "ram" }] },
    segments: [{ label: "huge", mem: "0x40000000", memsz: segMemsz }],
    contentMode: "synthetic",
  });
  const run = (json: unknown) => {
    const sc = loadScenario(json);
    const rs = toRelocScenario(sc);
    rs.maxBytes = 256 * 2 ** 20;
    return runScenario(rs);
  };

  it("a 2^52-byte segment is refused before anything is allocated", () => {
    expect(codeOf(() => run(scenario("0x10000040000000", "0x10000000000000")))).toMatch(
      /^E_(NUMBER_RANGE|RAM_LAYOUT|LIMIT|FIELD_VALUE)$/,
    );
  });

  it("a 2^52-byte segment in 256 TiB of RAM: the kernel's half-of-RAM rule refuses it (exit 1)", () => {
    let outcome: ReturnType<typeof run> | undefined;
    expect(codeOf(() => (outcome = run(scenario("0xfffffffff000", "0x10000000000000"))))).toBe("ok");
    expect(outcome?.ok).toBe(false);
  });

  it("a segment the kernel accepts but the simulator cannot hold (2^31 pages) is E_LIMIT", () => {
    expect(codeOf(() => run(scenario("0x200040000000", "0x80000000000")))).toBe("E_LIMIT");
  });

  it("a RAM span near 2^52 (guard bitmap of TiBs) is E_LIMIT, not a RangeError", () => {
    const json = {
      machine: {
        arch: "arm64",
        memoryMap: [
          { start: "0x40000000", end: "0x44000000", type: "ram" },
          { start: "0xff0000000000", end: "0xff0000100000", type: "ram" },
        ],
      },
      segments: [{ label: "k", mem: "0x40800000", memsz: "64K" }],
      contentMode: "synthetic",
    };
    expect(codeOf(() => run(json))).toBe("E_LIMIT");
  });
});
