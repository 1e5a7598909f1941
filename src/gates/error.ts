/**
 * A load refused at a gate, as a catalogued error (E_GATE_REFUSED, a refusal: exit 1). Its JSON
 * carries the refusal (gate, syscall, errno, the kernel's log line, source, fix) and every gate
 * verdict up to it.
 */

import { KexecLabError } from "../errors.js";
import type { GateRefusal, GateVerdict } from "./types.js";

/** "EPERM at lockdown (kexec_load): <reason>" */
export function describeRefusal(r: GateRefusal): string {
  const who =
    r.by === "kexec-tools" ? "kexec-tools refuses before any syscall" : `${r.syscall} fails with ${r.errno}`;
  return `${who} at the ${r.gate} gate: ${r.reason}`;
}

export class GateRefusalError extends KexecLabError {
  readonly refusal: GateRefusal;
  readonly verdicts: GateVerdict[];
  constructor(refusal: GateRefusal, verdicts: GateVerdict[]) {
    const log = [
      refusal.log !== undefined
        ? `${refusal.by === "kernel" ? "the kernel logs" : "kexec-tools prints"} "${refusal.log.split("\n")[0]}"`
        : undefined,
      refusal.kexecTools !== undefined ? `kexec prints "${refusal.kexecTools}"` : undefined,
    ]
      .filter((x) => x !== undefined)
      .map((x) => `; ${x}`)
      .join("");
    super(
      "E_GATE_REFUSED",
      `${describeRefusal(refusal)}${log} (${refusal.source}); to get through: ${refusal.fix}`,
    );
    this.refusal = refusal;
    this.verdicts = verdicts;
  }

  override toJSON(): ReturnType<KexecLabError["toJSON"]> & { refusal: GateRefusal; gates: GateVerdict[] } {
    return { ...super.toJSON(), refusal: this.refusal, gates: this.verdicts };
  }
}
