import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    setupFiles: ["test/setup.ts"],
    // UPDATE_SNAPSHOTS=1 npm test rewrites the snapshot files (the same as vitest -u).
    ...(process.env.UPDATE_SNAPSHOTS === "1" ? { update: true } : {}),
  },
});
