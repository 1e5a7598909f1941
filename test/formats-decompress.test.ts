/**
 * Decompression (src/formats/decompress.ts) against the real tools: the Debian arm64 Image compressed
 * at test time by Debian's gzip, zstd, xz-utils and lz4 in a temp dir, decompressed by our code
 * and compared byte for byte with the original. Decompression bombs made by the same tools (4 GiB of
 * zeros) must end in E_LIMIT, in a child process whose peak RSS is bounded by the output cap
 * (DEFAULT_MAX_DECOMPRESSED, 512 MiB) plus 320 MiB for Node, the decoders and one piece of output.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { KexecLabError } from "../src/errors.js";
import { type CompressionMethod, detectCompression } from "../src/formats/compression.js";
import { DEFAULT_MAX_DECOMPRESSED, decompress } from "../src/formats/decompress.js";
import { formatBytes } from "../src/report/format.js";
import { dataFile } from "./helpers/data.js";
import { testTempDir } from "./helpers/tmp.js";

const IMAGE = dataFile("debian-6.1.0-50-cloud-arm64.Image");
const have = (tool: string) => spawnSync(tool, ["--help"], { stdio: "ignore" }).error === undefined;
const dir = testTempDir("decompress");

const original = new Uint8Array(readFileSync(IMAGE));
/** The Image's first 4 MiB, for the smaller cases. */
const prefix = original.subarray(0, 4 * 1024 * 1024);

