#!/usr/bin/env node
/**
 * kexec-lab's command line: argument parsing and exit codes only. Every command is a thin layer over
 * the library's public API (src/index.ts); see src/cli/commands/.
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { COMMANDS } from "./commands/index.js";
import { EXIT_OK, reportError } from "./exit.js";
import { type CliIo, processIo } from "./io.js";

export interface CliContext {
  io: CliIo;
  /** Set by a command's action: the exit code to return. */
  exitCode: number;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command("kexec-lab")
    .description(
      "Run Linux kexec's load-and-relocate path on a simulated machine, bit for bit: where segments land,\n" +
        "what the kimage and the relocation page tables cost, whether each relocation strategy is correct,\n" +
        "and how long it takes.",
    )
    .version("0.1.0")
    .option("--debug", "print stack traces of errors")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) });
  for (const register of COMMANDS) {
    const sub = register(program, ctx);
    sub
      .exitOverride()
      .configureOutput({ writeOut: (s) => ctx.io.stdout(s), writeErr: (s) => ctx.io.stderr(s) });
  }
  return program;
}

/** Run the CLI with arguments (without "node" and the script). Returns the exit code. */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  const ctx: CliContext = { io, exitCode: EXIT_OK };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    return reportError(io, e, args.includes("--debug"));
  }
}

function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`kexec-lab: internal error: ${String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
