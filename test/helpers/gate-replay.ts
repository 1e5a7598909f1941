/**
 * What the gate replays (test/gates-recordings.test.ts, test/gates-diff-recordings.test.ts) need beside a
 * recorded case: the gate cases, the kernel file the guest loaded, and the certificates its keyrings held.
 *
 * The guest's .builtin_trusted_keys held the certificates its dmesg says it loaded ("Loaded X.509 cert
 * '...'"), taken here from the running kernel's own compiled-in list (kernel-certs.ts); its .platform and
 * .machine keyrings were empty (no EFI; keys.txt). The recorded "testkey" kernel was signed at recording time
 * with a throwaway key that is not kept; the replay re-signs Debian's unsigned build with another throwaway key
 * (signing.ts): any key no guest keyring holds gives the same verdict (ENOKEY).
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { execFileSyncOwned } from "../../src/node/child.js";
import type { TrustedCert } from "../../src/signature/verify.js";
import { dataBytes, dataFile, dataManifest } from "./data.js";
import { bzImagePayload, embeddedCertificates, loadedCertDescriptions } from "./kernel-certs.js";
import { type RecordedCase, recordedCases } from "./recordings.js";
import { selfSignedKey } from "./signing.js";

/** Debian's x86_64 kernels of each recorded version: the signed build (which the guests boot) and the unsigned one. */
export const GATE_KERNELS: Record<string, { signed: string; unsigned: string }> = {
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

export function gateCases(): RecordedCase[] {
  return recordedCases().filter(
    (c) => GATED.test(c.id) && existsSync(join(c.dir, "collect", "lockdown.txt")),
  );
}

export const versionOf = (c: RecordedCase) => /-linux-(\d+\.\d+)-/.exec(c.id)![1]!;

/** The case ran its load in a new user namespace (case.json "wrap": unshare -Ur). */
export const ranInUserNamespace = (c: RecordedCase) =>
  /unshare/.test((c.json as { wrap?: string }).wrap ?? "");

/** Throwaway-signed copies of each version's unsigned kernel (sbsign), in `dir`. */
export function reSignUnsigned(dir: string): Record<string, string> {
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  selfSignedKey(key, cert, "/CN=kexec-lab replay throwaway key/");
  const out: Record<string, string> = {};
  for (const [v, k] of Object.entries(GATE_KERNELS)) {
    out[v] = join(dir, `${v}.signed`);
    execFileSyncOwned("sbsign", ["--key", key, "--cert", cert, "--output", out[v], dataFile(k.unsigned)]);
  }
  return out;
}

const guestCerts = new Map<string, Promise<TrustedCert[]>>();

/** The certificates the case's guest had in .builtin_trusted_keys (cached per version). */
export function guestTrustedCerts(c: RecordedCase): Promise<TrustedCert[]> {
  const v = versionOf(c);
  let p = guestCerts.get(v);
  if (p === undefined) {
    const key = GATE_KERNELS[v]!.signed;
    // the guest ran this very file
    expect((c.json.runningKernel as { sha256?: string }).sha256).toBe(dataManifest().files[key]!.sha256);
    const wanted = loadedCertDescriptions(c.text("dmesg.txt") ?? "");
    p = bzImagePayload(dataBytes(key), key).then((vmlinux) => embeddedCertificates(vmlinux, wanted, key));
    guestCerts.set(v, p);
  }
  return p;
}

/** The file the guest loaded (its sha256 in case.json), or the re-signed stand-in for a "testkey:" kernel. */
export function loadedKernel(
  c: RecordedCase,
  reSigned: Record<string, string>,
): { bytes: Uint8Array; path: string; name: string } {
  const v = versionOf(c);
  const k = c.json.loaded.kernel;
  if (k.file.startsWith("testkey:")) {
    const path = reSigned[v]!;
    return { bytes: new Uint8Array(readFileSync(path)), path, name: path };
  }
  const key = Object.values(GATE_KERNELS[v]!).find((name) => dataManifest().files[name]!.sha256 === k.sha256);
  expect(key, `${c.id}: the loaded kernel ${k.file} is one of the test data's`).toBeDefined();
  return { bytes: dataBytes(key!), path: dataFile(key!), name: key! };
}
