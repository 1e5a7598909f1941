/**
 * What a loader needs from a device tree: RAM banks (memory nodes), reservations (/memreserve/ and
 * /reserved-memory), and /chosen. #address-cells / #size-cells are honoured at every level: a node's
 * reg is decoded with its parent's cells (spec defaults 2 and 1 when absent).
 *
 * Memory nodes are the root's children whose device_type is "memory" (as the kernel's
 * early_init_dt_scan_memory finds them); a node whose status is neither "okay" nor "ok" is skipped.
 * linux,usable-memory, when present, replaces reg (the kernel's rule for crash kernels).
 */

import { KexecLabError } from "../errors.js";
import { MemoryMap, type Region } from "../machine/memmap.js";
import { type Fdt, type FdtNode, findNode, getProp, propNumber, propString } from "./fdt.js";

export interface RegEntry {
  start: number;
  size: number;
}

export interface ReservedMemoryNode {
  name: string;
  /** Static regions from reg (empty for a dynamic region). */
  reg: RegEntry[];
  /** Dynamic regions: size (and alignment) without reg; placed by the kernel at boot. */
  dynamicSize?: number;
  alignment?: number;
  noMap: boolean;
  reusable: boolean;
  status: string;
}

export interface ChosenInfo {
  bootargs?: string;
  initrdStart?: number;
  initrdEnd?: number;
  /** kaslr-seed as two 32-bit halves (hi, lo). */
  kaslrSeed?: { hi: number; lo: number };
  rngSeedBytes?: number;
  stdoutPath?: string;
  bootedFromKexec?: boolean;
  properties: string[];
}

export interface DeviceTreeInfo {
  addressCells: number;
  sizeCells: number;
  memory: RegEntry[];
  memreserve: RegEntry[];
  reservedMemory: ReservedMemoryNode[];
  chosen: ChosenInfo | undefined;
}

export function cellsOf(n: FdtNode): { addressCells: number; sizeCells: number } {
  const a = getProp(n, "#address-cells");
  const s = getProp(n, "#size-cells");
  return {
    addressCells: a && a.value.length === 4 ? propNumber(a)! : 2,
    sizeCells: s && s.value.length === 4 ? propNumber(s)! : 1,
  };
}

function readCells(v: Uint8Array, at: number, cells: number, field: string): number {
  let hi = 0;
  // Cells above the low two must be zero for a value the simulator can hold.
  for (let i = 0; i < cells - 2; i++) {
    const c =
      (v[at + i * 4]! << 24) | (v[at + i * 4 + 1]! << 16) | (v[at + i * 4 + 2]! << 8) | v[at + i * 4 + 3]!;
    if (c !== 0)
      throw new KexecLabError("E_FORMAT_CORRUPT", `a ${cells}-cell value does not fit in 64 bits`, { field });
  }
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  const base = at + Math.max(0, cells - 2) * 4;
  if (cells >= 2) {
    hi = dv.getUint32(base);
    if (hi >= 0x200000)
      throw new KexecLabError("E_FORMAT_CORRUPT", "a 64-bit value is 2^53 or more", { field });
    return hi * 4294967296 + dv.getUint32(base + 4);
  }
  if (cells === 1) return dv.getUint32(at);
  return 0;
}

/** Decode a reg-style property with the given cells. */
export function decodeReg(
  value: Uint8Array,
  addressCells: number,
  sizeCells: number,
  field: string,
): RegEntry[] {
  if (addressCells > 4 || sizeCells > 4) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `#address-cells ${addressCells} / #size-cells ${sizeCells} out of range`,
      { field },
    );
  }
  const entry = (addressCells + sizeCells) * 4;
  if (entry === 0 || value.length % entry !== 0) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `length ${value.length} is not a multiple of (#address-cells ${addressCells} + #size-cells ${sizeCells}) * 4`,
      { field },
    );
  }
  const out: RegEntry[] = [];
  for (let at = 0; at < value.length; at += entry) {
    out.push({
      start: readCells(value, at, addressCells, field),
      size: readCells(value, at + addressCells * 4, sizeCells, field),
    });
  }
  return out;
}

export function isAvailable(n: FdtNode): boolean {
  const s = propString(getProp(n, "status"));
  return s === undefined || s === "okay" || s === "ok";
}

