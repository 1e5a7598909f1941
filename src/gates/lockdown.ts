/**
 * kexec_load under lockdown: kexec_load_check calls security_locked_down(LOCKDOWN_KEXEC), and
 * security/lockdown/lockdown.c lockdown_is_locked_down refuses with EPERM from the integrity level
 * on (LOCKDOWN_KEXEC sorts below LOCKDOWN_INTEGRITY_MAX), logging "Lockdown: <comm>: kexec of unsigned
 * images is restricted; see man kernel_lockdown.7" (the reason text is lockdown_reasons[LOCKDOWN_KEXEC]
 * in security/security.c; <comm> is the calling process, "kexec"). kexec_file_load meets lockdown in
 * the signature gate instead (an unverified kernel is refused).
 */

import { lockdownInForce } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

/** The kernel's log line for LOCKDOWN_KEXEC, with the calling process's name. */
export function lockdownLog(comm = "kexec"): string {
  return `Lockdown: ${comm}: kexec of unsigned images is restricted; see man kernel_lockdown.7`;
}

export const lockdownGate: Gate = {
  name: "lockdown",
  syscalls: ["kexec_load"],
  check(q: GateQuery): GateCheck {
    const source =
      "security/lockdown/lockdown.c lockdown_is_locked_down (security_locked_down(LOCKDOWN_KEXEC) in kernel/kexec.c kexec_load_check)";
    const l = lockdownInForce(q.state);
    if (l === undefined)
      return { gate: "lockdown", status: "unknown", note: "lockdown level unknown", source };
    if (l.value === "none")
      return { gate: "lockdown", status: "allow", note: `lockdown none (${l.source})`, source };
    const reason = `the kernel is locked down (${l.value}, ${l.source}): kexec_load takes unsigned bytes, which lockdown forbids`;
    return {
      gate: "lockdown",
      status: "refuse",
      note: reason,
      source,
      refusal: {
        gate: "lockdown",
        syscall: "kexec_load",
        errno: "EPERM",
        by: "kernel",
        reason,
        log: lockdownLog(),
        source,
        fix: "use kexec_file_load (kexec -s) with a kernel signed by a key in the machine's trusted keyrings (under lockdown kexec_file_load verifies the signature)",
      },
    };
  },
};
