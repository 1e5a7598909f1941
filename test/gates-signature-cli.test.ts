/**
 * --trusted-cert on the commands that apply the gates: the kernel file's PE signature is verified
 * (verifyKernelSignature) against the given certificates and the verdict decides kexec_file_load's
 * signature gate. The machine is a recorded guest's collect tree (Debian 6.12 booted with
 * lockdown=integrity, no EFI: no Debian CA in any keyring); the kernels are Debian's own, signed and
 * unsigned builds of 6.12.118 (test data).
 */

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

const HOST =
  "test/fixtures/recordings/x86_64-q35-2g-linux-6.12-lockdown-integrity-signed-kexec_file_load/collect";
const CA = "test/fixtures/signature/debian-secure-boot-ca.pem";
const SIGNED = dataFile("debian-6.12.118-cloud-amd64.bzImage");
const UNSIGNED = dataFile("debian-6.12.118-cloud-amd64-unsigned.bzImage");
const tmp = testTempDir("gates-signature-cli");
/** A throwaway CA (openssl) that signed nothing these kernels carry. */
const OTHER_CA = join(tmp, "other-ca.pem");
selfSignedKey(join(tmp, "other-ca.key"), OTHER_CA, "/CN=kexec-lab unrelated CA/");
const LOCKDOWN_LINE = "Lockdown: kexec: kexec of unsigned images is restricted; see man kernel_lockdown.7";

type Check = { gate: string; status: string; note: string };
const signatureCheck = (doc: { gates: { verdicts: { checks: Check[] }[] } }) =>
  doc.gates.verdicts.flatMap((v) => v.checks).find((c) => c.gate === "signature")!;

describe("plan --trusted-cert on a locked-down host (kexec_file_load)", () => {
  it("the unsigned kernel is refused with EPERM and the kernel's Lockdown line, certificates or not", async () => {
    for (const extra of [[], ["--trusted-cert", `platform=${CA}`]]) {
      const r = await runCli([
        "plan",
        "--host",
        HOST,
        "--loader",
        "kexec-file",
        "--kernel",
        UNSIGNED,
        ...extra,
      ]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain("kexec_file_load fails with EPERM at the signature gate");
      expect(r.err).toContain("the kernel file carries no signature (verify_pefile_signature: ENODATA)");
      expect(r.err).toContain(LOCKDOWN_LINE);
      expect(r.out).toBe("");
    }
  });
  it("the whole refusal (snapshot)", async () => {
    const r = await runCli(["plan", "--host", HOST, "--loader", "kexec-file", "--kernel", UNSIGNED]);
    await expect(
      r.err.replaceAll(UNSIGNED, "debian-6.12.118-cloud-amd64-unsigned.bzImage"),
    ).toMatchFileSnapshot("__snapshots__/cli/plan-gate-signature-unsigned.txt");
  });
  it("the Debian-signed kernel loads when the Debian CA is given (.platform, as shim's MokListRT puts it)", async () => {
    const r = await runCli([
      "plan",
      "--host",
      HOST,
      "--loader",
      "kexec-file",
      "--kernel",
      SIGNED,
      "--trusted-cert",
      `platform=${CA}`,
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    const sig = signatureCheck(JSON.parse(r.out));
    expect(sig.status).toBe("allow");
    expect(sig.note).toBe("signed by CN=Debian Secure Boot Signer 2022 - linux (.platform)");
  });
  it("the Debian-signed kernel against a certificate that is not its issuer: ENOKEY, so EPERM under lockdown", async () => {
    // The recorded guest's own situation: its keyrings hold no Debian CA (here: only a CA that signed
    // nothing this kernel carries).
    const r = await runCli([
      "plan",
      "--host",
      HOST,
      "--loader",
      "kexec-file",
      "--kernel",
      SIGNED,
      "--trusted-cert",
      OTHER_CA,
    ]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain("kexec_file_load fails with EPERM at the signature gate");
    expect(r.err).toContain("signed by CN=Debian Secure Boot Signer 2022 - linux that is in none of");
    expect(r.err).toContain(LOCKDOWN_LINE);
  });
  it("without --trusted-cert the gate says which certificate and keyrings the signed kernel needs", async () => {
    const r = await runCli(["plan", "--host", HOST, "--loader", "kexec-file", "--kernel", SIGNED, "--json"]);
    expect(r.code, r.err).toBe(0);
    const sig = signatureCheck(JSON.parse(r.out));
    expect(sig.status).toBe("unknown");
    expect(sig.note).toContain('a certificate for "CN=Debian Secure Boot CA"');
    expect(sig.note).toContain(".builtin_trusted_keys, .secondary_trusted_keys, .machine, .platform");
    expect(sig.note).toContain("the kernel is locked down (integrity");
  });
  it("run refuses the unsigned kernel before it runs anything", async () => {
    const r = await runCli(["run", "--kernel", UNSIGNED, "--host", HOST, "--loader", "kexec-file"]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain("kexec_file_load fails with EPERM at the signature gate");
  });
  it("kexec -s and memory take --trusted-cert too (diff: test/gates-diff-recordings.test.ts)", async () => {
    const k = await runCli(["kexec", "-s", "-l", UNSIGNED, "--host", HOST, "--trusted-cert", CA]);
    expect(k.code, k.err).toBe(1);
    expect(k.out).toContain("kexec_file_load failed: Operation not permitted");
    const ok = await runCli([
      "kexec",
      "-s",
      "-l",
      SIGNED,
      "--host",
      HOST,
      "--trusted-cert",
      `platform=${CA}`,
    ]);
    expect(ok.code, ok.err).toBe(0);
    const m = await runCli([
      "memory",
      "--kernel",
      SIGNED,
      "--host",
      HOST,
      "--loader",
      "kexec-file",
      "--trusted-cert",
      OTHER_CA,
    ]);
    expect(m.code).toBe(1);
    expect(m.err).toContain("EPERM at the signature gate");
  });
  it("a --trusted-cert that is no certificate is bad input (exit 2)", async () => {
    const r = await runCli([
      "plan",
      "--host",
      HOST,
      "--loader",
      "kexec-file",
      "--kernel",
      SIGNED,
      "--trusted-cert",
      `${HOST}/lockdown.txt`,
    ]);
    expect(r.code).toBe(2);
  });
});
