/**
 * The certificates firmware and shim give .platform, collected and used: kexec-lab-collect copies the UEFI db
 * and shim's MokListRT (EFI signature lists) from a --root tree, src/host/efi-certs.ts reads their X.509
 * entries, and `plan --host` verifies the kernel's signature against them with no --trusted-cert. The tree
 * stands for a Debian 6.12 machine booted through shim with Secure Boot on (its config is the recorded
 * guest's: IMA_ARCH_POLICY=y, so signatures are enforced, from source): shim's MokListRT holds the Debian
 * Secure Boot CA (test/fixtures/signature), the db a throwaway CA.
 */

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { efiSignatureListCerts } from "../src/host/efi-certs.js";
import { parseCertificates } from "../src/signature/x509.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

const COLLECT = fileURLToPath(new URL("../bin/kexec-lab-collect", import.meta.url));
const REC =
  "test/fixtures/recordings/x86_64-q35-2g-linux-6.12-lockdown-integrity-signed-kexec_file_load/collect";
const dir = testTempDir("collect-efi-certs");
const REL = "6.12.118+deb13-cloud-amd64";

const X509 = [0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72];
const SHA256 = [
  0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28,
];

/** One EFI_SIGNATURE_LIST of `type` with the given entries (owner GUID zero). */
function esl(type: number[], entries: Uint8Array[]): Uint8Array {
  const size = 16 + Math.max(...entries.map((e) => e.length));
  const b = new Uint8Array(28 + size * entries.length);
  const v = new DataView(b.buffer);
  b.set(type, 0);
  v.setUint32(16, b.length, true);
  v.setUint32(20, 0, true);
  v.setUint32(24, size, true);
  for (const [i, e] of entries.entries()) b.set(e, 28 + i * size + 16);
  return b;
}
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

async function der(pemFile: string): Promise<Uint8Array> {
  return (await parseCertificates(new Uint8Array(readFileSync(pemFile)), pemFile))[0]!.der;
}

describe("EFI signature lists", () => {
  it("takes the X.509 entries and skips hash lists", async () => {
    const ca = await der("test/fixtures/signature/debian-secure-boot-ca.pem");
    const list = cat(esl(SHA256, [new Uint8Array(32)]), esl(X509, [ca]));
    const certs = efiSignatureListCerts(list, "db");
    expect(certs).toHaveLength(1);
    expect(certs[0]).toEqual(ca);
  });
  it("names the offset of a list that does not fit (E_FORMAT_CORRUPT)", () => {
    const bad = esl(X509, [new Uint8Array(10)]);
    new DataView(bad.buffer).setUint32(16, 4096, true);
    expect(() => efiSignatureListCerts(bad, "db")).toThrow(/does not fit/);
  });
});

describe("kexec-lab-collect --root copies db and MokListRT; plan --host verifies against them", () => {
  it("a shim-booted Secure Boot machine trusts the Debian-signed kernel and refuses the unsigned one", async () => {
    const tree = join(dir, "tree");
    const w = (p: string, t: string | Uint8Array) => {
      mkdirSync(join(tree, p, ".."), { recursive: true });
      writeFileSync(join(tree, p), t);
    };
    const attrs = new Uint8Array([7, 0, 0, 0]);
    selfSignedKey(join(dir, "db.key"), join(dir, "db.pem"), "/CN=kexec-lab firmware db CA/");
    const ca = await der("test/fixtures/signature/debian-secure-boot-ca.pem");
    w("proc/iomem", readFileSync(join(REC, "iomem.txt"), "utf8"));
    w("proc/meminfo", readFileSync(join(REC, "meminfo.txt"), "utf8"));
    w("proc/cmdline", "console=ttyS0\n");
    w("proc/cpuinfo", "processor\t: 0\n");
    w("proc/sys/kernel/osrelease", `${REL}\n`);
    w("proc/sys/kernel/arch", "x86_64\n");
    w("sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
    w("sys/kernel/kexec_loaded", "0\n");
    w(`boot/config-${REL}`, readFileSync(join(REC, "kernel-config.txt"), "utf8"));
    w(
      "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
      cat(attrs, new Uint8Array([1])),
    );
    w(
      "sys/firmware/efi/efivars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f",
      cat(attrs, esl(X509, [await der(join(dir, "db.pem"))])),
    );
    w("sys/firmware/efi/mok-variables/MokListRT", esl(X509, [ca]));
    const out = join(dir, "collected");
    const r = spawnSync("sh", [COLLECT, "--root", tree, out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(out, "moklist-rt.esl"))).toEqual(Buffer.from(esl(X509, [ca])));
    expect(efiSignatureListCerts(new Uint8Array(readFileSync(join(out, "uefi-db.esl"))), "db")).toHaveLength(
      1,
    );
    const signed = await runCli([
      "plan",
      "--host",
      out,
      "--loader",
      "kexec-file",
      "--kernel",
      dataFile("debian-6.12.118-cloud-amd64.bzImage"),
      "--json",
    ]);
    expect(signed.code, signed.err).toBe(0);
    const checks = JSON.parse(signed.out).gates.verdicts.flatMap((v: { checks: unknown[] }) => v.checks) as {
      gate: string;
      status: string;
      note: string;
    }[];
    expect(checks.find((c) => c.gate === "signature")).toMatchObject({
      status: "allow",
      note: "signed by CN=Debian Secure Boot Signer 2022 - linux (.platform)",
    });
    // Secure Boot with IMA_ARCH_POLICY and KEXEC_SIG: signatures are enforced (set_kexec_sig_enforced)
    const unsigned = await runCli([
      "plan",
      "--host",
      out,
      "--loader",
      "kexec-file",
      "--kernel",
      dataFile("debian-6.12.118-cloud-amd64-unsigned.bzImage"),
    ]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.err).toContain("kexec_file_load fails with ENODATA at the signature gate");
    expect(unsigned.err).toContain("kexec_file: Enforced kernel signature verification failed (-61).");
  });
});
