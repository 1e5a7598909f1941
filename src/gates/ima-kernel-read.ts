/**
 * kexec_file_load reads the kernel and initrd through kernel_read_file_from_fd (kernel/kexec_file.c
 * kimage_file_prepare_segments, READING_KEXEC_IMAGE then READING_KEXEC_INITRAMFS), which calls the
 * LSM hooks; IMA (security/integrity/ima/ima_main.c ima_read_file / ima_post_read_file ->
 * process_measurement) appraises the file when its policy has "appraise func=KEXEC_KERNEL_CHECK"
 * (KEXEC_INITRAMFS_CHECK for the initrd) and fails the read with EACCES when the file's security.ima
 * does not verify. kexec-lab cannot see a file's extended attributes: such a rule is a warning, not a
 * verdict.
 */

import { imaAppraises } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

export const imaKernelReadGate: Gate = {
  name: "ima-kernel-read",
  syscalls: ["kexec_file_load"],
  check(q: GateQuery): GateCheck {
    const source =
      "security/integrity/ima/ima_main.c ima_post_read_file -> process_measurement (kernel_read_file_from_fd in kernel/kexec_file.c kimage_file_prepare_segments)";
    const kernel = imaAppraises(q.state, "KEXEC_KERNEL_CHECK");
    const initrd = imaAppraises(q.state, "KEXEC_INITRAMFS_CHECK");
    if (kernel === undefined && initrd === undefined)
      return { gate: "ima-kernel-read", status: "unknown", note: "IMA policy unknown", source };
    const what = [
      kernel?.value.appraise
        ? `the kernel (${kernel.source}${kernel.value.imasig ? ", an IMA signature is required" : ""})`
        : undefined,
      initrd?.value.appraise ? `the initrd (${initrd.source})` : undefined,
    ].filter((x) => x !== undefined);
    if (what.length === 0)
      return {
        gate: "ima-kernel-read",
        status: "allow",
        note: "no IMA rule appraises KEXEC_KERNEL_CHECK or KEXEC_INITRAMFS_CHECK",
        source,
      };
    return {
      gate: "ima-kernel-read",
      status: "unknown",
      note: `IMA appraises ${what.join(" and ")}`,
      source,
      warning: `IMA appraises ${what.join(" and ")}: kexec_file_load fails with EACCES unless the file's security.ima verifies (kexec-lab cannot read extended attributes; check with getfattr -n security.ima FILE)`,
    };
  },
};
