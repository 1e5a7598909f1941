/** Node-only: a profile named on the command line, a builtin name or a profile JSON file. */

import { readJsonFile } from "../../scenario/node/read.js";
import { builtinProfile, loadProfile, type Profile } from "../profiles.js";

/**
 * `arg` ending in ".json" is a profile file (loadProfile, docs/model.md); anything else a builtin
 * profile name (builtinProfile). Errors: E_FILE_READ, E_JSON_PARSE, E_FIELD_* naming the file and
 * field; E_FIELD_VALUE listing the builtin names.
 */
export function resolveProfile(arg: string): Profile {
  if (!arg.endsWith(".json")) return builtinProfile(arg);
  return loadProfile(readJsonFile(arg), arg);
}

/**
 * A --profile list ("a,b.json"): undefined when not given, [] for "none", else each resolved.
 */
export function resolveProfileList(text: string | undefined): Profile[] | undefined {
  if (text === undefined) return undefined;
  const names = text
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (names.length === 1 && names[0] === "none") return [];
  return names.map(resolveProfile);
}
