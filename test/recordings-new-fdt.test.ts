/**
 * The DTB the loaded kernel was given, byte for byte: recordings made with captureNewFdt
 * (scripts/record/cases.ts) hold new-fdt.dtb, the /sys/firmware/fdt the loaded arm64 kernel printed
 * from its initrd's /init. kexec-lab's DTB segment for the recorded kexec_load must be those bytes,
 * but for the kaslr-seed value: kexec-tools fills it from getrandom() and the new kernel zeroes it in
 * place once used (arch/arm64/kernel/pi/kaslr_early.c get_kaslr_seed), so the recording shows zeros
 * where the plan has its seeded bytes. Everything else - bootargs, the 64-bit linux,initrd-*, the
 * packing, the NOPs the first kernel left where rng-seed was, QEMU's padding bytes - must match.
 * kexec_file_load (the custom arm64 kernels): the kernel fills kaslr-seed and rng-seed from its own random pool
 * (drivers/of/kexec.c of_kexec_alloc_and_setup_fdt), and the loaded kernel NOPs out rng-seed once it has used it
 * (drivers/of/fdt.c early_init_dt_scan_chosen, fdt_nop_property); a kernel without RANDOMIZE_BASE leaves
 * kaslr-seed as it was. So ours gets NOPs where its rng-seed property is and the recorded kaslr-seed value;
 * the order of the properties, the NOPs, the reservations and every other byte must match.
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFdt, serializeFdt } from "../src/formats/fdt.js";
import { RNG_SEED_SIZE, seededBytes } from "../src/loader/dtb-edit.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { planLoad } from "../src/loader/plan.js";
import { presetFor, recordedCases, recordedPlanInput } from "./helpers/recordings.js";

const cases = recordedCases().filter((c) => existsSync(join(c.dir, "new-fdt.dtb")));

/** Where `needle` occurs in `hay` (every offset). */
function offsetsOf(hay: Uint8Array, needle: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + needle.length <= hay.length; i++) {
    let j = 0;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) out.push(i);
  }
  return out;
}

describe("the DTB the loaded kernel booted with is kexec-lab's DTB segment", () => {
  it("there are recordings with the loaded kernel's DTB", () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  for (const c of cases) {
    it(c.id, () => {
      const input = recordedPlanInput(c);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      const plan = planLoad(input);
      const seg = plan.segments.find((s) => s.label === "dtb");
      expect(seg?.content.kind).toBe("bytes");
      const ours = (seg!.content as { data: Uint8Array }).data.slice();
      const real = new Uint8Array(readFileSync(join(c.dir, "new-fdt.dtb")));
      const seed = seededBytes(input.seed ?? 0, 8, 1);
      const at = offsetsOf(ours, seed);
      if (input.crngReady === false && c.json.syscall === "kexec_file_load") {
        // the first kernel's crng was not ready at the load (6.1 custom): no kaslr-seed and no rng-seed at all
        expect(at, `${c.id}: no kaslr-seed`).toHaveLength(0);
      } else {
        expect(at, `${c.id}: the kaslr-seed value occurs once`).toHaveLength(1);
        if (c.json.syscall === "kexec_file_load") {
          ours.set(real.subarray(at[0]!, at[0]! + 8), at[0]!);
          const rng = offsetsOf(ours, seededBytes(input.seed ?? 0, RNG_SEED_SIZE, 2));
          expect(rng, `${c.id}: the rng-seed value occurs once`).toHaveLength(1);
          const view = new DataView(ours.buffer, ours.byteOffset);
          for (let o = rng[0]! - 12; o < rng[0]! + RNG_SEED_SIZE; o += 4) view.setUint32(o, 4); // FDT_NOP
        } else ours.fill(0, at[0]!, at[0]! + 8); // the new kernel consumed kaslr-seed and zeroed it
      }
      expect(ours.length, `${c.id}: size`).toBe(real.length);
      const first = ours.findIndex((b, i) => b !== real[i]);
      expect(first, `${c.id}: first differing byte`).toBe(-1);
    });
  }
});

describe("the loaded kernel's DTB read and written back is the same bytes", () => {
  // In fdt_pack's layout (header, reservation block, structure, strings: as kexec-lab writes it), NOPs
  // stay before the property that followed them and padding bytes as read (FdtNode.nopRuns, FdtProp.pad).
  for (const c of cases) {
    it(c.id, () => {
      const f = "new-fdt.dtb";
      const bytes = new Uint8Array(readFileSync(join(c.dir, f)));
      const back = serializeFdt(parseFdt(bytes, f), { padTo: bytes.length });
      expect(
        back.findIndex((b, i) => b !== bytes[i]),
        `${c.id}/${f}: first differing byte`,
      ).toBe(-1);
      expect(back.length).toBe(bytes.length);
    });
  }
});
