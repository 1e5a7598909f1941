/** Node-only: import a user's relocation-strategy module (docs/strategies.md) and register it. */

import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KexecLabError } from "../../errors.js";
import { registerStrategy } from "../../reloc/registry.js";
import { noteStrategyFile } from "../../reloc/run.js";
import type { RelocationStrategy } from "../../reloc/strategy.js";

function isStrategy(v: unknown): v is RelocationStrategy {
  const s = v as RelocationStrategy | null;
  return (
    typeof s === "object" &&
    s !== null &&
    typeof s.name === "string" &&
    typeof s.prepare === "function" &&
    Array.isArray(s.arches)
  );
}

const TS_EXTENSIONS = new Set([".ts", ".mts", ".cts"]);

/** True when this process already runs TypeScript (under tsx or vitest: this module itself is .ts). */
const runningTs = import.meta.url.endsWith(".ts");

/**
 * A .ts module from the built CLI: register tsx's loader when tsx is installed (the project's own
 * devDependency, or the user's); undefined when it is not.
 */
async function tsLoader(): Promise<boolean> {
  if (runningTs) return true;
  try {
    const spec = "tsx/esm/api"; // not a dependency of the package: resolved at run time if installed
    const api = (await import(spec)) as { register: () => unknown };
    api.register();
    return true;
  } catch {
    return false;
  }
}

/**
 * Import `file` (relative to `cwd`) and registerStrategy every distinct RelocationStrategy it exports.
 * Returns the names registered, in export order. A `.ts` module needs a TypeScript loader: under tsx
 * or vitest it just works; from the built CLI tsx's loader is registered when tsx is installed, else
 * the module is refused (E_STRATEGY_MODULE) with how to run it. Errors: E_FILE_READ when the file does
 * not exist; E_STRATEGY_MODULE when it cannot be imported (its error named) or exports no strategy;
 * registerStrategy's for a clashing name.
 */
export async function loadStrategyFile(file: string, cwd: string): Promise<string[]> {
  const path = resolve(cwd, file);
  const ts = TS_EXTENSIONS.has(extname(path).toLowerCase());
  const { existsSync } = await import("node:fs");
  if (!existsSync(path)) throw new KexecLabError("E_FILE_READ", "no such strategy module", { file });
  if (ts && !(await tsLoader())) {
    throw new KexecLabError(
      "E_STRATEGY_MODULE",
      "a TypeScript strategy needs a TypeScript loader, and tsx is not installed",
      { file },
      `install tsx (npm install tsx) and run again, or compile the module to .js (npx tsc ${file}) and pass that; under tsx it loads as it is (npx tsx $(which kexec-lab) run --load-strategy ${file})`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new KexecLabError(
      "E_STRATEGY_MODULE",
      `cannot import the strategy module: ${(e as Error).message.split("\n")[0]}`,
      { file },
      "fix the module's error; it must be an ES module importing kexec-lab's API (docs/strategies.md)",
    );
  }
  const found = [...new Set(Object.values(mod).filter(isStrategy))];
  if (found.length === 0) {
    throw new KexecLabError(
      "E_STRATEGY_MODULE",
      `the module exports no relocation strategy (exports: ${Object.keys(mod).join(", ") || "none"})`,
      { file },
    );
  }
  for (const s of found) {
    registerStrategy(s);
    noteStrategyFile(s, file);
  }
  return found.map((s) => s.name);
}
