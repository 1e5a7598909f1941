/**
 * X.509 certificates for signature checks: parsed with pkijs (DER, or PEM with one or more
 * "CERTIFICATE" blocks), summarized the way the kernel names keys (crypto/asymmetric_keys/
 * x509_cert_parse.c, x509_public_key.c: the key description "<subject name>: <SKID, or the serial
 * without one>", the subject name fabricated from CN and O as x509_fabricate_name does). Browser-safe.
 */

import * as asn1js from "asn1js";
import { AuthorityKeyIdentifier, Certificate, type RelativeDistinguishedNames } from "pkijs";
import { KexecLabError } from "../errors.js";

/** A certificate as `inspect` and the verdict show it (JSON-ready). */
export interface CertSummary {
  /** The subject as "CN=..., O=..." (RFC 4514 order: most specific first). */
  subject: string;
  /** The issuer, same form. */
  issuer: string;
  /** The serial number, hex (lower case, no leading zero bytes beyond the DER form). */
  serial: string;
  /** subjectKeyIdentifier, hex, or null. */
  subjectKeyId: string | null;
  /** authorityKeyIdentifier's keyIdentifier, hex, or null. */
  authorityKeyId: string | null;
  /** The kernel's key description (/proc/keys, keyctl show): "<CN or O: CN>: <SKID or serial>". */
  keyDescription: string;
  notBefore: string;
  notAfter: string;
  /** "RSA-2048", "EC-P256", ... */
  publicKey: string;
  /** SHA-256 of the DER certificate, hex (what `openssl x509 -fingerprint -sha256` prints, without colons). */
  sha256: string;
}

/** A parsed certificate: the pkijs object, its DER bytes and its summary. */
export interface ParsedCert {
  cert: Certificate;
  der: Uint8Array;
  summary: CertSummary;
  /** The kernel's key ids: issuer+serial (x509->id) as "issuerDER/serialDER" hex, and the SKID. */
  id: string;
  skid: string | null;
  /** The authority key id: issuer+serial from authorityCertIssuer/Serial, and keyIdentifier. */
  authId: string | null;
  authSkid: string | null;
}

export function toHex(b: Uint8Array | ArrayBuffer): string {
  const v = b instanceof Uint8Array ? b : new Uint8Array(b);
  let s = "";
  for (let i = 0; i < v.length; i++) s += v[i]!.toString(16).padStart(2, "0");
  return s;
}

const NAME_KEYS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "emailAddress",
};

function attr(rdn: RelativeDistinguishedNames, oid: string): string | undefined {
  const t = rdn.typesAndValues.find((x) => x.type === oid);
  return t ? String((t.value.valueBlock as { value?: unknown }).value ?? "") : undefined;
}

export function nameString(rdn: RelativeDistinguishedNames): string {
  return rdn.typesAndValues
    .slice()
    .reverse()
    .map(
      (t) =>
        `${NAME_KEYS[t.type] ?? t.type}=${String((t.value.valueBlock as { value?: unknown }).value ?? "")}`,
    )
    .join(", ");
}

/** x509_fabricate_name: CN, or "O: CN" unless CN begins with O, or O alone, or the email address. */
function fabricateName(rdn: RelativeDistinguishedNames): string {
  const cn = attr(rdn, "2.5.4.3");
  const o = attr(rdn, "2.5.4.10");
  const email = attr(rdn, "1.2.840.113549.1.9.1");
  if (cn === undefined && o === undefined) return email ?? "";
  if (cn !== undefined && o !== undefined) return cn.startsWith(o) ? cn : `${o}: ${cn}`;
  return (cn ?? o)!;
}

