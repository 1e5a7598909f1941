/**
 * Node-only: the gate state of a command (src/gates/types.ts GateState): the --host directory's
 * (src/host/gates.ts), with the command line's --lockdown, --kexec-load-disabled and --kernel-config
 * FILE winning over it.
 */

import { gunzipSync } from "fflate";
import { readInputFile } from "../../formats/node/files.js";
import type { GateState } from "../../gates/types.js";
import { parseKernelConfig, parseLockdown } from "../../host/gates.js";
import type { Host } from "../../host/host.js";
import { readHostDir } from "../../host/node/read.js";

/** The gate options as commander gives them. */
export interface GateOptions {
  host?: string;
  /** --lockdown none|integrity|confidentiality */
  lockdown?: string;
  /** --kexec-load-disabled */
  kexecLoadDisabled?: boolean;
  /** --kernel-config FILE: a kernel .config, or /proc/config.gz as copied (gzip is unpacked). */
  kernelConfig?: string;
}

/** The state from `host` (already read) or opts.host, then the options. Errors: parseLockdown's, the file's read errors. */
export function gateStateFromOptions(opts: GateOptions, host?: Host): GateState {
  const h = host ?? (opts.host !== undefined ? readHostDir(opts.host) : undefined);
  const state: GateState = { ...(h?.gates ?? {}) };
  if (opts.lockdown !== undefined)
    state.lockdown = { value: parseLockdown(opts.lockdown, "--lockdown"), source: "--lockdown" };
  if (opts.kexecLoadDisabled) state.kexecLoadDisabled = { value: true, source: "--kexec-load-disabled" };
  if (opts.kernelConfig !== undefined) {
    let bytes = readInputFile(opts.kernelConfig);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    state.config = parseKernelConfig(new TextDecoder().decode(bytes), opts.kernelConfig);
  }
  return state;
}
