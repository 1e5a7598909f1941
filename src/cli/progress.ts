/**
 * A progress bar on stderr for work that takes more than about a second: shown only when stderr is
 * a terminal, started lazily after `delayMs` so quick commands print nothing, and always stopped
 * before the command writes its result. Library code reports progress through plain callbacks
 * (onProgress(done, total)); this file turns them into a cli-progress bar.
 */

import cliProgress from "cli-progress";
import type { CliIo } from "./io.js";

export interface Progress {
  /** Report `done` of `total` units; `label` replaces the bar's title. */
  update(done: number, total: number, label?: string): void;
  stop(): void;
  /** True once the bar is on screen (for tests). */
  readonly shown: boolean;
}

export interface ProgressOptions {
  /** Do not show anything before this much time has passed (default 1000 ms). */
  delayMs?: number;
  /** A clock for tests (default performance.now). */
  now?: () => number;
  /** Where the bar draws (default io.progressStream, else process.stderr). */
  stream?: NodeJS.WritableStream;
}

const NOOP: Progress = { update() {}, stop() {}, shown: false };

/** A progress bar for `title`, or a no-op when stderr is not a terminal or --json/--quiet asked for silence. */
export function startProgress(io: CliIo, title: string, opts: ProgressOptions = {}): Progress {
  if (!io.stderrTTY || io.env.KEXEC_LAB_NO_PROGRESS !== undefined) return NOOP;
  const now = opts.now ?? (() => performance.now());
  const t0 = now();
  const delay = opts.delayMs ?? 1000;
  let bar: cliProgress.SingleBar | undefined;
  let stopped = false;
  return {
    get shown() {
      return bar !== undefined;
    },
    update(done, total, label) {
      if (stopped) return;
      if (bar === undefined) {
        if (now() - t0 < delay || done >= total) return;
        bar = new cliProgress.SingleBar(
          {
            stream: opts.stream ?? io.progressStream ?? process.stderr,
            format: " {title} [{bar}] {percentage}% | {value}/{total} | eta {eta_formatted}",
            hideCursor: true,
            clearOnComplete: true,
            barsize: 30,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done, { title: label ?? title });
      }
      bar.setTotal(total);
      bar.update(done, label !== undefined ? { title: label } : {});
    },
    stop() {
      stopped = true;
      bar?.stop();
    },
  };
}

/**
 * Callbacks for runScenario-style progress: each strategy loads `totalPages`; the bar runs over
 * strategies x pages.
 */
export function scenarioProgress(progress: Progress): {
  onStrategy: (name: string, index: number, total: number) => void;
  onProgress: (pagesLoaded: number, totalPages: number) => void;
} {
  let strategy = "";
  let index = 0;
  let count = 1;
  return {
    onStrategy(name, i, total) {
      strategy = name;
      index = i;
      count = total;
    },
    onProgress(done, total) {
      progress.update(index * total + done, count * total, `run ${strategy}`);
    },
  };
}
