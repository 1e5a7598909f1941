/**
 * Writes schema/scenario.schema.json from the zod definitions in src/scenario/schema.ts.
 *   npx tsx scripts/gen-schema.ts          write the file
 *   npx tsx scripts/gen-schema.ts --check  exit 1 when the committed file is stale
 */

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { scenarioJsonSchema } from "../src/scenario/schema.js";

export const SCHEMA_PATH = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "schema",
  "scenario.schema.json",
);

export function schemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = schemaText();
  if (process.argv.includes("--check")) {
    let old = "";
    try {
      old = readFileSync(SCHEMA_PATH, "utf8");
    } catch {}
    if (old !== text) {
      process.stderr.write("schema/scenario.schema.json is stale: run npx tsx scripts/gen-schema.ts\n");
      process.exitCode = 1;
    }
  } else {
    writeFileSync(SCHEMA_PATH, text);
    process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
  }
}
