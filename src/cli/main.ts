#!/usr/bin/env node
/**
 * kexec-lab's command line: argument parsing and exit codes only. Every command is a thin layer over
 * the library's public API (src/index.ts); see src/cli/commands/.
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import { Command } from "commander";
import { CATALOG, KexecLabError } from "../errors.js";
import { parseSize } from "../scenario/numbers.js";
import type { CliContext } from "./context.js";
import { EXIT_OK, errorDocument, reportError } from "./exit.js";
import { type CliIo, printJson, processIo } from "./io.js";
import { installSignalHandlers } from "./signals.js";
import { runOnThread } from "./thread.js";

export type { CliContext } from "./context.js";

/** Default --max-memory: 16 GiB of simulated frames leaves room for Node itself on a 24 GiB machine. */
export const DEFAULT_MAX_MEMORY = 16 * 2 ** 30;

/** Parse --max-memory ("8G", "512M", "0x40000000", bytes); at least 16 MiB. */
export function parseMaxMemory(text: string): number {
  const v = parseSize(text, "--max-memory");
  if (v < 16n * 2n ** 20n || v > 2n ** 50n) {
    throw new KexecLabError("E_NUMBER_RANGE", `--max-memory ${text} is not between 16M and 1P`, {
      field: "--max-memory",
    });
  }
  return Number(v);
}

/** The commands (src/cli/commands), loaded when a command runs: the main thread of the CLI never loads them. */
type Registrars = typeof import("./commands/index.js")["COMMANDS"];

export function buildProgram(ctx: CliContext, commands: Registrars): Command {
  // commander's own errors (unknown option, missing argument) in the catalog's format, as E_USAGE.
  const output = {
    writeOut: (s: string) => ctx.io.stdout(s),
    writeErr: (s: string) => ctx.io.stderr(s),
    outputError: (s: string, write: (s: string) => void) =>
      write(
        `kexec-lab: error[E_USAGE]: ${CATALOG.E_USAGE.title}: ${s.replace(/^error: /, "").trimEnd()}\n  hint: ${CATALOG.E_USAGE.hint}\n`,
      ),
  };
  const program = new Command("kexec-lab")
    .description(
      "Run Linux kexec's load-and-relocate path on a simulated machine, bit for bit: where segments land,\n" +
        "what the kimage and the relocation page tables cost, whether each relocation strategy is correct,\n" +
        "and how long it takes.",
    )
    .version("0.1.0")
    .option("--trace-errors", "print stack traces of errors (for reporting a bug in kexec-lab)")
    .option(
      "--max-memory <size>",
      "most host memory the simulator may allocate for page contents and tables (e.g. 4G); past it: E_LIMIT",
      "16G",
    )
    .hook("preAction", (root, action) => {
      ctx.json = action.opts().json === true;
      ctx.maxMemory = parseMaxMemory(String(root.opts().maxMemory));
    })
    .exitOverride()
    .configureOutput(output);
  for (const register of commands) {
    const sub = register(program, ctx);
    sub.exitOverride().configureOutput(output);
    deferMandatoryOptions(sub);
  }
  return program;
}

/**
 * commander checks required options before unknown ones, so `plan --kernal F` said only that --kernel
 * was missing. Required options are checked here instead, in a preAction hook, which runs after
 * commander's unknown-option check (with its "did you mean --kernel?").
 */
function deferMandatoryOptions(cmd: Command): void {
  const required = cmd.options.filter((o) => o.mandatory);
  if (required.length === 0) return;
  for (const o of required) o.mandatory = false;
  cmd.hook("preAction", (_root, action) => {
    for (const o of required) {
      if (action.getOptionValue(o.attributeName()) === undefined) {
        action.error(`error: required option '${o.flags}' not specified`, {
          code: "commander.missingMandatoryOptionValue",
          exitCode: 1,
        });
      }
    }
  });
}

/** True when the arguments ask for stack traces of errors (the global --trace-errors). */
export function wantsTrace(args: readonly string[]): boolean {
  return args.includes("--trace-errors");
}

/** Run the CLI with arguments (without "node" and the script). Returns the exit code. */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  // Whether anything reached stdout: with --json a failed command prints its error document only
  // when it printed no document of its own.
  let printed = false;
  let usageMessage: string | undefined;
  const watched: CliIo = {
    ...io,
    stdout: (t) => {
      printed = true;
      io.stdout(t);
    },
    stderr: (t) => {
      const m = /^kexec-lab: error\[E_USAGE\]: [^:]*: (.*)\n/.exec(t);
      if (m) usageMessage = m[1];
      io.stderr(t);
    },
  };
  const ctx: CliContext = { io: watched, exitCode: EXIT_OK, maxMemory: DEFAULT_MAX_MEMORY };
  const program = buildProgram(ctx, (await import("./commands/index.js")).COMMANDS);
  try {
    await program.parseAsync(args, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    const code = reportError(watched, e, wantsTrace(args));
    if (code !== EXIT_OK && !printed && (ctx.json ?? wantsJson(args))) {
      printJson(io, errorDocument(e, code, usageMessage));
    }
    return code;
  }
}

/**
 * --json among the arguments of a command that takes it (when commander failed before the command's
 * options were parsed): `kexec` passes its arguments to kexec's own command line and has no --json.
 */
export function wantsJson(args: readonly string[]): boolean {
  const i = args.indexOf("--json");
  if (i < 0) return false;
  let command: string | undefined;
  for (let k = 0; k < args.length; k++) {
    if (args[k] === "--max-memory") k++;
    else if (!args[k]!.startsWith("-")) {
      command = args[k];
      break;
    }
  }
  return command !== "kexec";
}

function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainThread && isEntryPoint()) {
  // The command runs on a worker thread so that this thread acts on SIGINT/SIGTERM at once (src/cli/thread.ts).
  installSignalHandlers();
  runOnThread(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`kexec-lab: internal error: ${String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
