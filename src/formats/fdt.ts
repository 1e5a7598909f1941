/**
 * Flattened device tree (devicetree specification v0.4, chapter 5), read and written.
 *
 * Layout written (as dtc and libfdt's fdt_pack leave it): header (40 bytes) | memory reservation
 * block (pairs of big-endian u64 address,size ended by 0,0) | structure block | strings block
 * [| free space up to totalsize]. Structure tokens (big-endian u32): FDT_BEGIN_NODE 1 + NUL-terminated
 * name padded to 4, FDT_END_NODE 2, FDT_PROP 3 + len + nameoff + value padded to 4, FDT_NOP 4, FDT_END 9.
 *
 * Names and string values are kept byte for byte as Latin-1 JS strings, so a tree read and written
 * back keeps every byte. Parsing is iterative (no recursion) and every loop advances through a
 * bounded buffer, so corrupt input ends in a catalogued error, never a hang or a stack overflow.
 */

import { KexecLabError } from "../errors.js";
import { ByteReader } from "./bytes.js";

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
export const FDT_HEADER_SIZE = 40;
export const FDT_LAST_SUPPORTED_VERSION = 17;
export const FDT_FIRST_SUPPORTED_VERSION = 16;

export interface FdtProp {
  name: string;
  value: Uint8Array;
  /**
   * The bytes that pad the value to 4 as read, when they are not all zero: libfdt (QEMU's DTB, the
   * kernel's in-place edits) leaves whatever was in that memory, and fdt_pack/fdt_open_into copy it
   * along, so they are written back as read (zeros otherwise).
   */
  pad?: Uint8Array;
}

export interface FdtNode {
  /** Node name with unit address ("memory@40000000"); "" for the root. */
  name: string;
  props: FdtProp[];
  children: FdtNode[];
  /**
   * The runs of FDT_NOP tags read inside this node (a running kernel NOPs out properties it wipes, e.g.
   * rng-seed, in drivers/of/fdt.c early_init_dt_scan_chosen); libfdt's fdt_open_into/fdt_pack keep them where
   * they are, so they are written back in place: each run right before the property `before` (the one that
   * followed it when read), or after the node's properties when `before` is absent. libfdt's fdt_delprop
   * splices a property out, so a run before it is then before the property that followed it (deleteProp);
   * fdt_setprop of a new property inserts it first in the node, before any run (setProp).
   */
  nopRuns?: FdtNopRun[];
}

/** A run of FDT_NOP tags in a node: `count` tags before the property named `before` (else after the properties). */
export interface FdtNopRun {
  count: number;
  before?: string;
}

export interface FdtReserveEntry {
  address: number;
  size: number;
}

export interface Fdt {
  version: number;
  lastCompVersion: number;
  bootCpuidPhys: number;
  /** totalsize from the header of the file read (0 for a tree built in memory). */
  totalSize: number;
  memreserve: FdtReserveEntry[];
  root: FdtNode;
  /**
   * The strings block as read (latin1). libfdt never shrinks it: names of deleted or NOPed properties
   * stay, and new names are appended (fdt_find_add_string), so a tree edited the libfdt way keeps it.
   */
  strings?: string;
}

export function isFdt(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0xd0 && bytes[1] === 0x0d && bytes[2] === 0xfe && bytes[3] === 0xed
  );
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

const align4 = (n: number) => (n + 3) & ~3;

