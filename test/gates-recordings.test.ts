/**
 * The gates against real kernels: every case recorded with a gate set on Debian 6.12 and 7.3 (lockdown=, the
 * kexec sysctls, an IMA policy, a caller without CAP_SYS_BOOT, unsigned or foreign-signed kernels; scripts/record/
 * cases.ts GATE_CASES and GATE_CASES_73) replayed from what kexec-lab-collect read in the guest (collect/),
 * through the same gatedPlanLoad the CLI uses: accepted where the real load was accepted, refused at a gate with
 * the same errno where it failed, and the kernel's own log line found in the recorded dmesg.
 *
 * kexec_file_load's signature verdict is computed here, by verifyKernelSignature on the whole kernel file the
 * guest loaded (Debian's signed or unsigned build, test data), against the certificates the guest's keyrings
 * held: the ones its dmesg says it loaded ("Loaded X.509 cert '...'"), taken from the running kernel's own
 * compiled-in certificate list. The recorded "testkey" kernel was signed with a throwaway key made at
 * recording time; the replay re-signs the unsigned build with another throwaway key (test/helpers/signing.ts):
 * any key no guest keyring holds gives the same verdict (ENOKEY), which the recorded dmesg confirms where the
 * kernel prints it ("kernel signature verification failed (-126)").
 */

import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { STRERROR } from "../src/diagnose/log.js";
import { GateRefusalError } from "../src/gates/error.js";
import { ERRNO_NUMBERS } from "../src/gates/signature.js";
import type { GateSignatureVerdict } from "../src/gates/types.js";
import { readHostDir } from "../src/host/node/read.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { gatedPlanLoad } from "../src/request/gates.js";
import { gateSignatureFrom } from "../src/signature/gate.js";
import { appendedModsig } from "../src/signature/modsig.js";
import { verifyKernelSignature } from "../src/signature/verify.js";
import {
  GATE_KERNELS,
  gateCases,
  guestTrustedCerts,
  loadedKernel,
  ranInUserNamespace,
  reSignUnsigned,
  versionOf,
} from "./helpers/gate-replay.js";
import { presetFor, recordedPlanInput } from "./helpers/recordings.js";
import { testTempDir } from "./helpers/tmp.js";

const tmp = testTempDir("gates-recordings");
let reSigned: Record<string, string> = {};

describe("gates, replayed from real kernels (Debian 6.12 and 7.3)", () => {
  const cases = gateCases();
  beforeAll(() => {
    // a throwaway key no guest keyring holds signs the unsigned build (sbsign), per version
    reSigned = reSignUnsigned(tmp);
  });
  it("there are recorded gate cases on both kernels: refused and accepted ones", () => {
    for (const v of Object.keys(GATE_KERNELS)) {
      const mine = cases.filter((c) => versionOf(c) === v);
      expect(mine.length, v).toBeGreaterThanOrEqual(15);
      expect(mine.some((c) => c.json.exitCode === 0)).toBe(true);
      expect(mine.some((c) => c.json.exitCode !== 0)).toBe(true);
    }
  });
  for (const c of cases) {
    it(c.id, async () => {
      const host = readHostDir(join(c.dir, "collect"));
      const gates = { ...(host.gates ?? {}) };
      // the collection ran as root; the load ran in a new user namespace (case.json "wrap"), as in a container
      if (ranInUserNamespace(c))
        gates.capSysBoot = { value: false, source: "case.json: kexec ran under unshare -Ur" };
      let sig: GateSignatureVerdict | undefined;
      if (c.json.syscall === "kexec_file_load") {
        const k = loadedKernel(c, reSigned);
        sig = gateSignatureFrom(await verifyKernelSignature(k.bytes, await guestTrustedCerts(c), k.name));
        if (appendedModsig(k.bytes) !== null) sig.modsig = true;
        gates.signature = sig;
      }
      const input = recordedPlanInput(c);
      const preset = presetFor(c.json.kexecTools.version);
      if (preset) input.purgatory = purgatoryPreset(preset, c.json.arch);
      const out = c.text("kexec-d.txt") ?? "";
      const dmesg = c.text("dmesg.txt") ?? "";
      let err: unknown;
      let warnings: string[] = [];
      try {
        warnings = gatedPlanLoad(input, gates).gates.warnings;
      } catch (e) {
        err = e;
      }
      if (sig?.errno !== undefined && c.json.exitCode === 0)
        // not locked down: the kernel loaded it and said why the check failed, with the verdict's errno
        expect(dmesg, `${c.id}: the kernel's verdict`).toContain(
          `kexec_file: kernel signature verification failed (-${ERRNO_NUMBERS[sig.errno]}).`,
        );
      if (c.json.exitCode === 0) {
        expect(err, `${c.id}: the real load was accepted`).toBeUndefined();
        // no lockdown, not enforced (no EFI, so no IMA architecture policy): said to load unverified
        if (sig?.errno !== undefined)
          expect(warnings.join("\n"), c.id).toMatch(/the kernel loads it unverified/);
        return;
      }
      const failed = /(kexec_load|kexec_file_load) failed: (.+)$/m.exec(out);
      expect(failed, `${c.id}: the recording's failure line`).not.toBeNull();
      expect(err, `${c.id}: the real load failed at a gate`).toBeInstanceOf(GateRefusalError);
      const r = (err as GateRefusalError).refusal;
      expect(r.errno, c.id).toBe(STRERROR[failed![2]!.trim()]);
      expect(r.syscall, c.id).toBe(failed![1]);
      // kexec_load_permitted's refusals print nothing; every other gate's line must be in dmesg
      if (r.log === undefined) {
        expect(r.gate, c.id).toBe("permitted");
        return;
      }
      // the kernel's line as dmesg has it, but for the process name the kernel prints (ld-linux here)
      const norm = (l: string) =>
        l
          .replace(/^\[ *\d+\.\d+\] /, "")
          .replace(/^Lockdown: [^:]+: /, "Lockdown: ")
          .replace(/ comm="[^"]*"/, ' comm=""');
      const line = norm(r.log!.split("\n")[0]!);
      const seen = dmesg.split("\n").map(norm);
      if (line.startsWith("op="))
        expect(seen.some((l) => l.startsWith("audit:") && l.includes(line))).toBe(true);
      else expect(seen, `${c.id}: the kernel's own line`).toContain(line);
    }, 120_000);
  }
});
