/**
 * KHO (kexec handover) for kexec_file_load on arm64: the scratch areas as kexec-lab-collect writes them
 * (kho-scratch.txt from debugfs kho/out/scratch_{phys,len}), and the /chosen properties kho_add_chosen
 * (drivers/of/kexec.c) adds to the next kernel's DTB.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findNode, getProp, parseFdt } from "../src/formats/fdt.js";
import { parseHost, parseKhoScratch } from "../src/host/host.js";
import { hostPlanFields } from "../src/host/plan.js";
import { planLoad, segmentBufszOf } from "../src/loader/plan.js";
import { fail } from "./helpers/errors.js";
import { recordedCases, recordedPlanInput } from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const COLLECT = fileURLToPath(new URL("../bin/kexec-lab-collect", import.meta.url));
const tmp = testTempDir("kho");

const enc = new TextEncoder();

describe("kho-scratch.txt", () => {
  it("reads one 0xADDR 0xSIZE line per area, in index order", () => {
    expect(parseKhoScratch("0xbe000000 0x2000000\n0x13c000000 0x4000000\n", "k")).toEqual([
      { start: 0xbe000000, end: 0xc0000000 },
      { start: 0x13c000000, end: 0x140000000 },
    ]);
  });
  it("names the line that is not two hex numbers; an empty area is kept (it still counts in the table)", () => {
    const e = fail(() => parseKhoScratch("0x1000 0x1000\n0x2000\n", "dir/kho-scratch.txt"));
    expect(e.code).toBe("E_FIELD_VALUE");
    expect(e.message).toMatch(/line 2/);
    expect(e.where.file).toBe("dir/kho-scratch.txt");
    expect(parseKhoScratch("0x130400000 0x0\n", "k")).toEqual([{ start: 0x130400000, end: 0x130400000 }]);
  });
  it("a collected host with kho-scratch.txt gives the plan its scratch areas; without it, none", () => {
    const iomem = enc.encode("40000000-13fffffff : System RAM\n");
    const host = parseHost(
      { "iomem.txt": iomem, "kho-scratch.txt": enc.encode("0x40000000 0x1000000\n") },
      "h",
    );
    expect(hostPlanFields(host, "arm64", "kexec-file").khoScratch).toEqual([
      { start: 0x40000000, end: 0x41000000 },
    ]);
    expect(
      hostPlanFields(parseHost({ "iomem.txt": iomem }, "h"), "arm64", "kexec-file").khoScratch,
    ).toBeUndefined();
  });
});

describe("kexec-lab-collect: kho-scratch.txt from debugfs kho/out", () => {
  const collect = (name: string, kho: boolean) => {
    const tree = join(tmp, name);
    const w = (p: string, t: string) => {
      mkdirSync(join(tree, p, ".."), { recursive: true });
      writeFileSync(join(tree, p), t);
    };
    w("proc/iomem", "40000000-13fffffff : System RAM\n");
    w("proc/sys/kernel/osrelease", "7.3.4\n");
    w("proc/sys/kernel/arch", "aarch64\n");
    if (kho) {
      // as kexec_handover_debugfs.c prints them (recorded with kho=on on the custom 7.3 kernel)
      w("sys/kernel/debug/kho/out/scratch_phys", "0x130400000\n0x130400000\n0x110c00000\n");
      w("sys/kernel/debug/kho/out/scratch_len", "0xa800000\n0x0\n0x1f800000\n");
    }
    const out = join(tmp, `${name}-out`);
    const r = spawnSync("sh", [COLLECT, "--root", tree, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return out;
  };
  it("pairs scratch_phys and scratch_len line by line, in index order", () => {
    const out = collect("kho-on", true);
    expect(readFileSync(join(out, "kho-scratch.txt"), "utf8")).toBe(
      "0x130400000 0xa800000\n0x130400000 0x0\n0x110c00000 0x1f800000\n",
    );
  });
  it("writes nothing and logs nothing about KHO when it is off", () => {
    const out = collect("kho-off", false);
    expect(existsSync(join(out, "kho-scratch.txt"))).toBe(false);
    expect(readFileSync(join(out, "collect.log"), "utf8")).not.toMatch(/kho-scratch|debug\/kho/);
  });
  it("--help prints the whole header, the KHO line included", () => {
    const r = spawnSync("sh", [COLLECT, "--help"], { encoding: "utf8" });
    expect(r.stdout).toContain("kho-scratch.txt");
    expect(r.stdout).toContain("see docs/host.md");
  });
});

describe("arm64 kexec_file_load with KHO: the DTB's /chosen (kho_add_chosen)", () => {
  const c = recordedCases().find((x) => x.id === "arm64-virt-4g-kexec_file_load-custom")!;
  const scratch = [
    { start: 0x60000000, end: 0x64000000 },
    { start: 0x100000000, end: 0x108000000 },
  ];
  const chosen = (dtb: Uint8Array) => findNode(parseFdt(dtb).root, "/chosen")!;
  const u64s = (v: Uint8Array) => {
    const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
    const out: number[] = [];
    for (let i = 0; i < v.length; i += 8) out.push(d.getUint32(i) * 2 ** 32 + d.getUint32(i + 4));
    return out;
  };

  it("linux,kho-scratch holds the scratch table segment's mem and bufsz, linux,kho-fdt a page", () => {
    const p = planLoad({ ...recordedPlanInput(c), kernelVersion: "7.3", khoScratch: scratch });
    const table = p.segments[0]!;
    expect(table.label).toBe("kho-scratch");
    expect(segmentBufszOf(table)).toBe(32);
    const ch = chosen(p.patchedDtb!);
    expect(u64s(getProp(ch, "linux,kho-scratch")!.value)).toEqual([table.mem, 32]);
    expect(u64s(getProp(ch, "linux,kho-fdt")!.value)).toEqual([0, 4096]);
    // two (address, size) properties of 2+2 cells: 2 x (12-byte header + 16) + "linux,kho-fdt\0"
    // + "linux,kho-scratch\0" in the strings block
    const plain = planLoad({ ...recordedPlanInput(c), kernelVersion: "7.3" });
    const dtbOf = (x: typeof p) => x.segments.find((s) => s.label === "dtb")!;
    expect(segmentBufszOf(dtbOf(p)) - segmentBufszOf(dtbOf(plain))).toBe(2 * (12 + 16) + 14 + 18);
    expect(getProp(chosen(plain.patchedDtb!), "linux,kho-scratch")).toBeUndefined();
  });

  it("a crash load ignores KHO: no scratch table, no KHO properties", () => {
    const crash = recordedCases().find((x) => x.id === "arm64-virt-4g-crash-kexec_file_load-custom")!;
    const p = planLoad({ ...recordedPlanInput(crash), kernelVersion: "7.3", khoScratch: scratch });
    expect(p.segments.map((s) => s.label)).not.toContain("kho-scratch");
    expect(getProp(chosen(p.patchedDtb!), "linux,kho-fdt")).toBeUndefined();
  });
});

describe("a KHO load that fits in no scratch area (recorded: kho_scratch=4M,4M,4M, a 5 MiB kernel)", () => {
  it("EADDRNOTAVAIL, the largest free range among the scratch areas, and the kho_scratch= hint", () => {
    const c = recordedCases().find(
      (x) => x.id === "arm64-virt-4g-linux-7.3-custom-kho-scratch-too-small-kexec_file_load",
    )!;
    expect(c.text("kexec-d.txt")).toContain("kexec_file_load failed: Cannot assign requested address");
    const e = fail(() => planLoad(recordedPlanInput(c)));
    expect(e.code).toBe("E_NO_HOLE");
    expect(e.message).toContain("EADDRNOTAVAIL");
    // three adjacent 4 MiB areas are three ranges, not one 12 MiB range: the largest is 4 MiB
    expect(e.message).toContain("the largest free range there is [0x13a400000, 0x13a800000) (4 MiB)");
    expect(e.specificHint).toMatch(/kho_scratch=/);
  });
});
