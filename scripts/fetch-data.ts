/**
 * `npm run fetch-data`: fetch the real files the tests and examples read into the data cache (see
 * test/helpers/data.ts, docs/testing.md). Prints where each came from, the cache directory and the time taken.
 */
import { DataFetchError, ensureData } from "../test/helpers/data.js";

try {
  const r = await ensureData();
  process.stdout.write(
    `test data in ${r.cache}: ${r.cached.length} already cached, ${r.downloaded.length} downloaded from Debian (${r.seconds.toFixed(1)} s)\n`,
  );
} catch (e) {
  process.stderr.write(`${e instanceof DataFetchError ? e.message : (e as Error).stack}\n`);
  process.exitCode = 1;
}
