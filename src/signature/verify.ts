/**
 * Is this kernel's signature good, and against what? The checks of the kernel's kexec_file_load
 * signature path, in its order (kernel/kexec_file.c kexec_kernel_verify_pe_sig ->
 * crypto/asymmetric_keys/verify_pefile.c verify_pefile_signature -> certs/system_keyring.c
 * verify_pkcs7_signature -> pkcs7_verify.c pkcs7_verify, pkcs7_trust.c pkcs7_validate_trust, then
 * pefile_digest_pe), run on the file's bytes with WebCrypto against certificates the caller supplies
 * for the machine's keyrings. Browser-safe; async (WebCrypto).
 *
 * Where the kernel returns an errno the verdict carries it (ELIBBAD, ENODATA, EBADMSG, EKEYREJECTED,
 * ENOKEY, ENOPKG, ENOTSUPP: the kernel's own ENOTSUPP, 524, for a WIN_CERTIFICATE of another revision
 * or type).
 */

import { getEngine } from "pkijs";
import { KexecLabError } from "../errors.js";
import { isPe, type PeFile, parsePe } from "../formats/pe.js";
import {
  authenticodeRanges,
  type DigestName,
  digestRanges,
  type PeCertificateTable,
  peCertificateTable,
  WIN_CERT_REVISION_2_0,
  WIN_CERT_TYPE_PKCS_SIGNED_DATA,
} from "./pe-hash.js";
import {
  type AuthenticodeMessage,
  type AuthenticodeSigner,
  DIGESTS,
  digestName,
  OID_MS_INDIVIDUAL_SP_KEY_PURPOSE,
  OID_SPC_INDIRECT_DATA,
  OID_SPC_PE_IMAGE_DATA,
  parseAuthenticode,
  SignatureFormatError,
} from "./pkcs7.js";
import { type CertSummary, type ParsedCert, parseCertificates, toHex } from "./x509.js";

/** The machine's keyrings a kexec kernel signature is checked against. */
export const KEYRINGS = [
  ".builtin_trusted_keys",
  ".secondary_trusted_keys",
  ".machine",
  ".platform",
] as const;
export type KeyringName = (typeof KEYRINGS)[number];

/** A certificate the caller says the machine trusts, and in which keyring. */
export interface TrustedCert {
  keyring: KeyringName;
  /** Where it came from (a file name), for the report. */
  source: string;
  cert: ParsedCert;
}

/** Reads the certificates of one file (DER or PEM) into `keyring`. Errors: parseCertificates'. */
export async function trustedCertsFromFile(
  bytes: Uint8Array,
  file: string,
  keyring: KeyringName,
): Promise<TrustedCert[]> {
  return (await parseCertificates(bytes, file)).map((cert) => ({ keyring, source: file, cert }));
}

export type SignatureState = "valid" | "unsigned" | "untrusted" | "bad" | "unknown";

/** How a signature met a trusted key (pkcs7_validate_trust_one's three ways). */
export interface TrustMatch {
  keyring: KeyringName;
  source: string;
  certificate: CertSummary;
  /** "certificate": a certificate of the message is in the keyring; "issuer": the top certificate's
   * authority is; "signer-key": the signer's issuer+serial names a key in the keyring. */
  how: "certificate" | "issuer" | "signer-key";
}

/** One WIN_CERTIFICATE entry checked (what `sbverify --list` lists, plus the checks). */
export interface SignatureCheck {
  index: number;
  /** File offset of the WIN_CERTIFICATE header. */
  offset: number;
  length: number;
  revision: string;
  certificateType: string;
  digestAlgorithm: string | null;
  /** The image hash the signature carries (SpcIndirectDataContent), hex. */
  signedDigest: string | null;
  /** The image hash of the file with that algorithm, hex (null when the algorithm is not computable). */
  peDigest: string | null;
  digestMatches: boolean | null;
  signer: CertSummary | null;
  /** The signer as the SignerInfo names it: issuer and serial (or subjectKeyIdentifier). */
  signerId: { issuer: string | null; serial: string | null; subjectKeyId: string | null };
  signingTime: string | null;
  certificates: CertSummary[];
  /** The signer's signature over the authenticated attributes (messageDigest) checks out with its key. */
  signatureValid: boolean | null;
  /** The chain inside the message from the signer up, each link's signature checked. */
  chain: CertSummary[];
  trust: TrustMatch | null;
  /** What verify_pefile_signature would return for this entry alone: null for 0. */
  errno: string | null;
  problem: string | null;
}

