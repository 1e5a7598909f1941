/**
 * Run the gates of one syscall in order (order.ts) and stop at the first refusal. Browser-safe.
 */

import { GATE_STAGE, GATES, type GateStage } from "./order.js";
import type { GateCheck, GateQuery, GateSignatureVerdict, GateVerdict } from "./types.js";

/** glibc's strerror() of the errnos the gates return (kexec-tools prints "<syscall> failed: <strerror>"). */
export const GLIBC_STRERROR: Record<string, string> = {
  EPERM: "Operation not permitted",
  EACCES: "Permission denied",
  ENOEXEC: "Exec format error",
  EINVAL: "Invalid argument",
  EBUSY: "Device or resource busy",
  ENOSYS: "Function not implemented",
  ENODATA: "No data available",
  ENOKEY: "Required key not available",
  EKEYREJECTED: "Key was rejected by service",
  EBADMSG: "Bad message",
  EADDRNOTAVAIL: "Cannot assign requested address",
};

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
    if (c.status === "refuse" && c.refusal !== undefined) {
      const r = c.refusal;
      if (r.kexecTools === undefined && r.by === "kernel" && GLIBC_STRERROR[r.errno] !== undefined)
        r.kexecTools = `${r.syscall} failed: ${GLIBC_STRERROR[r.errno]}`;
      return { syscall: q.syscall, crash: q.crash, checks, refusal: r, warnings };
    }
  }
  return { syscall: q.syscall, crash: q.crash, checks, warnings };
}

/**
 * Whether anything about the machine's gates is known (an empty state decides nothing). The kernel
 * file's own signature verdict does not count when it was judged against no certificate the machine
 * trusts (trustedCount 0): it is read from every kernel file, so on its own it says nothing of the
 * machine, and a plan without a host or gate options shows no gate report.
 */
export function stateKnown(s: GateQuery["state"]): boolean {
  return Object.entries(s).some(
    ([k, v]) => v !== undefined && (k !== "signature" || ((v as GateSignatureVerdict).trustedCount ?? 1) > 0),
  );
}
