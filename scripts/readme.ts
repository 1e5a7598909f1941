/**
 * README and guide examples from real runs. A block in README.md or docs/guide.md (DOCS) marked with
 *
 *   <!-- readme-run [head=N] [tail=N] [width=N]: ARGS -->
 *   ```
 *   $ kexec-lab ARGS (paths shown by their file name)
 *   output
 *   ```
 *
 * is rewritten with what `kexec-lab ARGS` prints now (in-process, no colour, no TTY). head/tail keep the
 * first/last N lines, from=N starts at line N ("..." marks each cut), width cuts long lines (ending them with "..."). Paths in
 * ARGS are relative to the repository root; the shown command gives only their file names.
 *
 *   npm run readme            rewrite README.md and docs/guide.md
 *   npm run readme -- --check exit 1 when one is stale (test/readme.test.ts does the same)
 */

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.js";

const MARK = /^<!-- readme-run((?: \w+=\d+)*): (.+) -->$/;

export interface ReadmeBlock {
  /** Line index of the marker. */
  line: number;
  args: string[];
  head?: number;
  tail?: number;
  from?: number;
  width?: number;
}

/** Split a marker's argument text on spaces, keeping "double quoted" words together. */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

function shown(args: string[]): string {
  return args
    .map((a) => (a.includes("/") && !a.startsWith("-") ? a.slice(a.lastIndexOf("/") + 1) : a))
    .map((a) => (/[\s"]/.test(a) || a === "" ? `"${a}"` : a))
    .join(" ");
}

async function runOnce(args: string[], cwd: string): Promise<string> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    isTTY: false,
    stderrTTY: false,
    env: { NO_COLOR: "1" },
    cwd,
  });
  if (code !== 0 && code !== 1) throw new Error(`kexec-lab ${args.join(" ")} exited ${code}: ${err}`);
  return out;
}

function trim(text: string, b: ReadmeBlock): string[] {
  let lines = text.replace(/\n+$/, "").split("\n");
  if (b.width !== undefined) {
    const w = b.width;
    lines = lines.map((l) => (l.length > w ? `${l.slice(0, w - 3)}...` : l));
  }
  if (b.from !== undefined && b.from > 1) lines = ["...", ...lines.slice(b.from - 1)];
  if (b.head !== undefined && lines.length > b.head) lines = [...lines.slice(0, b.head), "..."];
  if (b.tail !== undefined && lines.length > b.tail) lines = ["...", ...lines.slice(-b.tail)];
  return lines;
}

/** README.md with every marked block regenerated. */
export async function regenerate(readme: string, cwd: string): Promise<string> {
  const lines = readme.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    out.push(line);
    const m = MARK.exec(line);
    if (!m) continue;
    const block: ReadmeBlock = { line: i, args: splitArgs(m[2]!) };
    for (const kv of m[1]!.trim().split(" ").filter(Boolean)) {
      const [k, v] = kv.split("=") as [string, string];
      if (k === "head" || k === "tail" || k === "from" || k === "width") block[k] = Number(v);
    }
    if (lines[i + 1] !== "```") throw new Error(`line ${i + 2}: a code fence must follow the marker`);
    let end = i + 2;
    while (end < lines.length && lines[end] !== "```") end++;
    if (end >= lines.length) throw new Error(`line ${i + 2}: unclosed code fence`);
    const text = await runOnce(block.args, cwd);
    out.push("```", `$ kexec-lab ${shown(block.args)}`, ...trim(text, block), "```");
    i = end;
  }
  return out.join("\n");
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The files whose marked blocks are generated, relative to the repository root. */
export const DOCS = ["README.md", "docs/guide.md", "docs/kdump.md"];

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const doc of DOCS) {
    const path = join(root, doc);
    const before = readFileSync(path, "utf8");
    const after = await regenerate(before, root);
    if (process.argv.includes("--check")) {
      if (after !== before) {
        process.stderr.write(`${doc} is stale: run \`npm run readme\`\n`);
        process.exitCode = 1;
      }
    } else if (after !== before) {
      writeFileSync(path, after);
      process.stderr.write(`${doc} updated\n`);
    }
  }
}