/**
 * The verdict on a kernel file's signature for kexec_file_load (KEXEC_SIG). The gates (src/gates)
 * read `state` and `errno`: "valid" (errno null: a chain to a supplied certificate), "unsigned"
 * (ENODATA: no certificate table), "untrusted" (ENOKEY: intact, but no supplied certificate
 * vouches for it), "bad" (EKEYREJECTED, EBADMSG, ELIBBAD, ENOTSUPP: tampered, malformed or a
 * signature that does not verify), "unknown" (no certificates were supplied, or ENOPKG: an
 * algorithm WebCrypto or the kernel lacks) - then `needed` says what would decide it.
 */
export interface KernelSignatureVerdict {
  state: SignatureState;
  /** What kexec_kernel_verify_pe_sig returns, as an errno name; null for success or when unknown. */
  errno: string | null;
  reason: string;
  /** The first signature's signer certificate (the one the kernel reads). */
  signer: CertSummary | null;
  /** The keyring whose certificate let the signature through (state valid), else null. */
  keyring: KeyringName | null;
  /** For untrusted and unknown: which certificate the machine would need, and in which keyrings. */
  needed: { certificate: string; keyrings: KeyringName[]; note: string } | null;
  digestAlgorithm: string | null;
  /** The file's image hash with the first signature's algorithm, hex. */
  peDigest: string | null;
  digestMatches: boolean | null;
  /** What the signature was checked against: every supplied certificate. */
  trustedCerts: { keyring: KeyringName; source: string; subject: string; keyDescription: string }[];
  signatures: SignatureCheck[];
  /** Whether the kernel reads this file's certificate table at all (one WIN_CERTIFICATE only). */
  kernelReadsTable: boolean;
  source: string;
}

const SOURCE =
  "kernel/kexec_file.c kexec_kernel_verify_pe_sig; crypto/asymmetric_keys/verify_pefile.c verify_pefile_signature, pkcs7_verify.c, pkcs7_trust.c";

const KEYRING_PASSES: { rings: KeyringName[]; what: string }[] = [
  {
    rings: [".builtin_trusted_keys", ".secondary_trusted_keys", ".machine"],
    what: "VERIFY_USE_SECONDARY_KEYRING (.secondary_trusted_keys links .builtin_trusted_keys and, from Linux 5.18 with CONFIG_INTEGRITY_MACHINE_KEYRING, .machine)",
  },
  {
    rings: [".platform"],
    what: "VERIFY_USE_PLATFORM_KEYRING (tried on ENOKEY with CONFIG_INTEGRITY_PLATFORM_KEYRING)",
  },
];

async function verifyWith(
  key: ParsedCert,
  data: Uint8Array,
  signature: unknown,
  sigAlg: unknown,
  hash?: string,
): Promise<boolean> {
  const engine = getEngine().crypto;
  if (!engine) throw new Error("no WebCrypto engine");
  return engine.verifyWithPublicKey(
    data as never,
    signature as never,
    key.cert.subjectPublicKeyInfo,
    sigAlg as never,
    hash,
  );
}

/** Verify `child`'s certificate signature with `issuer`'s key (public_key_verify_signature). */
async function certSignedBy(child: ParsedCert, issuer: ParsedCert): Promise<boolean> {
  try {
    return await verifyWith(
      issuer,
      child.cert.tbsView,
      child.cert.signatureValue,
      child.cert.signatureAlgorithm,
    );
  } catch {
    return false;
  }
}

