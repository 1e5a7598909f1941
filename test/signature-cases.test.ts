/**
 * The signature verdict's failure paths, each on a small file made here from Debian's systemd-stub
 * (an EFI PE file) signed with a throwaway key by sbsign: a WIN_CERTIFICATE of another revision
 * (ENOTSUPP), a PKCS#7 that does not parse (EBADMSG), a flipped byte of the RSA signature
 * (EKEYREJECTED, the signer's signature fails), a certificate table running past the end of the
 * file (ELIBBAD), a file that is not PE; the --trusted-cert spec and files; and `inspect`'s
 * text and JSON with and without --trusted-cert.
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePe } from "../src/formats/pe.js";
import { commandExists, execFileSyncOwned } from "../src/node/child.js";
import { parseTrustedCertSpec, readTrustedCerts } from "../src/signature/node/trusted-certs.js";
import { authenticodeRanges, digestRanges, peCertificateTable } from "../src/signature/pe-hash.js";
import { trustedCertsFromFile, verifyKernelSignature } from "../src/signature/verify.js";
import { smallElf64 } from "./fuzz/targets.js";
import { runCli } from "./helpers/cli.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const CAN = existsSync(STUB) && ["sbsign", "openssl"].every((t) => commandExists(t));
const dir = testTempDir("signature-cases");
const f = {
  key: join(dir, "key.pem"),
  cert: join(dir, "cert.pem"),
  der: join(dir, "cert.der"),
  signed: join(dir, "signed.efi"),
};
const read = (p: string) => new Uint8Array(readFileSync(p));
const run = (cmd: string, args: string[]) => execFileSyncOwned(cmd, args, { encoding: "utf8" });
const trusted = () => trustedCertsFromFile(read(f.cert), f.cert, ".machine");

/** A copy of the signed stub with `edit` applied at the first WIN_CERTIFICATE (`at` = its offset). */
function edited(edit: (b: Uint8Array, at: number, end: number) => void): Uint8Array {
  const b = read(f.signed);
  const e = peCertificateTable(b, parsePe(b)).entries[0]!;
  edit(b, e.offset, e.offset + e.length);
  return b;
}

beforeAll(() => {
  if (!CAN) return;
  selfSignedKey(f.key, f.cert, "/O=Example Org/CN=kexec-lab cases signer");
  run("openssl", ["x509", "-in", f.cert, "-outform", "der", "-out", f.der]);
  run("sbsign", ["--key", f.key, "--cert", f.cert, "--output", f.signed, STUB]);
}, 30_000);

