/**
 * Kernel signature verification (src/signature) against independent tools, on real and derived files:
 * the Debian-signed 6.1 cloud kernels (arm64 Image and x86_64 bzImage, signed by "Debian Secure Boot
 * Signer 2022 - linux"), a copy with the signature removed (`sbattach --remove`), a copy with one byte
 * of .text flipped, the unsigned copy signed by a throwaway key made here with openssl (`sbsign`), and
 * the Debian-signed file with that second signature appended; a unified kernel image (Debian's
 * systemd-stub plus .osrel, .cmdline and .linux sections added by objcopy, the unsigned kernel as
 * .linux) signed with the throwaway key. Oracles: `pesign -h` (the Authenticode
 * image hash), `sbverify --list` (the signatures and their signers) and `sbverify --cert` (whether a
 * certificate vouches for the file). The Debian Secure Boot CA (test/fixtures/signature) is shim's
 * vendor certificate, read from the .vendor_cert section of shimx64.efi.signed in Debian's shim-signed
 * 1.51~1+deb12u1+16.1-2~deb12u1: what a Debian machine booted through shim trusts.
 */

import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePe } from "../src/formats/pe.js";
import { commandExists, execFileSyncOwned, spawnSyncOwned } from "../src/node/child.js";
import { authenticodeRanges, peCertificateTable } from "../src/signature/pe-hash.js";
import { authenticodeDigest, trustedCertsFromFile, verifyKernelSignature } from "../src/signature/verify.js";
import { dataFile } from "./helpers/data.js";
import { selfSignedKey } from "./helpers/signing.js";
import { testTempDir } from "./helpers/tmp.js";

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const TOOLS = ["sbverify", "sbsign", "sbattach", "pesign", "openssl"].every((t) => commandExists(t));
const CAN_UKI = TOOLS && existsSync(STUB) && commandExists("objcopy");
/** The real inputs, from the pinned test data (test/helpers/data.ts). */
const KERNELS = {
  arm64: dataFile("debian-6.1.0-50-cloud-arm64.Image"),
  x86_64: dataFile("debian-6.1.0-56-cloud-amd64.bzImage"),
  "x86_64 6.12": dataFile("debian-6.12.118-cloud-amd64.bzImage"),
  "x86_64 7.3": dataFile("debian-7.3.4-cloud-amd64.bzImage"),
};
/** Debian's own unsigned builds of the same kernels (linux-image-*-unsigned, linux-binary-unsigned-*). */
const DEBIAN_UNSIGNED = {
  "6.12": dataFile("debian-6.12.118-cloud-amd64-unsigned.bzImage"),
  "7.3": dataFile("debian-7.3.4-cloud-amd64-unsigned.bzImage"),
};
const DEBIAN_CA = fileURLToPath(new URL("./fixtures/signature/debian-secure-boot-ca.pem", import.meta.url));
const dir = testTempDir("signature");
const f = {
  unsigned: join(dir, "unsigned.bzImage"),
  tampered: join(dir, "tampered.bzImage"),
  ownSigned: join(dir, "own-signed.bzImage"),
  twoSigs: join(dir, "two-signatures.bzImage"),
  uki: join(dir, "debian.efi"),
  key: join(dir, "key.pem"),
  cert: join(dir, "cert.pem"),
};

const read = (p: string) => new Uint8Array(readFileSync(p));
const run = (cmd: string, args: string[]) => execFileSyncOwned(cmd, args, { encoding: "utf8" });
/** sbverify --cert: true when it prints "Signature verification OK" and exits 0. */
function sbverifyOk(file: string, cert: string): boolean {
  const r = spawnSyncOwned("sbverify", ["--cert", cert, file], { encoding: "utf8" });
  return r.status === 0 && String(r.stdout).includes("Signature verification OK");
}
/** pesign -h: the SHA-256 image hash. */
const pesignHash = (file: string) => /hash: ([0-9a-f]{64})/.exec(run("pesign", ["-h", "-i", file]))![1]!;
const debianCa = () => trustedCertsFromFile(read(DEBIAN_CA), DEBIAN_CA, ".platform");
const ownCert = () => trustedCertsFromFile(read(f.cert), f.cert, ".machine");

