/**
 * A crash load without a reservation, made by a caller that does not check first (systemd, a custom
 * loader; kexec-tools stops earlier, crash-reserved): crashk_res is empty, so kexec_file_load's
 * kexec_locate_mem_hole finds no hole in it and fails with EADDRNOTAVAIL (kernel/kexec_file.c
 * kexec_walk_resources / kexec_walk_memblock on crashk_res). From Linux 6.9 a kernel without
 * CONFIG_CRASH_DUMP compiles the crash branches out (#ifdef CONFIG_CRASH_DUMP in kexec_file_load and
 * kimage_file_alloc_init): KEXEC_FILE_ON_CRASH is still a legal flag, and the image is loaded as the
 * normal kexec image instead (from source, not yet recorded).
 */

import { versionAtLeast } from "./state.js";
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
    if (q.state.config?.values.CONFIG_CRASH_DUMP === "n" && versionAtLeast(q, 6, 9))
      return {
        gate: "crash-region",
        status: "allow",
        note: `CONFIG_CRASH_DUMP is off (${q.state.config.source}): no crash image type`,
        source:
          "kernel/kexec_file.c kexec_file_load, kimage_file_alloc_init (#ifdef CONFIG_CRASH_DUMP, Linux 6.9+)",
        warning:
          "the kernel has no CONFIG_CRASH_DUMP: KEXEC_FILE_ON_CRASH is ignored and the kernel is loaded as the normal kexec image, to be booted by kexec -e or a reboot, not on a panic",
      };
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
