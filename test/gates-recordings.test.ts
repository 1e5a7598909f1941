/**
 * The gates against real kernels: every case recorded on Debian 6.12 with a gate set (lockdown=, the kexec
 * sysctls, an IMA policy, a caller without CAP_SYS_BOOT, unsigned or foreign-signed kernels; scripts/record/
 * cases.ts GATE_CASES) replayed from what kexec-lab-collect read in the guest (collect/), through the same
 * gatedPlanLoad the CLI uses: accepted where the real load was accepted, refused at a gate with the same errno
 * where it failed, and the kernel's own log line found in the recorded dmesg.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STRERROR } from "../src/diagnose/log.js";
import { GateRefusalError } from "../src/gates/error.js";
import { readHostDir } from "../src/host/node/read.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { gatedPlanLoad } from "../src/request/gates.js";
import { presetFor, recordedCases, recordedPlanInput } from "./helpers/recordings.js";

/**
 * Recorded refusals this replay cannot reproduce yet, with the reason. The signature cases need the whole
 * kernel file to verify (the recording keeps its first 64 KiB) and the guest's keyrings' certificates; the IMA
 * kexec_file_load case needs the file's security.ima, which nothing here reads.
 */
const LEFT_OUT: Record<string, string> = {
  "x86_64-q35-2g-linux-6.12-lockdown-integrity-signed-kexec_file_load":
    "signature verdict needs the whole kernel (kernel-head.bin only) and the guest's keyrings",
  "x86_64-q35-2g-linux-6.12-lockdown-integrity-unsigned-kexec_file_load":
    "signature verdict needs the whole kernel (kernel-head.bin only)",
  "x86_64-q35-2g-linux-6.12-lockdown-integrity-testkey-signed-kexec_file_load":
    "signature verdict needs the whole kernel (kernel-head.bin only) and the guest's keyrings",
  "x86_64-q35-2g-linux-6.12-ima-secure-boot-kexec_file_load":
    "IMA appraisal of the file needs its security.ima xattr, which kexec-lab does not read",
};

/** Cases whose guest had a gate set: the setup lines, the wrapper, or a gate word on the command line. */
const GATED =
  /-(lockdown-[a-z-]+|kexec_load_disabled|limit-(reboot|panic)-0(-normal)?|ima-secure-boot|no-cap-sys-boot|unsigned|testkey-signed)-kexec_/;
const gateCases = () =>
  recordedCases().filter((c) => GATED.test(c.id) && existsSync(join(c.dir, "collect", "lockdown.txt")));

describe("gates, replayed from real kernels (Debian 6.12)", () => {
  const cases = gateCases();
  it("there are recorded gate cases: refused and accepted ones", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    expect(cases.some((c) => c.json.exitCode === 0)).toBe(true);
    expect(cases.some((c) => c.json.exitCode !== 0)).toBe(true);
  });
  for (const c of cases) {
    if (LEFT_OUT[c.id] !== undefined) {
      it.skip(`${c.id}: ${LEFT_OUT[c.id]}`, () => {});
      continue;
    }
    it(c.id, () => {
      const host = readHostDir(join(c.dir, "collect"));
      const gates = { ...(host.gates ?? {}) };
      // the collection ran as root; the load ran in a new user namespace (case.json "wrap"), as in a container
      const wrap = (c.json as { wrap?: string }).wrap;
      if (wrap !== undefined && /unshare/.test(wrap))
        gates.capSysBoot = { value: false, source: `case.json: kexec ran under "${wrap}"` };
      const input = recordedPlanInput(c);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      const out = c.text("kexec-d.txt") ?? "";
      const dmesg = c.text("dmesg.txt") ?? "";
      let err: unknown;
      try {
        gatedPlanLoad(input, gates);
      } catch (e) {
        err = e;
      }
      if (c.json.exitCode === 0) {
        expect(err, `${c.id}: the real load was accepted`).toBeUndefined();
        return;
      }
      const failed = /(kexec_load|kexec_file_load) failed: (.+)$/m.exec(out);
      expect(failed, `${c.id}: the recording's failure line`).not.toBeNull();
      expect(err, `${c.id}: the real load failed at a gate`).toBeInstanceOf(GateRefusalError);
      const r = (err as GateRefusalError).refusal;
      expect(r.errno, c.id).toBe(STRERROR[failed![2]!.trim()]);
      expect(r.syscall, c.id).toBe(failed![1]);
      if (r.log !== undefined) {
        // the kernel's line as dmesg has it, but for the process name the kernel prints (ld-linux here)
        const line = r.log.split("\n")[0]!.replace(/^Lockdown: [^:]+: /, "Lockdown: ");
        const seen = dmesg
          .split("\n")
          .map((l) => l.replace(/^\[ *\d+\.\d+\] /, "").replace(/^Lockdown: [^:]+: /, "Lockdown: "));
        expect(seen, `${c.id}: the kernel's own line`).toContain(line);
      }
    });
  }
});
