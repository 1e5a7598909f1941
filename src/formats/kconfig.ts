/**
 * A kernel build configuration (the `.config` a distribution ships as /boot/config-$(uname -r),
 * /usr/lib/modules/$(uname -r)/config or /proc/config.gz): `CONFIG_NAME=value` lines and
 * `# CONFIG_NAME is not set`. Only what kexec-lab's rules read is interpreted; everything is kept.
 */

import { KexecLabError } from "../errors.js";

/** name (without CONFIG_) -> "y" | "m" | "n" | a number or string value as written (quotes removed). */
export type KernelConfig = ReadonlyMap<string, string>;

/**
 * Parse a kernel .config text. Errors: E_FORMAT naming the line when a line is neither a comment, blank,
 * nor `CONFIG_X=value`.
 */
export function parseKernelConfig(text: string, file = "kernel config"): KernelConfig {
  const out = new Map<string, string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const unset = /^# CONFIG_(\w+) is not set$/.exec(line);
    if (unset) {
      out.set(unset[1]!, "n");
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^CONFIG_(\w+)=(.*)$/.exec(line);
    if (!m) {
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `line ${i + 1} is not CONFIG_NAME=value: "${line.slice(0, 80)}"`,
        {
          file,
          field: `line ${i + 1}`,
        },
      );
    }
    out.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

/** Is a bool/tristate option built in (y) or a module (m)? Unknown options are undefined. */
export function configEnabled(config: KernelConfig | undefined, name: string): boolean | undefined {
  const v = config?.get(name);
  if (v === undefined) return undefined;
  return v === "y" || v === "m";
}

/** An int option's value, or undefined when absent or not a number. */
export function configNumber(config: KernelConfig | undefined, name: string): number | undefined {
  const v = config?.get(name);
  if (v === undefined) return undefined;
  const n = /^0x/i.test(v) ? Number.parseInt(v, 16) : Number(v);
  return Number.isFinite(n) ? n : undefined;
}
