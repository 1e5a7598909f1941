/**
 * EFI zboot images. Two sources:
 *  1. zboot-shaped files assembled here (src/formats/synth.ts zbootFile: the header of
 *     drivers/firmware/efi/libstub/zboot-header.S around a PE32+ file) whose payload is the Debian arm64
 *     Image compressed by Debian's gzip and zstd at test time: the payload must come back byte for byte,
 *     objdump -h (binutils-aarch64-linux-gnu) must read the same sections, and plan must place them as
 *     it places the Image itself;
 *  2. real zboot images built by the kernel's own build (test/fixtures/zboot, see its README), when
 *     present: the decompressed payload's sha256 and size must equal the build's own Image.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parsePe } from "../src/formats/pe.js";
import { zbootFile } from "../src/formats/synth.js";
import { unwrapKernel } from "../src/formats/unwrap.js";
import { parseZboot } from "../src/formats/zboot.js";
import { runCli } from "./helpers/cli.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const IMAGE = dataFile("debian-6.1.0-50-cloud-arm64.Image");
const DTB = dataFile("qemu-virt-4g.dtb");
const OBJDUMP = "aarch64-linux-gnu-objdump";
const have = (tool: string) => spawnSync(tool, ["--version"], { stdio: "ignore" }).error === undefined;
const dir = testTempDir("zboot");
const original = new Uint8Array(readFileSync(IMAGE));

/** objdump -h's rows: name, size, VMA, file offset. */
function objdumpSections(file: string) {
  const out = execFileSync(OBJDUMP, ["-h", file], { encoding: "utf8" });
  return [...out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s/gm)].map(
    (m) => ({
      name: m[1],
      size: Number.parseInt(m[2]!, 16),
      vma: Number.parseInt(m[3]!, 16),
      off: Number.parseInt(m[4]!, 16),
    }),
  );
}

/** objdump's "Size" of a PE section is min(VirtualSize, SizeOfRawData) (a zboot .data has no raw data). */
function ourSections(bytes: Uint8Array) {
  const pe = parsePe(bytes);
  return pe.sections.map((s) => ({
    name: s.name,
    size: Math.min(s.virtualSize, s.sizeOfRawData),
    vma: pe.imageBase + s.virtualAddress,
    off: s.pointerToRawData,
  }));
}

describe("zboot-shaped files around payloads made by Debian's gzip and zstd", () => {
  const cases = [
    { name: "gzip", tool: "gzip", args: ["-9", "-n", "-c"] },
    // The kernel's cmd_zstd22 is `zstd -22 --ultra` from a pipe (no content size); -3 keeps the test fast.
    { name: "zstd22", tool: "zstd", args: ["-q", "-3", "--no-content-size", "-c"] },
  ];
  for (const c of cases) {
    it.skipIf(!have(c.tool))(
      `${c.name}: header, payload byte for byte, sections as objdump reads them, plan`,
      async () => {
        const payload = new Uint8Array(
          execFileSync(c.tool, c.args, { input: original, maxBuffer: 64 << 20 }),
        );
        const file = join(dir, `vmlinuz-${c.name}.efi`);
        const bytes = zbootFile(payload, c.name, original.length);
        writeFileSync(file, bytes);
        const z = parseZboot(bytes, file);
        expect(z).toMatchObject({
          compressionName: c.name,
          payloadSize: payload.length,
          declaredSize: original.length,
        });
        expect(z.method).toBe(c.name === "gzip" ? "gzip" : "zstd");
        const u = await unwrapKernel(bytes, file);
        expect(u.format).toEqual({ kind: "zboot", compressionName: c.name, inner: { kind: "arm64-image" } });
        expect(Buffer.compare(Buffer.from(u.kernel), Buffer.from(original))).toBe(0);
        if (have(OBJDUMP)) expect(ourSections(bytes)).toEqual(objdumpSections(file));
        const j = JSON.parse((await runCli(["inspect", file, "--json"])).out);
        expect(j).toMatchObject({ kind: "zboot", compression: c.name, decompressedSize: original.length });
        expect(j.inner).toMatchObject({ kind: "arm64-image", imageSize: 0x1aa0000 });
        // plan of the zboot file equals the plan of the Image, for both loaders; the notes say what was unwrapped.
        for (const loader of ["kexec-tools", "kexec-file"]) {
          const args = ["plan", "--dtb", DTB, "--wipe-kaslr-seed", "--loader", loader, "--json"];
          const a = JSON.parse((await runCli([...args, "--kernel", file])).out);
          const b = JSON.parse((await runCli([...args, "--kernel", IMAGE])).out);
          expect(a.segments).toEqual(b.segments);
          expect(a.notes.join("\n")).toContain("extract the zboot payload");
        }
        // Before kexec-tools 2.0.31 a zstd22 payload is refused (pez_prepare: gzip and lzma only).
        const old = await runCli([
          "plan",
          "--dtb",
          DTB,
          "--wipe-kaslr-seed",
          "--kernel",
          file,
          "--kexec-tools-version",
          "2.0.30",
        ]);
        expect(old.code).toBe(c.name === "gzip" ? 0 : 1);
      },
    );
  }
});

