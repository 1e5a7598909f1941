// `npm start`: run the default comparison. `npm install` already built dist/ (the prepare script), so
// rebuild only when a source file is newer than the built CLI; then run it.
import { execFileSync } from "node:child_process";
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
// The CLI dies with this script (src/node/child.ts: setpriv --pdeathsig KILL); a terminal's Ctrl-C
// reaches both, and the CLI's own exit code (130/143 on SIGINT/SIGTERM) is passed on.
const { spawnSyncOwned } = await import(join(root, "dist", "node", "child.js"));
const r = spawnSyncOwned(process.execPath, [cli, "run", ...process.argv.slice(2)], { stdio: "inherit" });
const signals = { SIGINT: 130, SIGTERM: 143, SIGKILL: 137 };
process.exitCode = r.status ?? signals[r.signal] ?? 2;
