import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { inspectBytes } from "../src/formats/detect.js";
import { deviceTreeInfo, deviceTreeMemoryMap } from "../src/formats/devicetree.js";
import {
  deleteProp,
  type Fdt,
  type FdtNode,
  fdtDelpropInPlace,
  fdtSetprop,
  parseFdt,
  serializeFdt,
} from "../src/formats/fdt.js";
import { clearInitrdInPlace, editDtbKexecFile, editDtbKexecTools } from "../src/loader/dtb-edit.js";
import { execFileSyncOwned, spawnSyncOwned } from "../src/node/child.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const DTBS = ["qemu-virt-4g.dtb", "juno.dtb", "apm-mustang.dtb", "fvp-base-revc.dtb", "thunder2-99xx.dtb"];
const path = (name: string) => dataFile(name);
const read = (name: string) => new Uint8Array(readFileSync(path(name)));

const have = (tool: string) => spawnSyncOwned(tool, ["--version"]).error === undefined;
const HAVE_DTC = have("dtc") && have("fdtget");
if (!HAVE_DTC)
  console.warn(
    "formats-fdt: dtc/fdtget not installed: the differential tests are SKIPPED (CI installs device-tree-compiler)",
  );
const itDtc = HAVE_DTC ? it : it.skip;

const tmp = testTempDir("fdt");
let n = 0;
function tmpFile(bytes: Uint8Array): string {
  const p = join(tmp, `t${n++}.dtb`);
  writeFileSync(p, bytes);
  return p;
}

function fdtget(file: string, ...args: string[]): string {
  return execFileSyncOwned("fdtget", [file, ...args], { encoding: "utf8" }).trim();
}

/** reg of a node as fdtget prints it (-tx: 32-bit hex cells), decoded with the parent's cells. */
function fdtgetReg(
  file: string,
  node: string,
  prop: string,
  ac: number,
  sc: number,
): { start: number; size: number }[] {
  const cells = fdtget(file, "-tx", node, prop)
    .split(/\s+/)
    .map((c) => Number.parseInt(c, 16));
  const out: { start: number; size: number }[] = [];
  const num = (xs: number[]) => xs.reduce((a, x) => a * 2 ** 32 + x, 0);
  for (let i = 0; i < cells.length; i += ac + sc) {
    out.push({ start: num(cells.slice(i, i + ac)), size: num(cells.slice(i + ac, i + ac + sc)) });
  }
  return out;
}

function cellsAt(file: string, node: string): { ac: number; sc: number } {
  const get = (p: string, d: number) => {
    const r = spawnSyncOwned("fdtget", ["-tu", file, node, p], { encoding: "utf8" });
    return r.status === 0 ? Number(r.stdout.trim()) : d;
  };
  return { ac: get("#address-cells", 2), sc: get("#size-cells", 1) };
}

/** /memreserve/ entries as dtc prints them. */
function dtcMemreserve(file: string): { start: number; size: number }[] {
  const dts = execFileSyncOwned("dtc", ["-I", "dtb", "-O", "dts", file], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return [...dts.matchAll(/\/memreserve\/\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+);/g)].map((m) => ({
    start: Number(m[1]),
    size: Number(m[2]),
  }));
}

