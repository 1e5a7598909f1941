/**
 * kexec-tools' own check before any syscall (kexec/kexec.c main(): `-p` with
 * !is_crashkernel_mem_reserved(), which looks for "Crash kernel" in /proc/iomem): without a
 * crashkernel= reservation it prints "Memory for crashkernel is not reserved" and exits, for both
 * syscalls. A kernel without CONFIG_CRASH_DUMP (Linux 6.9 split it from KEXEC_CORE) has no
 * reservation either, so the same message appears.
 */

import { KEXEC_TOOLS_NO_CRASH_REGION } from "../loader/crash-reserve.js";
import type { Gate } from "./types.js";

/** kexec-tools' three lines (kexec/kexec.c main): one text for the gate and the loader's check. */
export const KEXEC_TOOLS_NO_CRASHKERNEL = KEXEC_TOOLS_NO_CRASH_REGION;

export const crashReservedGate: Gate = {
  name: "crash-reserved",
  syscalls: ["kexec_load", "kexec_file_load"],
  check(q) {
    if (!q.crash || (q.via ?? "kexec-tools") !== "kexec-tools") return undefined;
    const source = "kexec-tools kexec/kexec.c main(), is_crashkernel_mem_reserved()";
    const r = q.state.crashRegion;
    if (r === undefined)
      return {
        gate: "crash-reserved",
        status: "unknown",
        note: "whether a crashkernel= reservation exists is not known",
        source,
      };
    if (r.value)
      return {
        gate: "crash-reserved",
        status: "allow",
        note: `a crash kernel reservation exists (${r.source})`,
        source,
      };
    const noDump = q.state.config?.values.CONFIG_CRASH_DUMP === "n";
    return {
      gate: "crash-reserved",
      status: "refuse",
      note: `no crash kernel reservation (${r.source})`,
      source,
      refusal: {
        gate: "crash-reserved",
        syscall: q.syscall,
        errno: "",
        by: "kexec-tools",
        reason: `kexec -p needs a crashkernel= reservation and the machine has none (${r.source})${noDump ? "; the kernel is built without CONFIG_CRASH_DUMP, so it cannot reserve one" : ""}`,
        log: KEXEC_TOOLS_NO_CRASHKERNEL,
        source,
        fix: noDump
          ? "boot a kernel built with CONFIG_CRASH_DUMP=y and crashkernel=SIZE on its command line"
          : "boot with crashkernel=SIZE (e.g. crashkernel=256M) so the kernel reserves a region, then load with -p",
      },
    };
  },
};
