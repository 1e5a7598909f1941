/**
 * The kernel signature verdict runs in a browser and agrees with Node: src/signature bundled by esbuild
 * for the browser platform (pkijs, asn1js, WebCrypto; no Node built-ins), loaded into Debian's Chromium
 * (headless, via playwright-core), given the Debian-signed x86_64 kernel, and Debian's systemd-stub
 * (a small EFI PE file, with gaps between its sections) unsigned, signed by a throwaway key (openssl +
 * sbsign) and signed then one byte of .text flipped, against the Debian Secure Boot CA and the
 * throwaway certificate: the whole verdict must equal Node's, and the states must be valid, bad,
 * unsigned and valid/untrusted. The files reach the page through playwright's router on an https
 * origin (a secure context: WebCrypto).
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePe } from "../src/formats/pe.js";
import { commandExists, execFileSyncOwned } from "../src/node/child.js";
import { type KeyringName, trustedCertsFromFile, verifyKernelSignature } from "../src/signature/verify.js";
import { bundledPage } from "./helpers/browser-page.js";
import { dataFile } from "./helpers/data.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const TOOLS = ["sbsign", "openssl"].every((t) => commandExists(t)) && existsSync(STUB);
/** The real input, from the pinned test data (test/helpers/data.ts). */
const KERNEL = dataFile("debian-6.1.0-56-cloud-amd64.bzImage");
const DEBIAN_CA = fileURLToPath(new URL("./fixtures/signature/debian-secure-boot-ca.pem", import.meta.url));
const dir = testTempDir("browser-signature");
const f = {
  tampered: join(dir, "tampered.efi"),
  ownSigned: join(dir, "own-signed.efi"),
  key: join(dir, "key.pem"),
  cert: join(dir, "cert.pem"),
};
const read = (p: string) => new Uint8Array(readFileSync(p));
const run = (cmd: string, args: string[]) => execFileSyncOwned(cmd, args, { encoding: "utf8" });

let browser: BrowserContext;
const ORIGIN = "https://kexec-lab.test";
/** Files the router serves, by name. */
const served = new Map<string, string>();
let verifyInBrowser: (
  name: string,
  path: string,
  certs: { keyring: KeyringName; name: string; b64: string }[],
) => Promise<Record<string, unknown>>;
let secure: boolean;

beforeAll(async () => {
  if (TOOLS) {
    selfSignedKey(f.key, f.cert, "/CN=kexec-lab browser test signer");
    run("sbsign", ["--key", f.key, "--cert", f.cert, "--output", f.ownSigned, STUB]);
    const bytes = read(f.ownSigned);
    const text = parsePe(bytes).sections.find((s) => s.name === ".text")!;
    bytes[text.pointerToRawData + 0x321] ^= 0x80;
    writeFileSync(f.tampered, bytes);
  }
  ({ browser } = await bundledPage(
    fileURLToPath(new URL("./browser/signature-entry.ts", import.meta.url)),
    dir,
  ));
  const page = await browser.newPage();
  // An https origin (a secure context, for WebCrypto) served by playwright's router: the page and the
  // kernel files, fetched by the page as the files they are (no base64 through evaluate).
  await page.route(`${ORIGIN}/**`, (route) => {
    const name = decodeURIComponent(new URL(route.request().url()).pathname.slice(1));
    const path = name === "page.html" ? join(dir, "page.html") : served.get(name);
    if (path === undefined) return route.fulfill({ status: 404 });
    return route.fulfill({
      status: 200,
      contentType: name === "page.html" ? "text/html" : "application/octet-stream",
      body: readFileSync(path),
    });
  });
  await page.goto(`${ORIGIN}/page.html`);
  type Api = Record<string, (...a: unknown[]) => Promise<never>>;
  secure = await page.evaluate(() => (globalThis as never as { kexecLab: Api }).kexecLab.secureContext!());
  verifyInBrowser = (name, path, certs) => {
    served.set(name, path);
    return page.evaluate(
      ([fl, url, cs]) => (globalThis as never as { kexecLab: Api }).kexecLab.verifyUrl!(fl, url, cs),
      [name, `${ORIGIN}/${encodeURIComponent(name)}`, certs] as const,
    );
  };
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

const certFile = (keyring: KeyringName, path: string) => ({
  keyring,
  name: path.slice(path.lastIndexOf("/") + 1),
  b64: readFileSync(path).toString("base64"),
});

async function same(file: string, certs: { keyring: KeyringName; name: string; b64: string }[]) {
  const bytes = read(file);
  const trusted = [];
  for (const c of certs)
    trusted.push(
      ...(await trustedCertsFromFile(new Uint8Array(Buffer.from(c.b64, "base64")), c.name, c.keyring)),
    );
  const name = file.slice(file.lastIndexOf("/") + 1);
  const node = JSON.parse(JSON.stringify(await verifyKernelSignature(bytes, trusted, name)));
  const web = await verifyInBrowser(name, file, certs);
  expect(web).toEqual(node);
  return node as { state: string; errno: string | null };
}

describe("kernel signatures in Chromium", () => {
  it("the page is a secure context with WebCrypto", () => {
    expect(secure).toBe(true);
  });

  it("the Debian-signed bzImage against the Debian CA: valid, same verdict as Node", async () => {
    expect(await same(KERNEL, [certFile(".platform", DEBIAN_CA)])).toMatchObject({ state: "valid" });
  }, 30_000);

  it("Debian's 6.12 and 7.3 kernels, signed and unsigned builds: the same verdicts as Node (and sbverify's, test/signature-oracle.test.ts)", async () => {
    const ca = [certFile(".platform", DEBIAN_CA)];
    for (const v of ["6.12.118", "7.3.4"]) {
      expect(await same(dataFile(`debian-${v}-cloud-amd64.bzImage`), ca)).toMatchObject({ state: "valid" });
      expect(await same(dataFile(`debian-${v}-cloud-amd64-unsigned.bzImage`), ca)).toMatchObject({
        state: "unsigned",
        errno: "ENODATA",
      });
    }
  }, 120_000);

  it.skipIf(!TOOLS)(
    "systemd-stub unsigned, own-key-signed and tampered: same verdicts as Node",
    async () => {
      expect(await same(f.tampered, [certFile(".machine", f.cert)])).toMatchObject({
        state: "bad",
        errno: "EKEYREJECTED",
      });
      expect(await same(STUB, [])).toMatchObject({ state: "unsigned", errno: "ENODATA" });
      expect(await same(f.ownSigned, [certFile(".machine", f.cert)])).toMatchObject({ state: "valid" });
      expect(await same(f.ownSigned, [certFile(".platform", DEBIAN_CA)])).toMatchObject({
        state: "untrusted",
        errno: "ENOKEY",
      });
    },
    60_000,
  );
});