describe("FDT read: each real DTB agrees with fdtget and dtc", () => {
  for (const name of DTBS) {
    itDtc(`${name}: memory banks, /memreserve/ and reserved-memory`, () => {
      const file = path(name);
      const info = deviceTreeInfo(parseFdt(read(name), file));
      const root = cellsAt(file, "/");
      const expected: { start: number; size: number }[] = [];
      for (const child of fdtget(file, "-l", "/").split("\n")) {
        const t = spawnSyncOwned("fdtget", ["-ts", file, `/${child}`, "device_type"], { encoding: "utf8" });
        if (t.status !== 0 || t.stdout.trim() !== "memory") continue;
        expected.push(...fdtgetReg(file, `/${child}`, "reg", root.ac, root.sc));
      }
      expected.sort((a, b) => a.start - b.start);
      expect(expected.length).toBeGreaterThan(0);
      expect(info.memory).toEqual(expected);
      expect(info.memreserve).toEqual(dtcMemreserve(file));
      const rm = spawnSyncOwned("fdtget", ["-l", file, "/reserved-memory"], { encoding: "utf8" });
      const rmExpected: { name: string; start: number; size: number; noMap: boolean }[] = [];
      if (rm.status === 0) {
        const cells = cellsAt(file, "/reserved-memory");
        for (const child of rm.stdout.trim().split("\n").filter(Boolean)) {
          const props = fdtget(file, "-p", `/reserved-memory/${child}`).split("\n");
          for (const r of fdtgetReg(file, `/reserved-memory/${child}`, "reg", cells.ac, cells.sc)) {
            rmExpected.push({ name: child, ...r, noMap: props.includes("no-map") });
          }
        }
      }
      expect(
        info.reservedMemory.flatMap((r) => r.reg.map((g) => ({ name: r.name, ...g, noMap: r.noMap }))),
      ).toEqual(rmExpected);
    });
  }

  it("the README's facts hold", () => {
    const mem = (name: string) => deviceTreeInfo(parseFdt(read(name))).memory;
    expect(mem("qemu-virt-4g.dtb")).toEqual([{ start: 0x40000000, size: 4 * 2 ** 30 }]);
    expect(mem("juno.dtb")).toEqual([
      { start: 0x80000000, size: 2 * 2 ** 30 - 16 * 2 ** 20 },
      { start: 0x880000000, size: 6 * 2 ** 30 },
    ]);
    expect(mem("apm-mustang.dtb")).toEqual([{ start: 0x100000000, size: 2 * 2 ** 30 }]);
    const fvp = deviceTreeInfo(parseFdt(read("fvp-base-revc.dtb")));
    expect(fvp.memreserve).toEqual([{ start: 0x80000000, size: 0x10000 }]);
    expect(fvp.reservedMemory).toMatchObject([
      { name: "vram@18000000", reg: [{ start: 0x18000000, size: 0x800000 }], noMap: true },
    ]);
    const chosen = deviceTreeInfo(parseFdt(read("qemu-virt-4g.dtb"))).chosen!;
    expect(chosen.kaslrSeed).toEqual({ hi: 0x4d1c0e0b, lo: 0xb75c366a });
    expect(chosen.rngSeedBytes).toBe(32);
  });

  it("the memory map of a DTB is RAM minus /memreserve/ and reserved-memory", () => {
    const map = deviceTreeMemoryMap(deviceTreeInfo(parseFdt(read("fvp-base-revc.dtb"))));
    expect(map.ram.ranges).toEqual([
      { start: 0x80000000, end: 0x100000000 },
      { start: 0x880000000, end: 0x900000000 },
    ]);
    expect(map.usable.ranges[0]).toEqual({ start: 0x80010000, end: 0x100000000 });
  });

  it("inspect --json shape for a DTB", () => {
    const s = inspectBytes(read("fvp-base-revc.dtb"));
    expect(s).toMatchObject({
      kind: "dtb",
      memory: [
        { start: "0x80000000", size: 2147483648 },
        { start: "0x880000000", size: 2147483648 },
      ],
      memreserve: [{ start: "0x80000000", size: 65536 }],
      reservedMemory: [{ name: "vram@18000000", start: "0x18000000", size: 8388608, noMap: true }],
      chosen: { properties: [] },
    });
  });
});

