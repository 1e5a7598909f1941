/**
 * Where a kernel with KHO (CONFIG_KEXEC_HANDOVER, 6.16+) reserves its KHO scratch areas at boot, on a
 * memblock model. Browser-safe.
 *
 * Rules (kernel/liveupdate/kexec_handover.c of 7.x, kernel/kexec_handover.c before; mm/memblock.c):
 * - kho= (early_param, kstrtobool: y/Y/t/T/1, n/N/f/F/0, "on"/"off") turns KHO on; default off
 *   (CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT). A kdump kernel and the second kernel of a KHO kexec (which
 *   reuses the scratch table it was handed) reserve nothing.
 * - kho_scratch= (kho_parse_scratch_size, one early_param per occurrence, in order): "N%" sets the scale
 *   (kstrtouint, at most 10 digits); "l,g,n" (memparse each: K M G T P E suffixes, 0x / 0 prefixes) sets
 *   the lowmem, global and per-node sizes and the scale to 0; a malformed value or three zeros is
 *   rejected and changes nothing. Default: scale 200 (percent).
 * - scratch_size_update: with a scale, lowmem = kern(ARCH_LOW_ADDRESS_LIMIT) x scale / 100 and global =
 *   kern(anywhere) x scale / 100 - lowmem, where kern(limit) is memblock_reserved_kern_size minus
 *   memblock_reserved_hugetlb_size: the bytes of memblock.reserved regions flagged RSRV_KERN (memblock's
 *   own allocations, not memblock_reserve of the image, initrd or DTB), a region crossing the limit
 *   counted up to it; both rounded up to SCRATCH_ALIGNMENT_BYTES (PAGE_SIZE << MAX_PAGE_ORDER: 4 MiB
 *   with 4 KiB pages and order 10).
 * - kho_reserve_scratch, in this order, each a top-down memblock allocation that reserves RSRV_KERN:
 *   the table (nodes with memory + 2 entries of 16 bytes, PAGE_SIZE aligned, memblock_alloc); lowmem in
 *   [0, ARCH_LOW_ADDRESS_LIMIT) (memblock_phys_alloc_range); global anywhere below memblock.current_limit
 *   (memblock_phys_alloc); then for each node with memory, ascending, scratch_size_node(nid) on that node
 *   only (memblock_alloc_range_nid exact_nid): the scale applied to that node's kern bytes at that
 *   moment (so the areas reserved just before count) or the per-node size, rounded up the same way.
 *   A size of 0 still gets an address (the top of the highest free range, rounded down) and reserves
 *   nothing. The first failure frees every area, disables KHO and prints "Failed to reserve ...".
 * - the top-down search (memblock_find_in_range_node -> __memblock_find_range_top_down): start raised to
 *   PAGE_SIZE; for each free range from the top (memory not NOMAP, minus every reserved region),
 *   clamped to [start, end): candidate = round_down(range end - size, align), taken when not below the
 *   clamped range start. ARCH_LOW_ADDRESS_LIMIT is arm64_dma_phys_limit - 1 on arm64 (the whole
 *   physical space when the kernel has no ZONE_DMA/DMA32), 0xffffffff elsewhere; as an end it is
 *   exclusive, so a lowmem area never ends exactly at the limit.
 *
 * The functions are 7.3.4's (Debian's linux-source-7.3). Other upstream versions of scratch_size_update
 * return early for explicit sizes (lowmem and global not rounded), round to CMA_MIN_ALIGNMENT_BYTES and do not
 * subtract RSV_HUGETLB; that form is not modelled.
 *
 * Recorded: the four arm64-virt-4g-linux-7.3-custom-kho* cases (custom 7.3.4 kernel, one node, no
 * ZONE_DMA): every area, default scale and kho_scratch=l,g,n alike (test/kho-reserve.test.ts). Several
 * nodes, ZONE_DMA limits, a scale given as N%, failures and kernels 6.16-7.2 are from source, not yet
 * recorded.
 */

