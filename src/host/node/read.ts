/** Node-only: read a host directory (kexec-lab-collect's output, or a recording) into a Host. */

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { HOST_FILES, type Host, type HostFileName, parseHost } from "../host.js";

/** Largest host file read (an fdt or iomem is kilobytes; memblock dumps of big machines are larger). */
const MAX_HOST_FILE = 64 * 1024 * 1024;

export function readHostDir(dir: string): Host {
  if (!existsSync(dir)) throw new KexecLabError("E_FILE_READ", "no such directory", { file: dir });
  if (!statSync(dir).isDirectory())
    throw new KexecLabError("E_FILE_READ", "--host wants a directory (kexec-lab-collect's output)", {
      file: dir,
    });
  const files: Partial<Record<HostFileName, Uint8Array>> = {};
  for (const name of HOST_FILES) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    if (statSync(p).size > MAX_HOST_FILE)
      throw new KexecLabError("E_LIMIT", `more than ${MAX_HOST_FILE} bytes`, { file: p });
    files[name] = readInputFile(p);
  }
  return parseHost(files, dir);
}