/** dtc's own rendering of a DTB, without header comments (for comparing two blobs' trees). */
function dts(bytes: Uint8Array): string {
  return execFileSyncOwned("dtc", ["-I", "dtb", "-O", "dts", "-s", tmpFile(bytes)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
}

describe("FDT write", () => {
  for (const name of DTBS) {
    itDtc(`${name}: written back, dtc reads the same tree`, () => {
      const orig = read(name);
      const out = serializeFdt(parseFdt(orig));
      const check = spawnSyncOwned("dtc", ["-I", "dtb", "-O", "dtb", "-o", "/dev/null", tmpFile(out)], {
        encoding: "utf8",
      });
      expect(check.status, check.stderr).toBe(0);
      expect(dts(out)).toBe(dts(orig));
    });
  }

  it("parse(serialize(tree)) is the tree (property test over generated trees)", () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9,._+-]{0,12}$/);
    const prop = fc.record({ name, value: fc.uint8Array({ maxLength: 40 }) });
    const leaf = fc.record({
      name: fc.oneof(
        name,
        fc.tuple(name, fc.nat()).map(([a, b]) => `${a}@${b.toString(16)}`),
      ),
      props: fc.array(prop, { maxLength: 5 }),
      children: fc.constant([] as FdtNode[]),
    });
    const node = fc.record({
      name,
      props: fc.array(prop, { maxLength: 4 }),
      children: fc.array(leaf, { maxLength: 4 }),
    });
    const tree = fc.record({
      root: fc.record({
        name: fc.constant(""),
        props: fc.array(prop, { maxLength: 4 }),
        children: fc.array(node, { maxLength: 4 }),
      }),
      memreserve: fc.array(fc.record({ address: fc.nat(), size: fc.nat() }), { maxLength: 3 }),
      bootCpuidPhys: fc.nat(),
    });
    fc.assert(
      fc.property(tree, fc.nat(4096), (t, pad) => {
        const fdt: Fdt = { version: 17, lastCompVersion: 16, totalSize: 0, ...t };
        const bytes = serializeFdt(fdt, { padTo: pad });
        const back = parseFdt(bytes);
        expect(back.root).toEqual(fdt.root);
        expect(back.memreserve).toEqual(
          fdt.memreserve.filter(() => true).slice(0, firstZero(fdt.memreserve)),
        );
        expect(back.totalSize).toBe(bytes.length);
      }),
      { numRuns: 200 },
    );
  });
});

/** A (0,0) memreserve entry terminates the block: entries after it are not read back. */
function firstZero(m: { address: number; size: number }[]): number {
  const i = m.findIndex((e) => e.address === 0 && e.size === 0);
  return i < 0 ? m.length : i;
}

