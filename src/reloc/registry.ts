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
import { vaCopy } from "./va-copy.js";
import { x86Ident } from "./x86-ident.js";

export const BUILTIN_STRATEGIES: readonly RelocationStrategy[] = [
  mmuOff,
  vaCopy,
  linearMapCopy,
  x86Ident,
  inPlace,
];

const registered = new Map<string, RelocationStrategy>(BUILTIN_STRATEGIES.map((s) => [s.name, s]));

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

/** The built-in strategies that exist on an architecture, in report order. */
export function strategiesFor(arch: Arch): RelocationStrategy[] {
  return BUILTIN_STRATEGIES.filter((s) => s.arches.includes(arch));
}

export function strategyNames(): string[] {
  return [...registered.keys()];
}