export function parseFdt(bytes: Uint8Array, file?: string): Fdt {
  const r = new ByteReader(bytes, file);
  r.need(0, FDT_HEADER_SIZE, "fdt_header");
  const magic = r.u32(0, "magic", false);
  if (magic !== FDT_MAGIC) {
    throw new KexecLabError(
      "E_FORMAT_UNKNOWN",
      `no FDT magic 0xd00dfeed (found 0x${magic.toString(16)})`,
      r.where(0, "magic"),
    );
  }
  const totalSize = r.u32(4, "totalsize", false);
  const offStruct = r.u32(8, "off_dt_struct", false);
  const offStrings = r.u32(12, "off_dt_strings", false);
  const offRsvmap = r.u32(16, "off_mem_rsvmap", false);
  const version = r.u32(20, "version", false);
  const lastCompVersion = r.u32(24, "last_comp_version", false);
  const bootCpuidPhys = r.u32(28, "boot_cpuid_phys", false);
  const sizeStrings = r.u32(32, "size_dt_strings", false);
  const sizeStruct = r.u32(36, "size_dt_struct", false);
  if (totalSize > bytes.length) {
    throw new KexecLabError(
      "E_FORMAT_TRUNCATED",
      `totalsize is 0x${totalSize.toString(16)} but the file has 0x${bytes.length.toString(16)} bytes`,
      r.where(4, "totalsize"),
    );
  }
  if (totalSize < FDT_HEADER_SIZE)
    throw r.corrupt(4, "totalsize", `totalsize 0x${totalSize.toString(16)} is below the header size`);
  if (version < FDT_FIRST_SUPPORTED_VERSION || lastCompVersion > FDT_LAST_SUPPORTED_VERSION) {
    throw r.corrupt(20, "version", `version ${version} (last compatible ${lastCompVersion}) is not 16 or 17`);
  }
  const inBlob = (off: number, size: number, field: string, at: number) => {
    if (off + size > totalSize) {
      throw r.corrupt(
        at,
        field,
        `block [0x${off.toString(16)}, 0x${(off + size).toString(16)}) lies beyond totalsize 0x${totalSize.toString(16)}`,
      );
    }
  };
  inBlob(offStrings, sizeStrings, "off_dt_strings", 12);
  const structEnd = version >= 17 ? offStruct + sizeStruct : totalSize;
  inBlob(offStruct, version >= 17 ? sizeStruct : 0, "off_dt_struct", 8);
  if (offRsvmap % 8 !== 0)
    throw r.corrupt(16, "off_mem_rsvmap", "the memory reservation block is not 8-byte aligned");

  // Memory reservation block: (address, size) pairs ended by (0, 0).
  const memreserve: FdtReserveEntry[] = [];
  for (let at = offRsvmap; ; at += 16) {
    if (at + 16 > totalSize)
      throw r.corrupt(at, "memreserve", "the memory reservation block has no 0,0 terminator");
    const address = r.u64(at, `memreserve[${memreserve.length}].address`, false);
    const size = r.u64(at + 8, `memreserve[${memreserve.length}].size`, false);
    if (address === 0 && size === 0) break;
    memreserve.push({ address, size });
  }

  const stringAt = (nameoff: number, at: number): string => {
    if (nameoff >= sizeStrings)
      throw r.corrupt(
        at,
        "nameoff",
        `property name offset 0x${nameoff.toString(16)} is outside the strings block`,
      );
    const start = offStrings + nameoff;
    const limit = offStrings + sizeStrings;
    let end = start;
    while (end < limit && bytes[end] !== 0) end++;
    if (end >= limit)
      throw r.corrupt(at, "nameoff", "property name is not NUL-terminated inside the strings block");
    return latin1(bytes, start, end);
  };

  // Structure block, iteratively.
  let at = offStruct;
  const token = (field: string) => {
    if (at + 4 > structEnd) throw r.corrupt(at, field, "the structure block ends without FDT_END");
    const t = r.u32(at, field, false);
    at += 4;
    return t;
  };
  let t = token("token");
  while (t === FDT_NOP) t = token("token");
  if (t !== FDT_BEGIN_NODE)
    throw r.corrupt(at - 4, "token", `the structure block starts with token ${t}, not FDT_BEGIN_NODE`);
  const readName = (): string => {
    const start = at;
    while (at < structEnd && bytes[at] !== 0) at++;
    if (at >= structEnd) throw r.corrupt(start, "node name", "node name is not NUL-terminated");
    const name = latin1(bytes, start, at);
    at = align4(at + 1);
    return name;
  };
  const root: FdtNode = { name: readName(), props: [], children: [] };
  if (root.name !== "")
    throw r.corrupt(offStruct + 4, "node name", `the root node is named "${root.name}", not ""`);
  const stack: FdtNode[] = [root];
  let prevNop = false;
  for (;;) {
    const tokAt = at;
    t = token("token");
    const node = stack[stack.length - 1];
    const wasNop = prevNop;
    prevNop = t === FDT_NOP;
    if (t === FDT_NOP) {
      if (node !== undefined) {
        // A new run starts after anything but a NOP; its anchor is the property that comes next, if one does.
        if (node.nopRuns === undefined) node.nopRuns = [];
        const runs = node.nopRuns;
        if (wasNop && runs.length > 0) runs[runs.length - 1]!.count++;
        else {
          let next = at;
          while (next + 4 <= structEnd && r.u32(next, "token", false) === FDT_NOP) next += 4;
          const run: FdtNopRun = { count: 1 };
          if (next + 12 <= structEnd && r.u32(next, "token", false) === FDT_PROP)
            run.before = stringAt(r.u32(next + 8, "property nameoff", false), next + 8);
          runs.push(run);
        }
      }
      continue;
    }
    if (t === FDT_PROP) {
      if (node === undefined) throw r.corrupt(tokAt, "token", "FDT_PROP outside any node");
      const len = token("property len");
      const nameoff = token("property nameoff");
      if (at + len > structEnd)
        throw r.corrupt(
          tokAt,
          "property value",
          `property value of ${len} bytes runs past the structure block`,
        );
      const name = stringAt(nameoff, tokAt + 8);
      const prop: FdtProp = { name, value: bytes.slice(at, at + len) };
      const padEnd = Math.min(align4(at + len), structEnd);
      if (bytes.subarray(at + len, padEnd).some((b) => b !== 0)) prop.pad = bytes.slice(at + len, padEnd);
      node.props.push(prop);
      at = align4(at + len);
    } else if (t === FDT_BEGIN_NODE) {
      if (node === undefined) throw r.corrupt(tokAt, "token", "a second root node");
      const child: FdtNode = { name: readName(), props: [], children: [] };
      node.children.push(child);
      stack.push(child);
    } else if (t === FDT_END_NODE) {
      if (node === undefined) throw r.corrupt(tokAt, "token", "FDT_END_NODE without an open node");
      stack.pop();
    } else if (t === FDT_END) {
      if (stack.length !== 0)
        throw r.corrupt(tokAt, "token", `FDT_END with ${stack.length} node(s) still open`);
      break;
    } else {
      throw r.corrupt(tokAt, "token", `unknown structure token 0x${t.toString(16)}`);
    }
  }
  return {
    version,
    lastCompVersion,
    bootCpuidPhys,
    totalSize,
    memreserve,
    root,
    strings: latin1(bytes, offStrings, offStrings + sizeStrings),
  };
}

