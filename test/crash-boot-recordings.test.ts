/**
 * The crash kernel's boot, replayed: for every recorded crash load the harness confirmed by panicking the
 * first kernel (second-boot.txt, the crash kernel's console), what kexec-lab says the crash kernel is
 * given (src/crash/given.ts crashKernelGiven on the replayed plan) is what that kernel printed:
 *   x86_64 kexec_load: its command line (the --append text, then kexec-tools' " acpi_rsdp=0x..." and
 *     " elfcorehdr=NK"), and the usable entries of its "BIOS-e820:" table (Debian 7.3 prints "System RAM" for usable) (the backup area and the Crash
 *     kernel regions less the backup and elfcorehdr segments);
 *   arm64 kexec_load: its "Kernel command line:" (unchanged), the "node 0: [mem ...]" ranges (memblock
 *     capped to linux,usable-memory-range: every Crash kernel region) and "OF: fdt: Reserving ... at 0x...
 *     for elfcorehdr" (linux,elfcorehdr: the header segment). A 6.1 crash kernel given a kexec_file_load DTB
 *     prints "OF: fdt: elfcorehdr is overlapped" instead: the DTB also reserves the header with a /memreserve/
 *     (drivers/of/kexec.c fdt_add_mem_rsv), and 6.1's early_init_fdt_scan_reserved_mem takes /memreserve/
 *     before it reserves linux,elfcorehdr (newer kernels reserve linux,elfcorehdr first: "Reserving").
 *   x86_64 kexec_file_load: the kernel's "elfcorehdr=0x... " before the command line, and the usable e820
 *     entries crash_setup_memmap_entries built (System RAM below 1 MiB, crashk_low_res, crashk_res less the
 *     ELF headers).
 * A recorded load that failed (the reservation failed at boot) has nothing to boot: not confirmed.
 */

import { describe, expect, it } from "vitest";
import { crashKernelGiven } from "../src/crash/given.js";
import { parseFdt } from "../src/formats/fdt.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { planLoad } from "../src/loader/plan.js";
import {
  presetFor,
  recordedCases,
  recordedPlanInput,
  useWrappedKernelFixture,
} from "./helpers/recordings.js";

const hex = (n: number) => `0x${n.toString(16)}`;
const stamp = /^\[ *\d+\.\d+\] /;
const crash = recordedCases().filter((c) => c.json.crash && c.text("second-boot.txt") !== undefined);

/** The first boot's lines of the crash kernel's console (up to the next "Linux version"). */
function bootLines(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(stamp, "").trimEnd());
  const next = lines.findIndex((l, i) => i > 0 && l.startsWith("Linux version "));
  return next > 0 ? lines.slice(0, next) : lines;
}

describe("the recorded crash kernels booted with what kexec-lab says they are given", () => {
  it("there are confirmed crash boots of both arches", () => {
    expect(crash.some((c) => c.json.arch === "x86_64")).toBe(true);
    expect(crash.some((c) => c.json.arch === "arm64")).toBe(true);
  });
  for (const c of crash) {
    it(c.id, async () => {
      const input = recordedPlanInput(c);
      await useWrappedKernelFixture(c, input);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      const plan = planLoad(input);
      const given = crashKernelGiven(plan, input)!;
      expect(given, `${c.id}: a crash plan`).toBeDefined();
      const lines = bootLines(c.text("second-boot.txt")!);
      const hdr = plan.segments.find((s) => s.label === "elfcorehdr")!;
      if (c.json.arch === "x86_64") {
        // setup_arch's "Command line:" and start_kernel's "Kernel command line:" print the same text; the
        // serial console under TCG sometimes drops characters of one of them, so one intact copy is asked for
        const printed = lines
          .filter((l) => /^(Kernel )?[Cc]ommand line: /.test(l))
          .map((l) => l.replace(/^(Kernel )?[Cc]ommand line: /, ""));
        expect(printed, `${c.id}: command line`).toContain(
          `${given.prepended}${input.append}${given.appended}`,
        );
        if (c.json.syscall === "kexec_load")
          expect(given.appended).toContain(` elfcorehdr=${hdr.mem / 1024}K`);
        else expect(given.prepended).toBe(`elfcorehdr=${hex(hdr.mem)} `);
        // "System " alone: one recorded console line lost the rest of its type to the serial console
        const usable = lines
          .map((l) =>
            /^BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] +(?:usable|System RAM|System )/.exec(l),
          )
          .filter((m) => m !== null)
          .map((m) => `${hex(Number.parseInt(m[1]!, 16))}-${hex(Number.parseInt(m[2]!, 16) + 1)}`);
        const ours = given.memoryMap.ranges
          .filter((r) => r.type === "RAM")
          .map((r) => `${hex(r.start)}-${hex(r.end)}`);
        expect(ours, `${c.id}: the crash kernel's usable e820 entries`).toEqual(usable);
      } else {
        const cmd = lines.find((l) => l.startsWith("Kernel command line: "))!;
        expect(cmd, `${c.id}: command line`).toBe(`Kernel command line: ${input.append}`);
        const nodes = lines
          .map((l) => /^ {2}node {3}\d+: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]$/.exec(l))
          .filter((m) => m !== null)
          .map((m) => `${hex(Number.parseInt(m[1]!, 16))}-${hex(Number.parseInt(m[2]!, 16) + 1)}`);
        const ours = given.memoryMap.ranges.map((r) => `${hex(r.start)}-${hex(r.end)}`);
        expect(ours, `${c.id}: linux,usable-memory-range as the crash kernel's memblock`).toEqual(nodes);
        if (c.json.syscall === "kexec_file_load" && /^Linux version 6\.1\./.test(lines[0] ?? "")) {
          expect(lines, `${c.id}: 6.1 reserves /memreserve/ first`).toContain(
            "OF: fdt: elfcorehdr is overlapped",
          );
          const dtb = plan.segments.find((s) => s.label === "dtb")!;
          const fdt = parseFdt((dtb.content as { data: Uint8Array }).data);
          expect(fdt.memreserve, `${c.id}: the elfcorehdr /memreserve/`).toContainEqual({
            address: hdr.mem,
            size: hdr.memsz,
          });
          return;
        }
        const at = lines
          .map((l) => /^OF: fdt: Reserving \d+ KiB of memory at 0x([0-9a-f]+) for elfcorehdr$/.exec(l))
          .find((m) => m !== null);
        expect(at, `${c.id}: the elfcorehdr line`).toBeDefined();
        expect(hex(Number.parseInt(at![1]!, 16)), `${c.id}: linux,elfcorehdr`).toBe(hex(hdr.mem));
      }
    });
  }
});
