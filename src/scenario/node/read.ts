/**
 * Node-only: read JSON inputs from disk (scenario files, profile files, points files). The library's
 * parsers take the parsed value; these read the file and name it in every error.
 */

import { basename, dirname } from "node:path";
import { readTextFile } from "../../formats/node/files.js";
import { loadScenario, type Scenario } from "../load.js";
import { parseJson } from "../validate-input.js";

/**
 * A JSON file's value. Errors: E_FILE_READ (missing or unreadable), E_JSON_PARSE with the file and the
 * byte offset where JSON.parse stopped.
 */
export function readJsonFile(file: string): unknown {
  return parseJson(readTextFile(file), file);
}

/**
 * A scenario file (docs/scenario.md) loaded with loadScenario: paths in it are relative to its folder;
 * a scenario without "name" is named after the file (its base name without ".json").
 * Errors: readJsonFile's, and loadScenario's (E_FIELD_* naming the field).
 */
export function readScenarioFile(file: string): Scenario {
  return loadScenario(readJsonFile(file), dirname(file), basename(file, ".json"));
}
