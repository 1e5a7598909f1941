import { describe, expect, it } from "vitest";
import { KEXEC_ARCH_AARCH64, KEXEC_ARCH_X86_64, KEXEC_PRESERVE_CONTEXT } from "../src/kimage/constants.js";
import { type LoadRequest, type SegmentRequest, validateLoad } from "../src/kimage/validate.js";

const GiB = 1n << 30n;
const seg = (mem: bigint, memsz: bigint, bufsz = memsz): SegmentRequest => ({ mem, memsz, bufsz });
const req = (segments: SegmentRequest[], extra: Partial<LoadRequest> = {}): LoadRequest => ({
  arch: "arm64",
  pageSize: 4096,
  ramBytes: 4n * GiB,
  segments,
  ...extra,
});

describe("validateLoad: the checks of kexec_load in the kernel's order", () => {
  it("accepts a plain load, and bufsz == memsz", () => {
    const v = validateLoad(req([seg(0x40000000n, 0x200000n), seg(0x40400000n, 0x1000n, 0x1000n)]));
    expect(v).toMatchObject({ ok: true, errno: null, check: "ok", segment: null });
  });

  it("zero segments is an unload, accepted", () => {
    expect(validateLoad(req([])).ok).toBe(true);
  });

  it("EPERM without CAP_SYS_BOOT, before anything else", () => {
    const v = validateLoad(req(new Array(17).fill(seg(1n, 1n)), { permitted: false }));
    expect(v).toMatchObject({ ok: false, errno: "EPERM", check: "permission" });
  });

  it("EINVAL for unknown flag bits, ignoring the arch field", () => {
    expect(validateLoad(req([seg(0x40000000n, 0x1000n)], { flags: 0x8 }))).toMatchObject({
      errno: "EINVAL",
      check: "flags",
    });
    expect(
      validateLoad(req([seg(0x40000000n, 0x1000n)], { flags: KEXEC_PRESERVE_CONTEXT | KEXEC_ARCH_AARCH64 }))
        .ok,
    ).toBe(true);
  });

  it("16 segments are fine, 17 are EINVAL", () => {
    const segs = (n: number) =>
      Array.from({ length: n }, (_, i) => seg(0x40000000n + BigInt(i) * 0x1000n, 0x1000n));
    expect(validateLoad(req(segs(16))).ok).toBe(true);
    expect(validateLoad(req(segs(17)))).toMatchObject({
      errno: "EINVAL",
      check: "nr_segments",
      segment: null,
    });
  });

  it("EINVAL for another architecture's arch field; the default (0) and own are accepted", () => {
    const one = [seg(0x40000000n, 0x1000n)];
    expect(validateLoad(req(one, { flags: KEXEC_ARCH_X86_64 }))).toMatchObject({
      errno: "EINVAL",
      check: "arch",
    });
    expect(validateLoad(req(one, { flags: KEXEC_ARCH_AARCH64 })).ok).toBe(true);
    expect(validateLoad(req(one, { arch: "x86_64", flags: KEXEC_ARCH_X86_64 })).ok).toBe(true);
  });

  it("nr_segments is checked before the arch field", () => {
    const segs = Array.from({ length: 17 }, (_, i) => seg(BigInt(i) * 0x1000n, 0x1000n));
    expect(validateLoad(req(segs, { flags: KEXEC_ARCH_X86_64 })).check).toBe("nr_segments");
  });

  it("EADDRNOTAVAIL when mem + memsz wraps past 2^64", () => {
    const v = validateLoad(req([seg(0xfffffffffffff000n, 0x2000n, 0n)]));
    expect(v).toMatchObject({ errno: "EADDRNOTAVAIL", check: "segment_alignment", segment: 0 });
    expect(v.reason).toMatch(/wraps/);
  });

  it("a segment ending exactly at 2^64 wraps to 0 and is refused", () => {
    expect(validateLoad(req([seg(0xfffffffffffff000n, 0x1000n, 0n)])).errno).toBe("EADDRNOTAVAIL");
  });

  it("EADDRNOTAVAIL for unaligned start or end, naming the segment", () => {
    expect(validateLoad(req([seg(0x40000000n, 0x1000n), seg(0x40001800n, 0x1000n)]))).toMatchObject({
      errno: "EADDRNOTAVAIL",
      segment: 1,
    });
    expect(validateLoad(req([seg(0x40000000n, 0x1800n, 0x100n)]))).toMatchObject({
      errno: "EADDRNOTAVAIL",
      segment: 0,
    });
    // 64K pages: a 4K-aligned segment is not page-aligned.
    expect(validateLoad(req([seg(0x40001000n, 0x10000n)], { pageSize: 65536 })).errno).toBe("EADDRNOTAVAIL");
  });

  it("x86_64 refuses destinations at or above MAXMEM - 1 (2^46 with 4-level paging)", () => {
    const high = [seg((1n << 46n) - 0x2000n, 0x1000n)];
    expect(validateLoad(req(high, { arch: "x86_64", ramBytes: 1n << 40n })).ok).toBe(true);
    const over = [seg((1n << 46n) - 0x1000n, 0x1000n)];
    expect(validateLoad(req(over, { arch: "x86_64", ramBytes: 1n << 40n })).errno).toBe("EADDRNOTAVAIL");
    expect(validateLoad(req(over, { arch: "x86_64", ramBytes: 1n << 40n, x86Levels: 5 })).ok).toBe(true);
  });

  it("EINVAL for overlapping segments (half-open), naming the later one", () => {
    const v = validateLoad(
      req([seg(0x40000000n, 0x2000n), seg(0x50000000n, 0x1000n), seg(0x40001000n, 0x1000n)]),
    );
    expect(v).toMatchObject({ errno: "EINVAL", check: "segment_overlap", segment: 2 });
    // touching is not overlapping
    expect(validateLoad(req([seg(0x40000000n, 0x2000n), seg(0x40002000n, 0x1000n)])).ok).toBe(true);
  });

  it("zero-size segments: fine on their own, overlapping when strictly inside another", () => {
    expect(validateLoad(req([seg(0x40000000n, 0n), seg(0x40000000n, 0x1000n)])).ok).toBe(true);
    expect(validateLoad(req([seg(0x40000000n, 0x2000n), seg(0x40001000n, 0n)]))).toMatchObject({
      check: "segment_overlap",
    });
  });

  it("EINVAL when bufsz > memsz", () => {
    expect(validateLoad(req([seg(0x40000000n, 0x1000n, 0x1001n)]))).toMatchObject({
      errno: "EINVAL",
      check: "segment_bufsz",
      segment: 0,
    });
  });

  it("passes run in order: an overlap is found before a later segment's bufsz", () => {
    const v = validateLoad(req([seg(0x40000000n, 0x1000n, 0x2000n), seg(0x40000000n, 0x1000n)]));
    expect(v.check).toBe("segment_overlap");
  });

  it("alignment (pass 1) is found before an overlap (pass 2) in an earlier segment", () => {
    const v = validateLoad(
      req([seg(0x40000000n, 0x2000n), seg(0x40001000n, 0x1000n), seg(0x40003001n, 0x1000n)]),
    );
    expect(v).toMatchObject({ check: "segment_alignment", segment: 2 });
  });

  it("exactly half of RAM is fine, one page more is EINVAL", () => {
    const ram = 4n * GiB;
    const half = ram / 2n;
    expect(validateLoad(req([seg(0x40000000n, half)], { ramBytes: ram })).ok).toBe(true);
    expect(validateLoad(req([seg(0x40000000n, half + 0x1000n)], { ramBytes: ram }))).toMatchObject({
      errno: "EINVAL",
      check: "segment_pages",
      segment: 0,
    });
  });

  it("the sum over segments counts too, naming the segment that tips it", () => {
    const ram = 4n * GiB;
    const v = validateLoad(
      req([seg(0x40000000n, GiB), seg(0x100000000n, GiB), seg(0x200000000n, 0x1000n)], { ramBytes: ram }),
    );
    expect(v).toMatchObject({ errno: "EINVAL", check: "segment_pages", segment: 2 });
  });

  it("odd page counts: nr_pages / 2 rounds down", () => {
    const ram = 3n * 4096n; // 3 pages -> at most 1
    expect(validateLoad(req([seg(0n, 4096n)], { ramBytes: ram })).ok).toBe(true);
    expect(validateLoad(req([seg(0n, 8192n)], { ramBytes: ram })).ok).toBe(false);
  });

  it("crash loads: entry and every segment must lie in the crash region (end inclusive)", () => {
    const crash = { start: 0x80000000n, end: 0x8fffffffn };
    expect(validateLoad(req([seg(0x80000000n, 0x1000n)], { crash })).ok).toBe(true);
    expect(validateLoad(req([seg(0x8ffff000n, 0x1000n)], { crash, entry: 0x8ffff000n })).ok).toBe(true);
    expect(validateLoad(req([seg(0x80000000n, 0x1000n)], { crash, entry: 0x90000000n }))).toMatchObject({
      errno: "EADDRNOTAVAIL",
      check: "crash_entry",
    });
    expect(
      validateLoad(
        req([seg(0x80000000n, 0x1000n), seg(0x8ffff000n, 0x2000n)], { crash, entry: 0x80000000n }),
      ),
    ).toMatchObject({
      errno: "EADDRNOTAVAIL",
      check: "crash_region",
      segment: 1,
    });
  });
});