export function deviceTreeInfo(fdt: Fdt): DeviceTreeInfo {
  const root = fdt.root;
  const { addressCells, sizeCells } = cellsOf(root);
  const memory: RegEntry[] = [];
  for (const n of root.children) {
    if (propString(getProp(n, "device_type")) !== "memory" || !isAvailable(n)) continue;
    const usable = getProp(n, "linux,usable-memory");
    const reg = usable ?? getProp(n, "reg");
    if (!reg) continue;
    for (const e of decodeReg(reg.value, addressCells, sizeCells, `/${n.name}/${reg.name}`)) {
      if (e.size > 0) memory.push(e);
    }
  }
  memory.sort((a, b) => a.start - b.start);

  const reservedMemory: ReservedMemoryNode[] = [];
  const rm = findNode(root, "/reserved-memory");
  if (rm) {
    const cells = cellsOf(rm);
    for (const c of rm.children) {
      const reg = getProp(c, "reg");
      const size = getProp(c, "size");
      const align = getProp(c, "alignment");
      const node: ReservedMemoryNode = {
        name: c.name,
        reg: reg
          ? decodeReg(reg.value, cells.addressCells, cells.sizeCells, `/reserved-memory/${c.name}/reg`)
          : [],
        noMap: getProp(c, "no-map") !== undefined,
        reusable: getProp(c, "reusable") !== undefined,
        status: propString(getProp(c, "status")) ?? "okay",
      };
      if (!reg && size) {
        const s = decodeReg(
          concatZero(size.value, cells.addressCells),
          cells.addressCells,
          cells.sizeCells,
          `/reserved-memory/${c.name}/size`,
        );
        node.dynamicSize = s[0]?.size ?? 0;
        if (align) {
          node.alignment =
            decodeReg(
              concatZero(align.value, cells.addressCells),
              cells.addressCells,
              cells.sizeCells,
              `/reserved-memory/${c.name}/alignment`,
            )[0]?.size ?? 0;
        }
      }
      reservedMemory.push(node);
    }
  }

  let chosen: ChosenInfo | undefined;
  const ch = findNode(root, "/chosen");
  if (ch) {
    chosen = { properties: ch.props.map((p) => p.name) };
    const bootargs = propString(getProp(ch, "bootargs"));
    if (bootargs !== undefined) chosen.bootargs = bootargs;
    const s = propNumber(getProp(ch, "linux,initrd-start"));
    const e = propNumber(getProp(ch, "linux,initrd-end"));
    if (s !== undefined) chosen.initrdStart = s;
    if (e !== undefined) chosen.initrdEnd = e;
    const k = getProp(ch, "kaslr-seed");
    if (k && k.value.length === 8) {
      const dv = new DataView(k.value.buffer, k.value.byteOffset, 8);
      chosen.kaslrSeed = { hi: dv.getUint32(0), lo: dv.getUint32(4) };
    }
    const rng = getProp(ch, "rng-seed");
    if (rng) chosen.rngSeedBytes = rng.value.length;
    const sp = propString(getProp(ch, "stdout-path"));
    if (sp !== undefined) chosen.stdoutPath = sp;
    if (getProp(ch, "linux,booted-from-kexec")) chosen.bootedFromKexec = true;
  }
  return {
    addressCells,
    sizeCells,
    memory,
    memreserve: fdt.memreserve.map((m) => ({ start: m.address, size: m.size })),
    reservedMemory,
    chosen,
  };
}

/** A size property has only #size-cells; prefix zero address cells so decodeReg can read it. */
function concatZero(v: Uint8Array, addressCells: number): Uint8Array {
  const out = new Uint8Array(addressCells * 4 + v.length);
  out.set(v, addressCells * 4);
  return out;
}

/**
 * RAM from the memory nodes, minus /memreserve/ entries and the static reserved-memory regions
 * (no-map or not: neither is free for placing segments), as a MemoryMap.
 */
export function deviceTreeMemoryMap(info: DeviceTreeInfo): MemoryMap {
  if (info.memory.length === 0) {
    throw new KexecLabError("E_NO_MEMORY_MAP", "the DTB has no memory node with a usable reg");
  }
  const regions: Region[] = info.memory.map((m) => ({
    start: m.start,
    end: m.start + m.size,
    type: "ram",
    name: "System RAM",
  }));
  for (const m of info.memreserve) {
    if (m.size > 0)
      regions.push({ start: m.start, end: m.start + m.size, type: "reserved", name: "memreserve" });
  }
  for (const n of info.reservedMemory) {
    if (n.status !== "okay" && n.status !== "ok") continue;
    for (const r of n.reg) {
      if (r.size > 0) regions.push({ start: r.start, end: r.start + r.size, type: "reserved", name: n.name });
    }
  }
  return new MemoryMap(regions);
}
