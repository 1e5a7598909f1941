/**
 * `kexec-lab inspect`'s verdicts on a kernel file: which loader path takes it with a given kexec-tools
 * release, what `kexec -l` does (src/loader/accept.ts), and the kernel's signature (src/signature). Browser-safe.
 */

import type { KernelFileFormat } from "../formats/unwrap.js";
import { acceptance, autoLoad, LOADER_PATHS } from "../loader/accept.js";
import { type KernelSignatureVerdict, type TrustedCert, verifyKernelSignature } from "../signature/verify.js";

/** The architecture a kernel file is for, from its innermost format. */
export function kernelFormatArch(f: KernelFileFormat): "arm64" | "x86_64" | undefined {
  switch (f.kind) {
    case "arm64-image":
      return "arm64";
    case "bzimage":
      return "x86_64";
    case "elf":
      return f.arch === "unknown" ? undefined : f.arch;
    case "compressed":
    case "zboot":
    case "uki":
      return kernelFormatArch(f.inner);
    default:
      return undefined;
  }
}

/**
 * Adds `loaders` (each loader path's outcome, errno, unwrapping steps and reason) and `kexecCommand` (what
 * `kexec -l` does, autoLoad) to an inspect summary of a kernel whose arch is known, as kexec-tools
 * `version` judges it; a summary of anything else is left as it is.
 */
export function judgeLoaders(summary: Record<string, unknown>, version: string): void {
  const format = summary.kernelFormat as KernelFileFormat | undefined;
  const arch = format ? kernelFormatArch(format) : undefined;
  if (format === undefined || arch === undefined) return;
  summary.loaders = LOADER_PATHS.map((p) => {
    const a = acceptance(arch, format, p, version);
    return {
      loader: p,
      outcome: a.outcome,
      errno: a.errno ?? null,
      unwrap: a.unwrap.join("; ") || null,
      reason: a.reason,
    };
  });
  summary.kexecCommand = autoLoad(arch, format, version).summary;
}

/**
 * Adds `signature` (the verdict on the file's Authenticode signature as kexec_file_load's KEXEC_SIG
 * check would reach it, against `trusted`: src/signature/verify.ts) and `signatureEntries` (one row per
 * WIN_CERTIFICATE, as `sbverify --list` lists them) to an inspect summary of a kernel or another PE
 * file (an EFI binary). Anything else is left as it is. Errors: verifyKernelSignature's.
 */
export async function inspectSignature(
  summary: Record<string, unknown>,
  bytes: Uint8Array,
  trusted: TrustedCert[],
  file?: string,
): Promise<KernelSignatureVerdict | undefined> {
  if (summary.kernelFormat === undefined && summary.kind !== "pe") return undefined;
  const v = await verifyKernelSignature(bytes, trusted, file);
  const first = v.signatures[0];
  summary.signature = {
    state: v.state,
    errno: v.errno,
    reason: v.reason,
    signer: v.signer?.subject ?? null,
    issuer: v.signer?.issuer ?? first?.signerId.issuer ?? null,
    serial: v.signer?.serial ?? first?.signerId.serial ?? null,
    signerKeyId: v.signer?.subjectKeyId ?? null,
    issuerKeyId: v.signer?.authorityKeyId ?? null,
    keyDescription: v.signer?.keyDescription ?? null,
    signingTime: first?.signingTime ?? null,
    digestAlgorithm: v.digestAlgorithm,
    peDigest: v.peDigest,
    signedDigest: first?.signedDigest ?? null,
    digestMatches: v.digestMatches,
    signatures: v.signatures.length,
    kernelReadsTable: v.signatures.length === 0 ? null : v.kernelReadsTable,
    keyring: v.keyring,
    verifiedAgainst: v.trustedCerts.map((t) => ({ keyring: t.keyring, file: t.source, subject: t.subject })),
    needed: v.needed?.certificate ?? null,
    neededKeyrings: v.needed?.keyrings ?? null,
    source: v.source,
  };
  summary.signatureEntries = v.signatures.map((s) => ({
    index: s.index,
    offset: `0x${s.offset.toString(16)}`,
    length: s.length,
    digest: s.digestAlgorithm,
    signer: s.signer?.subject ?? null,
    issuer: s.signer?.issuer ?? s.signerId.issuer,
    digestMatches: s.digestMatches,
    trustedBy: s.trust ? `${s.trust.certificate.subject} (${s.trust.keyring})` : null,
    errno: s.errno,
  }));
  return v;
}
