/**
 * Strategy authors are users: docs/strategies.md's example strategy, copied into an empty project
 * that installs the packed package, compiles with tsc against the package's types, and runs, verifies
 * and appears in `run`, `sweep` and the HTML report of the installed CLI; and the installed CLI's
 * answers to a module that throws, one that exports nothing, and a .ts module without tsx.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packedProject } from "./helpers/packed.js";

const ROOT = new URL("..", import.meta.url).pathname;
const project = packedProject("strategy");

/** The example between the markers of docs/strategies.md. */
function docsExample(): string {
  const doc = readFileSync(join(ROOT, "docs/strategies.md"), "utf8");
  const m = /<!-- example-strategy:begin -->\n```ts\n([\s\S]*?)```\n<!-- example-strategy:end -->/.exec(doc);
  expect(m, "docs/strategies.md has the example between its markers").not.toBeNull();
  return m![1]!;
}

function cli(args: string[]) {
  const p = project();
  return spawnSync(process.execPath, [p.cli, ...args], { cwd: p.dir, encoding: "utf8", timeout: 300_000 });
}

describe("docs/strategies.md's example against the packed package", () => {
  it("compiles with tsc against the package's types, runs, verifies, and appears in run, sweep and the report", () => {
    const p = project();
    writeFileSync(join(p.dir, "mine.ts"), docsExample());
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    execFileSync(
      process.execPath,
      [
        tsc,
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        "--strict",
        "--skipLibCheck",
        "mine.ts",
      ],
      { cwd: p.dir, stdio: "pipe" },
    );
    const run = cli(["run", "--load-strategy", "mine.js", "--json", "--html", "report.html"]);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.strategies.map((s: { name: string }) => s.name)).toEqual(["linear-map-2m"]);
    expect(result.strategies[0].verified).toBe(true);
    expect(result.strategies[0].counters.entriesRead).toBeGreaterThan(20000); // readEntry counted
    expect(readFileSync(join(p.dir, "report.html"), "utf8")).toContain("linear-map-2m");
    const sweep = cli(["sweep", "--load-strategy", "mine.js", "--initrd", "16M", "--jobs", "2"]);
    expect(sweep.status).toBe(0);
    const rows = sweep.stdout.trim().split("\n");
    expect(rows[1]).toMatch(/,linear-map-2m,.*,verified,/);
  }, 900_000);

  it("names the strategy and the file when one throws, hints when a module has none, and refuses .ts without tsx", () => {
    const p = project();
    writeFileSync(
      join(p.dir, "throws.mjs"),
      `export const bad = { name: "bad", description: "", arches: ["arm64"], phase: "after-segments", prepare() { throw new Error("boom"); } };\n`,
    );
    const t = cli(["run", "--load-strategy", "throws.mjs"]);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/error\[E_STRATEGY\]: .*strategy "bad" \(from throws\.mjs\) threw: boom/);
    writeFileSync(join(p.dir, "empty.mjs"), "export const x = 1;\n");
    const e = cli(["run", "--load-strategy", "empty.mjs"]);
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/error\[E_STRATEGY_MODULE\]: .*exports no relocation strategy \(exports: x\)/);
    expect(e.stderr).toMatch(/hint: export a RelocationStrategy/);
    expect(e.stderr).not.toMatch(/scenario\.md/);
    writeFileSync(join(p.dir, "typed.ts"), docsExample());
    const ts = cli(["run", "--load-strategy", "typed.ts"]);
    expect(ts.status).toBe(2);
    expect(ts.stderr).toMatch(/error\[E_STRATEGY_MODULE\]: .*needs a TypeScript loader/);
    expect(ts.stderr).toMatch(/hint: install tsx/);
  }, 900_000);
});