async function signerInfoSignedBy(
  s: AuthenticodeSigner,
  key: ParsedCert,
  content: Uint8Array,
): Promise<boolean> {
  const hash = DIGESTS[s.digestAlgorithm]?.webcrypto;
  if (!hash) return false;
  try {
    return await verifyWith(key, s.authAttrs ?? content, s.info.signature, s.info.signatureAlgorithm, hash);
  } catch {
    return false;
  }
}

function matchKey(keys: TrustedCert[], id0: string | null, id1: string | null): TrustedCert | undefined {
  // find_asymmetric_key: by id_0 (issuer+serial), which must then also match id_1 (SKID) when given;
  // else by id_1 alone.
  if (id0 !== null) return keys.find((k) => k.cert.id === id0 && (id1 === null || k.cert.skid === id1));
  if (id1 !== null) return keys.find((k) => k.cert.skid === id1);
  return undefined;
}

interface SignerState {
  signer: ParsedCert | null;
  /** The chain inside the message, signer first; `selfSigned` when its top signs itself. */
  chain: ParsedCert[];
  topSelfSigned: boolean;
}

/** pkcs7_verify_one: digests, signing time, the signer's signature, the chain inside the message. */
async function verifyOne(
  msg: AuthenticodeMessage,
  s: AuthenticodeSigner,
): Promise<{
  errno: string | null;
  problem: string | null;
  state: SignerState;
  signatureValid: boolean | null;
}> {
  const st: SignerState = { signer: null, chain: [], topSelfSigned: false };
  const alg = DIGESTS[s.digestAlgorithm];
  if (!alg?.webcrypto)
    return {
      errno: "ENOPKG",
      problem: `digest ${digestName(s.digestAlgorithm)} is not available`,
      state: st,
      signatureValid: null,
    };
  if (s.authAttrs) {
    if (!s.messageDigest || !s.contentTypeAttr)
      return {
        errno: "EBADMSG",
        problem: "Missing required AuthAttr (contentType and messageDigest)",
        state: st,
        signatureValid: null,
      };
    if (s.contentTypeAttr !== msg.contentType)
      return {
        errno: "EBADMSG",
        problem: `the contentType attribute ${s.contentTypeAttr} is not the content's ${msg.contentType}`,
        state: st,
        signatureValid: null,
      };
    const d = new Uint8Array(
      await globalThis.crypto.subtle.digest(alg.webcrypto, msg.content as Uint8Array<ArrayBuffer>),
    );
    if (s.messageDigest.length !== d.length)
      return {
        errno: "EBADMSG",
        problem: `messageDigest has ${s.messageDigest.length} bytes, ${digestName(s.digestAlgorithm)} gives ${d.length}`,
        state: st,
        signatureValid: null,
      };
    if (toHex(d) !== toHex(s.messageDigest))
      return {
        errno: "EKEYREJECTED",
        problem: "the messageDigest attribute does not match the SpcIndirectDataContent",
        state: st,
        signatureValid: null,
      };
  }
  const signer = msg.certificates.find((c) =>
    s.id !== null ? c.id === s.id : s.skid !== null && c.skid === s.skid,
  );
  if (!signer)
    return {
      errno: null,
      problem: "the signer's certificate is not in the message",
      state: st,
      signatureValid: null,
    };
  st.signer = signer;
  if (s.signingTime) {
    const t = s.signingTime.getTime();
    if (t < signer.cert.notBefore.value.getTime() || t > signer.cert.notAfter.value.getTime())
      return {
        errno: "EKEYREJECTED",
        problem: "Message signed outside of X.509 validity window",
        state: st,
        signatureValid: null,
      };
  }
  const ok = await signerInfoSignedBy(s, signer, msg.content);
  if (!ok)
    return {
      errno: "EKEYREJECTED",
      problem:
        "the signer's signature over the authenticated attributes does not verify with its certificate's key",
      state: st,
      signatureValid: false,
    };
  // pkcs7_verify_sig_chain: up through the message's certificates by the authority key id.
  let x = signer;
  const seen = new Set<ParsedCert>();
  for (;;) {
    st.chain.push(x);
    seen.add(x);
    const selfNamed = x.cert.subject.isEqual(x.cert.issuer) && (x.authSkid === null || x.authSkid === x.skid);
    if (selfNamed && (await certSignedBy(x, x))) {
      st.topSelfSigned = true;
      break;
    }
    let p: ParsedCert | undefined;
    if (x.authId !== null) {
      p = msg.certificates.find((c) => c.id === x.authId);
      if (p && x.authSkid !== null && p.skid !== x.authSkid)
        return {
          errno: "EKEYREJECTED",
          problem: "X.509 chain contains auth-skid nonmatch",
          state: st,
          signatureValid: true,
        };
    } else if (x.authSkid !== null) p = msg.certificates.find((c) => c.skid === x.authSkid);
    if (!p || seen.has(p)) break;
    if (!(await certSignedBy(x, p)))
      return {
        errno: "EKEYREJECTED",
        problem: `certificate ${x.summary.subject} is not signed by ${p.summary.subject}`,
        state: st,
        signatureValid: true,
      };
    x = p;
  }
  return { errno: null, problem: null, state: st, signatureValid: true };
}