describe("DTB patch", () => {
  itDtc("kexec-tools edits: bootargs, 64-bit initrd-start/-end, kaslr-seed; fdtget reads them back", () => {
    const edited = editDtbKexecTools(parseFdt(read("qemu-virt-4g.dtb")), {
      cmdline: "console=ttyAMA0 root=/dev/vda2",
      initrd: { start: 0x452a0000, end: 0x4929ec78 },
      seed: 7,
      wipeKaslrSeed: true,
    });
    const file = tmpFile(serializeFdt(edited.fdt));
    expect(spawnSyncOwned("dtc", ["-I", "dtb", "-O", "dtb", "-o", "/dev/null", file]).status).toBe(0);
    // dtb_set_property pads the value to 4 bytes with NULs (FDT_TAGALIGN): 30 characters + NUL -> 32,
    // so fdtget sees a second (empty) string and needs -ts to print it as text.
    expect(fdtget(file, "-ts", "/chosen", "bootargs")).toBe("console=ttyAMA0 root=/dev/vda2");
    expect(fdtget(file, "-tbx", "/chosen", "bootargs").split(" ")).toHaveLength(32);
    expect(fdtget(file, "-tx", "/chosen", "linux,initrd-start")).toBe("0 452a0000");
    expect(fdtget(file, "-tx", "/chosen", "linux,initrd-end")).toBe("0 4929ec78");
    expect(fdtget(file, "-tx", "/chosen", "kaslr-seed")).not.toBe("4d1c0e0b b75c366a");
    expect(fdtget(file, "/chosen", "stdout-path")).toBe("/pl011@9000000");
  });

  itDtc("creates /chosen when missing and deletes stale initrd properties without an initrd", () => {
    const fdt = parseFdt(read("thunder2-99xx.dtb"));
    fdt.root.children = fdt.root.children.filter((c) => c.name !== "chosen");
    const withInitrd = editDtbKexecTools(fdt, {
      cmdline: "quiet",
      initrd: { start: 0x1_0000_0000, end: 0x1_0100_0000 },
      seed: 0,
    });
    const f1 = tmpFile(serializeFdt(withInitrd.fdt));
    expect(fdtget(f1, "-ts", "/chosen", "bootargs")).toBe("quiet");
    expect(fdtget(f1, "-tbx", "/chosen", "bootargs")).toBe("71 75 69 65 74 0 0 0");
    expect(fdtget(f1, "-tx", "/chosen", "linux,initrd-start")).toBe("1 0");
    expect(fdtget(f1, "-tx", "/chosen", "linux,initrd-end")).toBe("1 1000000");
    const without = editDtbKexecTools(withInitrd.fdt, { seed: 0 });
    const f2 = tmpFile(serializeFdt(without.fdt));
    expect(fdtget(f2, "-p", "/chosen").split("\n")).toEqual(["bootargs"]);
  });

  itDtc(
    "without an initrd, kexec-tools deletes the old linux,initrd-* in place: libfdt's own fdt_delprop (fdtput -d) gives the same bytes",
    () => {
      // A running kernel's /sys/firmware/fdt after a boot with an initrd: 32-bit linux,initrd-* as QEMU writes them.
      const fdt = parseFdt(read("qemu-virt-4g.dtb"));
      const chosen = fdt.root.children.find((c) => c.name === "chosen")!;
      chosen.props.unshift(
        { name: "linux,initrd-end", value: new Uint8Array([0x4a, 0x24, 0x98, 0x54]) },
        { name: "linux,initrd-start", value: new Uint8Array([0x48, 0, 0, 0]) },
      );
      const edited = editDtbKexecTools(fdt, { cmdline: "console=ttyAMA0", seed: 3, wipeKaslrSeed: true });
      expect(edited.beforeClear).toBeDefined();
      expect(edited.notes.some((n) => n.includes("dtb_clear_initrd"))).toBe(true);
      const blob = serializeFdt(edited.beforeClear!);
      const before = blob.slice();
      const file = tmpFile(blob);
      execFileSyncOwned("fdtput", ["-d", file, "/chosen", "linux,initrd-start"]);
      execFileSyncOwned("fdtput", ["-d", file, "/chosen", "linux,initrd-end"]);
      clearInitrdInPlace(blob);
      // fdtput packs after fdt_delprop: its file is the content; ours keeps the totalsize (32 bytes more).
      const real = new Uint8Array(readFileSync(file));
      expect(blob.length).toBe(before.length);
      expect(blob.length - real.length).toBe(32);
      const sameExceptTotalsize = (a: Uint8Array, b: Uint8Array) =>
        Buffer.from(a.subarray(8, b.length)).equals(Buffer.from(b.subarray(8))) &&
        Buffer.from(a.subarray(0, 4)).equals(Buffer.from(b.subarray(0, 4)));
      expect(sameExceptTotalsize(blob, real)).toBe(true);
      // The 32 bytes past the content are left from before the memmove: the old blob's last 16 bytes, twice.
      const last16 = Buffer.from(before.subarray(before.length - 16));
      expect(Buffer.from(blob.subarray(blob.length - 32, blob.length - 16)).equals(last16)).toBe(true);
      expect(Buffer.from(blob.subarray(blob.length - 16)).equals(last16)).toBe(true);
      expect(parseFdt(blob).totalSize).toBe(before.length);
      expect(fdtget(file, "-p", "/chosen").split("\n")).not.toContain("linux,initrd-start");
      // A property that is not there: nothing changes (fdt_delprop's -FDT_ERR_NOTFOUND).
      const again = blob.slice();
      expect(fdtDelpropInPlace(again, "/chosen", "linux,initrd-start")).toBe(false);
      expect(fdtDelpropInPlace(again, "/nowhere", "bootargs")).toBe(false);
      expect(Buffer.from(again).equals(Buffer.from(blob))).toBe(true);
      // A tree without linux,initrd-* has nothing to clear: no longer than its content.
      expect(editDtbKexecTools(edited.fdt, { seed: 3, wipeKaslrSeed: true }).beforeClear).toBeUndefined();
    },
  );

  itDtc(
    "kexec_file edits: initrd /memreserve/ added, the old one removed, rng-seed 128 bytes, booted-from-kexec",
    () => {
      const first = editDtbKexecFile(parseFdt(read("juno.dtb")), {
        cmdline: "a=1",
        initrd: { start: 0x84000000, end: 0x84100000 },
        seed: 1,
      });
      const second = editDtbKexecFile(first.fdt, {
        cmdline: "",
        initrd: { start: 0x90000000, end: 0x90001000 },
        seed: 2,
      });
      expect(second.notes).toContain("removed the running kernel's initrd /memreserve/");
      const file = tmpFile(serializeFdt(second.fdt));
      expect(dtcMemreserve(file)).toEqual([{ start: 0x90000000, size: 0x1000 }]);
      const props = fdtget(file, "-p", "/chosen").split("\n");
      expect(props).toContain("linux,booted-from-kexec");
      expect(props).not.toContain("bootargs");
      expect(fdtget(file, "-tx", "/chosen", "rng-seed").split(" ")).toHaveLength(32);
      expect(fdtget(file, "-tx", "/chosen", "linux,initrd-start")).toBe("0 90000000");
    },
  );

  it("refuses a non-zero kaslr-seed unless told it was wiped", () => {
    expect(() => editDtbKexecTools(parseFdt(read("qemu-virt-4g.dtb")), { seed: 0 })).toThrow(KexecLabError);
    try {
      editDtbKexecTools(parseFdt(read("qemu-virt-4g.dtb")), { seed: 0 });
    } catch (e) {
      expect((e as KexecLabError).code).toBe("E_DTB_KASLR_SEED");
    }
  });

  it("refuses a command line over 2047 bytes", () => {
    try {
      editDtbKexecTools(parseFdt(read("juno.dtb")), { seed: 0, cmdline: "x".repeat(2048) });
      expect.unreachable();
    } catch (e) {
      expect((e as KexecLabError).code).toBe("E_CMDLINE_TOO_LONG");
    }
    expect(() =>
      editDtbKexecTools(parseFdt(read("juno.dtb")), { seed: 0, cmdline: "x".repeat(2047) }),
    ).not.toThrow();
  });
});

