/** File reading and atomic writing (Node only): the CLI's, the plan readers' and the sweep workers' one way to touch files. */

import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { KexecLabError } from "../../errors.js";

function readError(path: string, e: unknown): KexecLabError {
  if (e instanceof KexecLabError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? "";
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EISDIR"
        ? "is a directory"
        : code === "EACCES"
          ? "permission denied"
          : (e as Error).message;
  return new KexecLabError("E_FILE_READ", why, { file: path });
}

/**
 * A whole file as bytes; a missing or unreadable file is E_FILE_READ naming it. The bytes are Node's
 * own buffer when it has its ArrayBuffer to itself (a file of any size read by size): a 1 GiB initrd
 * is held once, not twice. A buffer from Node's shared pool (a small file read in chunks: /proc) is
 * copied, so callers may read `.buffer` from offset 0.
 */
export function readInputFile(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
      ? new Uint8Array(b.buffer, 0, b.byteLength)
      : new Uint8Array(b);
  } catch (e) {
    throw readError(path, e);
  }
}

/** A regular file's size in bytes (stat; nothing read). E_FILE_READ when it is missing or not a file. */
export function inputFileSize(path: string): number {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new KexecLabError("E_FILE_READ", "is a directory", { file: path });
    return st.size;
  } catch (e) {
    throw readError(path, e);
  }
}

/** At most the first `n` bytes of a file (fewer when it is shorter), read without reading the rest. */
export function readFileHead(path: string, n: number): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = readSync(fd, buf, got, n - got, got);
      if (k === 0) break;
      got += k;
    }
    return buf.subarray(0, got);
  } catch (e) {
    throw readError(path, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function readTextFile(path: string): string {
  return new TextDecoder().decode(readInputFile(path));
}

/** Why writing `path` failed, in words and without the temporary file's name. */
function writeWhy(e: unknown, path?: string): string {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  switch (code) {
    case "ENOENT":
      // The directory may exist and still take no new files (/proc, /sys).
      return path !== undefined && existsSync(dirname(path))
        ? "its directory takes no new files"
        : "its directory does not exist";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "ENOSPC":
      return "no space left on the device";
    case "EROFS":
      return "read-only file system";
    default:
      return code !== "" ? code : "write failed";
  }
}

/**
 * Check before any work that `path` can be written: E_FILE_EXISTS when it exists (unless `force`),
 * E_FILE_WRITE when its directory is missing or not writable, or the path is a directory.
 */
export function checkOutputPath(path: string, force = false): void {
  if (existsSync(path)) {
    if (statSync(path).isDirectory())
      throw new KexecLabError("E_FILE_WRITE", "is a directory", { file: path });
    if (!force) throw new KexecLabError("E_FILE_EXISTS", "refusing to overwrite", { file: path });
  }
  const dir = dirname(path);
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
    // Permission bits do not tell everything (root on /proc, a full or read-only file system):
    // create and remove an empty file beside the output, as the real write will.
    const probe = join(dir, `.${basename(path)}.${randomBytes(4).toString("hex")}.probe`);
    writeFileSync(probe, "", { flag: "wx" });
    rmSync(probe, { force: true });
  } catch (e) {
    throw new KexecLabError("E_FILE_WRITE", writeWhy(e, path), { file: path });
  }
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
 * file is removed on an error, and by the CLI's SIGINT/SIGTERM handlers. Errors name `path`, never the
 * temporary file.
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
    throw new KexecLabError("E_FILE_WRITE", writeWhy(e, path), { file: path });
  } finally {
    inProgress.delete(tmp);
  }
}