/** pkcs7_validate_trust_one against one pass's keys: the match, or ENOKEY / EKEYREJECTED. */
async function trustOne(
  msg: AuthenticodeMessage,
  s: AuthenticodeSigner,
  st: SignerState,
  keys: TrustedCert[],
): Promise<{ errno: string | null; match: TrustMatch | null }> {
  const matched = async (key: TrustedCert, how: TrustMatch["how"], check: () => Promise<boolean>) =>
    (await check())
      ? {
          errno: null,
          match: { keyring: key.keyring, source: key.source, certificate: key.cert.summary, how },
        }
      : { errno: "EKEYREJECTED", match: null };
  let prev: ParsedCert | null = null;
  for (const x of st.chain) {
    const key = matchKey(keys, x.id, x.skid);
    if (key) {
      const child = prev;
      return matched(key, "certificate", () =>
        child === null ? signerInfoSignedBy(s, key.cert, msg.content) : certSignedBy(child, key.cert),
      );
    }
    prev = x;
  }
  if (st.topSelfSigned) return { errno: "ENOKEY", match: null };
  const last = st.chain[st.chain.length - 1];
  if (last && (last.authId !== null || last.authSkid !== null)) {
    const key = matchKey(keys, last.authId, last.authSkid);
    if (key) return matched(key, "issuer", () => certSignedBy(last, key.cert));
  }
  const direct = matchKey(keys, s.id, null);
  if (direct) return matched(direct, "signer-key", () => signerInfoSignedBy(s, direct.cert, msg.content));
  return { errno: "ENOKEY", match: null };
}

/** The image hash of `bytes` with a digest WebCrypto has (the Authenticode PE hash, pefile_digest_pe). */
export async function authenticodeDigest(
  bytes: Uint8Array,
  algorithm: DigestName = "SHA-256",
  file?: string,
): Promise<string> {
  const pe = parsePe(bytes, file);
  const table = peCertificateTable(bytes, pe, file);
  return toHex(await digestRanges(bytes, authenticodeRanges(bytes, pe, table, file), algorithm));
}