function sh(cmd: string): void {
  execFileSync("sh", ["-c", cmd], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
}

const CASES: { tool: string; method: CompressionMethod; file: string; make: string; input: Uint8Array }[] = [
  { tool: "gzip", method: "gzip", file: "Image.gz", make: "gzip -6 -n -c Image > Image.gz", input: original },
  {
    tool: "zstd",
    method: "zstd",
    file: "Image.zst",
    make: "zstd -q -3 -c Image > Image.zst",
    input: original,
  },
  {
    tool: "xz",
    method: "xz",
    file: "Image.xz",
    make: "xz -1 --check=crc32 -c Image > Image.xz",
    input: original,
  },
  { tool: "lz4", method: "lz4", file: "Image.lz4", make: "lz4 -q -c Image > Image.lz4", input: original },
  {
    tool: "lz4",
    method: "lz4-legacy",
    file: "Image.lz4-legacy",
    make: "lz4 -l -q -c Image > Image.lz4-legacy",
    input: original,
  },
];

beforeAll(() => {
  writeFileSync(join(dir, "Image"), original);
  writeFileSync(join(dir, "Head"), prefix);
});

describe("decompress: files made by the real tools, byte for byte", () => {
  for (const c of CASES) {
    it.skipIf(!have(c.tool))(`${c.make.split(" > ")[0]} -> ${c.method}`, async () => {
      sh(c.make);
      const bytes = new Uint8Array(readFileSync(join(dir, c.file)));
      expect(detectCompression(bytes)).toBe(c.method);
      const seen: number[] = [];
      const r = await decompress(bytes, c.method, { file: c.file, onProgress: (d) => seen.push(d) });
      expect(r.bytes.length).toBe(c.input.length);
      expect(Buffer.compare(Buffer.from(r.bytes), Buffer.from(c.input))).toBe(0);
      expect(seen.at(-1)).toBe(bytes.length);
      rmSync(join(dir, c.file));
    });
  }

  it.skipIf(!have("gzip"))(
    "ignores bytes after the last gzip member (the kernel's size_append)",
    async () => {
      sh("gzip -n -c Head > Head.gz && printf '\\x00\\x00\\x40\\x00' >> Head.gz");
      const r = await decompress(new Uint8Array(readFileSync(join(dir, "Head.gz"))), "gzip");
      expect(Buffer.compare(Buffer.from(r.bytes), Buffer.from(prefix))).toBe(0);
    },
  );

  it.skipIf(!have("lzma"))(
    "lzma -9 (xz-utils' legacy .lzma, unknown size and an end marker, as the kernel build writes) -> lzma, byte for byte",
    async () => {
      // The Image's first MiB (lzma -9 is slow to make; the decoder is the same for any size).
      const mib = prefix.subarray(0, 1024 * 1024);
      sh("head -c 1048576 Head | lzma -9 -c > Head.lzma");
      const bytes = new Uint8Array(readFileSync(join(dir, "Head.lzma")));
      expect(detectCompression(bytes)).toBe("lzma");
      // The header's size field is all ones (stdin-less `lzma -c FILE` writes it unknown too).
      expect([...bytes.subarray(5, 13)].every((b) => b === 0xff)).toBe(true);
      const r = await decompress(bytes, "lzma", { file: "Head.lzma" });
      expect(Buffer.compare(Buffer.from(r.bytes), Buffer.from(mib))).toBe(0);
      // The same stream with its size recorded by a container (a zboot payload's appended size).
      const hinted = await decompress(bytes, "lzma", { sizeHint: mib.length });
      expect(Buffer.compare(Buffer.from(hinted.bytes), Buffer.from(mib))).toBe(0);
      // A container size larger than the stream: the stream ends early, E_FORMAT_CORRUPT.
      await expect(decompress(bytes, "lzma", { sizeHint: mib.length + 4096 })).rejects.toMatchObject({
        code: "E_FORMAT_CORRUPT",
      });
      // The cap: E_LIMIT naming the file.
      await expect(
        decompress(bytes, "lzma", { file: "Head.lzma", maxOutput: 512 * 1024 }),
      ).rejects.toMatchObject({ code: "E_LIMIT", where: { file: "Head.lzma" } });
      // Properties from 0x80 on: lzma1 reads the byte signed and would allocate without bound (a
      // fuzz case ran out of heap), so they are refused; above 0xe0 the byte is invalid.
      const props = bytes.slice();
      props[0] = 0x90;
      await expect(decompress(props, "lzma")).rejects.toMatchObject({ code: "E_COMPRESSION_UNSUPPORTED" });
      props[0] = 0xe1;
      await expect(decompress(props, "lzma")).rejects.toMatchObject({ code: "E_FORMAT_CORRUPT" });
      // Truncated: the decoder reads past the end (caught), E_FORMAT_CORRUPT.
      const e = await decompress(bytes.subarray(0, bytes.length >> 1), "lzma").catch((x: unknown) => x);
      expect((e as KexecLabError).code).toBe("E_FORMAT_CORRUPT");
    },
  );

  it.skipIf(!have("lzma"))("an lzma bomb (128 MiB of zeros, ~6000:1) ends in E_LIMIT at 1024:1", async () => {
    const bomb = new Uint8Array(
      execFileSync("sh", ["-c", "head -c 128M /dev/zero | lzma -0 -c"], { maxBuffer: 64 * 1024 * 1024 }),
    );
    const e = await decompress(bomb, "lzma", { file: "bomb.lzma" }).catch((x: unknown) => x);
    expect((e as KexecLabError).code).toBe("E_LIMIT");
    expect((e as KexecLabError).message).toContain("1024:1");
  });

  it.skipIf(!have("lzop") || !have("bzip2"))(
    "recognises lzo and bzip2 and refuses them with E_COMPRESSION_UNSUPPORTED",
    async () => {
      sh("head -c 65536 Head | lzop -c > h.lzo && head -c 65536 Head | bzip2 -c > h.bz2");
      for (const [f, m] of [
        ["h.lzo", "lzo"],
        ["h.bz2", "bzip2"],
      ] as const) {
        const bytes = new Uint8Array(readFileSync(join(dir, f)));
        expect(detectCompression(bytes)).toBe(m);
        await expect(decompress(bytes, m, { file: f })).rejects.toMatchObject({
          code: "E_COMPRESSION_UNSUPPORTED",
          where: { file: f },
        });
      }
    },
  );

  it("refuses truncated and corrupted streams with E_FORMAT_CORRUPT, never anything else", async () => {
    const gz = new Uint8Array(
      execFileSync("gzip", ["-c"], { input: prefix.subarray(0, 200_000), maxBuffer: 64 * 1024 * 1024 }),
    );
    for (const bad of [
      gz.subarray(0, gz.length >> 1),
      gz.map((b, i) => (i > 40 && i < 400 ? b ^ 0x5a : b)),
    ]) {
      const e = await decompress(bad, "gzip", { file: "x.gz" }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(KexecLabError);
      expect((e as KexecLabError).code).toBe("E_FORMAT_CORRUPT");
    }
    for (const m of ["zstd", "xz", "lz4", "lz4-legacy"] as const) {
      const e = await decompress(gz, m, { file: "x" }).catch((x: unknown) => x);
      expect((e as KexecLabError).code).toBe("E_FORMAT_CORRUPT");
    }
  });

  it("stops at the cap it is given with E_LIMIT naming the file", async () => {
    const zst = new Uint8Array(
      execFileSync("zstd", ["-q", "-c"], { input: prefix, maxBuffer: 64 * 1024 * 1024 }),
    );
    await expect(decompress(zst, "zstd", { file: "k.zst", maxOutput: 1024 * 1024 })).rejects.toMatchObject({
      code: "E_LIMIT",
      where: { file: "k.zst" },
    });
  });
});

describe("decompression bombs: 4 GiB of zeros", () => {
  const BOMBS = [
    { tool: "gzip", make: "gzip -9 -c" },
    { tool: "zstd", make: "zstd -q -19 -c" },
    { tool: "xz", make: "xz -0 -c" },
  ];
  const child = fileURLToPath(new URL("./helpers/decompress-child.ts", import.meta.url));
  for (const b of BOMBS) {
    it.skipIf(!have(b.tool))(`${b.tool}: E_LIMIT at the 512 MiB cap, peak RSS under cap + 320 MiB`, () => {
      // 64 concatenated members/frames/streams of 64 MiB of zeros each: what a streaming compressor
      // writes for 4 GiB, made in a second instead of a minute.
      const member = new Uint8Array(
        execFileSync("sh", ["-c", `head -c 64M /dev/zero | ${b.make}`], { maxBuffer: 64 * 1024 * 1024 }),
      );
      const bomb = new Uint8Array(member.length * 64);
      for (let i = 0; i < 64; i++) bomb.set(member, i * member.length);
      const file = join(dir, `bomb.${b.tool}`);
      writeFileSync(file, bomb);
      const r = spawnSync(process.execPath, ["--import", "tsx", child, file], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as {
        code: string;
        message: string;
        maxRssBytes: number;
        outputLimit: number;
      };
      expect(out.code).toBe("E_LIMIT");
      expect(out.message).toContain(file);
      expect(out.outputLimit).toBe(DEFAULT_MAX_DECOMPRESSED);
      expect(out.maxRssBytes).toBeLessThan(DEFAULT_MAX_DECOMPRESSED + 320 * 1024 * 1024);
      console.log(
        `bomb ${b.tool}: ${formatBytes(bomb.length)} -> 4 GiB; E_LIMIT; peak RSS ${formatBytes(out.maxRssBytes)}`,
      );
      rmSync(file);
    });
  }

  it.skipIf(!have("lzma"))(
    "lzma (one stream, lzma1 decodes in one call): E_LIMIT at the cap, peak RSS under 3 x cap",
    () => {
      // A legacy .lzma cannot be concatenated: the real 4 GiB stream (about 600 KB; ~20 s to make).
      const file = join(dir, "bomb.lzma");
      sh(`head -c 4G /dev/zero | lzma -0 -c > ${file}`);
      const r = spawnSync(process.execPath, ["--import", "tsx", child, file], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { code: string; message: string; maxRssBytes: number };
      expect(out.code).toBe("E_LIMIT");
      expect(out.message).toContain(file);
      // lzma1's growing buffer (doubling) and its result copy: about 2 x the cap was measured (1112 MiB).
      expect(out.maxRssBytes).toBeLessThan(3 * DEFAULT_MAX_DECOMPRESSED);
      console.log(`bomb lzma: 4 GiB; E_LIMIT; peak RSS ${(out.maxRssBytes / 2 ** 20).toFixed(0)} MiB`);
      rmSync(file);
    },
  );
});
