/** The CLI's view of the process: output streams, TTY, environment. Injected so tests run in-process. */

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal (colour, progress bars). */
  isTTY: boolean;
  /** True when stderr is a terminal (progress bars). */
  stderrTTY: boolean;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Where progress bars draw when stderr is a terminal (default process.stderr). */
  progressStream?: NodeJS.WritableStream | undefined;
}

/** A reader that went away (`kexec-lab run | head`) is not an error: stop quietly. */
function exitOnBrokenPipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

export function processIo(): CliIo {
  exitOnBrokenPipe(process.stdout);
  exitOnBrokenPipe(process.stderr);
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    stderrTTY: process.stderr.isTTY === true,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Colour only on a TTY and never when NO_COLOR is set (https://no-color.org). */
export function useColor(io: CliIo): boolean {
  return io.isTTY && (io.env.NO_COLOR === undefined || io.env.NO_COLOR === "") && io.env.TERM !== "dumb";
}

const CODES = {
  bold: [1, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  dim: [2, 22],
  cyan: [36, 39],
} as const;
export type Style = keyof typeof CODES;

export function paint(io: CliIo, style: Style, text: string): string {
  if (!useColor(io)) return text;
  const [on, off] = CODES[style];
  return `\u001b[${on}m${text}\u001b[${off}m`;
}

/** One JSON document on stdout. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