async function checkEntry(
  bytes: Uint8Array,
  pe: PeFile,
  table: PeCertificateTable,
  index: number,
  trusted: TrustedCert[],
  file: string | undefined,
): Promise<SignatureCheck> {
  const e = table.entries[index]!;
  const out: SignatureCheck = {
    index,
    offset: e.offset,
    length: e.length,
    revision: `0x${e.revision.toString(16).padStart(4, "0")}`,
    certificateType: `0x${e.certificateType.toString(16).padStart(4, "0")}`,
    digestAlgorithm: null,
    signedDigest: null,
    peDigest: null,
    digestMatches: null,
    signer: null,
    signerId: { issuer: null, serial: null, subjectKeyId: null },
    signingTime: null,
    certificates: [],
    signatureValid: null,
    chain: [],
    trust: null,
    errno: null,
    problem: null,
  };
  if (e.revision !== WIN_CERT_REVISION_2_0 || e.certificateType !== WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
    out.errno = "ENOTSUPP";
    out.problem = `WIN_CERTIFICATE revision ${out.revision} type ${out.certificateType}: the kernel takes revision 0x0200 type 0x0002 (PKCS_SIGNED_DATA) only`;
    return out;
  }
  let msg: AuthenticodeMessage;
  try {
    msg = await parseAuthenticode(e.data);
  } catch (err) {
    if (!(err instanceof SignatureFormatError)) throw err;
    out.errno = err.errno;
    out.problem = err.message;
    return out;
  }
  out.certificates = msg.certificates.map((c) => c.summary);
  out.digestAlgorithm = digestName(msg.digestAlgorithm);
  out.signedDigest = toHex(msg.digest);
  const s0 = msg.signers[0]!;
  out.signingTime = s0.signingTime ? s0.signingTime.toISOString().replace(/\.000Z$/, "Z") : null;
  if (s0.id !== null) {
    const signerCert = msg.certificates.find((c) => c.id === s0.id);
    out.signerId = {
      issuer: signerCert?.summary.issuer ?? null,
      serial: s0.id.slice(s0.id.indexOf("/") + 1),
      subjectKeyId: null,
    };
  } else out.signerId.subjectKeyId = s0.skid;
  const alg = DIGESTS[msg.digestAlgorithm];
  if (alg?.webcrypto) {
    const d = await digestRanges(bytes, authenticodeRanges(bytes, pe, table, file), alg.webcrypto);
    out.peDigest = toHex(d);
    out.digestMatches = out.peDigest === out.signedDigest;
  }
  // verify_pkcs7_signature: parse checks, pkcs7_verify, pkcs7_validate_trust; then pefile_digest_pe.
  const fail = (errno: string, problem: string) => {
    out.errno ??= errno;
    out.problem ??= problem;
  };
  if (msg.contentType !== OID_SPC_INDIRECT_DATA)
    fail("EKEYREJECTED", `Invalid kexec sig (not Authenticode): content type ${msg.contentType}`);
  else if (msg.dataType !== OID_SPC_PE_IMAGE_DATA && msg.dataType !== OID_MS_INDIVIDUAL_SP_KEY_PURPOSE)
    fail("EBADMSG", `Unexpected content type OID ${msg.dataType} in SpcIndirectDataContent`);
  else if (!["sha224", "sha256", "sha384", "sha512"].includes(digestName(msg.digestAlgorithm)))
    fail(
      "ENOPKG",
      `the image digest ${digestName(msg.digestAlgorithm)} is not one mscode_note_digest_algo takes (sha224, sha256, sha384, sha512)`,
    );
  const states: { s: AuthenticodeSigner; st: SignerState; errno: string | null }[] = [];
  if (out.errno === null) {
    for (const s of msg.signers) {
      const r = await verifyOne(msg, s);
      if (s === s0) {
        out.signer = r.state.signer?.summary ?? null;
        out.signatureValid = r.signatureValid;
        out.chain = r.state.chain.map((c) => c.summary);
      }
      if (r.errno !== null && r.errno !== "ENOPKG") {
        fail(r.errno, r.problem ?? r.errno);
        break;
      }
      states.push({ s, st: r.state, errno: r.errno });
    }
  }
  if (out.errno === null) {
    // kexec_kernel_verify_pe_sig: the secondary keyring pass, then .platform on ENOKEY.
    let trustErrno: string | null = "ENOKEY";
    for (const pass of KEYRING_PASSES) {
      const keys = trusted.filter((k) => pass.rings.includes(k.keyring));
      let passErrno: string | null = "ENOKEY";
      for (const { s, st, errno } of states) {
        if (errno === "ENOPKG") {
          if (passErrno === "ENOKEY") passErrno = "ENOPKG";
          continue;
        }
        const r = await trustOne(msg, s, st, keys);
        if (r.errno === null) {
          passErrno = null;
          out.trust ??= r.match;
        } else if (r.errno !== "ENOKEY") {
          passErrno = r.errno;
          break;
        }
      }
      trustErrno = passErrno;
      if (trustErrno !== "ENOKEY") break;
    }
    if (trustErrno !== null)
      fail(
        trustErrno,
        trustErrno === "ENOKEY"
          ? "no supplied certificate vouches for the signer"
          : "a supplied certificate rejects the signature",
      );
  }
  if (out.errno === null) {
    if (out.digestMatches === false)
      fail(
        "EKEYREJECTED",
        "the image hash does not match the signed digest (the file was changed after signing)",
      );
    else if (out.digestMatches === null)
      fail("ENOPKG", `the image digest ${out.digestAlgorithm} cannot be computed here`);
  }
  if (out.errno === null && msg.signers.length === 0) fail("EBADMSG", "no signer");
  return out;
}

