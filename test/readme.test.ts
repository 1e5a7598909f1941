/**
 * README examples are real: every `<!-- readme-run: ARGS -->` block in README.md must be what
 * `kexec-lab ARGS` prints now. When this fails, run `npm run readme` and review the diff.
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { regenerate } from "../scripts/readme.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("README.md", () => {
  it("has its marked examples as the commands print them now (npm run readme rewrites them)", async () => {
    const readme = readFileSync(`${root}README.md`, "utf8");
    expect(readme).toContain("<!-- readme-run");
    expect(await regenerate(readme, root)).toBe(readme);
  }, 180_000);
});
