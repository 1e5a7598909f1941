/**
 * The package as a user gets it: `npm pack` of the current sources, installed into an empty project.
 * For tests of the public API from the outside (test/library-package.test.ts: the README's library
 * example; strategy authors' tests).
 *
 * packedTarball() builds the package in a staging directory (tsc -p tsconfig.build.json into its
 * dist/, plus the files package.json lists), runs `npm pack --ignore-scripts` there and keeps the
 * tarball in node_modules/.cache/kexec-lab-packed/<hash of the inputs>/, so every test file of a run
 * (and later runs, until a source changes) reuses it. The repository's own dist/ is not touched.
 * installPacked(dir) makes `dir` an ES-module project with the tarball installed from npm's cache
 * (--prefer-offline: the dependencies come from the registry only when the cache lacks them).
 */

import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { execFileSyncOwned, spawnSyncOwned } from "../../src/node/child.js";
import { ROOT } from "./procs.js";
import { testTempDir } from "./tmp.js";

const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  files: string[];
};

/** Files whose content decides the tarball: sources, the listed folders, package.json, README, tsconfigs. */
function inputs(): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(join(p, n));
    else out.push(p);
  };
  for (const f of ["src", ...PKG.files.filter((f) => f !== "dist")]) {
    if (existsSync(join(ROOT, f))) walk(join(ROOT, f));
  }
  for (const f of ["package.json", "README.md", "LICENSE", "tsconfig.json", "tsconfig.build.json"]) {
    if (existsSync(join(ROOT, f))) out.push(join(ROOT, f));
  }
  return out;
}

function inputsHash(): string {
  const h = createHash("sha256");
  for (const f of inputs()) {
    h.update(relative(ROOT, f));
    h.update("\0");
    h.update(readFileSync(f));
  }
  return h.digest("hex").slice(0, 16);
}

const CACHE = join(ROOT, "node_modules", ".cache", "kexec-lab-packed");

/** Run a Node CLI script (tsc, npm) with the current Node. */
function node(args: string[], cwd: string): string {
  return execFileSyncOwned(process.execPath, args, { cwd, encoding: "utf8", stdio: "pipe" });
}

/** Run npm with `args` in `cwd`. */
export function npm(args: string[], cwd: string): string {
  return execFileSyncOwned("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    stdio: "pipe",
  });
}

/** The path of kexec-lab-<version>.tgz built from the current sources (cached by content). */
export function packedTarball(): string {
  const dir = join(CACHE, inputsHash());
  const tarball = join(dir, `${PKG.name}-${PKG.version}.tgz`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(CACHE, { recursive: true });
  const stage = mkdtempSync(join(CACHE, "stage-"));
  try {
    for (const f of [...PKG.files.filter((f) => f !== "dist"), "package.json", "README.md", "LICENSE"]) {
      if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(stage, f), { recursive: true });
    }
    node(
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        join(ROOT, "tsconfig.build.json"),
        "--outDir",
        join(stage, "dist"),
      ],
      ROOT,
    );
    npm(["pack", "--ignore-scripts", "--pack-destination", stage], stage);
    mkdirSync(dir, { recursive: true });
    // Another test file may have packed the same sources meanwhile: rename is atomic, either wins.
    renameSync(join(stage, `${PKG.name}-${PKG.version}.tgz`), tarball);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return tarball;
}

/**
 * Make `dir` an empty ES-module project and install the packed tarball into it from npm's cache
 * (the dependencies as a user's install resolves them). Returns the tarball's path.
 */
export function installPacked(dir: string): string {
  const tarball = packedTarball();
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "kexec-lab-user", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  npm(["install", "--prefer-offline", "--ignore-scripts", tarball], dir);
  return tarball;
}

/**
 * A tsconfig.json for `dir` as a user of the package writes it (Node ESM, strict), with @types/node from
 * this repository (the user's project would install it).
 */
export function userTsconfig(dir: string): void {
  writeFileSync(
    join(dir, "tsconfig.json"),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(ROOT, "node_modules/@types")],
        },
        include: ["*.ts"],
      },
      null,
      2,
    )}\n`,
  );
}

/** Compile the project in `dir` with this repository's TypeScript: its diagnostics ("" when it compiled). */
export function tsc(dir: string): string {
  const r = spawnSyncOwned(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")],
    { cwd: dir, encoding: "utf8" },
  );
  return `${r.stdout}${r.stderr}${r.status === 0 ? "" : `(tsc exit ${r.status})`}`;
}

export interface PackedProject {
  /** The project directory: package.json ("type": "module") and node_modules/kexec-lab installed. */
  dir: string;
  /** The installed CLI: node <cli> args... */
  cli: string;
  /** The tarball npm pack wrote. */
  tarball: string;
}

/**
 * A fresh project with the packed tarball installed (installPacked), made on first call. Call at a file's
 * top level or in a describe block (its temp directory is removed in afterAll).
 */
export function packedProject(name: string): () => PackedProject {
  const tmp = testTempDir(`packed-${name}`);
  let made: PackedProject | undefined;
  return () => {
    if (made !== undefined) return made;
    const dir = join(tmp, "project");
    mkdirSync(dir, { recursive: true });
    const tarball = installPacked(dir);
    made = { dir, tarball, cli: join(dir, "node_modules", "kexec-lab", "dist", "cli", "main.js") };
    return made;
  };
}
