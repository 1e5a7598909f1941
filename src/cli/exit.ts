/**
 * The exit-code rule, in one place:
 *   0  success (the load would be accepted, every strategy verified)
 *   1  the kernel would refuse the load, or a verification failed
 *   2  bad input or usage (a catalogued error), or an internal error
 */

import { CommanderError } from "commander";
import { CATALOG, KexecLabError, REFUSAL_CODES } from "../errors.js";
import { type CliIo, paint } from "./io.js";

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_BAD_INPUT = 2;

/**
 * The JSON document a command run with --json prints on stdout when it fails (docs/json.md "Errors"):
 * `{error: {code, kind, exitCode, message, hint, where}}`. `kind` is "refusal" (exit 1: the real
 * kexec-tools or kernel refuses too), "bad-input" (exit 2) or "internal" (exit 2, a kexec-lab bug).
 */
export function errorDocument(
  e: unknown,
  exitCode: number,
  usageMessage?: string,
): { error: Record<string, unknown> } {
  if (e instanceof KexecLabError) {
    return {
      error: {
        code: e.code,
        kind: REFUSAL_CODES.has(e.code) ? "refusal" : "bad-input",
        exitCode,
        message: e.message,
        hint: e.hint,
        where: e.where,
      },
    };
  }
  if (e instanceof CommanderError) {
    return {
      error: {
        code: "E_USAGE",
        kind: "bad-input",
        exitCode,
        message: `${CATALOG.E_USAGE.title}: ${(usageMessage ?? e.message).replace(/^error: /, "").trim()}`,
        hint: CATALOG.E_USAGE.hint,
        where: {},
      },
    };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return {
    error: {
      code: "E_INTERNAL",
      kind: "internal",
      exitCode,
      message: err.message,
      hint: "this is a bug in kexec-lab; rerun with --trace-errors and report it with the input",
      where: {},
    },
  };
}

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