// --- serialization ---------------------------------------------------------------------------------

export interface SerializeOptions {
  /** Pad the blob with zeros up to this totalsize (ignored when the content is larger). */
  padTo?: number;
}

/** Write a tree as a version 17 DTB (header, reservation block, structure, strings). */
export function serializeFdt(fdt: Fdt, opts: SerializeOptions = {}): Uint8Array {
  // Strings block: each property name once, in order of first use; a name that is a suffix of a
  // string already present reuses it (as libfdt's fdt_find_string does).
  const strings: string[] = [];
  const offsets = new Map<string, number>();
  /** The strings block so far, each name NUL-terminated: a tree read from a file starts from its own. */
  let table = fdt.strings ?? "";
  let stringsSize = table.length;
  const nameOffset = (name: string): number => {
    const known = offsets.get(name);
    if (known !== undefined) return known;
    const idx = table.indexOf(`${name}\0`);
    if (idx >= 0) {
      offsets.set(name, idx);
      return idx;
    }
    offsets.set(name, stringsSize);
    strings.push(name);
    table += `${name}\0`;
    stringsSize += name.length + 1;
    return stringsSize - name.length - 1;
  };

  // Size of the structure block.
  let structSize = 4; // FDT_END
  const docOrder = (n: FdtNode, visit: (n: FdtNode) => void) => {
    const st: FdtNode[] = [n];
    while (st.length > 0) {
      const x = st.pop()!;
      visit(x);
      for (let i = x.children.length - 1; i >= 0; i--) st.push(x.children[i]!);
    }
  };
  docOrder(fdt.root, (n) => {
    structSize += 4 + align4(n.name.length + 1) + 4;
    for (const run of n.nopRuns ?? []) structSize += 4 * run.count;
    for (const p of n.props) structSize += 12 + align4(p.value.length);
  });
  // Property names in document order.
  docOrder(fdt.root, (n) => {
    for (const p of n.props) nameOffset(p.name);
  });

  const rsvOff = FDT_HEADER_SIZE;
  const rsvSize = (fdt.memreserve.length + 1) * 16;
  const structOff = rsvOff + rsvSize;
  const stringsOff = structOff + structSize;
  const contentSize = stringsOff + stringsSize;
  const total = Math.max(contentSize, opts.padTo ?? 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  v.setUint32(0, FDT_MAGIC);
  v.setUint32(4, total);
  v.setUint32(8, structOff);
  v.setUint32(12, stringsOff);
  v.setUint32(16, rsvOff);
  v.setUint32(20, 17);
  v.setUint32(24, 16);
  v.setUint32(28, fdt.bootCpuidPhys);
  v.setUint32(32, stringsSize);
  v.setUint32(36, structSize);
  let at = rsvOff;
  const put64 = (x: number) => {
    const hi = Math.floor(x / 4294967296);
    v.setUint32(at, hi);
    v.setUint32(at + 4, x - hi * 4294967296);
    at += 8;
  };
  for (const e of fdt.memreserve) {
    put64(e.address);
    put64(e.size);
  }
  at += 16;
  // Structure block, iteratively: a stack of (node, phase).
  const st: { n: FdtNode; open: boolean }[] = [{ n: fdt.root, open: false }];
  while (st.length > 0) {
    const top = st.pop()!;
    if (top.open) {
      v.setUint32(at, FDT_END_NODE);
      at += 4;
      continue;
    }
    v.setUint32(at, FDT_BEGIN_NODE);
    at += 4;
    out.set(latin1Bytes(top.n.name), at);
    at += align4(top.n.name.length + 1);
    const runs = top.n.nopRuns ?? [];
    const writeNops = (count: number) => {
      for (let i = 0; i < count; i++) {
        v.setUint32(at, FDT_NOP);
        at += 4;
      }
    };
    const names = new Set(top.n.props.map((p) => p.name));
    for (const p of top.n.props) {
      for (const run of runs) if (run.before === p.name) writeNops(run.count);
      v.setUint32(at, FDT_PROP);
      v.setUint32(at + 4, p.value.length);
      v.setUint32(at + 8, offsets.get(p.name)!);
      out.set(p.value, at + 12);
      if (p.pad !== undefined && p.pad.length === align4(p.value.length) - p.value.length)
        out.set(p.pad, at + 12 + p.value.length);
      at += 12 + align4(p.value.length);
    }
    for (const run of runs) if (run.before === undefined || !names.has(run.before)) writeNops(run.count);
    st.push({ n: top.n, open: true });
    for (let i = top.n.children.length - 1; i >= 0; i--) st.push({ n: top.n.children[i]!, open: false });
  }
  v.setUint32(at, FDT_END);
  at += 4;
  out.set(latin1Bytes(table), at);
  return out;
}

// --- tree access -----------------------------------------------------------------------------------

/** A deep copy, iteratively (a DTB may nest deeper than the JS stack). */
export function cloneNode(n: FdtNode): FdtNode {
  const copy = (x: FdtNode): FdtNode => ({
    name: x.name,
    props: x.props.map((p) => ({
      name: p.name,
      value: p.value.slice(),
      ...(p.pad !== undefined ? { pad: p.pad.slice() } : {}),
    })),
    children: [],
    ...(x.nopRuns ? { nopRuns: x.nopRuns.map((r) => ({ ...r })) } : {}),
  });
  const root = copy(n);
  const work: [FdtNode, FdtNode][] = [[n, root]];
  while (work.length > 0) {
    const [from, to] = work.pop()!;
    for (const c of from.children) {
      const cc = copy(c);
      to.children.push(cc);
      work.push([c, cc]);
    }
  }
  return root;
}

export function cloneFdt(f: Fdt): Fdt {
  return { ...f, memreserve: f.memreserve.map((e) => ({ ...e })), root: cloneNode(f.root) };
}

export function getProp(n: FdtNode, name: string): FdtProp | undefined {
  return n.props.find((p) => p.name === name);
}

/** Set a property; a new one goes first among the node's properties (where libfdt inserts it). */
export function setProp(n: FdtNode, name: string, value: Uint8Array): void {
  const p = getProp(n, name);
  if (p) {
    // libfdt resizes the property in place: the old padding bytes stay only when the size in 4-byte
    // units does not change (else the splice moves other bytes there; modelled as zeros).
    if (align4(p.value.length) !== align4(value.length)) delete p.pad;
    p.value = value;
  } else n.props.unshift({ name, value });
}

export function deleteProp(n: FdtNode, name: string): boolean {
  const i = n.props.findIndex((p) => p.name === name);
  if (i < 0) return false;
  // fdt_delprop splices the property out: NOPs that were before it are now before the one that followed it
  const next = n.props[i + 1]?.name;
  for (const run of n.nopRuns ?? []) {
    if (run.before !== name) continue;
    if (next !== undefined) run.before = next;
    else delete run.before;
  }
  n.props.splice(i, 1);
  return true;
}

export function childNamed(n: FdtNode, name: string): FdtNode | undefined {
  return (
    n.children.find((c) => c.name === name) ??
    n.children.find((c) => c.name.split("@")[0] === name && !name.includes("@"))
  );
}

/** Find a node by absolute path ("/chosen", "/reserved-memory"). */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let n: FdtNode | undefined = root;
  for (const part of path.split("/").filter((s) => s !== "")) {
    n = n?.children.find((c) => c.name === part);
    if (!n) return undefined;
  }
  return n;
}