function publicKeyName(cert: Certificate): string {
  const spki = cert.subjectPublicKeyInfo;
  const alg = spki.algorithm.algorithmId;
  if (alg === "1.2.840.113549.1.1.1" || alg === "1.2.840.113549.1.1.10") {
    const parsed = spki.parsedKey as { modulus?: asn1js.Integer } | undefined;
    const mod = parsed?.modulus?.valueBlock.valueHexView;
    let bits = mod ? mod.length * 8 : 0;
    if (mod && mod[0] === 0) bits -= 8;
    return `RSA-${bits}`;
  }
  if (alg === "1.2.840.10045.2.1") {
    const curve = spki.algorithm.algorithmParams?.valueBlock?.toString?.() as string | undefined;
    const names: Record<string, string> = {
      "1.2.840.10045.3.1.7": "P256",
      "1.3.132.0.34": "P384",
      "1.3.132.0.35": "P521",
    };
    return `EC-${names[curve ?? ""] ?? curve ?? "?"}`;
  }
  return alg;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, "Z");
}

/** Parse one DER certificate. Errors: E_FORMAT_CORRUPT naming `what`. */
export async function parseCertificate(der: Uint8Array, what: string): Promise<ParsedCert> {
  let cert: Certificate;
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1) throw new Error(asn.result.error || "not BER");
    cert = new Certificate({ schema: asn.result });
  } catch (e) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `${what} is not an X.509 certificate: ${(e as Error).message}`,
      { field: "certificate" },
    );
  }
  let skid: string | null = null;
  let authSkid: string | null = null;
  let authId: string | null = null;
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === "2.5.29.14") {
      const inner = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
      if (inner.result instanceof asn1js.OctetString) skid = toHex(inner.result.valueBlock.valueHexView);
    } else if (ext.extnID === "2.5.29.35") {
      const aki = new AuthorityKeyIdentifier({
        schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result,
      });
      if (aki.keyIdentifier) authSkid = toHex(aki.keyIdentifier.valueBlock.valueHexView);
      const dirName = aki.authorityCertIssuer?.find((g) => g.type === 4)?.value as
        | RelativeDistinguishedNames
        | undefined;
      if (dirName && aki.authorityCertSerialNumber)
        authId = `${toHex(dirName.valueBeforeDecode)}/${toHex(aki.authorityCertSerialNumber.valueBlock.valueHexView)}`;
    }
  }
  const serial = toHex(cert.serialNumber.valueBlock.valueHexView);
  const sha256 = toHex(await globalThis.crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>));
  return {
    cert,
    der,
    id: `${toHex(cert.issuer.valueBeforeDecode)}/${serial}`,
    skid,
    authId,
    authSkid,
    summary: {
      subject: nameString(cert.subject),
      issuer: nameString(cert.issuer),
      serial,
      subjectKeyId: skid,
      authorityKeyId: authSkid,
      keyDescription: `${fabricateName(cert.subject)}: ${skid ?? serial}`,
      notBefore: iso(cert.notBefore.value),
      notAfter: iso(cert.notAfter.value),
      publicKey: publicKeyName(cert),
      sha256,
    },
  };
}

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The certificates in a file: DER (one certificate) or PEM (every "BEGIN CERTIFICATE" block; other
 * blocks are skipped). Errors: E_WRONG_FILE when the file holds neither, E_FORMAT_CORRUPT when a
 * block or the DER does not parse as a certificate.
 */
export async function parseCertificates(bytes: Uint8Array, file: string): Promise<ParsedCert[]> {
  if (bytes.length > 0 && bytes[0] === 0x30) return [await parseCertificate(bytes, file)];
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  const blocks = [
    ...text.matchAll(
      /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g,
    ),
  ];
  if (blocks.length === 0)
    throw new KexecLabError(
      "E_WRONG_FILE",
      `${file} is neither a DER X.509 certificate nor PEM with a "BEGIN CERTIFICATE" block: a trusted certificate is expected here`,
      { file, offset: 0 },
    );
  const out: ParsedCert[] = [];
  for (let i = 0; i < blocks.length; i++) {
    let der: Uint8Array;
    try {
      der = base64ToBytes(blocks[i]![1]!);
    } catch {
      throw new KexecLabError("E_FORMAT_CORRUPT", `PEM block ${i + 1} of ${file} is not base64`, {
        file,
        offset: blocks[i]!.index ?? 0,
      });
    }
    out.push(await parseCertificate(der, blocks.length > 1 ? `${file} (PEM block ${i + 1})` : file));
  }
  return out;
}
