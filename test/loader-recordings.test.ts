/**
 * CI replay of the real loads recorded in QEMU guests (test/fixtures/recordings, written by
 * `npm run record:kexec`): for every recorded case, `planLoad` on the recorded inputs reproduces
 * every segment the real kexec-tools (`kexec -d` print_segments) or the kernel (kexec_file pr_debug)
 * printed: mem, memsz, bufsz, in order, and the kexec entry where printed. A load that failed for
 * real fails here with the same errno. Cases left out are listed with their reason in
 * docs/loaders.md ("Verification").
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { elfRelFootprint, PURGATORY_PRESETS, purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import {
  FALLBACK_ERRNOS,
  formatPrintSegments,
  type KernelRefusal,
  planLoad,
  segmentBufszOf,
} from "../src/loader/plan.js";
import {
  kexecDebugSegments,
  kexecFileSegments,
  presetFor,
  RECORDINGS,
  REPLAY_LEFT_OUT,
  recordedCases,
  recordedPlanInput,
  useWrappedKernelFixture,
} from "./helpers/recordings.js";

const hex = (n: number) => `0x${n.toString(16)}`;
const cases = recordedCases();

/**
 * Cases that cannot be matched yet, with the reason (also in docs/recording.md); the gate refusals are
 * replayed with the gates by test/gates-recordings.test.ts (planLoad alone knows no gate).
 */
const GATE_REFUSAL =
  /-(lockdown-[a-z-]+|kexec_load_disabled|limit-(reboot|panic)-0|ima-secure-boot|no-cap-sys-boot)-kexec_/;
const LEFT_OUT: Record<string, string> = Object.fromEntries([
  ...Object.entries(REPLAY_LEFT_OUT)
    .filter(([, v]) => v.only !== "collect")
    .map(([id, v]) => [id, v.reason]),
  ...cases
    .filter((c) => GATE_REFUSAL.test(c.id) && c.json.exitCode !== 0)
    .map((c) => [c.id, "refused at a gate: replayed by test/gates-recordings.test.ts"]),
]);