/** The node at a top-level name, created (first among the children, as libfdt adds it) when missing. */
export function ensureChild(n: FdtNode, name: string): FdtNode {
  const found = n.children.find((c) => c.name === name);
  if (found) return found;
  const child: FdtNode = { name, props: [], children: [] };
  n.children.unshift(child);
  return child;
}

export function propString(p: FdtProp | undefined): string | undefined {
  if (!p) return undefined;
  const end = p.value.indexOf(0);
  return latin1(p.value, 0, end < 0 ? p.value.length : end);
}

export function stringValue(s: string): Uint8Array {
  const out = new Uint8Array(s.length + 1);
  out.set(latin1Bytes(s));
  return out;
}

export function propU32(p: FdtProp | undefined): number | undefined {
  if (p?.value.length !== 4) return undefined;
  return new DataView(p.value.buffer, p.value.byteOffset, 4).getUint32(0);
}

/** A 1- or 2-cell big-endian number (as linux,initrd-start may be either). */
export function propNumber(p: FdtProp | undefined): number | undefined {
  if (!p) return undefined;
  const v = new DataView(p.value.buffer, p.value.byteOffset, p.value.length);
  if (p.value.length === 4) return v.getUint32(0);
  if (p.value.length === 8) return v.getUint32(0) * 4294967296 + v.getUint32(4);
  return undefined;
}