describe("deep trees", () => {
  it("a DTB nested 200,000 levels deep parses, edits and writes back without recursion", () => {
    // Built directly: header, empty reservation block, then BEGIN_NODE "a" x depth, END_NODE x depth.
    const depth = 200_000;
    const structSize = 8 + depth * 8 + depth * 4 + 4 + 4;
    const total = 40 + 16 + structSize;
    const b = new Uint8Array(total);
    const v = new DataView(b.buffer);
    for (const [i, x] of [0xd00dfeed, total, 56, total, 40, 17, 16, 0, 0, structSize].entries())
      v.setUint32(i * 4, x);
    let at = 56;
    v.setUint32(at, 1);
    at += 8; // root: BEGIN_NODE + "" padded
    for (let i = 0; i < depth; i++) {
      v.setUint32(at, 1);
      b[at + 4] = 0x61;
      at += 8;
    }
    for (let i = 0; i <= depth; i++) {
      v.setUint32(at, 2);
      at += 4;
    }
    v.setUint32(at, 9);
    const fdt = parseFdt(b);
    const edited = editDtbKexecTools(fdt, {
      seed: 0,
      cmdline: "deep",
      initrd: { start: 0x1000, end: 0x2000 },
    });
    const back = parseFdt(serializeFdt(edited.fdt));
    expect(back.root.children.map((c) => c.name)).toEqual(["chosen", "a"]);
  });
});

