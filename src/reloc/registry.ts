/**
 * The strategies `run` knows: the built-in ones and any a user registers (see
 * examples/strategies/ and docs/strategies.md).
 */

import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import { inPlace } from "./in-place.js";
import { linearMapCopy } from "./linear-map-copy.js";
import { mmuOff } from "./mmu-off.js";
import type { RelocationStrategy } from "./strategy.js";
import { vaCopy, vaCopySeries } from "./va-copy.js";
import { x86Ident } from "./x86-ident.js";

export const BUILTIN_STRATEGIES: readonly RelocationStrategy[] = [
  mmuOff,
  vaCopy,
  linearMapCopy,
  x86Ident,
  inPlace,
];

/**
 * Designs shown for comparison that do not verify everywhere (each says why in `reference`): run
 * includes them by default next to the built-ins, and their failed verification does not fail run.
 */
export const REFERENCE_STRATEGIES: readonly RelocationStrategy[] = [vaCopySeries];

const registered = new Map<string, RelocationStrategy>(
  [...BUILTIN_STRATEGIES, ...REFERENCE_STRATEGIES].map((s) => [s.name, s]),
);

/** Make a strategy available by name (e.g. to `runScenario({ strategies: ["mine"] })`). */
export function registerStrategy(s: RelocationStrategy): void {
  registered.set(s.name, s);
}

export function findStrategy(name: string): RelocationStrategy {
  const s = registered.get(name);
  if (s === undefined) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `unknown strategy "${name}" (known: ${[...registered.keys()].join(", ")})`,
      { field: "--strategy" },
    );
  }
  return s;
}

/** The built-in strategies that exist on an architecture, in report order, with the reference designs after the one they vary. */
export function strategiesFor(arch: Arch): RelocationStrategy[] {
  const out: RelocationStrategy[] = [];
  for (const s of BUILTIN_STRATEGIES) {
    if (!s.arches.includes(arch)) continue;
    out.push(s);
    for (const r of REFERENCE_STRATEGIES)
      if (r.arches.includes(arch) && r.name.startsWith(`${s.name}-`)) out.push(r);
  }
  return out;
}

export function strategyNames(): string[] {
  return [...registered.keys()];
}