import { type Range, RangeSet } from "../machine/ranges.js";

const U64 = 2n ** 64n;

/** One memblock region as /sys/kernel/debug/memblock/{memory,reserved} prints it (7.x: with nid and flags). */
export interface MemblockRegion extends Range {
  /** the node id column; -1 for 'x' (NUMA_NO_NODE) or when the dump has no column */
  nid: number;
  /** flag names: NONE, RSV_KERN, RSV_HUGETLB, NOMAP, HOTPLUG, MIRROR, ... */
  flags: readonly string[];
}

const LINE =
  /^\s*\d+:\s*(?:0x)?([0-9a-fA-F]+)\s*\.\.\s*(?:0x)?([0-9a-fA-F]+)(?:\s+(-?\d+|x))?(?:\s+([A-Z_|]+))?\s*$/;

/**
 * A memblock debugfs dump with its nid and flags columns ("   4: 0x..13ac00000..0x..13f5fffff    0 RSV_KERN",
 * end inclusive). Lines that are not regions are skipped; a dump without flags (before 6.x) gives
 * regions without RSV_KERN, from which no scale can be computed.
 */
export function parseMemblockRegions(text: string): MemblockRegion[] {
  const out: MemblockRegion[] = [];
  for (const l of text.split("\n")) {
    const m = LINE.exec(l);
    if (!m) continue;
    const start = Number.parseInt(m[1]!, 16);
    const end = Number.parseInt(m[2]!, 16) + 1;
    const nid = m[3] === undefined || m[3] === "x" ? -1 : Number(m[3]);
    out.push({ start, end, nid, flags: m[4] === undefined ? [] : m[4].split("|") });
  }
  return out;
}

/** kstrtobool as early_param("kho") reads it; undefined when the value is not a boolean. */
export function kstrtobool(s: string): boolean | undefined {
  const c = s[0];
  if (c === "y" || c === "Y" || c === "t" || c === "T" || c === "1") return true;
  if (c === "n" || c === "N" || c === "f" || c === "F" || c === "0") return false;
  if (c === "o" || c === "O") {
    const d = s[1];
    if (d === "n" || d === "N") return true;
    if (d === "f" || d === "F") return false;
  }
  return undefined;
}

/** The words of a kernel command line (no quoting beyond plain spaces, as these two options need). */
function words(cmdline: string): string[] {
  return cmdline.split(/\s+/).filter((w) => w !== "");
}

/** Whether kho= on this command line leaves KHO on (the last valid kho= wins). */
export function khoEnabledBy(cmdline: string, enableDefault = false): boolean {
  let on = enableDefault;
  for (const w of words(cmdline)) {
    if (!w.startsWith("kho=")) continue;
    const v = kstrtobool(w.slice(4));
    if (v !== undefined) on = v;
  }
  return on;
}

const SUFFIX: Record<string, number> = { k: 10, m: 20, g: 30, t: 40, p: 50, e: 60 };

/** memparse: a simple_strtoull(base 0) number and an optional K/M/G/T/P/E suffix; undefined if no digits. */
export function memparse(s: string): { value: number; rest: string } | undefined {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtTpPeE]?)/.exec(s);
  if (!m) return undefined;
  const digits = m[1]!;
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === "0") v = BigInt(`0o${digits.slice(1)}`);
  else v = BigInt(digits);
  const shift = m[2] ? SUFFIX[m[2].toLowerCase()]! : 0;
  v = (v << BigInt(shift)) % U64;
  return { value: Number(v), rest: s.slice(m[0].length) };
}

/** What the kho_scratch= options leave set. */
export interface KhoScratchParam {
  /** percent of the kern bytes; 0 when explicit sizes were given */
  scale: number;
  lowmem: number;
  global: number;
  pernode: number;
  /** the kernel's own notices ("KHO: scratch areas: lowmem: 64MiB ...") and rejected values */
  messages: string[];
}