describe("device-tree semantics on a generated tree", () => {
  const u32s = (...xs: number[]) => {
    const b = new Uint8Array(xs.length * 4);
    const v = new DataView(b.buffer);
    for (const [i, x] of xs.entries()) v.setUint32(i * 4, x);
    return b;
  };
  const str = (s: string) => new TextEncoder().encode(`${s}\0`);
  const node = (name: string, props: [string, Uint8Array][], children: FdtNode[] = []): FdtNode => ({
    name,
    props: props.map(([n, value]) => ({ name: n, value })),
    children,
  });
  const tree: Fdt = {
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 0,
    totalSize: 0,
    memreserve: [{ address: 0x48000000, size: 0x1000 }],
    root: node(
      "",
      [
        ["#address-cells", u32s(1)],
        ["#size-cells", u32s(1)],
      ],
      [
        node("memory@40000000", [
          ["device_type", str("memory")],
          ["reg", u32s(0x40000000, 0x10000000, 0x60000000, 0x10000000)],
        ]),
        node("memory@80000000", [
          ["device_type", str("memory")],
          ["status", str("disabled")],
          ["reg", u32s(0x80000000, 0x10000000)],
        ]),
        node("memory@90000000", [
          ["device_type", str("memory")],
          ["status", str("okay")],
          ["reg", u32s(0x90000000, 0x10000000)],
          ["linux,usable-memory", u32s(0x90000000, 0x1000000)],
        ]),
        node(
          "reserved-memory",
          [
            ["#address-cells", u32s(2)],
            ["#size-cells", u32s(2)],
            ["ranges", new Uint8Array(0)],
          ],
          [
            node("fw@4f000000", [
              ["reg", u32s(0, 0x4f000000, 0, 0x100000)],
              ["no-map", new Uint8Array(0)],
            ]),
            node("cma", [
              ["compatible", str("shared-dma-pool")],
              ["reusable", new Uint8Array(0)],
              ["size", u32s(0, 0x4000000)],
              ["alignment", u32s(0, 0x400000)],
            ]),
            node("off@4e000000", [
              ["reg", u32s(0, 0x4e000000, 0, 0x1000)],
              ["status", str("disabled")],
            ]),
          ],
        ),
      ],
    ),
  };

  it("cells per level, status, linux,usable-memory, no-map, dynamic regions", () => {
    const info = deviceTreeInfo(parseFdt(serializeFdt(tree)));
    expect(info.memory).toEqual([
      { start: 0x40000000, size: 0x10000000 },
      { start: 0x60000000, size: 0x10000000 },
      { start: 0x90000000, size: 0x1000000 },
    ]);
    expect(info.memreserve).toEqual([{ start: 0x48000000, size: 0x1000 }]);
    expect(info.reservedMemory).toEqual([
      {
        name: "fw@4f000000",
        reg: [{ start: 0x4f000000, size: 0x100000 }],
        noMap: true,
        reusable: false,
        status: "okay",
      },
      {
        name: "cma",
        reg: [],
        dynamicSize: 0x4000000,
        alignment: 0x400000,
        noMap: false,
        reusable: true,
        status: "okay",
      },
      {
        name: "off@4e000000",
        reg: [{ start: 0x4e000000, size: 0x1000 }],
        noMap: false,
        reusable: false,
        status: "disabled",
      },
    ]);
    const map = deviceTreeMemoryMap(info);
    // RAM minus /memreserve/ and the enabled static region; the disabled one stays free.
    expect(map.usable.contains(0x48000000)).toBe(false);
    expect(map.usable.contains(0x4f000000)).toBe(false);
    expect(map.usable.contains(0x4e000000)).toBe(true);
    expect(map.ramBytes).toBe(0x21000000);
  });

  itDtc("dtc accepts the generated tree and fdtget reads the same reg cells", () => {
    const file = tmpFile(serializeFdt(tree));
    expect(fdtget(file, "-tx", "/reserved-memory/fw@4f000000", "reg")).toBe("0 4f000000 0 100000");
    expect(fdtget(file, "-tx", "/memory@40000000", "reg")).toBe("40000000 10000000 60000000 10000000");
  });

  it("a reg whose length does not match the cells is a catalogued error", () => {
    const bad = structuredClone(tree);
    bad.root.children[0]!.props[1]!.value = u32s(0x40000000, 0x1000, 0x5);
    try {
      deviceTreeInfo(parseFdt(serializeFdt(bad)));
      expect.unreachable();
    } catch (e) {
      expect((e as KexecLabError).code).toBe("E_FORMAT_CORRUPT");
      expect((e as KexecLabError).where.field).toBe("/memory@40000000/reg");
    }
  });
});

