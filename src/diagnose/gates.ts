/**
 * `kexec-lab diff` for loads refused at a gate (src/gates): which gate returns the logged errno, from
 * the host's gate state when it decides it, else from the gates' own log lines, else the gates that
 * can return that errno. Browser-safe.
 */

import type { FileKind } from "../formats/detect.js";
import { evaluateGates } from "../gates/evaluate.js";
import { gateKernelKind } from "../gates/kind.js";
import { ERRNO_NUMBERS } from "../gates/signature.js";
import type { GateRefusal, GateState, GateSyscall } from "../gates/types.js";
import { DEFAULT_KEXEC_TOOLS_VERSION } from "../loader/auto.js";
import { DEFAULT_KERNEL_VERSION } from "../loader/kexec-file/version.js";
import type { PlanInput } from "../loader/plan.js";
import type { FindingStatus } from "./finding.js";
import type { GateLine, KexecLogFacts } from "./log.js";

/** The errnos a gate returns (docs/gates.md), and what each means there. */
export const GATE_ERRNOS: Record<string, string> = {
  EPERM:
    "kexec_load_permitted (no CAP_SYS_BOOT in the initial user namespace, kernel.kexec_load_disabled = 1, or kexec_load_limit_reboot/panic at 0 from Linux 6.3), or lockdown (kexec_load always; kexec_file_load for an unverified kernel)",
  EACCES:
    "IMA: kexec_load when IMA cannot appraise bytes without a file (Secure Boot with KEXEC_SIG and the IMA architecture policy, or a policy that appraises KEXEC_KERNEL_CHECK), kexec_file_load when the file's security.ima does not verify",
  ENODATA: "kexec_file_load's signature check: the kernel file is not signed (verify_pefile_signature)",
  ENOKEY:
    "kexec_file_load's signature check: the kernel is signed by a key in none of .builtin_trusted_keys, .secondary_trusted_keys, .platform",
  EKEYREJECTED:
    "kexec_file_load's signature check: the signature does not match the file (digest mismatch), or the loader has no verify_sig (KEXEC_BZIMAGE_VERIFY_SIG / KEXEC_IMAGE_VERIFY_SIG off)",
  EBADMSG: "kexec_file_load's signature check: the PKCS#7 signature cannot be parsed",
  ENOEXEC: "kexec_file_load's probe on x86_64: bzImage64_probe refuses a file that is not a 64-bit bzImage",
  ENOSYS: "the kernel has no such syscall (CONFIG_KEXEC or CONFIG_KEXEC_FILE off)",
};

function kindOf(plan: PlanInput): { kernelKind?: FileKind } {
  const k = gateKernelKind(plan.kernel, plan.kernelFormat?.kind);
  return k !== undefined ? { kernelKind: k } : {};
}

function describe(r: GateRefusal): string {
  return `the ${r.gate} gate: ${r.reason}${r.log !== undefined ? `; the kernel logs "${r.log.split("\n")[0]}"` : ""} (${r.source}); to get through: ${r.fix}`;
}

/** The gate lines of the log that speak for `errno` on `syscall`. */
function linesFor(errno: string, syscall: GateSyscall, lines: readonly GateLine[]): GateLine[] {
  return lines.filter((l) => {
    switch (l.kind) {
      case "lockdown":
        return errno === "EPERM";
      case "ima":
        return errno === "EACCES" && syscall === "kexec_load";
      case "ima-appraise":
        return errno === "EACCES" && syscall === "kexec_file_load";
      case "signature-enforced":
        return ERRNO_NUMBERS[errno] === l.errno;
      case "cpus-stuck":
        return errno === "EBUSY";
      default:
        return false;
    }
  });
}

const LINE_MEANING: Record<GateLine["kind"], string> = {
  lockdown:
    "the kernel is locked down (security/lockdown/lockdown.c lockdown_is_locked_down): kexec_load is refused outright, kexec_file_load for a kernel whose signature did not verify",
  ima: "IMA cannot appraise a kernel passed as bytes (security/integrity/ima/ima_main.c ima_load_data): use kexec_file_load",
  "ima-appraise":
    'IMA appraised the file kexec_file_load read and it failed (security/integrity/ima/ima_appraise.c ima_appraise_measurement): a file without security.ima gets IMA-signature-required or missing-hash; kexec-tools 2.0.27 and later pass a memfd (name="memfd:kernel"), which has no security.ima',
  "signature-enforced":
    "kexec_file_load enforces signatures (CONFIG_KEXEC_SIG_FORCE, or the IMA architecture policy under Secure Boot) and the kernel's did not verify (kernel/kexec_file.c kimage_validate_signature)",
  "cpus-stuck":
    "arm64 could not take the secondary CPUs offline (arch/arm64/kernel/machine_kexec.c machine_kexec_prepare: spin-table CPUs, CPUs that failed to die, or protected KVM); crash loads are not refused",
  "no-crashkernel":
    "kexec-tools found no crashkernel= reservation (kexec/kexec.c main, is_crashkernel_mem_reserved)",
};

