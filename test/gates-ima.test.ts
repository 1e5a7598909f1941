/**
 * IMA's appraisal of the kernel kexec_file_load reads (src/gates/ima-kernel-read.ts): what a file without
 * security.ima and without an allowed modsig gets (EACCES, "IMA-signature-required" or "missing-hash"), that
 * kexec-tools 2.0.27 and later hand the kernel over in a memfd (no security.ima at all), --ima-xattr for the
 * file's own attribute otherwise, and the appended module signature a rule with appraise_type=imasig|modsig
 * accepts (src/signature/modsig.ts).
 */

import { describe, expect, it } from "vitest";
import { evaluateGates } from "../src/gates/evaluate.js";
import type { GateQuery, GateState } from "../src/gates/types.js";
import { parseHostGates } from "../src/host/gates.js";
import { appendedModsig } from "../src/signature/modsig.js";

const known = <T>(value: T) => ({ value, source: "test" });
const IMASIG = "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n";
const q = (state: GateState, kexecToolsVersion?: string): GateQuery => ({
  syscall: "kexec_file_load",
  crash: false,
  arch: "x86_64",
  kernelVersion: "6.12",
  kernelKind: "bzimage",
  state,
  ...(kexecToolsVersion !== undefined ? { kexecToolsVersion } : {}),
});
const imaCheck = (g: GateQuery) => evaluateGates(g).checks.find((c) => c.gate === "ima-kernel-read")!;

/** A file ending in an appended module signature (scripts/sign-file's layout) of `sigLen` bytes. */
function withModsig(body: number, sigLen: number, idType = 2): Uint8Array {
  const marker = new TextEncoder().encode("~Module signature appended~\n");
  const b = new Uint8Array(body + sigLen + 12 + marker.length);
  const s = body + sigLen;
  b[s + 2] = idType;
  new DataView(b.buffer).setUint32(s + 8, sigLen);
  b.set(marker, s + 12);
  return b;
}

