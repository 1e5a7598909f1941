/** Running the CLI in-process for tests: a fake CliIo that collects what the command prints. */

import type { CliIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

export type FakeIo = CliIo & { out: string; err: string };

export function fakeIo(overrides: Partial<CliIo> = {}): FakeIo {
  const io: FakeIo = {
    out: "",
    err: "",
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
    isTTY: false,
    stderrTTY: false,
    env: {},
    cwd: process.cwd(),
    ...overrides,
  };
  return io;
}

/** Run `kexec-lab ARGS` in this process: exit code and everything printed. */
export async function runCli(args: string[], overrides: Partial<CliIo> = {}) {
  const io = fakeIo(overrides);
  const code = await main(args, io);
  return { code, out: io.out, err: io.err };
}
