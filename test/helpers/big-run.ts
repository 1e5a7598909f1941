/**
 * The inputs of `kexec-lab run` with a 1 GiB initrd, made on the spot (nothing outside the repository):
 * a synthetic arm64 Image (a valid header, 28 MiB), the DTB of a 4 GiB QEMU-virt-like machine and a
 * 1 GiB initrd as a sparse file (no disk; the simulator holds and copies its pages like any others).
 * Used by test/cli-signals.test.ts and bench/run-large.bench.ts.
 */

import { closeSync, ftruncateSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FdtNode, serializeFdt, stringValue } from "../../src/formats/fdt.js";
import { arm64Header } from "../../src/formats/synth.js";

const MiB = 2 ** 20;

function cells(...values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  for (const [i, x] of values.entries()) v.setUint32(i * 4, x);
  return b;
}

/** A DTB with 4 GiB of RAM at 0x40000000 and an empty /chosen. */
export function virt4gDtb(): Uint8Array {
  const node = (name: string, props: [string, Uint8Array][], children: FdtNode[] = []): FdtNode => ({
    name,
    props: props.map(([n, value]) => ({ name: n, value })),
    children,
  });
  return serializeFdt({
    version: 17,
    lastCompVersion: 16,
    bootCpuidPhys: 0,
    totalSize: 0,
    memreserve: [],
    root: node(
      "",
      [
        ["#address-cells", cells(2)],
        ["#size-cells", cells(2)],
        ["compatible", stringValue("linux,dummy-virt")],
      ],
      [
        node("memory@40000000", [
          ["device_type", stringValue("memory")],
          ["reg", cells(0, 0x40000000, 1, 0)],
        ]),
        node("chosen", []),
      ],
    ),
  });
}

export interface BigRunFiles {
  kernel: string;
  initrd: string;
  dtb: string;
  /** `run` with these files (append --html, --json, ...). */
  args: string[];
}

/** Write the three files into `dir`; the initrd is `initrdBytes` long (default 1 GiB), sparse. */
export function bigRunFiles(dir: string, initrdBytes = 2 ** 30): BigRunFiles {
  const kernel = join(dir, "Image");
  writeFileSync(kernel, arm64Header({ imageSize: 28 * MiB }, 28 * MiB - 64));
  const dtb = join(dir, "virt-4g.dtb");
  writeFileSync(dtb, virt4gDtb());
  const initrd = join(dir, "initrd-1g.img");
  const fd = openSync(initrd, "w");
  try {
    ftruncateSync(fd, initrdBytes);
  } finally {
    closeSync(fd);
  }
  return {
    kernel,
    initrd,
    dtb,
    args: ["run", "--kernel", kernel, "--initrd", initrd, "--dtb", dtb],
  };
}
