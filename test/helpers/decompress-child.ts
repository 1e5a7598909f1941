/**
 * Run in a child process by test/formats-decompress.test.ts: decompress one file with the library's
 * default cap and print {code, outputLimit, maxRssBytes} as JSON, so the test can bound the memory a
 * decompression bomb costs without the test runner's own heap in the figure.
 */

import { readFileSync } from "node:fs";
import { KexecLabError } from "../../src/errors.js";
import { detectCompression } from "../../src/formats/compression.js";
import { DEFAULT_MAX_DECOMPRESSED, decompress } from "../../src/formats/decompress.js";

const file = process.argv[2]!;
const bytes = new Uint8Array(readFileSync(file));
const method = detectCompression(bytes);
let code = "ok";
let message = "";
try {
  if (method === undefined) throw new Error("not compressed");
  await decompress(bytes, method, { file });
} catch (e) {
  code = e instanceof KexecLabError ? e.code : "crash";
  message = e instanceof Error ? e.message : String(e);
}
process.stdout.write(
  JSON.stringify({
    code,
    message,
    method,
    outputLimit: DEFAULT_MAX_DECOMPRESSED,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
);
