/**
 * An Authenticode signature: the PKCS#7 SignedData of one WIN_CERTIFICATE entry (RFC 2315 / RFC 5652
 * via pkijs), its SpcIndirectDataContent (Microsoft Authenticode PE specification: SEQUENCE { data
 * SpcAttributeTypeAndOptionalValue { type 1.3.6.1.4.1.311.2.1.15 SPC_PE_IMAGE_DATA, ... },
 * messageDigest DigestInfo { AlgorithmIdentifier, OCTET STRING } }), its signer infos with their
 * authenticated attributes, and the certificates it carries. The fields are those the kernel's
 * pkcs7_parser.c and mscode_parser.c note. Browser-safe.
 */

import * as asn1js from "asn1js";
import { ContentInfo, SignedData, type SignerInfo } from "pkijs";
import { type ParsedCert, parseCertificate, toHex } from "./x509.js";

export const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
export const OID_SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4";
export const OID_SPC_PE_IMAGE_DATA = "1.3.6.1.4.1.311.2.1.15";
/** pesign once wrote this instead of SPC_PE_IMAGE_DATA; mscode_note_content_type accepts both. */
export const OID_MS_INDIVIDUAL_SP_KEY_PURPOSE = "1.3.6.1.4.1.311.2.1.21";
const OID_CONTENT_TYPE = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME = "1.2.840.113549.1.9.5";

/** Digest algorithms by OID: the name sbverify/openssl print and WebCrypto's name. */
export const DIGESTS: Record<
  string,
  { name: string; webcrypto?: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512"; size: number }
> = {
  "1.3.14.3.2.26": { name: "sha1", webcrypto: "SHA-1", size: 20 },
  "2.16.840.1.101.3.4.2.4": { name: "sha224", size: 28 },
  "2.16.840.1.101.3.4.2.1": { name: "sha256", webcrypto: "SHA-256", size: 32 },
  "2.16.840.1.101.3.4.2.2": { name: "sha384", webcrypto: "SHA-384", size: 48 },
  "2.16.840.1.101.3.4.2.3": { name: "sha512", webcrypto: "SHA-512", size: 64 },
  "1.2.840.113549.2.5": { name: "md5", size: 16 },
};

export function digestName(oid: string): string {
  return DIGESTS[oid]?.name ?? oid;
}

/** One SignerInfo as pkcs7_parser.c notes it. */
export interface AuthenticodeSigner {
  info: SignerInfo;
  /** issuer+serial of the sid (the kernel's sinfo->sig->auth_ids[0]), or null for a subjectKeyIdentifier sid. */
  id: string | null;
  /** The sid's subjectKeyIdentifier, hex, when the sid is one. */
  skid: string | null;
  digestAlgorithm: string;
  /** The signature algorithm OID (rsaEncryption for sbsign and pesign). */
  signatureAlgorithm: string;
  /** The authenticated attributes re-tagged as a SET (what is signed), or null without them. */
  authAttrs: Uint8Array | null;
  messageDigest: Uint8Array | null;
  /** The contentType attribute's OID, or null. */
  contentTypeAttr: string | null;
  signingTime: Date | null;
}

/** A parsed Authenticode PKCS#7 message. */
export interface AuthenticodeMessage {
  /** SignedData's eContentType (must be SPC_INDIRECT_DATA for kexec: pkcs7_verify). */
  contentType: string;
  /** SpcAttributeTypeAndOptionalValue's type (SPC_PE_IMAGE_DATA). */
  dataType: string;
  /** The digest algorithm of the image hash (messageDigest DigestInfo). */
  digestAlgorithm: string;
  /** The image hash the signer signed. */
  digest: Uint8Array;
  /** The SpcIndirectDataContent's content octets, without its SEQUENCE header (what messageDigest covers). */
  content: Uint8Array;
  certificates: ParsedCert[];
  signers: AuthenticodeSigner[];
}

/** Thrown for a malformed message: `errno` is what the kernel's parser returns (EBADMSG, ELIBBAD). */
export class SignatureFormatError extends Error {
  constructor(
    message: string,
    readonly errno: "EBADMSG" | "ELIBBAD" | "ENOPKG" | "EKEYREJECTED",
  ) {
    super(message);
  }
}

/** The value octets of a DER TLV (header stripped). */
function derValue(tlv: Uint8Array): Uint8Array {
  if (tlv.length < 2) throw new SignatureFormatError("truncated ASN.1 element", "EBADMSG");
  const l = tlv[1]!;
  if (l < 0x80) return tlv.subarray(2, 2 + l);
  const n = l & 0x7f;
  if (n === 0 || n > 4) throw new SignatureFormatError("unsupported ASN.1 length form", "EBADMSG");
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + tlv[2 + i]!;
  return tlv.subarray(2 + n, 2 + n + len);
}

/**
 * The one value of an authenticated attribute, with the kernel's tag check (pkcs7_sig_note_authenticated_attr:
 * "Repeated/multivalue AuthAttrs not permitted" is EKEYREJECTED; a value of the wrong type EBADMSG).
 */
function attrValue<T extends asn1js.AsnType>(
  info: SignerInfo,
  oid: string,
  is: (v: asn1js.AsnType) => v is T,
): T | undefined {
  const found = info.signedAttrs?.attributes.filter((a) => a.type === oid) ?? [];
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0]!.values.length !== 1)
    throw new SignatureFormatError(`Repeated/multivalue AuthAttrs not permitted (${oid})`, "EKEYREJECTED");
  const v = found[0]!.values[0]!;
  if (!is(v))
    throw new SignatureFormatError(`authenticated attribute ${oid} has a value of the wrong type`, "EBADMSG");
  return v;
}

