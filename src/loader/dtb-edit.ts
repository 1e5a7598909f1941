/**
 * The DTB edits each loader makes before the DTB becomes a segment.
 *
 * kexec-tools (kexec/arch/arm64/kexec-arm64.c setup_2nd_dtb, kexec/dt-ops.c):
 *   - bootargs in /chosen set to the command line when one is given (/chosen created if missing),
 *     its value padded with NULs to a multiple of 4 (dtb_set_property's FDT_TAGALIGN);
 *   - kaslr-seed: when present it must be 0 (a running kernel wipes it after use), else the load
 *     fails; a zero seed is refilled with 8 random bytes;
 *   - crash loads: linux,elfcorehdr and linux,usable-memory-range in /chosen (#address-cells/#size-cells
 *     of the root);
 *   - linux,initrd-start / linux,initrd-end as 64-bit big-endian (end exclusive); without an initrd
 *     the running kernel's are deleted (dtb_clear_initrd) in place, after the packing: the blob keeps
 *     its totalsize and kexec-tools its dtb.size, so the segment is that many bytes longer than its
 *     content (DtbEditResult.beforeClear, clearInitrdInPlace).
 * kexec_file_load (drivers/of/kexec.c of_kexec_alloc_and_setup_fdt, arm64 load_other_segments):
 *   - the running kernel's FDT: the old initrd's /memreserve/ removed, linux,initrd-* replaced and an
 *     initrd /memreserve/ added; bootargs set (deleted when the command line is empty);
 *   - kaslr-seed (8 bytes) and rng-seed (128 bytes) set to fresh random bytes; linux,booted-from-kexec
 *     added; linux,elfcorehdr / linux,usable-memory-range for crash loads.
 * Random bytes come from a seeded generator so the same inputs give the same DTB.
 */

import { KexecLabError } from "../errors.js";
import { u64BeBytes } from "../formats/bytes.js";
import { cellsOf } from "../formats/devicetree.js";
import {
  cloneFdt,
  deleteProp,
  ensureChild,
  type Fdt,
  type FdtNode,
  fdtDelpropInPlace,
  fdtSetprop,
  getProp,
  propNumber,
  setProp,
  stringValue,
} from "../formats/fdt.js";

export const COMMAND_LINE_SIZE_ARM64 = 2048;
export const RNG_SEED_SIZE = 128;

/** splitmix32: a small deterministic byte source for seeds. */
export function seededBytes(seed: number, n: number, salt: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = (seed ^ Math.imul(salt, 0x9e3779b9)) >>> 0;
  for (let i = 0; i < n; i += 4) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (z >>> (8 * j)) & 0xff;
  }
  return out;
}

function cellsValue(value: number, cells: number): Uint8Array {
  const out = new Uint8Array(cells * 4);
  const b = u64BeBytes(value);
  if (cells >= 2) out.set(b, cells * 4 - 8);
  else out.set(b.subarray(4), 0);
  return out;
}

function rangeProp(root: FdtNode, start: number, size: number): Uint8Array {
  const { addressCells, sizeCells } = cellsOf(root);
  const a = cellsValue(start, addressCells);
  const s = cellsValue(size, sizeCells);
  const out = new Uint8Array(a.length + s.length);
  out.set(a);
  out.set(s, a.length);
  return out;
}

