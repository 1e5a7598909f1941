/**
 * The signature verifier's verdict (verify.ts KernelSignatureVerdict) as the signature gate reads it
 * (src/gates/types.ts GateSignatureVerdict). Browser-safe.
 */

import type { GateSignatureVerdict } from "../gates/types.js";
import type { KernelSignatureVerdict } from "./verify.js";

/**
 * What the signature gate needs of a verdict: its state, the errno kexec_kernel_verify_pe_sig
 * returns, the signer and keyring; for "unknown" and "untrusted" the detail names the certificate and
 * the keyrings the machine would need (verdict.needed).
 */
export function gateSignatureFrom(v: KernelSignatureVerdict): GateSignatureVerdict {
  const out: GateSignatureVerdict = { state: v.state, trustedCount: v.trustedCerts.length };
  if (v.signer !== null) out.signer = v.signer.subject;
  if (v.keyring !== null) out.keyring = v.keyring;
  if (v.errno !== null) out.errno = v.errno;
  const against =
    v.trustedCerts.length > 0
      ? `checked against ${v.trustedCerts.map((t) => `"${t.subject}" (${t.keyring}, ${t.source})`).join(", ")}`
      : "no trusted certificates given";
  const needed =
    v.needed !== null && v.state !== "valid"
      ? `; it would need ${v.needed.certificate} in ${v.needed.keyrings.join(", ")}`
      : "";
  out.detail = v.state === "unsigned" ? v.reason : `${v.reason}${needed} (${against})`;
  return out;
}
