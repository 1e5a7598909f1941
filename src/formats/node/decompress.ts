/**
 * Node-only file reading helper: a gzip-compressed kernel (Image.gz, vmlinuz.gz) is inflated with
 * node:zlib so the browser-safe library only ever sees the uncompressed bytes.
 */

import { gunzipSync } from "node:zlib";
import { KexecLabError } from "../../errors.js";

/** Limit for an inflated kernel (a corrupted length must not exhaust memory). */
export const MAX_INFLATED_BYTES = 1024 * 1024 * 1024;

export function maybeGunzip(bytes: Uint8Array, file?: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES }));
  } catch (e) {
    throw new KexecLabError(
      "E_FORMAT_CORRUPT",
      `gzip data cannot be inflated: ${(e as Error).message}`,
      file !== undefined ? { file, offset: 0, field: "gzip" } : { offset: 0, field: "gzip" },
    );
  }
}
