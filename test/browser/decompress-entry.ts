/** Bundled for the browser by test/browser-decompress.test.ts: the library's decompression and unwrap. */
import { detectCompression } from "../../src/formats/compression.js";
import { decompress } from "../../src/formats/decompress.js";
import { unwrapKernel } from "../../src/formats/unwrap.js";

/** FNV-1a over the bytes: a cheap fingerprint both sides compute. */
function fnv(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  return h.toString(16);
}

(globalThis as Record<string, unknown>).kexecLab = {
  async decompressBase64(b64: string) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const m = detectCompression(bytes);
    if (m === undefined) throw new Error("not compressed");
    const r = await decompress(bytes, m);
    return { method: m, length: r.bytes.length, fnv: fnv(r.bytes) };
  },
  async unwrapBase64(b64: string) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const u = await unwrapKernel(bytes, "vmlinuz.efi");
    return { format: u.format, length: u.kernel.length, fnv: fnv(u.kernel) };
  },
};
