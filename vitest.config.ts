import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // KEXEC_LAB_FIXTURE_TESTS=<glob>: run fixture test files that the suite runs in a child vitest
    // (test/vitest-worker-death.test.ts), never in the suite itself.
    include:
      process.env.KEXEC_LAB_FIXTURE_TESTS !== undefined
        ? [process.env.KEXEC_LAB_FIXTURE_TESTS]
        : ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // sweeps stale temporary directories; names the test a dead worker was running
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/setup.ts"],
    // UPDATE_SNAPSHOTS=1 npm test rewrites the snapshot files (the same as vitest -u).
    ...(process.env.UPDATE_SNAPSHOTS === "1" ? { update: true } : {}),
  },
});
