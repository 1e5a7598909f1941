/**
 * README examples are real: every `<!-- readme-run: ARGS -->` block in README.md must be what
 * `kexec-lab ARGS` prints now. When this fails, run `npm run readme` and review the diff.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DOCS, regenerate } from "../scripts/readme.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("generated examples", () => {
  for (const doc of DOCS) {
    it(`${doc} has its marked examples as the commands print them now (npm run readme rewrites them)`, async () => {
      const text = readFileSync(`${root}${doc}`, "utf8");
      expect(text).toContain("<!-- readme-run");
      expect(await regenerate(text, root)).toBe(text);
    }, 180_000);
  }
});