/** kho_parse_scratch_size over every kho_scratch= of the command line, in order. */
export function parseKhoScratchParam(cmdline: string): KhoScratchParam {
  const p: KhoScratchParam = { scale: 200, lowmem: 0, global: 0, pernode: 0, messages: [] };
  for (const w of words(cmdline)) {
    if (!w.startsWith("kho_scratch=")) continue;
    const v = w.slice("kho_scratch=".length);
    const bad = () => p.messages.push(`Malformed early option 'kho_scratch' (${w}): ignored`);
    if (v === "") {
      bad();
      continue;
    }
    if (v.endsWith("%")) {
      const digits = v.slice(0, -1);
      // kstrtouint base 10: an optional '+', digits, an optional trailing newline; fits in 32 bits
      const m = /^\+?([0-9]+)$/.exec(digits);
      if (v.length > 11 || !m || Number(m[1]) > 0xffffffff) {
        bad();
        continue;
      }
      p.scale = Number(m[1]);
      p.messages.push(`KHO: scratch scale is ${p.scale}%`);
      continue;
    }
    let rest = v;
    const sizes: number[] = [];
    let ok = true;
    for (let i = 0; i < 3 && ok; i++) {
      if (i > 0) {
        if (rest[0] !== ",") ok = false;
        else rest = rest.slice(1);
      }
      const n = ok ? memparse(rest) : undefined;
      if (n === undefined) ok = false;
      else {
        sizes.push(n.value);
        rest = n.rest;
      }
    }
    if (!ok || rest !== "" || sizes.every((x) => x === 0)) {
      bad();
      continue;
    }
    [p.lowmem, p.global, p.pernode] = sizes as [number, number, number];
    p.scale = 0;
    const mib = (x: number) => Math.floor(x / 2 ** 20);
    p.messages.push(
      `KHO: scratch areas: lowmem: ${mib(p.lowmem)}MiB global: ${mib(p.global)}MiB pernode: ${mib(p.pernode)}MiB`,
    );
  }
  return p;
}

export type KhoScratchKind = "lowmem" | "global" | "node";

/** One scratch area in the kernel's index order. */
export interface KhoScratchArea extends Range {
  kind: KhoScratchKind;
  /** the node of a per-node area */
  nid?: number;
}

export interface KhoReserveInput {
  /** memblock.memory (nid per region; NOMAP regions are never allocated from) */
  memory: readonly MemblockRegion[];
  /** memblock.reserved at the time of kho_memory_init (mm_core_init), with RSV_KERN / RSV_HUGETLB flags */
  reserved: readonly MemblockRegion[];
  /** the running kernel's command line (kho=, kho_scratch=) */
  cmdline: string;
  /** ARCH_LOW_ADDRESS_LIMIT (arm64: arm64_dma_phys_limit - 1; x86_64 and others: 0xffffffff) */
  lowLimit: number;
  /** memblock.current_limit (default: no limit, MEMBLOCK_ALLOC_ANYWHERE, as arm64 leaves it) */
  currentLimit?: number;
  pageSize?: number;
  /** MAX_PAGE_ORDER (default 10: CONFIG_ARCH_FORCE_MAX_ORDER of 4 KiB-page arm64 and x86_64) */
  maxOrder?: number;
  /** CONFIG_NUMA: regions reserved for NUMA_NO_NODE belong to no node (without NUMA every region is node 0) */
  numa?: boolean;
  /** CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT */
  enableDefault?: boolean;
  /**
   * The table is already in `reserved` (a booted host's dump): it is not allocated again, and its bytes are
   * taken off the kern count the lowmem and global sizes see (they were computed before it was allocated).
   */
  tableInDump?: boolean;
}