// --- in-place edits of a blob ----------------------------------------------------------------------

/**
 * libfdt's fdt_delprop on a blob, in place: the property `name` of the node at `path` ("/chosen") is
 * cut out of the structure block and everything after it (the rest of the structure block and the
 * strings block) moves down (fdt_splice_struct_: memmove, off_dt_strings and size_dt_struct
 * adjusted). totalsize is not changed, and the bytes between the new end of the strings block and the
 * old one keep what they held before the move: the last bytes of the old strings block. Returns false
 * (blob unchanged) when the node or the property is not there, as fdt_delprop fails with
 * -FDT_ERR_NOTFOUND. The blob must be a version 17 tree (parseFdt's checks first).
 */
export function fdtDelpropInPlace(blob: Uint8Array, path: string, name: string): boolean {
  const hit = findInBlob(blob, path, name);
  if (hit?.prop === undefined) return false;
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const offStrings = v.getUint32(12);
  const cut = 12 + align4(v.getUint32(hit.prop + 4));
  blob.copyWithin(hit.prop, hit.prop + cut, offStrings + v.getUint32(32));
  v.setUint32(12, offStrings - cut);
  v.setUint32(36, v.getUint32(36) - cut);
  return true;
}

/**
 * Where the node at `path` starts its properties (right after its FDT_BEGIN_NODE tag and name: where libfdt
 * inserts a new property) and, when `name` is given and present, where that property's FDT_PROP tag is.
 * Undefined when the node is not there. The blob must be a version 17 tree.
 */
