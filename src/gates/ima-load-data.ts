/**
 * kexec_load's IMA hook: kexec_load_check calls security_kernel_load_data(LOADING_KEXEC_IMAGE), which
 * reaches security/integrity/ima/ima_main.c ima_load_data. It refuses with EACCES, logging "ima:
 * impossible to appraise a kernel image without a file descriptor; try using kexec_file_load
 * syscall.", when CONFIG_KEXEC_SIG is set and arch_ima_get_secureboot() says Secure Boot is on (only
 * defined with CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT, which CONFIG_IMA_ARCH_POLICY selects by
 * default; ima_efi.c), or when IMA appraisal is enforcing and the policy appraises
 * func=KEXEC_KERNEL_CHECK (IMA_APPRAISE_KEXEC).
 */

import { archPolicyActive, configOn, imaAppraises, imaNotEnforcing } from "./state.js";
import type { Gate, GateCheck, GateQuery } from "./types.js";

export const IMA_NO_FD_LOG =
  "ima: impossible to appraise a kernel image without a file descriptor; try using kexec_file_load syscall.";

export const imaLoadDataGate: Gate = {
  name: "ima-load-data",
  syscalls: ["kexec_load"],
  check(q: GateQuery): GateCheck {
    const source =
      "security/integrity/ima/ima_main.c ima_load_data (LOADING_KEXEC_IMAGE, from kernel/kexec.c kexec_load_check security_kernel_load_data)";
    const s = q.state;
    const refuse = (reason: string): GateCheck => ({
      gate: "ima-load-data",
      status: "refuse",
      note: reason,
      source,
      refusal: {
        gate: "ima-load-data",
        syscall: "kexec_load",
        errno: "EACCES",
        by: "kernel",
        reason,
        log: IMA_NO_FD_LOG,
        source,
        fix: "use kexec_file_load (kexec -s, the default from kexec-tools 2.0.27) with a kernel signed by a key the machine trusts",
      },
    });
    if (configOn(s, "CONFIG_IMA") === false)
      return { gate: "ima-load-data", status: "allow", note: "CONFIG_IMA is off", source };
    const arch = archPolicyActive(s);
    const sig = configOn(s, "CONFIG_KEXEC_SIG");
    if (arch === true && sig === true)
      return refuse(
        `Secure Boot is on (${s.secureBoot!.source}) with CONFIG_KEXEC_SIG and the IMA architecture policy: IMA cannot appraise a kernel passed as bytes`,
      );
    const appraise = imaAppraises(s, "KEXEC_KERNEL_CHECK");
    const lax = imaNotEnforcing(s);
    if (appraise?.value.appraise === true && lax !== undefined)
      return {
        gate: "ima-load-data",
        status: "allow",
        note: `the IMA policy appraises KEXEC_KERNEL_CHECK (${appraise.source}), but appraisal is not enforced (ima_appraise=${lax.value}, ${lax.source})`,
        source,
        warning: `IMA appraisal is in ${lax.value} mode (${lax.source}): with enforce, kexec_load would fail with EACCES ("${IMA_NO_FD_LOG}")`,
      };
    if (appraise?.value.appraise === true)
      return refuse(
        `the IMA policy appraises KEXEC_KERNEL_CHECK (${appraise.source}), which kexec_load cannot satisfy`,
      );
    if (arch === undefined || appraise === undefined)
      return {
        gate: "ima-load-data",
        status: "unknown",
        note: "IMA state unknown (needs CONFIG_IMA, CONFIG_IMA_ARCH_POLICY, CONFIG_KEXEC_SIG, Secure Boot, or the IMA policy)",
        source,
      };
    return { gate: "ima-load-data", status: "allow", note: "no IMA rule appraises the kexec kernel", source };
  },
};