export interface KhoReserveResult {
  /** kho= left KHO on */
  enabled: boolean;
  /** the areas in index order (lowmem, global, one per node), empty when disabled or failed */
  areas: KhoScratchArea[];
  /** the struct kho_scratch table (16 bytes per area) */
  table?: Range;
  param: KhoScratchParam;
  /** SCRATCH_ALIGNMENT_BYTES */
  align: number;
  /** the kern bytes the scale was applied to: below ARCH_LOW_ADDRESS_LIMIT, and anywhere */
  kern?: { low: number; all: number };
  /** the kernel's error line when an allocation failed ("Failed to reserve lowmem scratch buffer") */
  failure?: string;
  source: string;
}

const SOURCE =
  "kernel/liveupdate/kexec_handover.c kho_parse_scratch_size, scratch_size_update, scratch_size_node, kho_reserve_scratch; mm/memblock.c memblock_alloc_range_nid, __memblock_find_range_top_down, memblock_reserved_kern_size";

/** (x * scale / 100) in u64 arithmetic, as phys_addr_t does it. */
function scaled(x: number, scale: number): number {
  return Number(((BigInt(x) * BigInt(scale)) % U64) / 100n);
}

function roundUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

interface Reserved {
  start: number;
  end: number;
  /** node as memblock_get_region_node answers at the time (-1: NUMA_NO_NODE) */
  nid: number;
  kern: boolean;
  hugetlb: boolean;
}

class Memblock {
  readonly reserved: Reserved[];
  constructor(
    private readonly memory: readonly MemblockRegion[],
    reserved: readonly MemblockRegion[],
    private readonly numa: boolean,
    private readonly pageSize: number,
    private readonly currentLimit: number,
  ) {
    this.reserved = reserved.map((r) => ({
      start: r.start,
      end: r.end,
      nid: numa ? r.nid : 0,
      kern: r.flags.includes("RSV_KERN"),
      hugetlb: r.flags.includes("RSV_HUGETLB"),
    }));
    this.reserved.sort((a, b) => a.start - b.start);
  }

  /** memblock_reserved_kern_size - memblock_reserved_hugetlb_size (limit: the highest address counted, exclusive end as the kernel clips). */
  kern(limit: number, nid: number | undefined): number {
    let total = 0;
    for (const r of this.reserved) {
      if (r.start > limit) break;
      const size = r.end > limit ? limit - r.start : r.end - r.start;
      if (nid !== undefined && r.nid !== nid) continue;
      if (r.kern) total += size;
      if (r.hugetlb) total -= size;
    }
    return total;
  }

  private free(nid: number | undefined): readonly Range[] {
    const mem = this.memory.filter(
      (m) => !m.flags.includes("NOMAP") && (nid === undefined || (this.numa ? m.nid : 0) === nid),
    );
    return new RangeSet(mem).subtract(this.reserved).ranges;
  }

  /** memblock_alloc_range_nid, top-down; 0 when nothing fits. */
  alloc(
    size: number,
    align: number,
    start: number,
    end: number | undefined,
    nid: number | undefined,
  ): number {
    const free = this.free(nid);
    const lo = Math.max(start, this.pageSize);
    const hi = Math.max(lo, end ?? this.currentLimit);
    for (let i = free.length - 1; i >= 0; i--) {
      const r = free[i]!;
      const s = Math.min(Math.max(r.start, lo), hi);
      const e = Math.min(Math.max(r.end, lo), hi);
      if (e < size) continue;
      const cand = Math.floor((e - size) / align) * align;
      if (cand >= s) {
        if (cand !== 0 && size > 0) {
          const rnid = nid ?? (this.numa ? -1 : 0);
          this.reserved.push({ start: cand, end: cand + size, nid: rnid, kern: true, hugetlb: false });
          this.reserved.sort((a, b) => a.start - b.start);
        }
        return cand;
      }
    }
    return 0;
  }
}

/** The nodes with memory (N_MEMORY), ascending: every nid of memblock.memory (0 without NUMA). */
function memoryNodes(memory: readonly MemblockRegion[], numa: boolean): number[] {
  if (!numa) return [0];
  return [...new Set(memory.map((m) => m.nid).filter((n) => n >= 0))].sort((a, b) => a - b);
}