beforeAll(() => {
  if (!TOOLS) return;
  copyFileSync(KERNELS.x86_64, f.unsigned);
  run("chmod", ["u+w", f.unsigned]);
  run("sbattach", ["--remove", f.unsigned]);
  // One byte of .text flipped in the Debian-signed file.
  const bytes = read(KERNELS.x86_64);
  const text = parsePe(bytes).sections.find((s) => s.name === ".text")!;
  bytes[text.pointerToRawData + 0x1234] ^= 0x01;
  writeFileSync(f.tampered, bytes);
  selfSignedKey(f.key, f.cert, "/CN=kexec-lab throwaway signer");
  run("sbsign", ["--key", f.key, "--cert", f.cert, "--output", f.ownSigned, f.unsigned]);
  run("sbsign", ["--key", f.key, "--cert", f.cert, "--output", f.twoSigs, KERNELS.x86_64]);
  if (CAN_UKI) {
    writeFileSync(join(dir, "osrel"), "ID=debian\nVERSION_ID=12\n");
    writeFileSync(join(dir, "cmdline"), "console=ttyS0 quiet\0");
    const add = (name: string, file: string, vma: string) => [
      "--add-section",
      `${name}=${file}`,
      "--change-section-vma",
      `${name}=${vma}`,
    ];
    const plain = join(dir, "unsigned.efi");
    run("objcopy", [
      ...add(".osrel", join(dir, "osrel"), "0x20000"),
      ...add(".cmdline", join(dir, "cmdline"), "0x30000"),
      ...add(".linux", f.unsigned, "0x2000000"),
      STUB,
      plain,
    ]);
    run("sbsign", ["--key", f.key, "--cert", f.cert, "--output", f.uki, plain]);
  }
}, 60_000);

