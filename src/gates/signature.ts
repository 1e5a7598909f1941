/**
 * kexec_file_load's signature check (CONFIG_KEXEC_SIG): kernel/kexec_file.c kimage_validate_signature
 * calls the loader's verify_sig (x86_64 bzImage64_verify_sig with CONFIG_KEXEC_BZIMAGE_VERIFY_SIG,
 * arm64 image_verify_sig with CONFIG_KEXEC_IMAGE_VERIFY_SIG; both kexec_kernel_verify_pe_sig ->
 * verify_pefile_signature against the secondary then the platform keyring). A loader without one
 * fails with EKEYREJECTED ("kernel loader does not support signature verification."). A failure is
 * final when signatures are enforced (sig_enforce: CONFIG_KEXEC_SIG_FORCE, or the IMA architecture
 * policy under Secure Boot), logging "kexec_file: Enforced kernel signature verification failed
 * (-N)."; otherwise lockdown refuses with EPERM (security_locked_down(LOCKDOWN_KEXEC)) unless IMA is
 * sure to appraise a signature (ima_appraise_signature), and without lockdown the unverified kernel
 * loads (pr_debug "kernel signature verification failed (-N).").
 *
 * The verdict on the file itself comes from src/signature (GateState.signature); without one the
 * gate says what the kernel will need.
 */

import { lockdownLog } from "./lockdown.js";
import { configOn, imaAppraises, lockdownInForce, sigEnforced } from "./state.js";
import type { Gate, GateCheck, GateQuery, GateSignatureVerdict } from "./types.js";

/** Linux errno numbers of the verifier's failures (include/uapi/asm-generic/errno.h). */
export const ERRNO_NUMBERS: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  ENOEXEC: 8,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EINVAL: 22,
  ENOSYS: 38,
  ENODATA: 61,
  EBADMSG: 74,
  EMSGSIZE: 90,
  ENOTSUP: 95,
  EADDRNOTAVAIL: 99,
  ENOKEY: 126,
  EKEYREJECTED: 129,
  ELIBBAD: 80,
  ENOPKG: 65,
  // the kernel's own ENOTSUPP (include/linux/errno.h), not ENOTSUP
  ENOTSUPP: 524,
};

/** The errno verify_pefile_signature returns for a verdict, or undefined when it passes / is unknown. */
export function verifyErrno(v: GateSignatureVerdict | undefined): string | undefined {
  if (v === undefined) return undefined;
  switch (v.state) {
    case "unsigned":
      return v.errno ?? "ENODATA";
    case "untrusted":
      return v.errno ?? "ENOKEY";
    case "bad":
      return v.errno ?? "EKEYREJECTED";
    default:
      return undefined;
  }
}

const KEYRINGS =
  ".builtin_trusted_keys or .secondary_trusted_keys (VERIFY_USE_SECONDARY_KEYRING), else .platform (UEFI db, MOK)";

