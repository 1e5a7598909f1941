/**
 * A writer for the cpio "newc" format (magic 070701), the format the Linux kernel unpacks as an initramfs
 * (init/initramfs.c; header layout in Documentation/driver-api/early-userspace/buffer-format.rst).
 * Each header is 110 ASCII bytes: the magic and 13 fields of 8 hex digits; the name (with its NUL) and the
 * data are each padded to a multiple of 4 bytes. The archive ends with an entry named "TRAILER!!!".
 */

/** One archive member: a directory, a regular file or a symbolic link. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Serialise entries (in the order given; parents must come before children) into one newc archive. */
export function writeNewc(entries: CpioEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  let ino = 1;
  const push = (name: string, mode: number, data: Uint8Array, nlink: number): void => {
    const nameBytes = enc.encode(`${name}\0`);
    const header =
      "070701" +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(0) + // mtime: fixed, so the same inputs give the same archive
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(0) + // rdevmajor
      hex8(0) + // rdevminor
      hex8(nameBytes.length) +
      hex8(0); // check
    parts.push(enc.encode(header), nameBytes, new Uint8Array(pad4(110 + nameBytes.length)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    if (e.kind === "dir") push(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 2);
    else if (e.kind === "file") push(name, S_IFREG | (e.mode ?? 0o644), e.data, 1);
    else push(name, S_IFLNK | 0o777, enc.encode(e.target), 1);
  }
  push("TRAILER!!!", 0, new Uint8Array(0), 1);
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
