/**
 * What every command's action gets: the I/O it prints through and the exit code it sets. Its own module
 * so the commands (src/cli/commands) and main.ts, which loads them, do not import each other.
 */

import type { CliIo } from "./io.js";

export interface CliContext {
  io: CliIo;
  /** Set by a command's action: the exit code to return. */
  exitCode: number;
  /** --max-memory: bytes of host memory the simulator may allocate (pass it as a Machine's maxBytes). */
  maxMemory: number;
  /** The running command was given --json (set before its action runs). */
  json?: boolean;
}
