/**
 * The certificates a Debian kernel compiles into itself (system_certificate_list, certs/system_certificates.S),
 * which it loads into .builtin_trusted_keys at boot ("Loaded X.509 cert 'DESCRIPTION'" in dmesg): found in the
 * bzImage's decompressed payload by the key descriptions the recorded dmesg names. The payload is zstd on
 * Debian's 6.12 and 7.3 kernels: the zstd command (CI installs it) decompresses it in a fraction of a second;
 * without it the library's own decoder does (about half a minute).
 */

import { parseBzImage } from "../../src/formats/bzimage.js";
import { detectCompression } from "../../src/formats/compression.js";
import { decompress } from "../../src/formats/decompress.js";
import { spawnSyncOwned } from "../../src/node/child.js";
import type { TrustedCert } from "../../src/signature/verify.js";
import { parseCertificates } from "../../src/signature/x509.js";

/** The key descriptions of dmesg's "Loaded X.509 cert '...'" lines (load_certificate_list). */
export function loadedCertDescriptions(dmesg: string): string[] {
  return [...dmesg.matchAll(/Loaded X\.509 cert '([^']+)'/g)].map((m) => m[1]!);
}

/** The decompressed kernel (vmlinux) inside a bzImage: the payload at (setup_sects + 1) * 512 + payload_offset. */
export async function bzImagePayload(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  const bz = parseBzImage(bytes, file);
  const setup = ((bytes[0x1f1] || 4) + 1) * 512;
  const payload = bytes.subarray(setup + bz.payloadOffset, setup + bz.payloadOffset + bz.payloadLength);
  const method = detectCompression(payload);
  if (method === undefined) throw new Error(`${file}: the payload's compression is not recognised`);
  if (method === "zstd") {
    // kbuild appends the decompressed size (le32, size_append) after the frame, which zstd calls
    // trailing garbage (exit 1): the output is whole when its length is that size
    const r = spawnSyncOwned("zstd", ["-dc"], { input: payload, maxBuffer: 512 << 20 });
    const n = payload.length;
    const size =
      (payload[n - 4]! | (payload[n - 3]! << 8) | (payload[n - 2]! << 16) | (payload[n - 1]! << 24)) >>> 0;
    if (r.stdout !== null && r.stdout.length === size) return new Uint8Array(r.stdout);
  }
  return (await decompress(payload, method)).bytes;
}

/**
 * The DER certificates of `vmlinux` whose key descriptions ("CN: subjectKeyIdentifier") are `wanted`, as
 * .builtin_trusted_keys entries. Throws when one is not found: the replay then does not stand for the guest.
 */
export async function embeddedCertificates(
  vmlinux: Uint8Array,
  wanted: readonly string[],
  file: string,
): Promise<TrustedCert[]> {
  const buf = Buffer.from(vmlinux.buffer, vmlinux.byteOffset, vmlinux.length);
  const out: TrustedCert[] = [];
  for (const desc of wanted) {
    const cn = desc.slice(0, desc.lastIndexOf(": "));
    let found: TrustedCert | undefined;
    for (let hit = buf.indexOf(cn); hit >= 0 && found === undefined; hit = buf.indexOf(cn, hit + 1)) {
      // the enclosing Certificate: SEQUENCE (30 82 len) whose first element is the TBSCertificate SEQUENCE
      for (let i = hit - 4; i >= Math.max(0, hit - 2048) && found === undefined; i--) {
        if (buf[i] !== 0x30 || buf[i + 1] !== 0x82 || buf[i + 4] !== 0x30 || buf[i + 5] !== 0x82) continue;
        const end = i + 4 + ((buf[i + 2]! << 8) | buf[i + 3]!);
        if (end <= hit || end > buf.length) continue;
        try {
          const [cert] = await parseCertificates(
            vmlinux.subarray(i, end),
            `${file} (system certificate list)`,
          );
          if (cert?.summary.keyDescription === desc)
            found = { keyring: ".builtin_trusted_keys", source: `${file}: compiled-in "${desc}"`, cert };
        } catch {
          // not a certificate after all
        }
      }
    }
    if (found === undefined) throw new Error(`${file}: no compiled-in certificate "${desc}"`);
    out.push(found);
  }
  return out;
}
