/**
 * The certificates a machine's firmware and shim hand to Linux's keyrings, from the EFI signature lists
 * kexec-lab-collect copies: the UEFI db (efivars db-d719b2cb-3d3a-4596-a3bc-dad00e67656f, which
 * security/integrity/platform_certs/load_uefi.c load_uefi_certs puts into .platform) and shim's
 * MokListRT (/sys/firmware/efi/mok-variables/MokListRT or the runtime variable, into .platform, or
 * .machine from Linux 5.18 where the MOK list is trusted; shim mirrors its vendor certificate, e.g. the
 * Debian Secure Boot CA, into it). Both are searched for a kexec kernel's signature
 * (kexec_kernel_verify_pe_sig). Browser-safe.
 *
 * An EFI_SIGNATURE_LIST (UEFI spec 32.4.1): SignatureType (GUID), SignatureListSize, SignatureHeaderSize,
 * SignatureSize (u32 LE), the header, then entries of SignatureSize bytes: SignatureOwner (GUID) and the
 * data; EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072 marks DER certificates
 * (load_uefi.c / efi_parse_signature_list in keyring_handler.c take only those, and hashes for the
 * blacklist).
 */

import { KexecLabError } from "../errors.js";

/** EFI_CERT_X509_GUID as it is laid out in memory (the first three fields little-endian). */
const X509_GUID = [
  0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72,
];

/** The DER certificates of a buffer of EFI_SIGNATURE_LISTs. Errors: E_FORMAT_CORRUPT naming the offset. */
export function efiSignatureListCerts(bytes: Uint8Array, file: string): Uint8Array[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 28)
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `an EFI_SIGNATURE_LIST header needs 28 bytes, ${bytes.length - at} left`,
        {
          file,
          offset: at,
        },
      );
    const listSize = v.getUint32(at + 16, true);
    const headerSize = v.getUint32(at + 20, true);
    const sigSize = v.getUint32(at + 24, true);
    if (listSize < 28 + headerSize || at + listSize > bytes.length || sigSize < 16)
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `EFI_SIGNATURE_LIST of ${listSize} bytes (header ${headerSize}, entries of ${sigSize}) does not fit`,
        { file, offset: at, field: "SignatureListSize" },
      );
    const x509 = X509_GUID.every((b, i) => bytes[at + i] === b);
    if (x509)
      for (let e = at + 28 + headerSize; e + sigSize <= at + listSize; e += sigSize)
        out.push(bytes.slice(e + 16, e + sigSize));
    at += listSize;
  }
  return out;
}