describe("IMA appraisal of the kexec_file_load kernel", () => {
  it("kexec-tools 2.0.27+ passes a memfd: no security.ima, so a signature rule refuses with EACCES", () => {
    for (const kt of ["2.0.27", "2.0.29", "2.0.32"]) {
      const v = evaluateGates(q({ imaPolicy: known(IMASIG) }, kt));
      expect(v.refusal).toMatchObject({
        gate: "ima-kernel-read",
        errno: "EACCES",
        syscall: "kexec_file_load",
      });
      expect(v.refusal!.log).toBe(
        'op=appraise_data cause=IMA-signature-required comm="kexec" name="memfd:kernel"',
      );
      expect(v.refusal!.reason).toMatch(/memfd/);
      expect(v.refusal!.kexecTools).toBe("kexec_file_load failed: Permission denied");
    }
  });
  it("before 2.0.27 the file itself is read: without --ima-xattr the outcome is said to depend on security.ima", () => {
    const c = imaCheck(q({ imaPolicy: known(IMASIG) }, "2.0.25"));
    expect(c.status).toBe("unknown");
    expect(c.warning).toMatch(/the outcome depends on the file's security\.ima/);
    expect(c.warning).toMatch(/--ima-xattr/);
  });
  it("--ima-xattr: none and hash fail a signature rule; a signature depends on the .ima keyring", () => {
    const none = evaluateGates(q({ imaPolicy: known(IMASIG), imaXattr: known("none") }, "2.0.25"));
    expect(none.refusal?.log).toBe(
      'op=appraise_data cause=IMA-signature-required comm="kexec" name="<the kernel file>"',
    );
    const hash = evaluateGates(q({ imaPolicy: known(IMASIG), imaXattr: known("hash") }, "2.0.25"));
    expect(hash.refusal?.errno).toBe("EACCES");
    const sig = imaCheck(q({ imaPolicy: known(IMASIG), imaXattr: known("signature") }, "2.0.25"));
    expect(sig.status).toBe("unknown");
    expect(sig.warning).toMatch(/\.ima keyring/);
  });
  it("a rule without appraise_type=imasig and a file without security.ima: missing-hash, EACCES", () => {
    const v = evaluateGates(q({ imaPolicy: known("appraise func=KEXEC_KERNEL_CHECK\n") }, "2.0.29"));
    expect(v.refusal?.log).toMatch(/cause=missing-hash/);
    // a hash under such a rule passes if it matches: not decided here
    expect(
      imaCheck(
        q({ imaPolicy: known("appraise func=KEXEC_KERNEL_CHECK\n"), imaXattr: known("hash") }, "2.0.25"),
      ).status,
    ).toBe("unknown");
  });
  it("an appended modsig counts only where the rule allows it (imasig|modsig), even through a memfd", () => {
    const modsigRule = "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig\n";
    const withSig = imaCheck(
      q({ imaPolicy: known(modsigRule), signature: { state: "unknown", modsig: true } }, "2.0.29"),
    );
    expect(withSig.status).toBe("unknown");
    expect(withSig.warning).toMatch(/modsig/);
    const without = evaluateGates(
      q({ imaPolicy: known(modsigRule), signature: { state: "unknown" } }, "2.0.29"),
    );
    expect(without.refusal?.errno).toBe("EACCES");
    expect(without.refusal?.reason).toMatch(/no appended modsig/);
    // the secure_boot rule takes no modsig
    const sb = evaluateGates(
      q({ imaPolicy: known(IMASIG), signature: { state: "unknown", modsig: true } }, "2.0.29"),
    );
    expect(sb.refusal?.errno).toBe("EACCES");
  });
  it("ima_appraise=log|fix|off: failures are logged, not refused (both syscalls); Secure Boot ignores the parameter", () => {
    for (const mode of ["log", "fix", "off"] as const) {
      const state: GateState = { imaPolicy: known(IMASIG), imaAppraise: known(mode) };
      const file = evaluateGates(q(state, "2.0.29"));
      expect(file.refusal).toBeUndefined();
      expect(file.warnings.join("\n")).toMatch(new RegExp(`IMA appraisal is in ${mode} mode`));
      const load = evaluateGates({ ...q(state), syscall: "kexec_load" });
      expect(load.refusal).toBeUndefined();
    }
    const sb = evaluateGates(
      q({ imaPolicy: known(IMASIG), imaAppraise: known("log"), secureBoot: known(true) }, "2.0.29"),
    );
    expect(sb.refusal?.errno).toBe("EACCES");
  });
  it("a collected command line's ima_appraise= is read", () => {
    const g = parseHostGates({}, "host", {
      cmdline: "console=ttyS0 ima_policy=secure_boot ima_appraise=log",
    });
    expect(g.imaAppraise).toEqual({ value: "log", source: "host/cmdline.txt: ima_appraise=log" });
  });
  it("no appraise rule for KEXEC_KERNEL_CHECK: the gate passes", () => {
    expect(imaCheck(q({ imaPolicy: known("measure func=KEXEC_KERNEL_CHECK\n") }, "2.0.29")).status).toBe(
      "allow",
    );
  });
});

describe("appendedModsig", () => {
  it("finds scripts/sign-file's trailer and the PKCS#7 before it", () => {
    expect(appendedModsig(withModsig(100, 40))).toEqual({ offset: 100, length: 40 });
  });
  it("refuses what mod_check_sig refuses: another id_type, a length past the file, no marker", () => {
    expect(appendedModsig(withModsig(100, 40, 1))).toBeNull();
    const b = withModsig(10, 40);
    new DataView(b.buffer).setUint32(10 + 40 + 8, 1000);
    expect(appendedModsig(b)).toBeNull();
    expect(appendedModsig(new Uint8Array(200))).toBeNull();
  });
});