describe("libfdt's in-place edits, byte for byte", () => {
  const FDT_NOP = 4;
  /** a tree with /chosen { a = "old"; NOP x2; b = "xyz0123"; NOP x1 } read from its bytes */
  function chosenTree(): Fdt {
    const tree: Fdt = {
      version: 17,
      lastCompVersion: 16,
      bootCpuidPhys: 0,
      totalSize: 0,
      memreserve: [],
      root: {
        name: "",
        props: [],
        children: [
          {
            name: "chosen",
            props: [
              { name: "a", value: new TextEncoder().encode("old\0") },
              { name: "b", value: new TextEncoder().encode("xyz0123\0") },
            ],
            children: [],
            nopRuns: [{ count: 2, before: "b" }, { count: 1 }],
          },
        ],
      },
    };
    return parseFdt(serializeFdt(tree));
  }
  const tokens = (blob: Uint8Array) => {
    const v = new DataView(blob.buffer, blob.byteOffset);
    const out: number[] = [];
    for (let o = v.getUint32(8); o < v.getUint32(8) + v.getUint32(36); o += 4) out.push(v.getUint32(o));
    return out;
  };

  it("two runs of NOPs in one node are read and written back where they were", () => {
    const t = chosenTree();
    const chosen = t.root.children[0]!;
    expect(chosen.nopRuns).toEqual([{ count: 2, before: "b" }, { count: 1 }]);
    const blob = serializeFdt(t);
    expect(serializeFdt(parseFdt(blob))).toEqual(blob);
    // root begin + name, chosen begin + name (2 words), a (3 + 1), 2 NOPs, b (3 + 2), 1 NOP, end node
    const w = tokens(blob);
    expect(w.slice(9, 11)).toEqual([FDT_NOP, FDT_NOP]);
    expect(w[16]).toBe(FDT_NOP);
    expect(w[11]).toBe(3); // FDT_PROP of b right after the first run
  });

  it("fdt_delprop: the NOPs before a deleted property stay before the one that followed it", () => {
    const t = chosenTree();
    const chosen = t.root.children[0]!;
    deleteProp(chosen, "b");
    expect(chosen.nopRuns).toEqual([{ count: 2 }, { count: 1 }]);
    fdtSetprop(t, "/chosen", "b", new Uint8Array(8));
    // the new property goes first; both runs now follow every property
    expect(chosen.props.map((p) => p.name)).toEqual(["b", "a"]);
    const again = parseFdt(serializeFdt(t)).root.children[0]!;
    expect(again.nopRuns).toEqual([{ count: 3 }]);
  });

  it("fdt_setprop growing a value leaves the next property's bytes in its padding", () => {
    const t = chosenTree();
    // "old\0" (4 bytes) becomes 6 bytes + 2 of padding: what followed a's old value there was b's FDT_PROP
    // tag preceded by the two NOPs, so the padding holds the last two bytes of the first NOP (0x00 0x04)
    fdtSetprop(t, "/chosen", "a", new TextEncoder().encode("hello\0"));
    const a = t.root.children[0]!.props.find((p) => p.name === "a")!;
    expect(a.pad).toEqual(new Uint8Array([0, 4]));
    const blob = serializeFdt(t);
    const back = parseFdt(blob).root.children[0]!.props.find((p) => p.name === "a")!;
    expect(back.pad).toEqual(new Uint8Array([0, 4]));
    // shrinking keeps the old value's bytes: "xyz0123\0" -> "xy\0" pads with "0"
    fdtSetprop(t, "/chosen", "b", new TextEncoder().encode("xy\0"));
    expect(t.root.children[0]!.props.find((p) => p.name === "b")!.pad).toEqual(new TextEncoder().encode("0"));
  });
});