function describeNeeded(check: SignatureCheck): KernelSignatureVerdict["needed"] {
  const signer = check.signer;
  const issuerKey = signer?.authorityKeyId;
  const certificate = signer
    ? `a certificate for "${signer.issuer}"${issuerKey ? ` with subjectKeyIdentifier ${issuerKey}` : ""} (the signer's issuer), or the signer "${signer.keyDescription}" itself (serial ${signer.serial})`
    : `the certificate issuer "${check.signerId.issuer ?? "?"}" serial ${check.signerId.serial ?? "?"}`;
  return {
    certificate,
    keyrings: [".builtin_trusted_keys", ".secondary_trusted_keys", ".machine", ".platform"],
    note: "searched first through .secondary_trusted_keys (which links .builtin_trusted_keys and, from Linux 5.18, .machine holding MOK entries), then .platform (UEFI db and, on older kernels, MOK) when that finds no key; a distribution's shim puts its vendor certificate (e.g. the Debian Secure Boot CA) into MokListRT, which Linux loads into .platform or .machine",
  };
}

/**
 * The signature verdict on a kernel file as kexec_file_load's KEXEC_SIG check would reach it, against
 * `trusted` (the certificates the caller says are in the machine's keyrings; none = "unknown"). A file
 * that is not PE (no "MZ"/"PE\0\0": an ELF vmlinux, a raw compressed Image) is "unsigned" with the
 * errno the x86 and arm64 loaders' PE check would give (ELIBBAD from pefile_parse_binary); a
 * certificate table, section or SizeOfHeaders outside the file is "bad" with ELIBBAD. Errors:
 * parsePe's E_FORMAT_* where the PE headers themselves are unreadable.
 */
