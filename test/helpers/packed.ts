/**
 * The package as users get it: `npm pack` of this checkout (after `npm run build`, so dist/ is current)
 * installed into an empty project in a test temp directory (`npm install --prefer-offline <tarball>`:
 * the dependencies come from npm's cache, as `npm ci --prefer-offline` filled it). Children are spawned
 * with execFileSync (they end before it returns). Call at a file's top level or in a describe block.
 */

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { testTempDir } from "./tmp.js";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface PackedProject {
  /** The project directory: package.json ("type": "module") and node_modules/kexec-lab installed. */
  dir: string;
  /** The installed CLI: node <cli> args... */
  cli: string;
  /** The tarball npm pack wrote. */
  tarball: string;
}

/** Build, pack and install into a fresh project (slow: a minute or more on a busy machine). */
export function packedProject(name: string): () => PackedProject {
  const tmp = testTempDir(`packed-${name}`);
  let made: PackedProject | undefined;
  return () => {
    if (made !== undefined) return made;
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "ignore" });
    const packDir = join(tmp, "pack");
    mkdirSync(packDir, { recursive: true });
    const out = execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", packDir], {
      cwd: ROOT,
      encoding: "utf8",
    });
    const tarball = join(packDir, out.trim().split("\n").pop()!);
    const dir = join(tmp, "project");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "package.json"),
      `${JSON.stringify({ name: "user-project", private: true, type: "module" })}\n`,
    );
    execFileSync(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball],
      { cwd: dir, stdio: "ignore" },
    );
    made = { dir, tarball, cli: join(dir, "node_modules", "kexec-lab", "dist", "cli", "main.js") };
    return made;
  };
}