/** kho_reserve_scratch on this memblock state: where the areas go, or why there are none. */
export function khoReserveScratch(input: KhoReserveInput): KhoReserveResult {
  const pageSize = input.pageSize ?? 4096;
  const align = pageSize * 2 ** (input.maxOrder ?? 10);
  const numa = input.numa ?? new Set(input.memory.map((m) => m.nid).filter((n) => n >= 0)).size > 1;
  const param = parseKhoScratchParam(input.cmdline);
  const base = { param, align, source: SOURCE };
  if (!khoEnabledBy(input.cmdline, input.enableDefault ?? false))
    return { enabled: false, areas: [], ...base };
  const mb = new Memblock(
    input.memory,
    input.reserved,
    numa,
    pageSize,
    input.currentLimit ?? Number.POSITIVE_INFINITY,
  );
  const nodesWithMemory = memoryNodes(input.memory, numa);
  const tableSize = (nodesWithMemory.length + 2) * 16;
  const adjust = input.tableInDump ? tableSize : 0;
  let lowmem = param.lowmem;
  let global = param.global;
  let kern: { low: number; all: number } | undefined;
  if (param.scale !== 0) {
    kern = {
      low: mb.kern(input.lowLimit, undefined) - adjust,
      all: mb.kern(Number.POSITIVE_INFINITY, undefined) - adjust,
    };
    lowmem = scaled(kern.low, param.scale);
    global = scaled(kern.all, param.scale) - lowmem;
  }
  lowmem = roundUp(lowmem, align);
  global = roundUp(global, align);
  const nodes = nodesWithMemory;
  const fail = (failure: string): KhoReserveResult => ({
    enabled: false,
    areas: [],
    ...base,
    ...(kern ? { kern } : {}),
    failure,
  });
  let table: Range | undefined;
  if (!input.tableInDump) {
    const tableAt = mb.alloc(tableSize, pageSize, 0, undefined, undefined);
    if (tableAt === 0) return fail("Failed to reserve scratch array");
    table = { start: tableAt, end: tableAt + tableSize };
  }
  const areas: KhoScratchArea[] = [];
  const lo = mb.alloc(lowmem, align, 0, input.lowLimit, undefined);
  if (lo === 0) return fail("Failed to reserve lowmem scratch buffer");
  areas.push({ start: lo, end: lo + lowmem, kind: "lowmem" });
  const gl = mb.alloc(global, align, 0, undefined, undefined);
  if (gl === 0) return fail("Failed to reserve global scratch buffer");
  areas.push({ start: gl, end: gl + global, kind: "global" });
  for (const nid of nodes) {
    const size =
      param.scale !== 0
        ? roundUp(scaled(mb.kern(Number.POSITIVE_INFINITY, nid), param.scale), align)
        : roundUp(param.pernode, align);
    const at = mb.alloc(size, align, 0, undefined, nid);
    if (at === 0) return fail(`Failed to reserve nid ${nid} scratch buffer`);
    areas.push({ start: at, end: at + size, kind: "node", nid });
  }
  return { enabled: true, areas, ...(table ? { table } : {}), ...base, ...(kern ? { kern } : {}) };
}

export interface KhoBootedResult extends KhoReserveResult {
  /** the block of memblock.reserved taken as the scratch areas (what the dump holds beyond the boot before KHO) */
  block?: Range;
  notes: string[];
}

/**
 * The scratch areas of a host that booted with KHO on, from its memblock dump, when kho-scratch.txt
 * (debugfs kho/out/scratch_*) is missing. The dump already holds the areas (RSV_KERN regions), so the
 * state before kho_reserve_scratch is rebuilt: the areas are allocated top-down one after the other,
 * so they form one block at the bottom of a kern region; for each kern region from the top and each
 * block size (the explicit sizes, or every multiple of the alignment for a scale), the block is taken
 * out and kho_reserve_scratch run again; the first run whose areas tile exactly that block is the
 * answer. The table (16 bytes per area) stays where the dump has it (not allocated again); its bytes are taken
 * off the kern count the lowmem and global sizes see.
 * Allocations made after mm_core_init (rare) stay in and count. Undefined areas (notes say why) when
 * no block is self-consistent.
 */