/**
 * A finding for `syscall failed with errno` when a gate explains it; undefined for errnos no gate
 * returns (EADDRNOTAVAIL, ENOMEM, ...) and for EINVAL/EBUSY that neither the state nor a log line ties
 * to a gate (the placement checks explain those).
 */
export function explainGateErrno(
  syscall: GateSyscall,
  errno: string,
  facts: KexecLogFacts,
  plan: PlanInput,
  state: GateState | undefined,
): [FindingStatus, string] | undefined {
  const head = `${syscall} failed with ${errno}`;
  const verdict =
    state !== undefined
      ? evaluateGates({
          syscall,
          crash: plan.crash === true || plan.crashRegion !== undefined,
          arch: plan.arch,
          kernelVersion: plan.kernelVersion ?? DEFAULT_KERNEL_VERSION,
          state,
          via: plan.via ?? "kexec-tools",
          kexecToolsVersion: plan.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION,
          ...kindOf(plan),
        })
      : undefined;
  if (verdict?.refusal !== undefined && verdict.refusal.errno === errno)
    return ["explained", `${head} at ${describe(verdict.refusal)}`];
  const lines = linesFor(errno, syscall, facts.gateLines);
  if (lines.length > 0)
    return [
      "explained",
      `${head}: the log says "${lines[0]!.message}": ${LINE_MEANING[lines[0]!.kind]}${verdict?.refusal !== undefined ? `; the host's gate state refuses with ${verdict.refusal.errno} at the ${verdict.refusal.gate} gate instead (is --host the logged machine?)` : ""}`,
    ];
  // A probe refusal: the file is no kexec_file_load kernel for this architecture.
  if (
    syscall === "kexec_file_load" &&
    (errno === "ENOEXEC" || (errno === "EINVAL" && plan.arch === "arm64"))
  ) {
    const probe = evaluateGates(
      {
        syscall,
        crash: false,
        arch: plan.arch,
        kernelVersion: plan.kernelVersion ?? DEFAULT_KERNEL_VERSION,
        state: {},
        ...kindOf(plan),
      },
      ["syscall"],
    ).checks.find((c) => c.gate === "probe");
    if (probe?.status === "refuse" && probe.refusal?.errno === errno)
      return ["explained", `${head} at ${describe(probe.refusal)}`];
    if (errno === "ENOEXEC")
      return [
        "unexplained",
        `${head}: ${GATE_ERRNOS.ENOEXEC}, but the --kernel given is one it takes (is it the logged file?)`,
      ];
    return undefined;
  }
  if (errno === "EINVAL" || errno === "EBUSY" || GATE_ERRNOS[errno] === undefined) return undefined;
  if (
    verdict !== undefined &&
    verdict.refusal === undefined &&
    verdict.checks.every((c) => c.status === "allow")
  )
    return [
      "unexplained",
      `${head}, but the host's gate state passes every gate of ${syscall} (${verdict.checks.map((c) => c.gate).join(", ")}); ${errno} comes from ${GATE_ERRNOS[errno]}: is --host the logged machine, collected as the same user?`,
    ];
  return [
    "explained",
    `${head}: ${errno} at a gate comes from ${GATE_ERRNOS[errno]}${errno === "EPERM" && facts.gateLines.every((l) => l.kind !== "lockdown") ? '; the log has no "Lockdown:" line, so it is kexec_load_permitted' : ""}; give --host (kexec-lab-collect) to name the one`,
  ];
}

/** Findings for gate lines with no failure line beside them (e.g. kexec-tools' crashkernel message). */
export function explainGateLines(facts: KexecLogFacts): [FindingStatus, string][] {
  const out: [FindingStatus, string][] = [];
  for (const l of facts.gateLines) {
    if (l.kind === "no-crashkernel")
      out.push(["explained", `"${l.message}": ${LINE_MEANING[l.kind]}; boot with crashkernel=SIZE`]);
    else if (facts.failures.length === 0) out.push(["explained", `"${l.message}": ${LINE_MEANING[l.kind]}`]);
  }
  return out;
}