function findInBlob(
  blob: Uint8Array,
  path: string,
  name?: string,
): { body: number; prop?: number } | undefined {
  const v = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const offStruct = v.getUint32(8);
  const offStrings = v.getUint32(12);
  const structEnd = offStruct + v.getUint32(36);
  const want = path.split("/").filter((s) => s !== "");
  const nameAt = (off: number): string => {
    let end = off;
    while (end < blob.length && blob[end] !== 0) end++;
    return latin1(blob, off, end);
  };
  // The path of open nodes (names below the root) while walking the structure block.
  const open: string[] = [];
  const here = () => open.length === want.length && open.every((n, i) => n === want[i]);
  let body: number | undefined;
  let at = offStruct;
  while (at + 4 <= structEnd) {
    const tag = v.getUint32(at);
    if (tag === FDT_BEGIN_NODE) {
      const n = nameAt(at + 4);
      if (at !== offStruct) open.push(n);
      at = align4(at + 4 + n.length + 1);
      if (here()) body = at;
    } else if (tag === FDT_END_NODE) {
      if (here()) return body === undefined ? undefined : { body };
      open.pop();
      at += 4;
    } else if (tag === FDT_PROP) {
      if (
        name !== undefined &&
        here() &&
        nameAt(offStrings + v.getUint32(at + 8)) === name &&
        body !== undefined
      )
        return { body, prop: at };
      at += 12 + align4(v.getUint32(at + 4));
    } else if (tag === FDT_NOP) {
      at += 4;
    } else {
      break;
    }
  }
  return body === undefined ? undefined : { body };
}

/**
 * libfdt's fdt_setprop on the tree as it stands, byte for byte: an existing property is resized in place
 * (fdt_resize_property_: fdt_splice_struct_ memmoves what follows), a new one is spliced in first in the node
 * (fdt_add_property_); then the value is copied in and nothing else written, so a value that is not a multiple of
 * 4 bytes long is followed by the bytes that were at those offsets before the splice (the old value, or what
 * followed the old property, or the node's first bytes). Recorded: the kernel's kexec_file_load DTB on arm64
 * (drivers/of/kexec.c fdt_setprop_string of bootargs) carries a '0' of the next property's value after the new
 * command line. `path` names the node ("/chosen"); `strings` as Fdt.strings (the name joins it when new).
 */
export function fdtSetprop(fdt: Fdt, path: string, name: string, value: Uint8Array): void {
  const node = findNode(fdt.root, path);
  if (node === undefined) throw new Error(`fdtSetprop: no node ${path}`);
  const padLen = align4(value.length) - value.length;
  let pad: Uint8Array | undefined;
  if (padLen > 0) {
    const blob = serializeFdt(fdt);
    const hit = findInBlob(blob, path, name);
    if (hit !== undefined) {
      const data = (hit.prop ?? hit.body) + 12;
      pad = blob.slice(data + value.length, data + value.length + padLen);
    }
  }
  const p = getProp(node, name);
  if (p) p.value = value;
  else node.props.unshift({ name, value });
  const q = getProp(node, name)!;
  if (pad?.some((b) => b !== 0)) q.pad = pad;
  else delete q.pad;
  if (fdt.strings !== undefined && !fdt.strings.includes(`${name}\0`)) fdt.strings += `${name}\0`;
}
