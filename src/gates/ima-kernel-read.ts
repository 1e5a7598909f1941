/**
 * kexec_file_load reads the kernel and initrd through kernel_read_file_from_fd (kernel/kexec_file.c
 * kimage_file_prepare_segments, READING_KEXEC_IMAGE then READING_KEXEC_INITRAMFS), which calls the
 * LSM hooks; IMA (security/integrity/ima/ima_main.c ima_post_read_file -> process_measurement ->
 * ima_appraise.c ima_appraise_measurement) appraises the file when its policy has "appraise
 * func=KEXEC_KERNEL_CHECK" (KEXEC_INITRAMFS_CHECK for the initrd) and, enforcing, fails the read with
 * EACCES unless the file's security.ima verifies.
 *
 * What the kernel's file carries decides it. A file without security.ima and without a modsig the rule
 * allows fails: ima_appraise_measurement's "rc <= 0 && !try_modsig" path sets status INTEGRITY_NOLABEL
 * with cause "IMA-signature-required" when the rule requires a signature (appraise_type=imasig, and
 * the built-in secure_boot policy), "missing-hash" otherwise, and audits it
 * (integrity_audit_msg(AUDIT_INTEGRITY_DATA, ..., "appraise_data", cause, ...)). A hash-only xattr
 * under a signature-requiring rule fails too (IMA_XATTR_DIGEST_NG with IMA_DIGSIG_REQUIRED:
 * "IMA-signature-required"). An IMA signature, or an appended modsig the rule allows
 * (appraise_type=imasig|modsig), passes or fails on the .ima keyring, which kexec-lab does not see.
 * kexec-tools 2.0.27 and later pass the kernel in a memfd, so its security.ima is always none
 * (state.ts kernelImaXattr); otherwise --ima-xattr says what the file has, and without it the gate
 * says plainly that the outcome depends on it.
 */

import { imaAppraises, imaNotEnforcing, kernelImaXattr } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

const SOURCE =
  "security/integrity/ima/ima_appraise.c ima_appraise_measurement (ima_main.c ima_post_read_file -> process_measurement, from kernel_read_file_from_fd in kernel/kexec_file.c kimage_file_prepare_segments)";

export const imaKernelReadGate: Gate = {
  name: "ima-kernel-read",
  syscalls: ["kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const source = SOURCE;
    const kernel = imaAppraises(q.state, "KEXEC_KERNEL_CHECK");
    const initrd = imaAppraises(q.state, "KEXEC_INITRAMFS_CHECK");
    if (kernel === undefined && initrd === undefined)
      return { gate: "ima-kernel-read", status: "unknown", note: "IMA policy unknown", source };
    const initrdWarning = initrd?.value.appraise
      ? `IMA appraises the initrd (${initrd.source}): kexec_file_load fails with EACCES unless the initrd's security.ima verifies (check with getfattr -n security.ima FILE)`
      : undefined;
    if (!kernel?.value.appraise) {
      if (initrdWarning === undefined)
        return {
          gate: "ima-kernel-read",
          status: "allow",
          note: "no IMA rule appraises KEXEC_KERNEL_CHECK or KEXEC_INITRAMFS_CHECK",
          source,
        };
      return {
        gate: "ima-kernel-read",
        status: "unknown",
        note: `IMA appraises the initrd (${initrd!.source})`,
        source,
        warning: initrdWarning,
      };
    }
    const rule = kernel.source;
    const sigRequired = kernel.value.imasig;
    const modsigAllowed = kernel.value.modsig === true;
    const modsig = q.state.signature?.modsig === true;
    const xattr = kernelImaXattr(q);
    const warn = (note: string, warning: string): GateCheck => ({
      gate: "ima-kernel-read",
      status: "unknown",
      note,
      source,
      warning: initrdWarning !== undefined ? `${warning}; ${initrdWarning}` : warning,
    });
    if (modsigAllowed && modsig)
      return warn(
        `IMA appraises the kernel (${rule}); the file carries an appended modsig, which the rule allows`,
        "IMA appraises the kernel's appended module signature (modsig): it loads if the signer is in the .ima keyring, EACCES otherwise",
      );
    if (xattr === undefined)
      return warn(
        `IMA appraises the kernel (${rule}${sigRequired ? ", an IMA signature is required" : ""})`,
        `IMA appraises the kernel (${rule}): kexec_file_load fails with EACCES unless the file's security.ima verifies${sigRequired ? " as an IMA signature" : ""}${modsigAllowed ? " or it carries an appended modsig the .ima keyring vouches for" : ""}; the outcome depends on the file's security.ima, which kexec-lab cannot read (check with getfattr -n security.ima FILE, then give --ima-xattr)`,
      );
    const fails = xattr.value === "none" ? true : xattr.value === "hash" && sigRequired ? true : undefined;
    const lax = imaNotEnforcing(q.state);
    if (fails && lax !== undefined)
      return {
        gate: "ima-kernel-read",
        status: "allow",
        note: `IMA appraises the kernel (${rule}) and would fail it (${xattr.source}), but appraisal is not enforced (ima_appraise=${lax.value}, ${lax.source})`,
        source,
        warning: `IMA appraisal is in ${lax.value} mode (${lax.source}): the kernel's appraisal fails and is only logged; with enforce, kexec_file_load would fail with EACCES`,
      };
    if (fails) {
      const cause = xattr.value === "none" && !sigRequired ? "missing-hash" : "IMA-signature-required";
      const name = /memfd/.test(xattr.source) ? "memfd:kernel" : "<the kernel file>";
      const reason = `IMA appraises the kernel (${rule}) and the file it reads has ${xattr.value === "none" ? "no security.ima" : "only a hash in security.ima"} (${xattr.source})${modsigAllowed ? " and no appended modsig" : ""}: "${cause}", EACCES`;
      return {
        gate: "ima-kernel-read",
        status: "refuse",
        note: reason,
        source,
        refusal: {
          gate: "ima-kernel-read",
          syscall: "kexec_file_load",
          errno: "EACCES",
          by: "kernel",
          reason,
          // the middle of the audit record (type=1800, AUDIT_INTEGRITY_DATA) integrity_audit_message
          // prints; "comm" is the calling process
          log: `op=appraise_data cause=${cause} comm="kexec" name="${name}"`,
          source,
          fix: sigRequired
            ? "sign the kernel with evmctl ima_sign (a key in the .ima keyring) and load it with a kexec that passes the file itself (kexec-tools before 2.0.27 open()s it; from 2.0.27 the memfd drops the xattr), or append a modsig where the policy allows appraise_type=imasig|modsig, or drop the rule (ima_policy=, the loaded policy)"
            : "give the file a security.ima hash (evmctl ima_hash, or ima_appraise=fix once) and load it with a kexec that passes the file itself",
        },
      };
    }
    return warn(
      `IMA appraises the kernel (${rule}); the file's security.ima holds ${xattr.value === "signature" ? "an IMA signature" : "a hash"} (${xattr.source})`,
      `IMA appraises the kernel: it loads if its security.ima ${xattr.value === "signature" ? "signature verifies against a key in the .ima keyring" : "hash matches the file"}, EACCES otherwise`,
    );
  },
};
