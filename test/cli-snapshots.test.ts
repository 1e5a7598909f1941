/**
 * Snapshots of whole CLI outputs (text and JSON) for fixed inputs and seed. When an output changes on
 * purpose, rewrite them with `UPDATE_SNAPSHOTS=1 npx vitest run test/cli-snapshots.test.ts` (or -u)
 * and review the diff of test/__snapshots__/cli/.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { testTempDir } from "./helpers/tmp.js";

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const r = await runCli(args, { env });
  return { code: r.code, stdout: r.out, stderr: r.err };
}

const work = testTempDir("cli");

describe("CLI output snapshots", () => {
  it("run (the default comparison, as npm start prints it)", async () => {
    const r = await cli(["run"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    await expect(r.stdout).toMatchFileSnapshot("__snapshots__/cli/run.txt");
  }, 300_000);

  it("run --json is one JSON document and byte-identical across runs", async () => {
    const a = await cli(["run", "--json", "--content", "synthetic", "--seed", "7"]);
    const b = await cli(["run", "--json", "--content", "synthetic", "--seed", "7"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const doc = JSON.parse(a.stdout);
    expect(doc.tool.name).toBe("kexec-lab");
    await expect(a.stdout).toMatchFileSnapshot("__snapshots__/cli/run-synthetic-seed7.json");
  }, 300_000);

  it("run --arch x86_64 --json", async () => {
    const r = await cli(["run", "--arch", "x86_64", "--content", "synthetic", "--json"]);
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot("__snapshots__/cli/run-x86_64.json");
  }, 300_000);

  it("report writes the HTML and says so; refuses to overwrite without --force", async () => {
    const result = join(work, "result.json");
    const run = await cli([
      "run",
      "--json",
      "--content",
      "synthetic",
      "--strategy",
      "mmu-off,linear-map-copy",
    ]);
    expect(run.code).toBe(0);
    const { writeFileSync } = await import("node:fs");
    writeFileSync(result, run.stdout);
    const out = join(work, "report.html");
    const r = await cli(["report", result, "-o", out, "--no-curves", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.output).toBe(out);
    expect(doc.bytes).toBe(readFileSync(out).length);
    const again = await cli(["report", result, "-o", out, "--no-curves"]);
    expect(again.code).toBe(2);
    expect(again.stderr.replaceAll(work, "<tmp>")).toMatchInlineSnapshot(`
      "kexec-lab: error[E_FILE_EXISTS]: output file exists: refusing to overwrite (<tmp>/report.html)
        hint: pass --force to overwrite it, or choose another path
      "
    `);
  });

  it("report on something that is not a run result names the field", async () => {
    const bad = join(work, "bad.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(bad, JSON.stringify({ tool: { name: "kexec-lab", version: "0.1.0" }, scenario: {} }));
    const r = await cli(["report", bad, "-o", join(work, "x.html")]);
    expect(r.code).toBe(2);
    expect(r.stderr.replaceAll(work, "<tmp>")).toMatchInlineSnapshot(`
      "kexec-lab: error[E_FIELD_MISSING]: missing field: "name" is required (is this the output of \`kexec-lab run --json\`?) (<tmp>/bad.json, scenario.name)
        hint: add the field; see docs/scenario.md for the format
      "
    `);
  });

  it("--help lists every command", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    // Not a whole-output snapshot: each command's one-line description belongs to its owner.
    const listed = [...r.stdout.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]);
    for (const c of ["run", "validate", "inspect", "plan", "report", "sweep", "bench", "calibrate", "help"]) {
      expect(listed).toContain(c);
    }
  });

  it("report --help", async () => {
    const r = await cli(["report", "--help"]);
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot("__snapshots__/cli/report-help.txt");
  });
});
