/**
 * The shapes of the gates: what the running kernel and the caller look like (GateState), what is
 * asked (GateQuery), and what each gate answers (GateCheck; a refusal carries the errno, the kernel's
 * own log line, the source and what would let the load through). Browser-safe.
 */

import type { FileKind } from "../formats/detect.js";
import type { Arch } from "../kimage/constants.js";

/** The lockdown levels of security/lockdown/lockdown.c (lockdown_levels[]). */
export type Lockdown = "none" | "integrity" | "confidentiality";
export const LOCKDOWN_LEVELS: readonly Lockdown[] = ["none", "integrity", "confidentiality"];

/** A fact about the machine and where it was read ("lockdown.txt", "--lockdown", "CONFIG_...", ...). */
export interface Known<T> {
  value: T;
  source: string;
}

/** One kernel config item: built in (y), a module (m) or off (n). */
export type ConfigValue = "y" | "m" | "n";

/** The config items the gates read (kernel/Kconfig.kexec, security/lockdown/Kconfig, security/integrity/ima/Kconfig). */
export const GATE_CONFIG_ITEMS = [
  "CONFIG_KEXEC",
  "CONFIG_KEXEC_FILE",
  "CONFIG_KEXEC_CORE",
  "CONFIG_CRASH_DUMP",
  "CONFIG_KEXEC_SIG",
  "CONFIG_KEXEC_SIG_FORCE",
  "CONFIG_KEXEC_BZIMAGE_VERIFY_SIG",
  "CONFIG_KEXEC_IMAGE_VERIFY_SIG",
  "CONFIG_IMA",
  "CONFIG_IMA_APPRAISE",
  "CONFIG_IMA_KEXEC",
  "CONFIG_IMA_ARCH_POLICY",
  "CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT",
  "CONFIG_SECURITY_LOCKDOWN_LSM",
  "CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE",
  "CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY",
  "CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY",
  "CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT",
  "CONFIG_CRASH_HOTPLUG",
  "CONFIG_KEXEC_HANDOVER",
  "CONFIG_CMA",
  "CONFIG_EFI",
] as const;
export type GateConfigItem = (typeof GATE_CONFIG_ITEMS)[number];

/** The running kernel's build configuration, as far as it is known. */
export interface KernelConfig {
  /** Items read; an item not listed here is unknown. */
  values: Partial<Record<GateConfigItem, ConfigValue>>;
  /** Where it was read (/boot/config-..., /proc/config.gz, /proc/kallsyms, --kernel-config FILE). */
  source: string;
}

/**
 * What the signature gate needs to know of the kernel's signature: the part of src/signature's
 * KernelSignatureVerdict (verifyKernelSignature) the gate reads; src/signature/gate.ts
 * `gateSignatureFrom` converts one. The states:
 * - valid: signed, and the signer chains to a key in `keyring`;
 * - unsigned: no signature (the kernel's verify_pefile_signature: ENODATA; ELIBBAD for a file that is
 *   not PE at all);
 * - untrusted: a good signature by a key in none of the keyrings the kernel searches (ENOKEY);
 * - bad: the signature does not match the file (digest mismatch: EKEYREJECTED), cannot be parsed
 *   (EBADMSG) or the PE file is malformed (ELIBBAD); `errno` says which when the verifier knows;
 * - unknown: not checked (no verifier ran, or the keyrings were not given).
 */
export interface GateSignatureVerdict {
  state: "valid" | "unsigned" | "untrusted" | "bad" | "unknown";
  /** The signer's subject, e.g. "Debian Secure Boot Signer 2022 - linux". */
  signer?: string;
  /** The keyring the signer chains to (.builtin_trusted_keys, .secondary_trusted_keys, .platform, .machine). */
  keyring?: string;
  /**
   * The errno kexec_kernel_verify_pe_sig returns, when the verifier knows it: ENODATA or ELIBBAD
   * (unsigned), ENOKEY (untrusted), EKEYREJECTED, EBADMSG, ELIBBAD or ENOTSUPP (bad).
   */
  errno?: string;
  /** Free text from the verifier (what it compared against). */
  detail?: string;
  /**
   * The file ends in an appended module signature ("~Module signature appended~\n" after a struct
   * module_signature of id_type PKEY_ID_PKCS7): what IMA reads as a modsig where its rule allows
   * appraise_type=...modsig (security/integrity/ima/ima_modsig.c ima_read_modsig). src/signature/modsig.ts.
   */
  modsig?: boolean;
  /** How many certificates the machine trusts the verdict was judged against (0: none given). */
  trustedCount?: number;
}

