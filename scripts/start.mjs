// `npm start`: run the default comparison. `npm install` already built dist/ (the prepare script), so
// rebuild only when a source file is newer than the built CLI; then run it.
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli", "main.js");

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let built = 0;
try {
  built = statSync(cli).mtimeMs;
} catch {}
if (built === 0 || newestSource(join(root, "src")) > built) {
  execFileSync(
    process.execPath,
    [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
}
const r = spawnSync(process.execPath, [cli, "run", ...process.argv.slice(2)], { stdio: "inherit" });
process.exitCode = r.status ?? 2;
