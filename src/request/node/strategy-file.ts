/** Node-only: import a user's relocation-strategy module (docs/strategies.md) and register it. */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { KexecLabError } from "../../errors.js";
import { registerStrategy } from "../../reloc/registry.js";
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

/**
 * Import `file` (relative to `cwd`) and registerStrategy every distinct RelocationStrategy it exports.
 * Errors: E_FILE_READ when the import fails, E_FIELD_VALUE when it exports no strategy, and
 * registerStrategy's for a clashing name.
 */
export async function loadStrategyFile(file: string, cwd: string): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(cwd, file)).href)) as Record<string, unknown>;
  } catch (e) {
    throw new KexecLabError("E_FILE_READ", `cannot load strategy module: ${(e as Error).message}`, { file });
  }
  const found = [...new Set(Object.values(mod).filter(isStrategy))];
  if (found.length === 0) {
    throw new KexecLabError("E_FIELD_VALUE", "the module exports no relocation strategy", { file });
  }
  for (const s of found) registerStrategy(s);
}