/** linux,usable-memory-range: each range as (address, size) cells, in order. */
function usableProp(
  root: FdtNode,
  c: { usable: { start: number; size: number }; moreUsable?: { start: number; size: number }[] },
): Uint8Array {
  const parts = [c.usable, ...(c.moreUsable ?? [])].map((r) => rangeProp(root, r.start, r.size));
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface DtbEditOptions {
  cmdline?: string;
  initrd?: { start: number; end: number };
  seed: number;
  /** kexec-tools: treat a non-zero kaslr-seed as wiped (as in /sys/firmware/fdt of a running kernel). */
  wipeKaslrSeed?: boolean;
  /** kexec_file_load: rng_is_initialized() (default true). */
  rngReady?: boolean;
  crash?: {
    elfcorehdr: { start: number; size: number };
    usable: { start: number; size: number };
    /** More linux,usable-memory-range entries after `usable` (kexec-tools 2.0.24+: every Crash kernel region). */
    moreUsable?: { start: number; size: number }[];
  };
  /**
   * kexec_file_load with KHO on (not crash): drivers/of/kexec.c kho_add_chosen writes /chosen
   * linux,kho-fdt (the KHO FDT page, PAGE_SIZE) and linux,kho-scratch (the scratch table segment's mem
   * and bufsz), each as (address, size) cells.
   */
  kho?: { fdt: { start: number; size: number }; scratch: { start: number; size: number } };
  file?: string;
}

export interface DtbEditResult {
  fdt: Fdt;
  notes: string[];
  /**
   * kexec-tools: the tree went through fdt_pack (every dtb_set_property packs, and setup_2nd_dtb packs
   * on its kaslr-seed and crash paths), so its totalsize is its content; otherwise the file's
   * totalsize (with its padding) is kept.
   */
  packed: boolean;
  /**
   * kexec-tools without an initrd, when the tree had linux,initrd-start/-end (a running kernel's
   * /sys/firmware/fdt after a boot with an initrd): the tree before dtb_clear_initrd. kexec-tools
   * (kexec/arch/arm64/kexec-arm64.c arm64_load_other_segments, kexec/dt-ops.c dtb_clear_initrd, both
   * 2.0.25 and 2.0.29) deletes the two properties with fdt_delprop on the packed blob and leaves
   * dtb.size alone, so the segment is this tree's size: serialize it, then clearInitrdInPlace.
   * Recorded: arm64-virt-4g-linux-{6.12,7.3}-noinitrd-kexec_load, dtb bufsz 0x1e82 where the
   * content is 0x1e62 (two 4-byte properties of 16 bytes each). `fdt` is the tree after the deletion.
   */
  beforeClear?: Fdt;
}

/**
 * fdt_setprop: set the property and, as libfdt's fdt_find_add_string does at that moment, append its
 * name to the strings block when no string there ends with it. libfdt adds names in the order the
 * properties are set, not in the order they sit in the tree (recorded: a crash load's
 * linux,elfcorehdr name comes before linux,usable-memory-range, though the latter is first in /chosen).
 * A tree built in memory (no strings block) gets its names when it is written.
 */
function setPropIn(fdt: Fdt, n: FdtNode, name: string, value: Uint8Array): void {
  setProp(n, name, value);
  if (fdt.strings !== undefined && !fdt.strings.includes(`${name}\0`)) fdt.strings += `${name}\0`;
}

/** dtb_set_property pads a property's value to FDT_TAGALIGN (4 bytes). */
function tagAligned(v: Uint8Array): Uint8Array {
  if (v.length % 4 === 0) return v;
  const out = new Uint8Array(v.length + 4 - (v.length % 4));
  out.set(v);
  return out;
}

export function editDtbKexecTools(src: Fdt, o: DtbEditOptions): DtbEditResult {
  const fdt = cloneFdt(src);
  const notes: string[] = [];
  if (o.cmdline !== undefined && o.cmdline.length > 0) {
    if (o.cmdline.length > COMMAND_LINE_SIZE_ARM64 - 1) {
      throw new KexecLabError(
        "E_CMDLINE_TOO_LONG",
        `the command line is ${o.cmdline.length} bytes; kexec-tools arm64 takes at most ${COMMAND_LINE_SIZE_ARM64 - 1} (COMMAND_LINE_SIZE ${COMMAND_LINE_SIZE_ARM64} with NUL)`,
        { field: "append" },
      );
    }
    setPropIn(fdt, ensureChild(fdt.root, "chosen"), "bootargs", tagAligned(stringValue(o.cmdline)));
  }
  const chosen = fdt.root.children.find((c) => c.name === "chosen");
  const kaslr = chosen && getProp(chosen, "kaslr-seed");
  if (chosen && kaslr && kaslr.value.length === 8) {
    const nonZero = kaslr.value.some((b) => b !== 0);
    if (nonZero && !o.wipeKaslrSeed) {
      throw new KexecLabError(
        "E_DTB_KASLR_SEED",
        'kexec-tools\' setup_2nd_dtb fails with "kaslr-seed is not wiped to 0": a running kernel zeroes it, a firmware or QEMU dump does not',
        { ...(o.file !== undefined ? { file: o.file } : {}), field: "/chosen/kaslr-seed" },
      );
    }
    setPropIn(fdt, chosen, "kaslr-seed", seededBytes(o.seed, 8, 1));
    notes.push(
      nonZero
        ? "kaslr-seed was non-zero: treated as wiped (--wipe-kaslr-seed), refilled with 8 seeded random bytes"
        : "kaslr-seed refilled with 8 seeded random bytes",
    );
  }
  if (o.crash) {
    const ch = ensureChild(fdt.root, "chosen");
    setPropIn(
      fdt,
      ch,
      "linux,elfcorehdr",
      rangeProp(fdt.root, o.crash.elfcorehdr.start, o.crash.elfcorehdr.size),
    );
    setPropIn(fdt, ch, "linux,usable-memory-range", usableProp(fdt.root, o.crash));
  }
  const chosenNow = fdt.root.children.find((c) => c.name === "chosen");
  const stale =
    !o.initrd &&
    chosenNow !== undefined &&
    (getProp(chosenNow, "linux,initrd-start") !== undefined ||
      getProp(chosenNow, "linux,initrd-end") !== undefined);
  const beforeClear = stale ? cloneFdt(fdt) : undefined;
  if (stale) notes.push(INITRD_CLEARED_NOTE);
  setInitrd(fdt, o.initrd);
  const packed =
    (o.cmdline !== undefined && o.cmdline.length > 0) ||
    (kaslr?.value.length ?? 0) === 8 ||
    !!o.crash ||
    !!o.initrd;
  return { fdt, notes, packed, ...(beforeClear ? { beforeClear } : {}) };
}

const INITRD_CLEARED_NOTE =
  "no initrd: the running kernel's linux,initrd-start/-end deleted in place (dtb_clear_initrd): the DTB segment keeps the size it had before, its last bytes unused";

/**
 * dtb_clear_initrd on the serialized blob: fdt_delprop of linux,initrd-start, then linux,initrd-end in
 * /chosen (fdtDelpropInPlace: the blob's length and totalsize stay, its content shrinks).
 */
export function clearInitrdInPlace(blob: Uint8Array): void {
  fdtDelpropInPlace(blob, "/chosen", "linux,initrd-start");
  fdtDelpropInPlace(blob, "/chosen", "linux,initrd-end");
}

/** dtb_set_initrd: linux,initrd-start/-end as u64 big-endian, or both deleted without an initrd. */
export function setInitrd(fdt: Fdt, initrd: { start: number; end: number } | undefined): void {
  if (initrd) {
    const ch = ensureChild(fdt.root, "chosen");
    setPropIn(fdt, ch, "linux,initrd-start", u64BeBytes(initrd.start));
    setPropIn(fdt, ch, "linux,initrd-end", u64BeBytes(initrd.end));
  } else {
    const ch = fdt.root.children.find((c) => c.name === "chosen");
    if (ch) {
      deleteProp(ch, "linux,initrd-start");
      deleteProp(ch, "linux,initrd-end");
    }
  }
}

/**
 * drivers/of/kexec.c of_kexec_alloc_and_setup_fdt, step by step (6.1 to 7.3 alike), with libfdt's placement of
 * each property: fdt_setprop of an existing property resizes it in place; of a new one inserts it first in
 * /chosen (fdt_add_property_ at the node's start); fdt_delprop splices it out; fdt_add_mem_rsv appends.
 *   1. linux,elfcorehdr and linux,usable-memory-range deleted;
 *   2. the running kernel's initrd /memreserve/ removed (its exact size, else rounded up to a page);
 *   3. linux,initrd-start/-end set in place (u64) and the new initrd reserved, or both deleted without one;
 *   4. crash: linux,elfcorehdr (first), its /memreserve/ (after the initrd's), linux,usable-memory-range;
 *   5. KHO: linux,kho-fdt and linux,kho-scratch deleted, then added (kho_add_chosen);
 *   6. bootargs set (in place) or deleted;
 *   7. kaslr-seed deleted, then added (so first in /chosen), rng-seed set (in place when the running kernel's
 *      is still there, else first), linux,booted-from-kexec added (first).
 * Recorded byte for byte (but the two random seeds) on the 2-node NUMA virt machine, normal and crash, with the
 * custom 6.12 and 7.3 kernels (test/recordings-new-fdt.test.ts).
 */
export function editDtbKexecFile(src: Fdt, o: DtbEditOptions): DtbEditResult {
  const fdt = cloneFdt(src);
  const notes: string[] = [];
  const ch = ensureChild(fdt.root, "chosen");
  const set = (name: string, value: Uint8Array) => fdtSetprop(fdt, "/chosen", name, value);
  deleteProp(ch, "linux,elfcorehdr");
  deleteProp(ch, "linux,usable-memory-range");
  // Drop the running kernel's initrd reservation: kexec reserves the exact size, firmware may round it to a page.
  const oldStart = propNumber(getProp(ch, "linux,initrd-start"));
  const oldEnd = propNumber(getProp(ch, "linux,initrd-end"));
  if (oldStart !== undefined && oldEnd !== undefined) {
    const size = oldEnd - oldStart;
    const at = (sz: number) => fdt.memreserve.findIndex((m) => m.address === oldStart && m.size === sz);
    let i = at(size);
    if (i < 0) i = at(Math.ceil(size / 4096) * 4096);
    if (i >= 0) {
      fdt.memreserve.splice(i, 1);
      notes.push("removed the running kernel's initrd /memreserve/");
    }
  }
  if (o.initrd) {
    set("linux,initrd-start", u64BeBytes(o.initrd.start));
    set("linux,initrd-end", u64BeBytes(o.initrd.end));
    fdt.memreserve.push({ address: o.initrd.start, size: o.initrd.end - o.initrd.start });
  } else {
    deleteProp(ch, "linux,initrd-start");
    deleteProp(ch, "linux,initrd-end");
  }
  if (o.crash) {
    set("linux,elfcorehdr", rangeProp(fdt.root, o.crash.elfcorehdr.start, o.crash.elfcorehdr.size));
    // fdt_add_mem_rsv: keep the kdump kernel off its own ELF core header.
    fdt.memreserve.push({ address: o.crash.elfcorehdr.start, size: o.crash.elfcorehdr.size });
    set("linux,usable-memory-range", usableProp(fdt.root, o.crash));
  }
  deleteProp(ch, "linux,kho-fdt");
  deleteProp(ch, "linux,kho-scratch");
  if (o.kho) {
    set("linux,kho-fdt", rangeProp(fdt.root, o.kho.fdt.start, o.kho.fdt.size));
    set("linux,kho-scratch", rangeProp(fdt.root, o.kho.scratch.start, o.kho.scratch.size));
  }
  if (o.cmdline !== undefined && o.cmdline.length > 0) set("bootargs", stringValue(o.cmdline));
  else deleteProp(ch, "bootargs");
  // kaslr-seed is deleted, then set again and rng-seed set only when rng_is_initialized(); else the
  // kernel prints 'RNG is not initialised: omitting "kaslr-seed" property' (and rng-seed).
  deleteProp(ch, "kaslr-seed");
  if (o.rngReady !== false) {
    set("kaslr-seed", seededBytes(o.seed, 8, 1));
    set("rng-seed", seededBytes(o.seed, RNG_SEED_SIZE, 2));
  } else {
    notes.push(
      "the random pool is not initialized: no kaslr-seed and no rng-seed (of_kexec_alloc_and_setup_fdt)",
    );
  }
  set("linux,booted-from-kexec", new Uint8Array(0));
  return { fdt, notes, packed: true };
}