describe.skipIf(!CAN)("signature failure paths", () => {
  it("the intact file is valid; the key description follows x509_fabricate_name (O: CN)", async () => {
    const v = await verifyKernelSignature(read(f.signed), await trusted(), "signed.efi");
    expect(v.state).toBe("valid");
    expect(v.signer!.keyDescription).toMatch(/^Example Org: kexec-lab cases signer: [0-9a-f]{40}$/);
    expect(v.signer!.subject).toBe("CN=kexec-lab cases signer, O=Example Org");
  });

  it("a WIN_CERTIFICATE of revision 0x0100: bad, ENOTSUPP", async () => {
    const b = edited((x, at) => {
      x[at + 5] = 0x01;
    });
    expect(await verifyKernelSignature(b, await trusted())).toMatchObject({
      state: "bad",
      errno: "ENOTSUPP",
    });
  });

  it("a PKCS#7 that is not a SEQUENCE: bad, EBADMSG", async () => {
    const b = edited((x, at) => {
      x[at + 8] = 0x04;
    });
    expect(await verifyKernelSignature(b, await trusted())).toMatchObject({ state: "bad", errno: "EBADMSG" });
  });

  it("one byte of the RSA signature flipped: bad, EKEYREJECTED, the digest still matches", async () => {
    const b = edited((x, _at, end) => {
      x[end - 5]! ^= 0x01;
    });
    const v = await verifyKernelSignature(b, await trusted());
    expect(v).toMatchObject({ state: "bad", errno: "EKEYREJECTED", digestMatches: true });
    expect(v.signatures[0]!.signatureValid).toBe(false);
  });

  it("a certificate table past the end of the file: bad, ELIBBAD, naming DataDirectory[4]", async () => {
    const b = read(f.signed);
    const pe = parsePe(b);
    const at = pe.dataDirectoryOffset + 4 * 8 + 4;
    new DataView(b.buffer, b.byteOffset).setUint32(at, 0x100000, true);
    const v = await verifyKernelSignature(b, [], "x.efi");
    expect(v).toMatchObject({ state: "bad", errno: "ELIBBAD" });
    expect(v.reason).toMatch(/runs past the end of the file .*DataDirectory\[4\]/);
    expect(() => peCertificateTable(b, pe, "x.efi")).toThrow(
      expect.objectContaining({ code: "E_FORMAT_CORRUPT" }),
    );
  });

  it("a file that is not PE (an ELF vmlinux): unsigned, ELIBBAD", async () => {
    expect(await verifyKernelSignature(smallElf64(183))).toMatchObject({
      state: "unsigned",
      errno: "ELIBBAD",
    });
  });

  it("--trusted-cert: keyring prefixes, DER and PEM files, and a file that is no certificate", async () => {
    expect(parseTrustedCertSpec("platform=/x/ca.pem")).toEqual({ keyring: ".platform", file: "/x/ca.pem" });
    expect(parseTrustedCertSpec("mok=a=b.der")).toEqual({ keyring: ".machine", file: "a=b.der" });
    expect(parseTrustedCertSpec("odd=name.pem")).toEqual({
      keyring: ".builtin_trusted_keys",
      file: "odd=name.pem",
    });
    const certs = await readTrustedCerts([`secondary=${f.der}`, f.cert]);
    expect(certs.map((c) => c.keyring)).toEqual([".secondary_trusted_keys", ".builtin_trusted_keys"]);
    expect(certs[0]!.cert.summary.sha256).toBe(certs[1]!.cert.summary.sha256);
    const fp = run("openssl", ["x509", "-in", f.cert, "-noout", "-fingerprint", "-sha256"]);
    expect(fp.split("=")[1]!.trim().replaceAll(":", "").toLowerCase()).toBe(certs[0]!.cert.summary.sha256);
    await expect(readTrustedCerts([STUB])).rejects.toMatchObject({ code: "E_WRONG_FILE" });
  });

  it("inspect: text and JSON with --trusted-cert; exit 2 for a --trusted-cert that is no certificate", async () => {
    const json = await runCli(["inspect", f.signed, "--json", "--trusted-cert", `machine=${f.cert}`]);
    expect(json.code).toBe(0);
    const s = JSON.parse(json.out);
    expect(s.signature).toMatchObject({
      state: "valid",
      keyring: ".machine",
      signer: "CN=kexec-lab cases signer, O=Example Org",
      digestMatches: true,
      verifiedAgainst: [
        { keyring: ".machine", file: f.cert, subject: "CN=kexec-lab cases signer, O=Example Org" },
      ],
    });
    expect(s.signatureEntries).toHaveLength(1);
    const text = await runCli(["inspect", f.signed]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^state +unknown$/m);
    expect(text.out).toMatch(/^verifiedAgainst +nothing \(no --trusted-cert given\)$/m);
    expect(text.out).toMatch(
      /^neededKeyrings +\.builtin_trusted_keys, \.secondary_trusted_keys, \.machine, \.platform$/m,
    );
    const bad = await runCli(["inspect", f.signed, "--trusted-cert", STUB]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("error[E_WRONG_FILE]");
  });

  it("property: a flipped byte changes the image hash exactly when it lies in a hashed range", async () => {
    const base = read(f.signed);
    const pe = parsePe(base);
    const table = peCertificateTable(base, pe);
    const ranges = authenticodeRanges(base, pe, table);
    const inRange = (o: number) => ranges.some((r) => o >= r.start && o < r.end);
    // The ranges are disjoint and leave out CheckSum, the directory entry and the certificate table.
    const sorted = ranges.slice().sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
    for (const o of [pe.checksumOffset, table.direntOffset + 4, table.offset + 8])
      expect(inRange(o)).toBe(false);
    const hex = async (b: Uint8Array) =>
      Buffer.from(await digestRanges(b, ranges, "SHA-256")).toString("hex");
    const h0 = await hex(base);
    // Offsets drawn from the hashed ranges and from the left-out places, as often.
    const leftOut = fc.oneof(
      fc.integer({ min: pe.checksumOffset, max: pe.checksumOffset + 3 }),
      fc.integer({ min: table.direntOffset, max: table.direntOffset + 7 }),
      fc.integer({ min: table.offset, max: table.offset + table.size - 1 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({ min: 0, max: base.length - 1 }), leftOut),
        fc.integer({ min: 1, max: 255 }),
        async (o, x) => {
          const b = base.slice();
          b[o]! ^= x;
          expect((await hex(b)) !== h0).toBe(inRange(o));
        },
      ),
      { numRuns: 60, seed: 22 },
    );
  });
});
