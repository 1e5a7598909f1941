/**
 * `kexec-lab validate`: a kexec_load call described as JSON (src/scenario/validate-input.ts) with
 * totalram given by the file or by an option, and the kernel's verdict on it. Browser-safe.
 */

import { KexecLabError } from "../errors.js";
import { type Verdict, validateLoad } from "../kimage/validate.js";
import { parseLoadRequest } from "../scenario/validate-input.js";

/** totalram from outside the file: bytes as a decimal string, and the option that gave it. */
export interface TotalRam {
  bytes: string;
  from: string;
}

/**
 * Validate the parsed document `json` (from `file`), with `ram` as its ramBytes when given
 * (validateLoad: kernel/kexec_core.c sanity_check_segment_list and kimage_alloc_init's checks).
 * Errors: E_USAGE when both the file and `ram` give totalram; E_FIELD_MISSING naming ramBytes when
 * neither does (after the fields parseLoadRequest checks first); parseLoadRequest's errors.
 */
export function validateLoadDocument(json: unknown, file: string, ram?: TotalRam): Verdict {
  const isObject = json !== null && typeof json === "object" && !Array.isArray(json);
  if (ram !== undefined && isObject) {
    if ("ramBytes" in json) {
      throw new KexecLabError("E_USAGE", `${file} has ramBytes and ${ram.from} gives it too: keep one`, {
        field: "ramBytes",
      });
    }
    (json as Record<string, unknown>).ramBytes = ram.bytes;
  }
  // Fields before ramBytes (arch, pageSize) are reported by parseLoadRequest in its own order.
  if (
    ram === undefined &&
    json !== null &&
    typeof json === "object" &&
    "segments" in json &&
    !("ramBytes" in json)
  ) {
    throw new KexecLabError(
      "E_FIELD_MISSING",
      '"ramBytes" is required: put it in the file, or give --host DIR (MemTotal), --iomem FILE or --ram SIZE',
      { file, field: "ramBytes" },
    );
  }
  return validateLoad(parseLoadRequest(json));
}
