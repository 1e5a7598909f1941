/**
 * The library's decompression runs in a browser: src/formats/decompress.ts and unwrap.ts bundled by
 * esbuild for the browser platform (no Node built-ins), loaded into Debian's Chromium (headless, via
 * playwright-core), decoding streams made by Debian's gzip, zstd, xz, lz4 and lzma (xz-utils) from the first
 * 1 MiB of the Debian arm64 Image, and a zboot-shaped file; the output's length and FNV-1a fingerprint
 * must equal the original's.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { zbootFile } from "../src/formats/synth.js";
import { bundledPage } from "./helpers/browser-page.js";
import { dataFile } from "./helpers/data.js";

const have = (tool: string) => spawnSync(tool, ["--version"], { stdio: "ignore" }).error === undefined;
const original = new Uint8Array(readFileSync(dataFile("debian-6.1.0-50-cloud-arm64.Image"))).subarray(
  0,
  1 << 20,
);

function fnv(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193) >>> 0;
  return h.toString(16);
}

let work: string;
let browser: BrowserContext;
let call: (
  fn: "decompressBase64" | "unwrapBase64",
  bytes: Uint8Array,
) => Promise<{ length: number; fnv: string; method?: string; format?: unknown }>;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "kexec-lab-browser-decompress-"));
  let html: string;
  ({ browser, html } = await bundledPage(
    fileURLToPath(new URL("./browser/decompress-entry.ts", import.meta.url)),
    work,
  ));
  const page = await browser.newPage();
  await page.goto(pathToFileURL(html).href);
  call = (fn, bytes) =>
    page.evaluate(
      ([f, b64]) =>
        (globalThis as never as Record<string, Record<string, (s: string) => Promise<never>>>).kexecLab![f]!(
          b64!,
        ),
      [fn, Buffer.from(bytes).toString("base64")] as const,
    );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("decompression in Chromium", () => {
  const tools: [string, string[]][] = [
    ["gzip", ["-c", "-n"]],
    ["zstd", ["-q", "-c"]],
    ["xz", ["-c", "--check=crc32"]],
    ["lz4", ["-q", "-c"]],
    ["lzma", ["-9", "-c"]],
  ];
  for (const [tool, args] of tools) {
    it.skipIf(!have(tool))(
      `${tool} ${args.join(" ")}: same length and fingerprint as the original`,
      async () => {
        const packed = new Uint8Array(execFileSync(tool, args, { input: original, maxBuffer: 64 << 20 }));
        const r = await call("decompressBase64", packed);
        expect(r).toMatchObject({ length: original.length, fnv: fnv(original) });
      },
    );
  }

  it("a zboot-shaped file (gzip payload) unwraps to the Image", async () => {
    const packed = new Uint8Array(
      execFileSync("gzip", ["-c", "-n"], { input: original, maxBuffer: 64 << 20 }),
    );
    const r = await call("unwrapBase64", zbootFile(packed, "gzip", original.length));
    expect(r).toMatchObject({ length: original.length, fnv: fnv(original), format: { kind: "zboot" } });
  });
});