/** Parse the PKCS#7 of one WIN_CERTIFICATE. Errors: SignatureFormatError with the kernel's errno. */
export async function parseAuthenticode(pkcs7: Uint8Array): Promise<AuthenticodeMessage> {
  let signed: SignedData;
  let rawCerts: Uint8Array[] = [];
  try {
    const asn = asn1js.fromBER(pkcs7);
    if (asn.offset === -1) throw new Error(asn.result.error || "not BER");
    const ci = new ContentInfo({ schema: asn.result });
    if (ci.contentType !== OID_SIGNED_DATA)
      throw new Error(`content type ${ci.contentType} is not signedData`);
    signed = new SignedData({ schema: ci.content });
    // The certificates' own bytes ([0] IMPLICIT CertificateSet of the SignedData SEQUENCE).
    const set = (ci.content as asn1js.Sequence).valueBlock.value.find(
      (v) => v.idBlock.tagClass === 3 && v.idBlock.tagNumber === 0,
    ) as asn1js.Constructed | undefined;
    rawCerts = (set?.valueBlock.value ?? [])
      .filter((v) => v.idBlock.tagClass === 1 && v.idBlock.tagNumber === 16)
      .map((v) => new Uint8Array(v.valueBeforeDecodeView));
  } catch (e) {
    throw new SignatureFormatError(`PKCS#7 SignedData does not parse: ${(e as Error).message}`, "EBADMSG");
  }
  const contentType = signed.encapContentInfo.eContentType;
  const eContent = signed.encapContentInfo.eContent as asn1js.AsnType | undefined;
  if (!eContent) throw new SignatureFormatError("SignedData carries no content (detached)", "EBADMSG");
  const whole = eContent.valueBeforeDecodeView;
  let dataType = "";
  let digestAlgorithm = "";
  let digest = new Uint8Array(0);
  try {
    const seq = eContent as asn1js.Sequence;
    const data = seq.valueBlock.value[0] as asn1js.Sequence;
    dataType = (data.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
    const di = seq.valueBlock.value[1] as asn1js.Sequence;
    const alg = di.valueBlock.value[0] as asn1js.Sequence;
    digestAlgorithm = (alg.valueBlock.value[0] as asn1js.ObjectIdentifier).valueBlock.toString();
    digest = new Uint8Array((di.valueBlock.value[1] as asn1js.OctetString).valueBlock.valueHexView);
  } catch {
    if (contentType === OID_SPC_INDIRECT_DATA)
      throw new SignatureFormatError("SpcIndirectDataContent does not parse", "EBADMSG");
  }
  const certificates: ParsedCert[] = [];
  for (const [i, raw] of rawCerts.entries()) {
    try {
      certificates.push(await parseCertificate(raw, `certificate ${i + 1} of the PKCS#7 message`));
    } catch (e) {
      throw new SignatureFormatError((e as Error).message, "EBADMSG");
    }
  }
  const signerOf = (info: SignerInfo): AuthenticodeSigner => {
    let id: string | null = null;
    let skid: string | null = null;
    const sid = info.sid as {
      issuer?: { valueBeforeDecode: ArrayBuffer };
      serialNumber?: asn1js.Integer;
    } & asn1js.AsnType;
    if (sid.issuer && sid.serialNumber)
      id = `${toHex(sid.issuer.valueBeforeDecode)}/${toHex(sid.serialNumber.valueBlock.valueHexView)}`;
    else if (sid instanceof asn1js.Constructed || sid instanceof asn1js.Primitive)
      skid = toHex((sid as asn1js.Primitive).valueBlock.valueHexView ?? new Uint8Array(0));
    const md = attrValue(
      info,
      OID_MESSAGE_DIGEST,
      (v): v is asn1js.OctetString => v instanceof asn1js.OctetString,
    );
    const ct = attrValue(
      info,
      OID_CONTENT_TYPE,
      (v): v is asn1js.ObjectIdentifier => v instanceof asn1js.ObjectIdentifier,
    );
    const st = attrValue(info, OID_SIGNING_TIME, (v): v is asn1js.UTCTime => v instanceof asn1js.UTCTime);
    return {
      info,
      id,
      skid,
      digestAlgorithm: info.digestAlgorithm.algorithmId,
      signatureAlgorithm: info.signatureAlgorithm.algorithmId,
      authAttrs: info.signedAttrs ? new Uint8Array(info.signedAttrs.encodedValue) : null,
      messageDigest: md ? new Uint8Array(md.valueBlock.valueHexView) : null,
      contentTypeAttr: ct ? ct.valueBlock.toString() : null,
      signingTime: st ? st.toDate() : null,
    };
  };
  const signers: AuthenticodeSigner[] = [];
  for (const info of signed.signerInfos) {
    try {
      signers.push(signerOf(info));
    } catch (e) {
      if (e instanceof SignatureFormatError) throw e;
      throw new SignatureFormatError(`SignerInfo does not parse: ${(e as Error).message}`, "EBADMSG");
    }
  }
  if (signers.length === 0) throw new SignatureFormatError("SignedData has no SignerInfo", "EBADMSG");
  return {
    contentType,
    dataType,
    digestAlgorithm,
    digest,
    content: derValue(whole ?? new Uint8Array(0)),
    certificates,
    signers,
  };
}
