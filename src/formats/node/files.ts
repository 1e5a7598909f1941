/** File reading and atomic writing (Node only): the CLI's, the plan readers' and the sweep workers' one way to touch files. */

import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { KexecLabError } from "../../errors.js";
import { announcedOutputs, announceOutput, creating } from "../../node/hygiene.js";

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

/** Files at least this big are read in chunks of this size (see readInputFile). */
const READ_CHUNK = 64 * 1024 * 1024;

/**
 * A whole file as bytes, in an array of its own (offset 0); a missing or unreadable file is E_FILE_READ
 * naming it. A big file (a 1 GiB initrd) is read straight into one array, chunk by chunk: it is held
 * once, not twice, and no single native call lasts long, so a thread reading it can be stopped at once
 * (the CLI's signal handling ends the command's worker thread: src/cli/thread.ts).
 */
export function readInputFile(path: string): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const st = fstatSync(fd);
    // /proc and /sys files report size 0 (or a page): read those as a stream.
    if (!st.isFile() || st.size < READ_CHUNK) return new Uint8Array(readFileSync(fd));
    const out = new Uint8Array(st.size);
    let got = 0;
    while (got < out.length) {
      const k = readSync(fd, out, got, Math.min(READ_CHUNK, out.length - got), got);
      if (k === 0) break;
      got += k;
    }
    return got === out.length ? out : out.slice(0, got);
  } catch (e) {
    throw readError(path, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
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
    case "ELOOP":
      return "too many levels of symbolic links";
    default:
      return code !== "" ? code : "write failed";
  }
}

/** The path that means standard output for a text output (`report -o -`, `sweep -o -`). */
export const STDOUT_PATH = "-";

