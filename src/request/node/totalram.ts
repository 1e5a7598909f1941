/** Node-only: totalram for `kexec-lab validate` from the files its options name. */

import { KexecLabError } from "../../errors.js";
import { iomemToMemoryMap, parseIomem } from "../../formats/iomem.js";
import { readTextFile } from "../../formats/node/files.js";
import { readHostDir } from "../../host/node/read.js";
import { parseSize } from "../../scenario/numbers.js";
import type { TotalRam } from "../validate.js";

/**
 * totalram from --host (MemTotal of its meminfo.txt), --iomem (the sum of System RAM, a little more
 * than MemTotal) or --ram (a size); at most one of them (E_USAGE). E_FIELD_MISSING for a host without
 * MemTotal; the readers' errors.
 */
export function ramFromOptions(opts: { host?: string; iomem?: string; ram?: string }): TotalRam | undefined {
  const given = (["host", "iomem", "ram"] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 1)
    throw new KexecLabError("E_USAGE", `--${given.join(" and --")} exclude each other`, {
      field: `--${given[0]}`,
    });
  if (opts.host !== undefined) {
    const host = readHostDir(opts.host);
    if (host.memTotal === undefined)
      throw new KexecLabError("E_FIELD_MISSING", "no MemTotal (meminfo.txt)", { file: opts.host });
    return { bytes: String(host.memTotal), from: "--host" };
  }
  if (opts.iomem !== undefined) {
    const map = iomemToMemoryMap(parseIomem(readTextFile(opts.iomem), opts.iomem));
    return { bytes: String(map.ramBytes), from: "--iomem" };
  }
  if (opts.ram !== undefined) return { bytes: String(parseSize(opts.ram, "--ram")), from: "--ram" };
  return undefined;
}
