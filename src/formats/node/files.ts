/** File reading and atomic writing (Node only): the CLI's, the plan readers' and the sweep workers' one way to touch files. */

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { KexecLabError } from "../../errors.js";

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

/**
 * Write a whole file atomically: a temporary file beside it, then rename. An existing file is kept
 * unless `force`.
 */
export function writeOutputFile(path: string, data: string | Uint8Array, force = false): void {
  if (!force && existsSync(path)) {
    throw new KexecLabError("E_FILE_EXISTS", "refusing to overwrite", { file: path });
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new KexecLabError("E_FILE_WRITE", (e as Error).message, { file: path });
  }
}