describe("recorded real loads reproduce exactly", () => {
  it("there are recordings to replay", () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  for (const c of cases) {
    if (LEFT_OUT[c.id]) {
      it.skip(`${c.id}: ${LEFT_OUT[c.id]}`, () => {});
      continue;
    }
    it(c.id, async () => {
      const input = recordedPlanInput(c);
      await useWrappedKernelFixture(c, input);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      if (c.json.exitCode !== 0) {
        // A failed real load: the same errno here.
        const out = c.text("kexec-d.txt") ?? "";
        let err: unknown;
        try {
          planLoad(input);
        } catch (e) {
          err = e;
        }
        expect(err, `${c.id}: the real load failed, the plan did not`).toBeInstanceOf(KexecLabError);
        // kexec-tools prints "syscall kexec_file_load not available." for every errno it would fall
        // back on (EFALLBACK: ENOSYS, EINVAL, ENOEXEC, ENOTSUP) when -s forbids the fallback.
        if (/syscall kexec_file_load not available/.test(out)) {
          expect(FALLBACK_ERRNOS as readonly string[], c.id).toContain((err as KernelRefusal).errno);
        } else if (/kaslr-seed is not wiped to 0/.test(out)) {
          expect((err as KexecLabError).code, c.id).toBe("E_DTB_KASLR_SEED");
        } else if (/Memory for crashkernel is not reserved/.test(out)) {
          // the boot's reservation failed (crashkernel= too large), so iomem has no "Crash kernel" line
          expect((err as KexecLabError).code, c.id).toBe("E_CRASH_NOT_RESERVED");
        } else if (/kexec_file_load failed: Cannot assign requested address/.test(out)) {
          // the kernel found no hole (EADDRNOTAVAIL, final: no fallback), e.g. KHO scratch areas too small
          expect((err as KexecLabError).code, c.id).toBe("E_NO_HOLE");
          expect((err as KexecLabError).message, c.id).toContain("EADDRNOTAVAIL");
        } else if (/Cannot determine the file type/.test(out)) {
          expect((err as KexecLabError).code, c.id).toBe("E_KERNEL_UNSUPPORTED");
        } else {
          expect.fail(`${c.id}: a failure this replay does not recognise: ${out.slice(-200)}`);
        }
        return;
      }
      const plan = planLoad(input);
      const real =
        c.json.syscall === "kexec_load"
          ? kexecDebugSegments(c.text("kexec-d.txt") ?? "")
          : { segments: kexecFileSegments(c.text("dmesg.txt") ?? "") ?? [] };
      expect(real?.segments.length, `${c.id}: no segments in the recording`).toBeGreaterThan(0);
      expect(plan.loader, `${c.id}: syscall`).toBe(
        c.json.syscall === "kexec_load" ? "kexec-tools" : "kexec-file",
      );
      const ours = plan.segments.map((s) => ({ mem: s.mem, memsz: s.memsz, bufsz: segmentBufszOf(s) }));
      const n = Math.max(ours.length, real!.segments.length);
      for (let i = 0; i < n; i++) {
        const a = ours[i];
        const b = real!.segments[i];
        const show = (s: typeof a) =>
          s ? `mem ${hex(s.mem)} memsz ${hex(s.memsz)} bufsz ${hex(s.bufsz)}` : "none";
        expect(
          show(a),
          `${c.id}: first differing segment is #${i} (${plan.segments[i]?.label ?? "missing"}): planned ${show(a)}, recorded ${show(b)}`,
        ).toBe(show(b));
      }
      if ("entry" in real! && real.entry !== undefined)
        expect(hex(plan.entry), `${c.id}: entry`).toBe(hex(real.entry));
    });
  }
});

describe("--print-segments prints what the real run printed", () => {
  // kexec_load: kexec -d's "kexec_load: entry = ..." line and print_segments' table, but for the buf
  // pointers (addresses in the kexec process); kexec_file_load: the kernel's "kexec_file: Loading
  // segment N" (6.1) or "nr_segments = N" and "segment[N]" (6.8+) dmesg lines exactly,
  // buf=0x(____ptrval____) included, and on 6.8+ the entry of its closing "kexec_file_load:" line.
  const ok = cases.filter(
    (c) => c.json.exitCode === 0 && (!LEFT_OUT[c.id] || REPLAY_LEFT_OUT[c.id]?.only === "placement"),
  );
  it("there are successful recordings of both syscalls", () => {
    expect(ok.some((c) => c.json.syscall === "kexec_load")).toBe(true);
    expect(ok.some((c) => c.json.syscall === "kexec_file_load")).toBe(true);
  });
  for (const c of ok) {
    it(c.id, async () => {
      const input = recordedPlanInput(c);
      await useWrappedKernelFixture(c, input);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      const ours = formatPrintSegments(planLoad(input)).trimEnd().split("\n");
      if (c.json.syscall === "kexec_file_load") {
        const dmesg = (c.text("dmesg.txt") ?? "").split("\n").map((l) => l.replace(/^\[ *\d+\.\d+\] /, ""));
        // buf is a kernel pointer printed with %p: "(____ptrval____)" until the pointer-hash key is
        // ready, then a hash no one can predict (the custom 7.3 kernel's early crng makes it ready)
        const real = dmesg
          .filter((l) => /^kexec_file: (?:Loading segment |segment\[|nr_segments = )/.test(l))
          .map((l) => l.replace(/ buf=0x[0-9a-f]{16} /, " buf=0x(____ptrval____) "));
        const kernel = input.kernelVersion ?? "6.1";
        const [major, minor] = kernel.split(".").map(Number) as [number, number];
        const dprintk = major > 6 || (major === 6 && minor >= 8);
        if (dprintk && !(input.kexecDebug && c.json.kexecTools.version >= "2.0.29")) {
          // From 6.8 the kernel prints its segments only for KEXEC_FILE_DEBUG, which kexec-tools
          // passes from 2.0.29 on with -d: this run printed none, as the rule says.
          expect(real).toEqual([]);
          return;
        }
        expect(ours).toEqual(real);
        const closing = dmesg.find((l) => l.startsWith("kexec_file: kexec_file_load: type:"));
        if (closing !== undefined) {
          // the entry the kernel logged (6.8+): image->start
          expect(closing).toContain(`start:${hex(planLoad(input).entry)} `);
        }
      } else {
        const lines = (c.text("kexec-d.txt") ?? "").split("\n");
        const at = lines.findIndex((l) => l.startsWith("kexec_load: entry = "));
        const notBuf = (l: string) => !/^segment\[\d+\]\.buf /.test(l);
        expect(ours.filter(notBuf)).toEqual(lines.slice(at, at + ours.length).filter(notBuf));
        expect(ours[0]).toMatch(/^kexec_load: entry = 0x[0-9a-f]+ flags = 0x[0-9a-f]+$/);
      }
    });
  }
});

describe("purgatory presets", () => {
  it("each preset's sizes are elf_rel_load's layout of the sections recorded from the Debian binary", () => {
    const pj = JSON.parse(readFileSync(join(RECORDINGS, "purgatory.json"), "utf8")) as {
      entries: {
        arch: "arm64" | "x86_64";
        kexecToolsVersion: string;
        purgatory: {
          sections: { name: string; type: string; flags: number; size: number; addralign: number }[];
        };
      }[];
    };
    let checked = 0;
    for (const e of pj.entries) {
      const preset = presetFor(e.kexecToolsVersion);
      if (!preset) continue;
      const f = elfRelFootprint(
        e.purgatory.sections.map((s) => ({ ...s, type: s.type === "NOBITS" ? 8 : 1 })),
      );
      const p = PURGATORY_PRESETS[preset]![e.arch]!;
      expect([f.bufsz, f.memsz, f.align], `${preset} ${e.arch}`).toEqual([p.bufsz, p.memsz, p.align]);
      checked++;
    }
    expect(checked).toBe(6);
  });
});