/** The kind of a file that is not a regular file, in words (for E_OUTPUT_KIND); undefined for a regular file. */
export function kindOf(st: Stats): string | undefined {
  if (st.isFile()) return undefined;
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** Where an output goes: the file the rename replaces (a symlink's final target) and what is there now. */
export interface OutputTarget {
  /** The path given. */
  path: string;
  /** The file that is written: `path`, or the file its symbolic links lead to. */
  target: string;
  /** The regular file there now (its permission bits are kept), undefined when there is none yet. */
  existing?: Stats;
  /** How `path` reaches `target` (for messages): "" or " (a symbolic link to TARGET)". */
  via: string;
}

/**
 * Follow `path` through its symbolic links to the file an output replaces. A dangling link leads to the
 * file it names (created, as a shell's `>` does). Refuses (E_OUTPUT_KIND, exit 2) anything but a regular
 * file or nothing: a directory, a device node (/dev/null, /dev/full), a FIFO, a socket. Never refuses for
 * existence: that is the caller's --force rule.
 */
export function resolveOutputTarget(path: string): OutputTarget {
  let target = resolve(path);
  for (let hops = 0; ; hops++) {
    let st: Stats;
    try {
      st = lstatSync(target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") break; // nothing there yet (or a dangling link's target)
      throw new KexecLabError("E_FILE_WRITE", writeWhy(e, target), { file: path });
    }
    if (st.isSymbolicLink()) {
      if (hops >= 40) throw new KexecLabError("E_FILE_WRITE", writeWhy({ code: "ELOOP" }), { file: path });
      // Resolve the directory part too (a link inside a linked directory), then follow the link.
      const dir = realDir(dirname(target), path);
      target = resolve(dir, readlinkSync(target));
      continue;
    }
    const kind = kindOf(st);
    const via = target !== resolve(path) ? ` (a symbolic link to ${target})` : "";
    if (kind !== undefined) {
      throw new KexecLabError("E_OUTPUT_KIND", `is ${kind}${via}: kexec-lab writes regular files only`, {
        file: path,
      });
    }
    return { path, target, existing: st, via };
  }
  const via = target !== resolve(path) ? ` (a symbolic link to ${target})` : "";
  return { path, target, via };
}

function realDir(dir: string, path: string): string {
  try {
    return realpathSync(dir);
  } catch (e) {
    throw new KexecLabError("E_FILE_WRITE", writeWhy(e, join(dir, "x")), { file: path });
  }
}

/**
 * Check before any work that `path` can be written, by the rules writeOutputFile applies: `-` (standard
 * output) passes; E_OUTPUT_KIND for anything but a regular file (a symlink is followed), --force or not;
 * E_FILE_EXISTS when a regular file is there (unless `force`); E_FILE_WRITE when the directory of the
 * file to be written is missing or takes no new file (an empty file is created and removed beside it,
 * as the real write will: permission bits do not tell about /proc, a full or read-only file system).
 */
export function checkOutputPath(path: string, force = false): void {
  if (path === STDOUT_PATH) return;
  const out = resolveOutputTarget(path);
  if (out.existing !== undefined && !force)
    throw new KexecLabError("E_FILE_EXISTS", `refusing to overwrite${out.via}`, { file: path });
  const dir = dirname(out.target);
  try {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(dir, constants.W_OK);
    const probe = join(dir, `.${basename(out.target)}.${randomBytes(4).toString("hex")}.probe`);
    writeFileSync(probe, "", { flag: "wx" });
    rmSync(probe, { force: true });
  } catch (e) {
    throw new KexecLabError("E_FILE_WRITE", writeWhy(e, out.target), { file: path });
  }
}

/** Temporary files of writes in progress: removed by the CLI's signal handlers (src/cli/signals.ts). */
const inProgress = new Set<string>();

/** Remove the temporary files of writes in progress (synchronous; for signal and exit handlers). */
export function removePartialOutputs(): void {
  for (const tmp of inProgress) rmSync(tmp, { force: true });
  inProgress.clear();
  for (const tmp of announcedOutputs()) rmSync(tmp, { force: true });
}

/**
 * Write a whole file atomically. See writeOutputFileWith for the rules (regular files only, symlinks
 * followed, E_FILE_EXISTS without `force`, nothing half-written).
 */
export function writeOutputFile(path: string, data: string | Uint8Array, force = false): void {
  writeOutputFileWith(path, (fd) => writeFileSync(fd, data), force);
}

/**
 * The one way kexec-lab writes an output file. The file written is `path` or, when `path` is a
 * symbolic link (or a chain of them), the file it leads to: the link itself stays. Only a regular file
 * is replaced; a directory, device node, FIFO or socket is refused with E_OUTPUT_KIND whether `force`
 * is given or not, and an existing regular file only with `force` (else E_FILE_EXISTS). `write` gets a
 * descriptor open for writing (and reading) on a temporary file `.NAME.RANDOM.tmp` in the target's
 * directory (positional writes and ftruncate make sparse files); the file is fsync'ed, given the
 * replaced file's permission bits, and renamed over the target, so a reader sees the old file or the
 * whole new one, never a part. On any error the temporary file is removed (and by the CLI's
 * SIGINT/SIGTERM handlers while it exists); errors name `path`, never the temporary file: E_FILE_WRITE,
 * or the catalogued error `write` threw. `-` is not a file: text outputs print it to stdout before
 * they get here (src/cli/files.ts writeTextOutput); here it is E_USAGE.
 */
export function writeOutputFileWith(path: string, write: (fd: number) => void, force = false): void {
  if (path === STDOUT_PATH) {
    throw new KexecLabError("E_USAGE", "this output is binary: - (standard output) takes text only", {
      file: path,
    });
  }
  const out = resolveOutputTarget(path);
  if (out.existing !== undefined && !force) {
    throw new KexecLabError("E_FILE_EXISTS", `refusing to overwrite${out.via}`, { file: path });
  }
  const tmp = join(dirname(out.target), `.${basename(out.target)}.${randomBytes(6).toString("hex")}.tmp`);
  inProgress.add(tmp);
  announceOutput(tmp, true);
  try {
    const mode = out.existing !== undefined ? out.existing.mode & 0o7777 : 0o644;
    const fd = creating(() => openSync(tmp, "wx+", mode));
    try {
      write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The target may have changed since it was looked at: check again right before the rename.
    const now = resolveOutputTarget(path);
    if (now.target !== out.target)
      throw new KexecLabError("E_FILE_WRITE", "the path changed while it was written", { file: path });
    renameSync(tmp, out.target);
    syncDir(dirname(out.target));
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof KexecLabError) throw e;
    throw new KexecLabError("E_FILE_WRITE", writeWhy(e, out.target), { file: path });
  } finally {
    inProgress.delete(tmp);
    announceOutput(tmp, false);
  }
}

/** fsync a directory so a rename in it is durable (best effort: not every file system allows it). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
