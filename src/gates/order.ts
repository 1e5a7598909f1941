/**
 * The gates of each syscall in the order they act, and at which stage:
 * - "kexec-tools": kexec-tools' own checks in main() before it places anything or calls the kernel;
 * - "syscall": the kernel's checks at the syscall's entry. kexec_file_load runs them before it places
 *   the segments itself; for kexec_load kexec-tools has placed them already (its locate_hole errors
 *   come first), and the kernel's segment checks (sanity_check_segment_list) follow these gates;
 * - "prepare": machine_kexec_prepare, after the segments are placed and checked.
 *
 * kexec_load: kernel/kexec.c SYSCALL_DEFINE4(kexec_load) -> kexec_load_check: kexec_load_permitted,
 * security_kernel_load_data (IMA), security_locked_down(LOCKDOWN_KEXEC), flags; do_kexec_load ->
 * kimage_alloc_init (sanity_check_segment_list) -> machine_kexec_prepare.
 * kexec_file_load: kernel/kexec_file.c SYSCALL_DEFINE5(kexec_file_load): kexec_load_permitted, flags,
 * kimage_file_alloc_init -> kimage_file_prepare_segments: kernel_read_file (IMA), probe,
 * kimage_validate_signature, initrd read, the loader's load (placement); sanity_check_segment_list;
 * machine_kexec_prepare.
 */

import { cpusStuckGate } from "./cpus-stuck.js";
import { crashRegionGate } from "./crash-region.js";
import { crashReservedGate } from "./crash-reserved.js";
import { imaKernelReadGate } from "./ima-kernel-read.js";
import { imaLoadDataGate } from "./ima-load-data.js";
import { lockdownGate } from "./lockdown.js";
import { permittedGate } from "./permitted.js";
import { probeGate } from "./probe.js";
import { signatureGate } from "./signature.js";
import { syscallGate } from "./syscall.js";
import type { Gate, GateName, GateSyscall } from "./types.js";

export type GateStage = "kexec-tools" | "syscall" | "prepare";

export const GATE_STAGE: Record<GateName, GateStage> = {
  "crash-reserved": "kexec-tools",
  syscall: "syscall",
  permitted: "syscall",
  "ima-load-data": "syscall",
  lockdown: "syscall",
  "ima-kernel-read": "syscall",
  probe: "syscall",
  signature: "syscall",
  "crash-region": "syscall",
  "cpus-stuck": "prepare",
};

/** Each syscall's gates in the kernel's order. */
export const GATES: Record<GateSyscall, readonly Gate[]> = {
  kexec_load: [crashReservedGate, syscallGate, permittedGate, imaLoadDataGate, lockdownGate, cpusStuckGate],
  kexec_file_load: [
    crashReservedGate,
    syscallGate,
    permittedGate,
    imaKernelReadGate,
    probeGate,
    signatureGate,
    crashRegionGate,
    cpusStuckGate,
  ],
};
