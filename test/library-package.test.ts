/**
 * The package as a user installs it (test/helpers/packed.ts: `npm pack` of the current sources, the
 * tarball installed into an empty project from npm's cache): the README's "Use as a library" example
 * compiles with tsc (strict, Node ESM) against the installed package and runs with node; the error
 * class, its guard and the codes come from "kexec-lab", the file readers from "kexec-lab/node".
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { bzImageHeader } from "../src/formats/synth.js";
import { spawnSyncOwned } from "../src/node/child.js";
import { installPacked, tsc, userTsconfig } from "./helpers/packed.js";
import { ROOT } from "./helpers/procs.js";
import { testTempDir } from "./helpers/tmp.js";

const dir = testTempDir("library");

/** The first ```ts block of the README section `heading`. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(`\n## ${heading}\n`);
  expect(at, `README has no "## ${heading}"`).toBeGreaterThan(0);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(m, `no ts block under "## ${heading}"`).not.toBeNull();
  return m![1]!;
}

function run(script: string, args: string[]) {
  const r = spawnSyncOwned(process.execPath, [join(dir, script), ...args], { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("the packed package in an empty project", () => {
  beforeAll(() => {
    installPacked(dir);
    userTsconfig(dir);
  }, 300_000);

  it("compiles and runs the README's library example", { timeout: 120_000 }, () => {
    writeFileSync(join(dir, "plan.ts"), readmeExample("Use as a library"));
    // a small machine and kernel of our own: 4 GiB of RAM, a bzImage with a 32 MiB init_size
    writeFileSync(join(dir, "bzImage"), bzImageHeader({ initSize: 0x2000000 }, 4 << 20));
    writeFileSync(
      join(dir, "iomem.txt"),
      "00001000-0009fbff : System RAM\n00100000-bffdffff : System RAM\n  01000000-01ffffff : Kernel code\n100000000-13fffffff : System RAM\n",
    );
    writeFileSync(
      join(dir, "api.ts"),
      [
        'import { CATALOG, type ErrorCode, isKexecLabError, KexecLabError, planLoad, type PlanInput } from "kexec-lab";',
        'import { readPlanFiles } from "kexec-lab/node";',
        'const code: ErrorCode = "E_FILE_READ";',
        'const e = new KexecLabError(code, "detail", { file: "f" });',
        "const input: PlanInput = { kernel: new Uint8Array(16) }; // no arch: inferred",
        "console.log(JSON.stringify({",
        "  guard: isKexecLabError(e), notError: isKexecLabError(new Error()), json: e.toJSON(),",
        "  title: CATALOG[code].title, planLoad: typeof planLoad, readPlanFiles: typeof readPlanFiles,",
        "  kernelBytes: input.kernel.length }));",
      ].join("\n"),
    );
    const compiled = tsc(dir);
    expect(compiled).toBe("");

    const ok = run("plan.js", ["bzImage", "iomem.txt"]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^kernel 0x[0-9a-f]+ \d+$/m);
    expect(ok.out).toMatch(/^purgatory 0x[0-9a-f]+ \d+$/m);

    const missing = run("plan.js", ["no-such-bzImage", "iomem.txt"]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^E_FILE_READ: cannot read file: no such file \(no-such-bzImage\)/);

    const api = run("api.js", []);
    expect(api.code, api.err).toBe(0);
    expect(JSON.parse(api.out)).toEqual({
      guard: true,
      notError: false,
      json: expect.objectContaining({ code: "E_FILE_READ", where: expect.objectContaining({ file: "f" }) }),
      title: "cannot read file",
      planLoad: "function",
      readPlanFiles: "function",
      kernelBytes: 16,
    });
  });
});

describe("entry points", () => {
  const bundle = (entry: string) =>
    build({
      entryPoints: [join(ROOT, entry)],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
    });

  it("kexec-lab (src/index.ts) bundles for a browser: no Node built-in behind it", {
    timeout: 120_000,
  }, async () => {
    const r = await bundle("src/index.ts");
    expect(r.errors).toEqual([]);
  });

  it("kexec-lab/node (src/node.ts) does not, which is why it is a separate entry point", {
    timeout: 120_000,
  }, async () => {
    await expect(bundle("src/node.ts")).rejects.toThrow(/node:fs/);
  });
});