const FIXTURES = fileURLToPath(new URL("./fixtures/zboot/", import.meta.url));
// committed with the images: a missing manifest fails the file instead of skipping the images
const manifest = JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as {
  file: string;
  compression: string;
  sha256: string;
  innerSize: number;
  innerSha256: string;
  isBuildImage: boolean;
}[];
/** The real tool for each zboot compression name, reading the payload from stdin. */
const TOOL: Record<string, [string, string[]]> = {
  gzip: ["gzip", ["-dc"]],
  zstd22: ["zstd", ["-qdc"]],
  xzkern: ["xz", ["-dc"]],
  lz4: ["lz4", ["-dc"]],
  lzma: ["lzma", ["-dc"]],
};
/** zboot compressions kexec-lab recognises but cannot decode (no browser-capable decoder). */
const UNDECODABLE = new Set(["lzo"]);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("zboot images built by the kernel's build (test/fixtures/zboot)", () => {
  it("lists every fixture in the manifest, with its sha256", () => {
    expect(manifest.length).toBeGreaterThan(0);
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".efi"));
    expect(files.sort()).toEqual(manifest.map((m) => m.file).sort());
    for (const m of manifest) expect(sha(readFileSync(join(FIXTURES, m.file)))).toBe(m.sha256);
  });
  for (const m of manifest) {
    it(`${m.file}: the payload decompresses as the real ${m.compression} tool does; objdump -h agrees; plan`, async () => {
      const file = join(FIXTURES, m.file);
      const bytes = new Uint8Array(readFileSync(file));
      const z = parseZboot(bytes, file);
      expect(z.compressionName).toBe(m.compression);
      const [tool, args] = TOOL[m.compression]!;
      const payload = bytes.subarray(z.payloadOffset, z.payloadOffset + z.payloadSize);
      if (UNDECODABLE.has(m.compression)) {
        // The real tool still vouches for the manifest; kexec-lab shows the header and says why it stops.
        if (have(OBJDUMP)) expect(ourSections(bytes)).toEqual(objdumpSections(file));
        if (have(tool)) {
          const real = new Uint8Array(execFileSync(tool, args, { input: payload, maxBuffer: 64 << 20 }));
          expect(sha(real)).toBe(m.innerSha256);
        }
        await expect(unwrapKernel(bytes, file)).rejects.toMatchObject({
          code: "E_COMPRESSION_UNSUPPORTED",
        });
        const j = JSON.parse((await runCli(["inspect", file, "--json"])).out);
        expect(j).toMatchObject({
          kind: "zboot",
          compression: m.compression,
          inner: null,
          declaredSize: m.innerSize,
        });
        expect(j.loaders[1]).toMatchObject({ loader: "kexec-tools:kexec_file_load", outcome: "unwrapped" });
        const p = await runCli(["plan", "--dtb", DTB, "--wipe-kaslr-seed", "--kernel", file]);
        expect(p.code).toBe(2);
        expect(p.err).toContain("E_COMPRESSION_UNSUPPORTED");
        return;
      }
      const u = await unwrapKernel(bytes, file);
      expect(u.kernel.length).toBe(m.innerSize);
      expect(sha(u.kernel)).toBe(m.innerSha256);
      expect(u.format).toEqual({
        kind: "zboot",
        compressionName: m.compression,
        inner: { kind: "arm64-image" },
      });
      if (have(tool)) {
        const real = new Uint8Array(execFileSync(tool, args, { input: payload, maxBuffer: 64 << 20 }));
        expect(Buffer.compare(Buffer.from(u.kernel), Buffer.from(real))).toBe(0);
      }
      if (have(OBJDUMP)) expect(ourSections(bytes)).toEqual(objdumpSections(file));
      // plan of the zboot file equals the plan of the Image inside (written out here).
      const inner = join(dir, `${m.file}.Image`);
      writeFileSync(inner, u.kernel);
      const args2 = ["plan", "--dtb", DTB, "--wipe-kaslr-seed", "--loader", "kexec-file", "--json"];
      const a = await runCli([...args2, "--kernel", file]);
      const b = await runCli([...args2, "--kernel", inner]);
      if (m.compression === "lz4" || m.compression === "xzkern") {
        // kexec-tools' pez_prepare decompresses gzip, lzma and zstd only.
        expect(a.code).toBe(1);
        expect(a.err).toContain("decompresses zboot payloads of gzip and lzma and zstd only");
      } else {
        expect(a.code, a.err).toBe(0);
        expect(JSON.parse(a.out).segments).toEqual(JSON.parse(b.out).segments);
      }
      // systemd (src/shared/reboot-util.c decompress_zboot_to_memfd) decodes gzip, xz(kern), lz4 and
      // zstd payloads; an lzma payload is EOPNOTSUPP there (docs/loaders.md, systemd's own path).
      const c = await runCli([...args2, "--via", "systemd", "--kernel", file]);
      if (m.compression === "lzma") {
        expect(c.code).toBe(1);
        expect(c.err).toContain("Unsupported ZBOOT compression type");
      } else {
        expect(c.code, c.err).toBe(0);
        expect(JSON.parse(c.out).segments).toEqual(JSON.parse(b.out).segments);
      }
    });
  }
});
