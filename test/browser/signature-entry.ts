/** Bundled for the browser by test/browser-signature.test.ts: the library's kernel signature verdict. */
import { type KeyringName, trustedCertsFromFile, verifyKernelSignature } from "../../src/signature/verify.js";

const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

(globalThis as Record<string, unknown>).kexecLab = {
  /** The verdict on the file served at `url` against `certs` ({keyring, name, b64}), as plain JSON. */
  async verifyUrl(file: string, url: string, certs: { keyring: KeyringName; name: string; b64: string }[]) {
    const trusted = [];
    for (const c of certs)
      trusted.push(...(await trustedCertsFromFile(fromBase64(c.b64), c.name, c.keyring)));
    const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
    return JSON.parse(JSON.stringify(await verifyKernelSignature(bytes, trusted, file)));
  },
  secureContext() {
    return globalThis.isSecureContext && globalThis.crypto?.subtle !== undefined;
  },
};
