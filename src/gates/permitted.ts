/**
 * kexec_load_permitted (kernel/kexec_core.c), called first by both syscalls (kernel/kexec.c
 * kexec_load_check, kernel/kexec_file.c SYSCALL_DEFINE5(kexec_file_load)): EPERM unless the caller
 * has CAP_SYS_BOOT in the initial user namespace (capable()), kexec_load_disabled is 0, and, from
 * Linux 6.3 (commit a42aaad2e47b "kexec: introduce sysctl parameters kexec_load_limit_*"), the
 * load's limit (kexec_load_limit_reboot for a normal load, kexec_load_limit_panic for -p) is not 0;
 * each permitted call decrements a limit that is not -1. Before 6.3 the same capability and
 * kexec_load_disabled test is inline in both syscalls. kexec_load_disabled can only be set to 1
 * (proc_dointvec_minmax with extra1 = extra2 = SYSCTL_ONE): once set it stays until reboot; a
 * limit can only be lowered (kexec_limit_handler).
 */

import { versionAtLeast } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

export const permittedGate: Gate = {
  name: "permitted",
  syscalls: ["kexec_load", "kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const limits = versionAtLeast(q, 6, 3);
    const source = limits
      ? `kernel/kexec_core.c kexec_load_permitted (from ${q.syscall === "kexec_load" ? "kernel/kexec.c kexec_load_check" : "kernel/kexec_file.c kexec_file_load"})`
      : q.syscall === "kexec_load"
        ? "kernel/kexec.c kexec_load_check (capable(CAP_SYS_BOOT) || kexec_load_disabled)"
        : "kernel/kexec_file.c SYSCALL_DEFINE5(kexec_file_load) (capable(CAP_SYS_BOOT) || kexec_load_disabled)";
    const s = q.state;
    const refuse = (reason: string, fix: string): GateCheck => ({
      gate: "permitted",
      status: "refuse",
      note: reason,
      source,
      refusal: {
        gate: "permitted",
        syscall: q.syscall,
        errno: "EPERM",
        by: "kernel",
        reason,
        source,
        fix,
      },
    });
    if (s.capSysBoot !== undefined && !s.capSysBoot.value)
      return refuse(
        `the caller lacks CAP_SYS_BOOT in the initial user namespace (${s.capSysBoot.source})`,
        "run kexec as root in the initial user namespace (a container's root, even with CAP_SYS_BOOT in its own namespace, does not count: capable() checks init_user_ns)",
      );
    if (s.kexecLoadDisabled?.value === true)
      return refuse(
        `kexec_load_disabled is 1 (${s.kexecLoadDisabled.source}); it disables kexec_load and kexec_file_load alike`,
        "nothing short of a reboot: kernel.kexec_load_disabled can only be set to 1 (proc_dointvec_minmax, min = max = 1); boot without the sysctl that sets it (e.g. a file in /etc/sysctl.d)",
      );
    const limit = q.crash ? s.limitPanic : s.limitReboot;
    const name = q.crash ? "kexec_load_limit_panic" : "kexec_load_limit_reboot";
    if (limits && limit !== undefined && limit.value === 0)
      return refuse(
        `${name} is 0 (${limit.source}): no ${q.crash ? "crash (-p)" : "normal"} load is left`,
        `nothing short of a reboot: ${name} can only be lowered (kexec_limit_handler refuses a value above the current one); boot without the sysctl that sets it`,
      );
    const notes: string[] = [];
    let unknown = false;
    if (s.capSysBoot === undefined) {
      unknown = true;
      notes.push("CAP_SYS_BOOT unknown");
    } else notes.push(`CAP_SYS_BOOT held (${s.capSysBoot.source})`);
    if (s.kexecLoadDisabled === undefined) {
      unknown = true;
      notes.push("kexec_load_disabled unknown");
    } else notes.push(`kexec_load_disabled=0`);
    if (limits) {
      if (limit === undefined) notes.push(`${name} unknown`);
      else
        notes.push(
          `${name}=${limit.value}${limit.value > 0 ? ` (this load leaves ${limit.value - 1})` : ""}`,
        );
    } else notes.push(`no kexec_load_limit_* before 6.3 (kernel ${q.kernelVersion})`);
    return { gate: "permitted", status: unknown ? "unknown" : "allow", note: notes.join(", "), source };
  },
};
