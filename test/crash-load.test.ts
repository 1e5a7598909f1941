/**
 * The crash load with several "Crash kernel" regions (src/crash/choose.ts, hooked into
 * src/loader/memory.ts crashRegionFor and the kernel's crashk_res check in planLoad): kexec-tools
 * (2.0.11+ on x86, 2.0.24+ on arm64) and kexec_file_load place into the highest region, the main
 * reservation crashk_res, even when the low one is larger; a load forced into the low one is refused
 * with EADDRNOTAVAIL as sanity_check_segment_list refuses it.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { parseFdt } from "../src/formats/fdt.js";
import { arm64Header, bzImageHeader } from "../src/formats/synth.js";
import { planLoad } from "../src/loader/plan.js";

const MiB = 2 ** 20;
const REC = join(import.meta.dirname, "fixtures/recordings/x86_64-q35-8g-crash-high-kexec_load");
// The recorded 8 GiB q35 machine with crashkernel=512M,high, its low part made larger than the main
// region: 0x40000000-0x7dffffff (992 MiB) below 4 GiB, 0x25f000000-0x27effffff (512 MiB) above.
const IOMEM = readFileSync(join(REC, "iomem.txt"), "utf8").replace(
  "6e000000-7dffffff : Crash kernel",
  "40000000-7dffffff : Crash kernel",
);
const LOW = { start: 0x40000000, end: 0x7e000000 };
const HIGH = { start: 0x25f000000, end: 0x27f000000 };
const BZ = bzImageHeader({ initSize: 40 * MiB }, 8 * MiB);
const INITRD = new Uint8Array(20 * MiB);

describe("two Crash kernel regions, the low one larger", () => {
  test("x86_64 kexec_load (kexec-tools 2.0.25): every segment in the highest region, accepted", () => {
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-tools",
      kernel: BZ,
      initrd: INITRD,
      iomem: IOMEM,
      crash: true,
      kexecToolsVersion: "2.0.25",
      cpus: 2,
      acpiRsdp: 0xf5a10,
    });
    expect(p.crashRegion).toEqual(HIGH);
    for (const s of p.segments) {
      expect(s.mem).toBeGreaterThanOrEqual(HIGH.start);
      expect(s.mem + s.memsz).toBeLessThanOrEqual(HIGH.end);
    }
    expect(p.verdict.ok).toBe(true);
  });

  test("kexec_file_load: crashk_res, the highest region", () => {
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-file",
      kernel: BZ,
      initrd: INITRD,
      iomem: IOMEM,
      crash: true,
      cpus: 2,
    });
    expect(p.crashRegion).toEqual(HIGH);
  });

  test("a load forced into the low region is refused with EADDRNOTAVAIL (crash segments outside crashk_res)", () => {
    const p = planLoad({
      arch: "x86_64",
      loader: "kexec-tools",
      kernel: BZ,
      initrd: INITRD,
      iomem: IOMEM,
      crash: true,
      crashRegion: LOW,
      kexecToolsVersion: "2.0.25",
      cpus: 2,
      acpiRsdp: 0xf5a10,
    });
    expect(p.verdict.ok).toBe(false);
    expect(p.verdict.errno).toBe("EADDRNOTAVAIL");
  });

  test("kexec-tools before 2.0.11 reads one region only", () => {
    const e = (() => {
      try {
        planLoad({
          arch: "x86_64",
          loader: "kexec-tools",
          kernel: BZ,
          iomem: IOMEM,
          crash: true,
          kexecToolsVersion: "2.0.10",
        });
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(KexecLabError);
    expect((e as KexecLabError).detail).toMatch(/one "Crash kernel" region.*since 2\.0\.11/);
  });

  test("arm64 kexec_load: the highest region too", () => {
    const iomem = [
      "40000000-13fffffff : System RAM",
      "  40210000-41bfffff : Kernel code",
      "  41c00000-4200ffff : Kernel data",
      "  60000000-9fffffff : Crash kernel",
      "  130000000-137ffffff : Crash kernel",
      "",
    ].join("\n");
    const image = arm64Header({ imageSize: 16 * MiB }, 4 * MiB);
    const dtb = new Uint8Array(
      readFileSync(join(import.meta.dirname, "fixtures/recordings/arm64-virt-4g-crash-kexec_load/fdt.dtb")),
    );
    const p = planLoad({
      arch: "arm64",
      loader: "kexec-tools",
      kernel: image,
      dtb,
      wipeKaslrSeed: true,
      iomem,
      crash: true,
      kexecToolsVersion: "2.0.25",
    });
    expect(p.crashRegion).toEqual({ start: 0x130000000, end: 0x138000000 });
    expect(p.verdict.ok).toBe(true);
  });

  test("arm64 kexec_file_load: crashk_res then crashk_low_res in linux,usable-memory-range, both cut from the dump", () => {
    const ram = "40000000-13fffffff : System RAM\n  40210000-41bfffff : Kernel code\n";
    const one = `${ram}  130000000-137ffffff : Crash kernel\n`;
    const two = `${ram}  60000000-63ffffff : Crash kernel\n  130000000-137ffffff : Crash kernel\n`;
    const image = arm64Header({ imageSize: 16 * MiB }, 4 * MiB);
    const dtb = new Uint8Array(
      readFileSync(
        join(
          import.meta.dirname,
          "fixtures/recordings/arm64-virt-4g-linux-7.3-custom-crash-numa2-kexec_file_load/fdt.dtb",
        ),
      ),
    );
    const plan = (iomem: string) =>
      planLoad({ arch: "arm64", loader: "kexec-file", kernel: image, dtb, iomem, crash: true, cpus: 2 });
    const usable = (p: ReturnType<typeof planLoad>) => {
      const seg = p.segments.find((s) => s.label === "dtb")!;
      const chosen = parseFdt((seg.content as { data: Uint8Array }).data).root.children.find(
        (c) => c.name === "chosen",
      )!;
      const v = chosen.props.find((x) => x.name === "linux,usable-memory-range")!.value;
      const d = new DataView(v.buffer, v.byteOffset, v.byteLength);
      const out: number[] = [];
      for (let o = 0; o < v.length; o += 8) out.push(d.getUint32(o) * 2 ** 32 + d.getUint32(o + 4));
      return out;
    };
    const p1 = plan(one);
    const p2 = plan(two);
    expect(p2.crashRegion).toEqual({ start: 0x130000000, end: 0x138000000 });
    expect(usable(p1)).toEqual([0x130000000, 0x8000000]);
    expect(usable(p2)).toEqual([0x130000000, 0x8000000, 0x60000000, 0x4000000]);
    // the same placement: only the DTB grows by one (address, size) pair
    expect(p2.segments.map((s) => s.mem)).toEqual(p1.segments.map((s) => s.mem));
  });
});