describe.skipIf(!TOOLS)("signatures against sbverify and pesign", () => {
  for (const [arch, path] of Object.entries(KERNELS)) {
    it(`the Debian ${arch} kernel: pesign's hash, sbverify's signer, valid against the Debian CA`, async () => {
      const v = await verifyKernelSignature(read(path), await debianCa(), path);
      expect(v.peDigest).toBe(pesignHash(path));
      expect(v.digestMatches).toBe(true);
      const list = run("sbverify", ["--list", path]);
      expect(list).toContain(`subject: /CN=${v.signer!.subject.replace(/^CN=/, "")}`);
      expect(list).toContain(`issuer:  /${v.signer!.issuer.replace(", ", "/")}`);
      expect(v.signatures).toHaveLength((list.match(/^signature \d+/gm) ?? []).length);
      expect(v.signer!.subject).toBe("CN=Debian Secure Boot Signer 2022 - linux");
      expect(sbverifyOk(path, DEBIAN_CA)).toBe(true);
      expect(v).toMatchObject({ state: "valid", errno: null, keyring: ".platform", kernelReadsTable: true });
      expect(v.signatures[0]!.trust).toMatchObject({
        how: "issuer",
        certificate: { subject: "CN=Debian Secure Boot CA" },
      });
    });
  }

  it("the Debian kernel with no certificates given: unknown, naming the issuer's key id and the keyrings", async () => {
    const v = await verifyKernelSignature(read(KERNELS.arm64), [], KERNELS.arm64);
    expect(v.state).toBe("unknown");
    expect(v.errno).toBeNull();
    expect(v.needed!.certificate).toContain("6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1");
    expect(v.needed!.keyrings).toEqual([
      ".builtin_trusted_keys",
      ".secondary_trusted_keys",
      ".machine",
      ".platform",
    ]);
    // The CA's own SKID, as openssl reads it from the fixture, is the key id named.
    const skid = run("openssl", ["x509", "-in", DEBIAN_CA, "-noout", "-ext", "subjectKeyIdentifier"]);
    expect(
      skid
        .replace(/[^0-9A-F]/g, "")
        .toLowerCase()
        .endsWith("6ccece7e4c6c0d1f6149f3dd27dfcc5cbb419ea1"),
    ).toBe(true);
  });

  for (const [version, path] of Object.entries(DEBIAN_UNSIGNED)) {
    it(`Debian's unsigned ${version} build: unsigned, ENODATA, as sbverify finds no signature; pesign's hash`, async () => {
      const v = await verifyKernelSignature(read(path), await debianCa(), path);
      expect(v).toMatchObject({ state: "unsigned", errno: "ENODATA", signatures: [] });
      expect(v.peDigest).toBe(pesignHash(path));
      expect(sbverifyOk(path, DEBIAN_CA)).toBe(false);
      expect(spawnSyncOwned("sbverify", ["--list", path], { encoding: "utf8" }).stdout).not.toMatch(
        /^signature \d+/m,
      );
    });
  }

  it("signature removed (sbattach --remove): unsigned, ENODATA; the image hash is unchanged, as pesign says", async () => {
    const v = await verifyKernelSignature(read(f.unsigned), await debianCa(), f.unsigned);
    expect(v).toMatchObject({ state: "unsigned", errno: "ENODATA", signatures: [] });
    expect(v.peDigest).toBe(pesignHash(f.unsigned));
    expect(v.peDigest).toBe(pesignHash(KERNELS.x86_64));
    expect(sbverifyOk(f.unsigned, DEBIAN_CA)).toBe(false);
  });

  it("one byte of .text flipped: bad, EKEYREJECTED, the hash differs from the signed one as pesign's does", async () => {
    const v = await verifyKernelSignature(read(f.tampered), await debianCa(), f.tampered);
    expect(v).toMatchObject({ state: "bad", errno: "EKEYREJECTED", digestMatches: false });
    expect(v.peDigest).toBe(pesignHash(f.tampered));
    expect(v.signatures[0]!.signedDigest).toBe(pesignHash(KERNELS.x86_64));
    expect(sbverifyOk(f.tampered, DEBIAN_CA)).toBe(false);
    // Without the right key the kernel stops at the trust check (ENOKEY) but the file is still bad.
    const w = await verifyKernelSignature(read(f.tampered), await ownCert(), f.tampered);
    expect(w).toMatchObject({ state: "bad", errno: "ENOKEY", digestMatches: false });
  });

  it("signed by an unknown key: valid with its certificate given, untrusted against the Debian CA", async () => {
    const bytes = read(f.ownSigned);
    const own = await verifyKernelSignature(bytes, await ownCert(), f.ownSigned);
    expect(own).toMatchObject({
      state: "valid",
      keyring: ".machine",
      signer: { subject: "CN=kexec-lab throwaway signer" },
    });
    expect(own.signatures[0]!.trust!.how).toBe("certificate");
    expect(sbverifyOk(f.ownSigned, f.cert)).toBe(true);
    const deb = await verifyKernelSignature(bytes, await debianCa(), f.ownSigned);
    expect(deb).toMatchObject({ state: "untrusted", errno: "ENOKEY" });
    expect(sbverifyOk(f.ownSigned, DEBIAN_CA)).toBe(false);
    expect(own.peDigest).toBe(pesignHash(f.ownSigned));
  });

  it("two signatures appended by sbsign: sbverify lists both; the kernel reads no table of two (ELIBBAD)", async () => {
    const v = await verifyKernelSignature(
      read(f.twoSigs),
      [...(await debianCa()), ...(await ownCert())],
      f.twoSigs,
    );
    const list = run("sbverify", ["--list", f.twoSigs]);
    expect(v.signatures).toHaveLength((list.match(/^signature \d+/gm) ?? []).length);
    expect(v.signatures.map((s) => s.signer!.subject)).toEqual([
      "CN=Debian Secure Boot Signer 2022 - linux",
      "CN=kexec-lab throwaway signer",
    ]);
    expect(v.signatures.every((s) => s.errno === null && s.digestMatches === true)).toBe(true);
    expect(v).toMatchObject({ state: "bad", errno: "ELIBBAD", kernelReadsTable: false });
    expect(sbverifyOk(f.twoSigs, DEBIAN_CA) && sbverifyOk(f.twoSigs, f.cert)).toBe(true);
  });

  it("SHA-1, SHA-384 and SHA-512 image hashes over the same ranges agree with openssl dgst", async () => {
    const bytes = read(f.ownSigned);
    const pe = parsePe(bytes);
    const ranges = authenticodeRanges(bytes, pe, peCertificateTable(bytes, pe));
    const parts = join(dir, "hashed-ranges.bin");
    const total = ranges.reduce((n, r) => n + r.end - r.start, 0);
    const buf = new Uint8Array(total);
    let at = 0;
    for (const r of ranges) {
      buf.set(bytes.subarray(r.start, r.end), at);
      at += r.end - r.start;
    }
    writeFileSync(parts, buf);
    for (const [web, ossl] of [
      ["SHA-1", "-sha1"],
      ["SHA-384", "-sha384"],
      ["SHA-512", "-sha512"],
    ] as const) {
      const ours = await authenticodeDigest(bytes, web);
      expect(run("openssl", ["dgst", ossl, "-r", parts]).split(" ")[0]).toBe(ours);
    }
    expect(await authenticodeDigest(bytes, "SHA-256")).toBe(pesignHash(f.ownSigned));
  });

  it.skipIf(!CAN_UKI)(
    "a signed UKI and the bare systemd-stub: pesign's hash, sbverify's verdict",
    async () => {
      const v = await verifyKernelSignature(read(f.uki), await ownCert(), f.uki);
      expect(v).toMatchObject({
        state: "valid",
        digestMatches: true,
        signer: { subject: "CN=kexec-lab throwaway signer" },
      });
      expect(v.peDigest).toBe(pesignHash(f.uki));
      expect(sbverifyOk(f.uki, f.cert)).toBe(true);
      // The stub has bytes between and after its sections that no section covers (sbsign warns "gaps
      // between PE/COFF sections"): the trailing data is hashed all the same.
      const stub = await verifyKernelSignature(read(STUB), [], STUB);
      expect(stub).toMatchObject({ state: "unsigned", errno: "ENODATA" });
      expect(stub.peDigest).toBe(pesignHash(STUB));
    },
  );

  it.skipIf(!commandExists("objdump"))(
    "the data directory and CheckSum as objdump -p reads them (the bzImage's Entry 4)",
    () => {
      const bytes = read(KERNELS.x86_64);
      const pe = parsePe(bytes);
      const table = peCertificateTable(bytes, pe);
      const out = run("objdump", ["-p", KERNELS.x86_64]);
      const entry4 = /^Entry 4 ([0-9a-f]+) ([0-9a-f]+) Security Directory$/m.exec(out)!;
      expect([table.offset, table.size]).toEqual([
        Number.parseInt(entry4[1]!, 16),
        Number.parseInt(entry4[2]!, 16),
      ]);
      const count = /^NumberOfRvaAndSizes\s+([0-9a-f]+)$/m.exec(out)!;
      expect(pe.numberOfRvaAndSizes).toBe(Number.parseInt(count[1]!, 16));
      expect(pe.dataDirectories[4]).toEqual({ virtualAddress: table.offset, size: table.size });
      const sum = /^CheckSum\s+([0-9a-f]+)$/m.exec(out)!;
      expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(pe.checksumOffset, true)).toBe(
        Number.parseInt(sum[1]!, 16),
      );
      expect(table.entries).toHaveLength(1);
    },
  );
});