/** What the gates read about the machine and the caller. Every field may be unknown (absent). */
export interface GateState {
  /** /sys/kernel/security/lockdown's bracketed level (or inferred from config and Secure Boot). */
  lockdown?: Known<Lockdown>;
  /** /proc/sys/kernel/kexec_load_disabled: 1 disables both syscalls until reboot (one-way). */
  kexecLoadDisabled?: Known<boolean>;
  /** /proc/sys/kernel/kexec_load_limit_reboot: loads left for kexec -l (-1 unlimited; from 6.3). */
  limitReboot?: Known<number>;
  /** /proc/sys/kernel/kexec_load_limit_panic: loads left for kexec -p (-1 unlimited; from 6.3). */
  limitPanic?: Known<number>;
  config?: KernelConfig;
  /** The EFI SecureBoot variable (efivars SecureBoot-8be4df61-...): Secure Boot is on. */
  secureBoot?: Known<boolean>;
  /** The IMA policy text (/sys/kernel/security/ima/policy), when readable. */
  imaPolicy?: Known<string>;
  /** The caller has CAP_SYS_BOOT in the initial user namespace (capable(CAP_SYS_BOOT)). */
  capSysBoot?: Known<boolean>;
  /** /sys/kernel/kexec_loaded (or /sys/kernel/kexec/loaded) exists: the kernel has CONFIG_KEXEC_CORE. */
  kexecCore?: Known<boolean>;
  /** A crashkernel= reservation exists ("Crash kernel" in /proc/iomem, kexec_crash_size > 0, or --crashkernel). */
  crashRegion?: Known<boolean>;
  /**
   * arm64: why the secondary CPUs cannot be taken offline (arch/arm64/kernel/smp.c
   * cpus_are_stuck_in_kernel: a spin-table enable-method with more than one CPU, protected KVM);
   * false when they can be.
   */
  cpusStuck?: Known<string | false>;
  /** The kernel file's signature, checked by src/signature. */
  signature?: GateSignatureVerdict;
  /**
   * The kernel file's security.ima extended attribute (getfattr -n security.ima): an IMA signature
   * (EVM_IMA_XATTR_DIGSIG), a hash only (IMA_XATTR_DIGEST_NG), or none. A browser cannot read it:
   * --ima-xattr states it. kexec-tools 2.0.27 and later hand the kernel over in a memfd, which has none.
   */
  imaXattr?: Known<"signature" | "hash" | "none">;
  /**
   * IMA appraisal's mode (ima_appraise= on the command line with CONFIG_IMA_APPRAISE_BOOTPARAM; enforce
   * is the default): only enforce refuses (ima_appraise.c ima_appraise_parse_cmdline, ima_enforce).
   */
  imaAppraise?: Known<"enforce" | "log" | "fix" | "off">;
}

export type GateSyscall = "kexec_load" | "kexec_file_load";

/** One load asked of the gates. */
export interface GateQuery {
  syscall: GateSyscall;
  /** kexec -p (KEXEC_ON_CRASH / KEXEC_FILE_ON_CRASH). */
  crash: boolean;
  arch: Arch;
  /** MAJOR.MINOR of the running kernel. */
  kernelVersion: string;
  state: GateState;
  /** What the kernel file is (detectKind), for kexec_file_load's probe. */
  kernelKind?: FileKind;
  /** Who makes the syscall: kexec-tools (default) checks the crash reservation before any syscall. */
  via?: "kexec-tools" | "systemd";
  /** The kexec-tools release making the call (from 2.0.27 kexec_file_load gets the kernel in a memfd). */
  kexecToolsVersion?: string;
}

/** The gates, by name, in the order they appear across both syscalls. */
export type GateName =
  | "crash-reserved"
  | "syscall"
  | "permitted"
  | "ima-load-data"
  | "lockdown"
  | "ima-kernel-read"
  | "probe"
  | "signature"
  | "crash-region"
  | "cpus-stuck";

/** A refusal: the syscall fails with `errno` (or kexec-tools stops before it when by is "kexec-tools"). */
export interface GateRefusal {
  gate: GateName;
  syscall: GateSyscall;
  /** The errno the caller sees (EPERM, EACCES, ...); for a kexec-tools refusal, none ("" ). */
  errno: string;
  /** Who refuses: the kernel, or kexec-tools before making the syscall. */
  by: "kernel" | "kexec-tools";
  /** Why, in one sentence naming the state that decides it and where it was read. */
  reason: string;
  /** The kernel's own log line (dmesg), when it prints one; for a kexec-tools refusal, kexec-tools' message. */
  log?: string;
  /** What kexec-tools prints for this refusal ("kexec_load failed: Operation not permitted", glibc's words). */
  kexecTools?: string;
  /** Source file and function of the check. */
  source: string;
  /** What would let the load through. */
  fix: string;
}

/** One gate's answer for one load. */
export interface GateCheck {
  gate: GateName;
  /** allow: passes; refuse: see refusal; unknown: the state it needs is not known (taken as passing). */
  status: "allow" | "refuse" | "unknown";
  /** What the gate looked at, one sentence. */
  note: string;
  source: string;
  refusal?: GateRefusal;
  /** A gate that lets the load through but where the user should know something (unverified kernel...). */
  warning?: string;
}

/** Every gate's answer for one syscall, in the kernel's order; stops at the first refusal. */
export interface GateVerdict {
  syscall: GateSyscall;
  crash: boolean;
  checks: GateCheck[];
  refusal?: GateRefusal;
  warnings: string[];
}

/** A gate module: the syscalls it applies to and the check. */
export interface Gate {
  name: GateName;
  /** Which syscalls run this gate. */
  syscalls: readonly GateSyscall[];
  /** The check; undefined means the gate does not apply to this load (e.g. crash-only gates). */
  check(q: GateQuery): GateCheck | undefined;
}
