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

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { STRERROR } from "../src/diagnose/log.js";
import { GateRefusalError } from "../src/gates/error.js";
import { ERRNO_NUMBERS } from "../src/gates/signature.js";
import type { GateSignatureVerdict } from "../src/gates/types.js";
import { readHostDir } from "../src/host/node/read.js";
import { purgatoryPreset } from "../src/loader/kexec-tools/purgatory.js";
import { execFileSyncOwned } from "../src/node/child.js";
import { gatedPlanLoad } from "../src/request/gates.js";
import { gateSignatureFrom } from "../src/signature/gate.js";
import { appendedModsig } from "../src/signature/modsig.js";
import { type TrustedCert, verifyKernelSignature } from "../src/signature/verify.js";
import { dataBytes, dataFile, dataManifest } from "./helpers/data.js";
import { bzImagePayload, embeddedCertificates, loadedCertDescriptions } from "./helpers/kernel-certs.js";
import { presetFor, type RecordedCase, recordedCases, recordedPlanInput } from "./helpers/recordings.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

/** Debian's x86_64 kernels of each recorded version: the signed build (which the guests boot) and the unsigned one. */
const KERNELS: Record<string, { signed: string; unsigned: string }> = {
  "6.12": {
    signed: "debian-6.12.118-cloud-amd64.bzImage",
    unsigned: "debian-6.12.118-cloud-amd64-unsigned.bzImage",
  },
  "7.3": {
    signed: "debian-7.3.4-cloud-amd64.bzImage",
    unsigned: "debian-7.3.4-cloud-amd64-unsigned.bzImage",
  },
};

/** Cases whose guest had a gate set: the setup lines, the wrapper, or a gate word on the command line. */
const GATED =
  /-(lockdown-[a-z-]+|kexec_load_disabled|limit-(reboot|panic)-0(-normal)?|ima-secure-boot|no-cap-sys-boot|unsigned|testkey-signed)-kexec_/;
const gateCases = () =>
  recordedCases().filter((c) => GATED.test(c.id) && existsSync(join(c.dir, "collect", "lockdown.txt")));
const versionOf = (c: RecordedCase) => /-linux-(\d+\.\d+)-/.exec(c.id)![1]!;

const tmp = testTempDir("gates-recordings");
let reSigned: Record<string, string> = {};
/** Per version: the certificates the guest's .builtin_trusted_keys held. */
const guestCerts = new Map<string, Promise<TrustedCert[]>>();

function certsOf(c: RecordedCase): Promise<TrustedCert[]> {
  const v = versionOf(c);
  let p = guestCerts.get(v);
  if (p === undefined) {
    const key = KERNELS[v]!.signed;
    // the guest ran this very file
    expect((c.json.runningKernel as { sha256?: string }).sha256).toBe(dataManifest().files[key]!.sha256);
    const wanted = loadedCertDescriptions(c.text("dmesg.txt") ?? "");
    p = bzImagePayload(dataBytes(key), key).then((vmlinux) => embeddedCertificates(vmlinux, wanted, key));
    guestCerts.set(v, p);
  }
  return p;
}

/** The file the guest loaded (its sha256 in case.json), or the re-signed stand-in for a "testkey:" kernel. */
function loadedKernel(c: RecordedCase): { bytes: Uint8Array; name: string } {
  const v = versionOf(c);
  const k = c.json.loaded.kernel;
  if (k.file.startsWith("testkey:"))
    return { bytes: new Uint8Array(readFileSync(reSigned[v]!)), name: reSigned[v]! };
  const key = Object.values(KERNELS[v]!).find((name) => dataManifest().files[name]!.sha256 === k.sha256);
  expect(key, `${c.id}: the loaded kernel ${k.file} is one of the test data's`).toBeDefined();
  return { bytes: dataBytes(key!), name: key! };
}

describe("gates, replayed from real kernels (Debian 6.12 and 7.3)", () => {
  const cases = gateCases();
  beforeAll(() => {
    // a throwaway key no guest keyring holds signs the unsigned build (sbsign), per version
    const key = join(tmp, "key.pem");
    const cert = join(tmp, "cert.pem");
    selfSignedKey(key, cert, "/CN=kexec-lab replay throwaway key/");
    reSigned = {};
    for (const [v, k] of Object.entries(KERNELS)) {
      const out = join(tmp, `${v}.signed`);
      execFileSyncOwned("sbsign", ["--key", key, "--cert", cert, "--output", out, dataFile(k.unsigned)]);
      reSigned[v] = out;
    }
  });
  it("there are recorded gate cases on both kernels: refused and accepted ones", () => {
    for (const v of Object.keys(KERNELS)) {
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
      const wrap = (c.json as { wrap?: string }).wrap;
      if (wrap !== undefined && /unshare/.test(wrap))
        gates.capSysBoot = { value: false, source: `case.json: kexec ran under "${wrap}"` };
      let sig: GateSignatureVerdict | undefined;
      if (c.json.syscall === "kexec_file_load") {
        const k = loadedKernel(c);
        sig = gateSignatureFrom(await verifyKernelSignature(k.bytes, await certsOf(c), k.name));
        if (appendedModsig(k.bytes) !== null) sig.modsig = true;
        gates.signature = sig;
      }
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
      if (sig?.errno !== undefined && c.json.exitCode === 0)
        // not locked down: the kernel loaded it and said why the check failed, with the verdict's errno
        expect(dmesg, `${c.id}: the kernel's verdict`).toContain(
          `kexec_file: kernel signature verification failed (-${ERRNO_NUMBERS[sig.errno]}).`,
        );
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
