/**
 * Does the running kernel have the syscall at all? kexec_load is kernel/kexec.c, built with
 * CONFIG_KEXEC; kexec_file_load is kernel/kexec_file.c, built with CONFIG_KEXEC_FILE. Without them the
 * syscall table entry is sys_ni_syscall (kernel/sys_ni.c COND_SYSCALL) and the call fails with
 * ENOSYS. Both select CONFIG_KEXEC_CORE, whose absence also removes /sys/kernel/kexec_loaded
 * (kernel/ksysfs.c; /sys/kernel/kexec/loaded from Linux 7.x): a host without that file has neither.
 */

import { configOn } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

export const syscallGate: Gate = {
  name: "syscall",
  syscalls: ["kexec_load", "kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const file = q.syscall === "kexec_file_load";
    const item = file ? "CONFIG_KEXEC_FILE" : "CONFIG_KEXEC";
    const source = `kernel/sys_ni.c COND_SYSCALL(${q.syscall}) -> sys_ni_syscall (${file ? "kernel/kexec_file.c" : "kernel/kexec.c"} not built without ${item})`;
    const core = q.state.kexecCore;
    const on = configOn(q.state, item);
    const other =
      core !== undefined && !core.value
        ? false
        : configOn(q.state, file ? "CONFIG_KEXEC" : "CONFIG_KEXEC_FILE");
    const refuse = (why: string): GateCheck => ({
      gate: "syscall",
      status: "refuse",
      note: why,
      source,
      refusal: {
        gate: "syscall",
        syscall: q.syscall,
        errno: "ENOSYS",
        by: "kernel",
        reason: `the running kernel has no ${q.syscall}: ${why}`,
        kexecTools: file
          ? "syscall kexec_file_load not available."
          : "kexec_load failed: Function not implemented",
        source,
        fix:
          other === false
            ? `boot a kernel built with ${item}=y: this one has no ${file ? "kexec_load" : "kexec_file_load"} either`
            : file
              ? "use kexec_load (kexec -c), or boot a kernel built with CONFIG_KEXEC_FILE=y"
              : "use kexec_file_load (kexec -s) if the kernel has it, or boot a kernel built with CONFIG_KEXEC=y",
      },
    });
    if (on === false) return refuse(`${item} is not set in ${q.state.config!.source}`);
    if (core !== undefined && !core.value)
      return refuse(
        `no /sys/kernel/kexec_loaded or /sys/kernel/kexec/loaded (${core.source}): the kernel has no CONFIG_KEXEC_CORE`,
      );
    if (on === true)
      return { gate: "syscall", status: "allow", note: `${item}=y in ${q.state.config!.source}`, source };
    return { gate: "syscall", status: "unknown", note: `${item} unknown (no kernel config read)`, source };
  },
};
