/**
 * kexec-tools' --reuse-cmdline (kexec/kexec.c get_command_line): the running kernel's /proc/cmdline, first line,
 * without BOOT_IMAGE and, for a crash load (-p), without crashkernel=. remove_parameter finds the name with
 * strstr, gives up when that first hit is inside a word (not at the start or after a space), and otherwise cuts
 * the word and the space after it (the last word is cut where it starts, so the space before it stays).
 * Before 2.0.32 it removes the first occurrence only; from 2.0.32 (commit 39ba2bd "kexec: Handle removal of
 * multiple 'crashkernel' parameters") it repeats while strstr finds the name again, so
 * `crashkernel=1G,high crashkernel=256M,low` loses both. From source (kexec-tools v2.0.29 and v2.0.32
 * kexec/kexec.c), not yet recorded.
 */

import { kexecToolsVersionNumber } from "../accept.js";

/** One pass of remove_parameter on `line` (`all`: the 2.0.32 loop). */
export function kexecToolsRemoveParameter(line: string, name: string, all: boolean): string {
  let out = line;
  let start = out.indexOf(name);
  while (start >= 0) {
    if (start !== 0 && !/\s/.test(out[start - 1]!)) return out;
    const end = out.indexOf(" ", start);
    out = end < 0 ? out.slice(0, start) : out.slice(0, start) + out.slice(end + 1);
    if (!all) return out;
    start = out.indexOf(name);
  }
  return out;
}

/** get_command_line: what `kexec --reuse-cmdline` passes for a /proc/cmdline text. */
export function kexecToolsReuseCmdline(procCmdline: string, crash: boolean, version: string): string {
  const all = kexecToolsVersionNumber(version) >= 20032;
  // strip the newline, then cut at the first CR or LF
  let line = procCmdline.endsWith("\n") ? procCmdline.slice(0, -1) : procCmdline;
  const nl = line.search(/[\r\n]/);
  if (nl >= 0) line = line.slice(0, nl);
  line = kexecToolsRemoveParameter(line, "BOOT_IMAGE", all);
  if (crash) line = kexecToolsRemoveParameter(line, "crashkernel", all);
  return line;
}