export const signatureGate: Gate = {
  name: "signature",
  syscalls: ["kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const s = q.state;
    const source = "kernel/kexec_file.c kimage_validate_signature";
    const lock = lockdownInForce(s);
    const sig = configOn(s, "CONFIG_KEXEC_SIG");
    if (sig === false) {
      const warning =
        lock !== undefined && lock.value !== "none"
          ? `the kernel has no CONFIG_KEXEC_SIG: kexec_file_load loads an unverified kernel even under lockdown (${lock.value})`
          : undefined;
      return {
        gate: "signature",
        status: "allow",
        note: "CONFIG_KEXEC_SIG off: no signature check",
        source,
        ...(warning !== undefined ? { warning } : {}),
      };
    }
    const verifierItem =
      q.arch === "arm64" ? "CONFIG_KEXEC_IMAGE_VERIFY_SIG" : "CONFIG_KEXEC_BZIMAGE_VERIFY_SIG";
    const verifier = configOn(s, verifierItem);
    const v = s.signature;
    let errno: string | undefined;
    let why: string;
    if (verifier === false) {
      errno = "EKEYREJECTED";
      why = `the ${q.arch} loader has no verify_sig (${verifierItem} off): "kernel loader does not support signature verification."`;
    } else {
      errno = verifyErrno(v);
      why =
        v === undefined
          ? "the kernel file's signature was not checked"
          : v.state === "unknown"
            ? `the kernel file's signature cannot be judged here${v.detail ? `: ${v.detail}` : ""}`
            : v.state === "valid"
              ? `signed by ${v.signer ?? "a trusted key"}${v.keyring ? ` (${v.keyring})` : ""}`
              : v.state === "unsigned"
                ? errno === "ELIBBAD"
                  ? "the kernel file is not a PE file, so it carries no signature (pefile_parse_binary: ELIBBAD)"
                  : "the kernel file carries no signature (verify_pefile_signature: ENODATA)"
                : v.state === "untrusted"
                  ? `signed by ${v.signer ?? "a key"} that is in none of ${KEYRINGS} (ENOKEY)`
                  : `the signature does not verify${v.detail ? ` (${v.detail})` : ""} (${errno})`;
    }
    const enforced = sigEnforced(s);
    if (sig === undefined)
      // Without CONFIG_KEXEC_SIG kexec_file_load checks nothing (kimage_validate_signature is not built).
      return {
        gate: "signature",
        status: "unknown",
        note: `CONFIG_KEXEC_SIG unknown; ${why}`,
        source,
        ...(errno !== undefined
          ? {
              warning: `${why}: refused (${errno} or EPERM) if the kernel has CONFIG_KEXEC_SIG and enforces signatures or is locked down, loaded unverified otherwise`,
            }
          : {}),
      };
    if (errno === undefined && v?.state === "valid")
      return { gate: "signature", status: "allow", note: why, source };
    const ima = imaAppraises(s, "KEXEC_KERNEL_CHECK");
    const imaSig = ima?.value.appraise === true && ima.value.imasig;
    if (errno === undefined) {
      // Not checked: say what the kernel will need.
      const strict =
        enforced?.value === true
          ? `signatures are enforced (${enforced.source})`
          : lock !== undefined && lock.value !== "none" && !imaSig
            ? `the kernel is locked down (${lock.value}, ${lock.source})`
            : undefined;
      return {
        gate: "signature",
        status: "unknown",
        note: `${why}; ${strict !== undefined ? `${strict}: the kernel must be signed by a key in ${KEYRINGS}` : "an unsigned or unknown-key kernel would still load unless signatures are enforced or the kernel is locked down"}`,
        source,
        ...(strict === undefined
          ? {
              warning:
                "signatures are checked but not enforced here (no CONFIG_KEXEC_SIG_FORCE, no lockdown known): an unverified kernel loads",
            }
          : {}),
      };
    }
    const n = ERRNO_NUMBERS[errno] ?? 0;
    const refuse = (e: string, reason: string, log: string, fix: string): GateCheck => ({
      gate: "signature",
      status: "refuse",
      note: reason,
      source,
      refusal: {
        gate: "signature",
        syscall: "kexec_file_load",
        errno: e,
        by: "kernel",
        reason,
        log,
        source,
        fix,
      },
    });
    const fix =
      errno === "ENODATA"
        ? `sign the kernel (sbsign) with a key in ${KEYRINGS}, or use the distribution's signed kernel`
        : errno === "ENOKEY"
          ? `enroll the signer's certificate (mokutil --import, or the UEFI db for .platform), or use a kernel signed by a key the machine trusts`
          : errno === "EKEYREJECTED" && verifier === false
            ? `boot a kernel built with ${verifierItem}=y`
            : "use an unmodified signed kernel: the file no longer matches its signature";
    if (enforced?.value === true)
      return refuse(
        errno,
        `${why}, and signatures are enforced (${enforced.source})`,
        `kexec_file: Enforced kernel signature verification failed (-${n}).`,
        fix,
      );
    if (!imaSig && lock !== undefined && lock.value !== "none")
      return refuse(
        "EPERM",
        `${why}; the kernel is not enforcing signatures but is locked down (${lock.value}, ${lock.source}), so the unverified kernel is refused`,
        lockdownLog(),
        fix,
      );
    if (enforced === undefined || (lock === undefined && !imaSig))
      return {
        gate: "signature",
        status: "unknown",
        note: `${why}; whether signatures are enforced or the kernel is locked down is unknown`,
        source,
        warning: `${why}: refused (${errno} or EPERM) if signatures are enforced or the kernel is locked down, loaded unverified otherwise`,
      };
    return {
      gate: "signature",
      status: "allow",
      note: `${why}; loaded anyway: signatures are not enforced${imaSig ? " and IMA appraises the kernel's own signature" : " and the kernel is not locked down"}`,
      source,
      warning: imaSig
        ? `${why}: IMA's signature appraisal (${ima!.source}) decides instead`
        : `${why}: the kernel loads it unverified (it logs "kexec_file: kernel signature verification failed (-${n})." at debug level); KEXEC_SIG without KEXEC_SIG_FORCE or lockdown verifies nothing`,
    };
  },
};
