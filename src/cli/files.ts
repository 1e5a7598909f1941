/** File reading and atomic writing for the CLI (Node only). */

import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KexecLabError } from "../errors.js";

export function readInputFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (e as Error).message;
    throw new KexecLabError("E_FILE_READ", why, { file: path });
  }
}

export function readTextFile(path: string): string {
  return new TextDecoder().decode(readInputFile(path));
}

/** Temporary files of writes in progress: removed by the CLI's signal handlers (src/cli/signals.ts). */
const inProgress = new Set<string>();

/** Remove the temporary files of writes in progress (synchronous; for signal and exit handlers). */
export function removePartialOutputs(): void {
  for (const tmp of inProgress) rmSync(tmp, { force: true });
  inProgress.clear();
}

/**
 * Write a whole file atomically: a temporary file beside it (`.NAME.RANDOM.tmp`), then rename. An
 * existing file is kept unless `force`. Nothing is ever left half-written under `path`; the temporary
 * file is removed on an error, and by the CLI's SIGINT/SIGTERM handlers.
 */
export function writeOutputFile(path: string, data: string | Uint8Array, force = false): void {
  writeOutputFileWith(path, (fd) => writeFileSync(fd, data), force);
}

/**
 * writeOutputFile for content produced piece by piece: `write` gets a descriptor open for writing
 * (and reading) on the temporary file; positional writes and ftruncate make sparse files.
 */
export function writeOutputFileWith(path: string, write: (fd: number) => void, force = false): void {
  if (!force && existsSync(path)) {
    throw new KexecLabError("E_FILE_EXISTS", "refusing to overwrite", { file: path });
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  inProgress.add(tmp);
  try {
    const fd = openSync(tmp, "w+", 0o644);
    try {
      write(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new KexecLabError("E_FILE_WRITE", (e as Error).message, { file: path });
  } finally {
    inProgress.delete(tmp);
  }
}