export async function verifyKernelSignature(
  bytes: Uint8Array,
  trusted: TrustedCert[] = [],
  file?: string,
): Promise<KernelSignatureVerdict> {
  const verdict: KernelSignatureVerdict = {
    state: "unknown",
    errno: null,
    reason: "",
    signer: null,
    keyring: null,
    needed: null,
    digestAlgorithm: null,
    peDigest: null,
    digestMatches: null,
    trustedCerts: trusted.map((t) => ({
      keyring: t.keyring,
      source: t.source,
      subject: t.cert.summary.subject,
      keyDescription: t.cert.summary.keyDescription,
    })),
    signatures: [],
    kernelReadsTable: false,
    source: SOURCE,
  };
  if (!isPe(bytes)) {
    verdict.state = "unsigned";
    verdict.errno = "ELIBBAD";
    verdict.reason =
      "not a PE file: there is no Authenticode signature to read (pefile_parse_binary returns -ELIBBAD)";
    return verdict;
  }
  const pe = parsePe(bytes, file);
  let table: PeCertificateTable;
  try {
    table = peCertificateTable(bytes, pe, file);
    authenticodeRanges(bytes, pe, table, file);
  } catch (e) {
    // A certificate table or section outside the file, SizeOfHeaders out of place: pefile_parse_binary's
    // chkaddr and header checks return -ELIBBAD.
    if (!(e instanceof KexecLabError)) throw e;
    verdict.state = "bad";
    verdict.errno = "ELIBBAD";
    verdict.reason = `${e.detail} (${e.where.field ?? "PE headers"})`;
    return verdict;
  }
  if (table.entries.length === 0) {
    verdict.state = "unsigned";
    verdict.errno = "ENODATA";
    verdict.reason =
      'the PE certificate table (data directory 4) is empty: "PEFILE: Unsigned PE binary" (ENODATA; EKEYREJECTED before Linux 5.12)';
    verdict.digestAlgorithm = "sha256";
    verdict.peDigest = toHex(
      await digestRanges(bytes, authenticodeRanges(bytes, pe, table, file), "SHA-256"),
    );
    return verdict;
  }
  for (let i = 0; i < table.entries.length; i++)
    verdict.signatures.push(await checkEntry(bytes, pe, table, i, trusted, file));
  const first = verdict.signatures[0]!;
  const e0 = table.entries[0]!;
  verdict.signer = first.signer;
  verdict.digestAlgorithm = first.digestAlgorithm;
  verdict.peDigest = first.peDigest;
  verdict.digestMatches = first.digestMatches;
  verdict.kernelReadsTable = ((e0.length + 7) & ~7) === table.size;
  if (!verdict.kernelReadsTable) {
    verdict.state = "bad";
    verdict.errno = "ELIBBAD";
    verdict.reason = `the certificate table holds ${table.entries.length} WIN_CERTIFICATE entries (0x${table.size.toString(16)} bytes); pefile_strip_sig_wrapper takes one whose length rounded up to 8 is the whole table ("Signature wrapper len wrong")`;
    return verdict;
  }
  verdict.errno = first.errno;
  if (first.errno === null) {
    verdict.state = "valid";
    verdict.keyring = first.trust?.keyring ?? null;
    const t = first.trust!;
    verdict.reason = `signed by "${first.signer?.subject ?? "?"}"; ${t.how === "certificate" ? "its certificate chain reaches" : t.how === "issuer" ? "its issuer is" : "its key is"} "${t.certificate.subject}" in ${t.keyring} (${t.source})`;
    return verdict;
  }
  if (first.errno === "ENOKEY") {
    verdict.needed = describeNeeded(first);
    if (trusted.length === 0) {
      verdict.state = "unknown";
      verdict.errno = null;
      verdict.reason = `signed by "${first.signer?.subject ?? "?"}" (issuer "${first.signer?.issuer ?? first.signerId.issuer ?? "?"}"); no trusted certificates were given, so whether the machine's keyrings hold its issuer is not known`;
    } else {
      verdict.state = "untrusted";
      verdict.reason = `signed by "${first.signer?.subject ?? "?"}" (issuer "${first.signer?.issuer ?? "?"}"), intact, but none of the ${trusted.length} given certificates vouches for it: "PKCS#7 signature not signed with a trusted key" (ENOKEY)`;
    }
    if (first.digestMatches === false) {
      verdict.state = "bad";
      verdict.reason +=
        "; and the image hash does not match the signed digest (the file was changed after signing)";
    }
    return verdict;
  }
  if (first.errno === "ENOPKG") {
    verdict.state = "unknown";
    verdict.reason = first.problem ?? "an algorithm is not available";
    verdict.needed = describeNeeded(first);
    return verdict;
  }
  verdict.state = "bad";
  verdict.reason = first.problem ?? first.errno;
  return verdict;
}
