/**
 * arm64 refuses a normal (not crash) load whose secondary CPUs could not be brought back at kexec
 * time: arch/arm64/kernel/machine_kexec.c machine_kexec_prepare returns EBUSY, logging "Can't kexec:
 * CPUs are stuck in the kernel.", when arch/arm64/kernel/smp.c cpus_are_stuck_in_kernel() is true:
 * more than one CPU without a cpu_die method (the spin-table enable-method has none; PSCI has
 * CPU_OFF), CPUs that failed to die, or protected KVM (kvm-arm.mode=protected). Both syscalls call
 * machine_kexec_prepare after the segments are placed.
 */

import type { Gate, GateCheck, GateQuery } from "./types.js";

export const CPUS_STUCK_LOG = "Can't kexec: CPUs are stuck in the kernel.";

export const cpusStuckGate: Gate = {
  name: "cpus-stuck",
  syscalls: ["kexec_load", "kexec_file_load"],
  check(q: GateQuery): GateCheck | undefined {
    if (q.arch !== "arm64" || q.crash) return undefined;
    const source =
      "arch/arm64/kernel/machine_kexec.c machine_kexec_prepare (cpus_are_stuck_in_kernel, arch/arm64/kernel/smp.c)";
    const c = q.state.cpusStuck;
    if (c === undefined)
      return { gate: "cpus-stuck", status: "unknown", note: "CPU enable methods unknown (no fdt)", source };
    if (c.value === false)
      return {
        gate: "cpus-stuck",
        status: "allow",
        note: `secondary CPUs can be taken offline (${c.source})`,
        source,
      };
    return {
      gate: "cpus-stuck",
      status: "refuse",
      note: c.value,
      source,
      refusal: {
        gate: "cpus-stuck",
        syscall: q.syscall,
        errno: "EBUSY",
        by: "kernel",
        reason: `${c.value} (${c.source}): the kernel could not stop them at kexec time`,
        log: CPUS_STUCK_LOG,
        source,
        fix: "boot with PSCI as the CPUs' enable-method (firmware), without kvm-arm.mode=protected, or with maxcpus=1/nosmp; crash loads (-p) are not refused",
      },
    };
  },
};
