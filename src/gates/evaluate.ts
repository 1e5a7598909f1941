/**
 * Run the gates of one syscall in order (order.ts) and stop at the first refusal. Browser-safe.
 */

import { GATE_STAGE, GATES, type GateStage } from "./order.js";
import type { GateCheck, GateQuery, GateVerdict } from "./types.js";

const ALL_STAGES: readonly GateStage[] = ["kexec-tools", "syscall", "prepare"];

/**
 * The verdict of `q.syscall`'s gates of the given stages (default all), in the kernel's order: every
 * check up to and including the first refusal, and the warnings of the gates that passed.
 */
export function evaluateGates(q: GateQuery, stages: readonly GateStage[] = ALL_STAGES): GateVerdict {
  const checks: GateCheck[] = [];
  const warnings: string[] = [];
  for (const gate of GATES[q.syscall]) {
    if (!stages.includes(GATE_STAGE[gate.name])) continue;
    const c = gate.check(q);
    if (c === undefined) continue;
    checks.push(c);
    if (c.warning !== undefined) warnings.push(c.warning);
    if (c.status === "refuse" && c.refusal !== undefined)
      return { syscall: q.syscall, crash: q.crash, checks, refusal: c.refusal, warnings };
  }
  return { syscall: q.syscall, crash: q.crash, checks, warnings };
}

/** Whether anything about the machine's gates is known (an empty state decides nothing). */
export function stateKnown(s: GateQuery["state"]): boolean {
  return Object.values(s).some((v) => v !== undefined);
}
