/**
 * The exit-code rule, in one place:
 *   0  success (the load would be accepted, every strategy verified)
 *   1  the kernel would refuse the load, or a verification failed
 *   2  bad input or usage (a catalogued error), or an internal error
 */

import { CommanderError } from "commander";
import { KexecLabError, REFUSAL_CODES } from "../errors.js";
import { type CliIo, paint } from "./io.js";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_BAD_INPUT = 2;

/** Turn anything thrown by a command into a message on stderr and an exit code. */
export function reportError(io: CliIo, e: unknown, debug: boolean): number {
  if (e instanceof CommanderError) {
    // commander has already printed its message; help and version are successes.
    if (
      e.code === "commander.helpDisplayed" ||
      e.code === "commander.version" ||
      e.code === "commander.help"
    ) {
      return EXIT_OK;
    }
    return EXIT_BAD_INPUT;
  }
  if (e instanceof KexecLabError) {
    io.stderr(`${paint(io, "red", "kexec-lab: error")}[${e.code}]: ${e.message}\n  hint: ${e.hint}\n`);
    if (debug && e.stack) io.stderr(`${e.stack}\n`);
    return REFUSAL_CODES.has(e.code) ? EXIT_REFUSED : EXIT_BAD_INPUT;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.stderr(
    `${paint(io, "red", "kexec-lab: internal error")}[E_INTERNAL]: ${err.message}\n  hint: this is a bug in kexec-lab; rerun with --trace-errors and report it with the input\n`,
  );
  if (debug && err.stack) io.stderr(`${err.stack}\n`);
  return EXIT_BAD_INPUT;
}
