/**
 * An appended module signature at the end of a file (scripts/sign-file's format, which IMA accepts as a
 * "modsig" where its policy rule allows appraise_type=imasig|modsig): the marker "~Module signature
 * appended~\n" (MODULE_SIG_STRING, include/linux/module_signature.h) preceded by a 12-byte struct
 * module_signature {algo, hash, id_type, signer_len, key_id_len, __pad[3], sig_len (big-endian)} and the
 * PKCS#7 of sig_len bytes. security/integrity/ima/ima_modsig.c ima_read_modsig finds it there and
 * mod_check_sig (kernel/module_signature.c) checks id_type PKEY_ID_PKCS7 (2) and that sig_len fits.
 * Browser-safe.
 */

const MARKER = "~Module signature appended~\n";
const PKEY_ID_PKCS7 = 2;
const SIG_STRUCT = 12;

/** The appended signature's PKCS#7 length and offset, or null when the file has none (or it is malformed). */
export function appendedModsig(bytes: Uint8Array): { offset: number; length: number } | null {
  const m = MARKER.length;
  if (bytes.length < m + SIG_STRUCT) return null;
  for (let i = 0; i < m; i++) if (bytes[bytes.length - m + i] !== MARKER.charCodeAt(i)) return null;
  const s = bytes.length - m - SIG_STRUCT;
  const idType = bytes[s + 2]!;
  const signerLen = bytes[s + 3]!;
  const keyIdLen = bytes[s + 4]!;
  const sigLen =
    ((bytes[s + 8]! << 24) | (bytes[s + 9]! << 16) | (bytes[s + 10]! << 8) | bytes[s + 11]!) >>> 0;
  // mod_check_sig: PKCS#7 only, no signer name or key id in the struct, the signature inside the file.
  if (idType !== PKEY_ID_PKCS7 || signerLen !== 0 || keyIdLen !== 0 || sigLen === 0 || sigLen > s)
    return null;
  return { offset: s - sigLen, length: sigLen };
}
