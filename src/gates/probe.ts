/**
 * kexec_file_load's probe: kernel/kexec_file.c kexec_image_probe_default walks the arch's
 * kexec_file_loaders[] and the first probe that takes the buffer loads it; when none does, the errno
 * is the last probe's: arm64 image_probe (arch/arm64/kernel/kexec_image.c) returns EINVAL for
 * anything without the "ARM\x64" magic; x86_64 bzImage64_probe (arch/x86/kernel/kexec-bzimage64.c)
 * returns ENOEXEC for anything that is not a 64-bit-capable bzImage. Both are errnos kexec-tools
 * falls back from (-a, the default from 2.0.27). The acceptance of wrapped files (zboot, UKI,
 * compressed) by kernel version is src/loader/accept.ts's; this gate judges plain files only.
 */

import { kexecFileAcceptance } from "../loader/auto.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

export const probeGate: Gate = {
  name: "probe",
  syscalls: ["kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const source =
      q.arch === "arm64"
        ? "arch/arm64/kernel/kexec_image.c image_probe (via kernel/kexec_file.c kexec_image_probe_default)"
        : "arch/x86/kernel/kexec-bzimage64.c bzImage64_probe (via kernel/kexec_file.c kexec_image_probe_default)";
    const k = q.kernelKind;
    if (k === undefined)
      return { gate: "probe", status: "unknown", note: "the kernel file's kind is unknown", source };
    if (k === "zboot" || k === "uki" || k === "compressed" || k === "pe")
      return {
        gate: "probe",
        status: "allow",
        note: `a wrapped kernel (${k}): judged by the acceptance table (src/loader/accept.ts) when placed`,
        source,
      };
    const a = kexecFileAcceptance(q.arch, k);
    if (a.accepted) return { gate: "probe", status: "allow", note: `the probe takes a ${k}`, source };
    return {
      gate: "probe",
      status: "refuse",
      note: a.reason,
      source,
      refusal: {
        gate: "probe",
        syscall: "kexec_file_load",
        errno: a.errno,
        by: "kernel",
        reason: a.reason,
        source,
        fix:
          q.arch === "arm64"
            ? "give kexec_file_load an uncompressed arm64 Image (kexec-tools -a falls back to kexec_load on EINVAL)"
            : "give kexec_file_load a bzImage (kexec-tools -a falls back to kexec_load on ENOEXEC)",
      },
    };
  },
};
