/**
 * A crash load without a reservation, made by a caller that does not check first (systemd, a custom
 * loader; kexec-tools stops earlier, crash-reserved): crashk_res is empty, so kexec_file_load's
 * kexec_locate_mem_hole finds no hole in it and fails with EADDRNOTAVAIL (kernel/kexec_file.c
 * kexec_walk_resources / kexec_walk_memblock on crashk_res).
 */

import type { Gate, GateCheck, GateQuery } from "./types.js";

export const crashRegionGate: Gate = {
  name: "crash-region",
  syscalls: ["kexec_file_load"],
  check(q: GateQuery): GateCheck | undefined {
    if (!q.crash || (q.via ?? "kexec-tools") === "kexec-tools") return undefined;
    const source = "kernel/kexec_file.c kexec_locate_mem_hole (the walk over crashk_res)";
    const r = q.state.crashRegion;
    if (r === undefined)
      return { gate: "crash-region", status: "unknown", note: "crash reservation unknown", source };
    if (r.value) return { gate: "crash-region", status: "allow", note: `reserved (${r.source})`, source };
    return {
      gate: "crash-region",
      status: "refuse",
      note: `no crash kernel reservation (${r.source})`,
      source,
      refusal: {
        gate: "crash-region",
        syscall: "kexec_file_load",
        errno: "EADDRNOTAVAIL",
        by: "kernel",
        reason: `a crash load needs the crashkernel= reservation and there is none (${r.source}): no segment can be placed`,
        source,
        fix: "boot with crashkernel=SIZE so the kernel reserves a region",
      },
    };
  },
};