export function khoScratchFromBootedMemblock(input: Omit<KhoReserveInput, "tableInDump">): KhoBootedResult {
  const notes: string[] = [];
  const param = parseKhoScratchParam(input.cmdline);
  const first = khoReserveScratch(input);
  if (!first.enabled && first.failure === undefined) return { ...first, notes };
  const numa = input.numa ?? new Set(input.memory.map((m) => m.nid).filter((n) => n >= 0)).size > 1;
  const nodes = memoryNodes(input.memory, numa);
  const tableSize = (nodes.length + 2) * 16;
  const align = first.align;
  const kernRegions = new RangeSet(input.reserved.filter((r) => r.flags.includes("RSV_KERN"))).ranges;
  const explicit =
    param.scale === 0
      ? roundUp(param.lowmem, align) +
        roundUp(param.global, align) +
        nodes.length * roundUp(param.pernode, align)
      : undefined;
  // Without NUMA the sizes a block would give are cheap to compute (kern bytes less the block and the table;
  // the node area counts the table, lowmem and global): only blocks whose sizes add up to them are re-run.
  const booted = new Memblock(
    input.memory,
    input.reserved,
    numa,
    input.pageSize ?? 4096,
    input.currentLimit ?? Number.POSITIVE_INFINITY,
  );
  const kernLow = booted.kern(input.lowLimit, undefined);
  const kernAll = booted.kern(Number.POSITIVE_INFINITY, undefined);
  const sizesAddUp = (block: Range): boolean => {
    if (explicit !== undefined || numa) return true;
    const t = block.end - block.start;
    const lowPart = Math.max(0, Math.min(block.end, input.lowLimit) - block.start);
    const low = scaled(kernLow - lowPart - tableSize, param.scale);
    const l = roundUp(low, align);
    const g = roundUp(scaled(kernAll - t - tableSize, param.scale) - low, align);
    const n = roundUp(scaled(kernAll - t + l + g, param.scale), align);
    return l + g + n === t;
  };
  for (let i = kernRegions.length - 1; i >= 0; i--) {
    const r = kernRegions[i]!;
    const sizes: number[] = [];
    if (explicit !== undefined) sizes.push(explicit);
    else for (let t = align; t <= r.end - r.start && sizes.length < 65536; t += align) sizes.push(t);
    for (const t of sizes) {
      if (t > r.end - r.start) continue;
      const block = { start: r.start, end: r.start + t };
      if (!sizesAddUp(block)) continue;
      const reserved = input.reserved.flatMap((x) =>
        new RangeSet([x]).subtract([block]).ranges.map((y) => ({ ...x, start: y.start, end: y.end })),
      );
      const run = khoReserveScratch({ ...input, reserved, tableInDump: true });
      if (!run.enabled) continue;
      const covered = new RangeSet(run.areas.filter((a) => a.end > a.start));
      const total = run.areas.reduce((s, a) => s + (a.end - a.start), 0);
      if (
        total === t &&
        covered.size === 1 &&
        covered.ranges[0]!.start === block.start &&
        covered.ranges[0]!.end === block.end
      ) {
        notes.push(
          `KHO scratch areas rebuilt from memblock.reserved (no kho-scratch.txt): the ${t / 2 ** 20} MiB at the bottom of the RSV_KERN region 0x${r.start.toString(16)}-0x${(r.end - 1).toString(16)} re-run as kho_reserve_scratch would place them`,
        );
        return { ...run, block, notes };
      }
    }
  }
  notes.push(
    "KHO is on but no block of memblock.reserved reproduces itself as the scratch areas: give them with --kho-scratch (debugfs kho/out/scratch_phys, scratch_len)",
  );
  return { ...first, enabled: true, areas: [], notes };
}
