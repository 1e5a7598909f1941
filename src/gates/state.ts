/**
 * Reading a GateState: config items, the kernel version, the IMA policy's KEXEC rules, and the
 * lockdown level in force. Browser-safe.
 */

import { atLeast, parseKernelVersion } from "../loader/kexec-file/version.js";
import type { ConfigValue, GateConfigItem, GateQuery, GateState, Known, Lockdown } from "./types.js";

/** A config item's value, or undefined when the config was not read or does not list it. */
export function config(state: GateState, item: GateConfigItem): ConfigValue | undefined {
  return state.config?.values[item];
}

/** y or m counts as on; undefined when unknown. */
export function configOn(state: GateState, item: GateConfigItem): boolean | undefined {
  const v = config(state, item);
  return v === undefined ? undefined : v !== "n";
}

/** "CONFIG_X (from SOURCE)" for notes. */
export function configNote(state: GateState, item: GateConfigItem): string {
  const v = config(state, item);
  const where = state.config !== undefined ? ` in ${state.config.source}` : "";
  return v === undefined ? `${item} unknown` : `${item}=${v}${where}`;
}

export function versionAtLeast(q: GateQuery, major: number, minor: number): boolean {
  return atLeast(parseKernelVersion(q.kernelVersion), major, minor);
}

/** The IMA policy rules (one per line, comments dropped) that name func=KEXEC_KERNEL_CHECK / KEXEC_INITRAMFS_CHECK. */
export function imaKexecRules(
  policy: string,
  func: "KEXEC_KERNEL_CHECK" | "KEXEC_INITRAMFS_CHECK",
): string[] {
  return policy
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .filter((l) => new RegExp(`(?:^|\\s)func=${func}(?:\\s|$)`).test(l));
}

/**
 * Whether the IMA policy in force appraises `func` (an "appraise func=..." rule), and whether it
 * demands an IMA signature (appraise_type=imasig): the policy text when readable, else the
 * architecture policy security/integrity/ima/ima_efi.c arch_get_ima_policy loads with
 * CONFIG_IMA_ARCH_POLICY under Secure Boot (sb_arch_rules: "appraise func=KEXEC_KERNEL_CHECK
 * appraise_type=imasig" only when CONFIG_KEXEC_SIG is off).
 */
export function imaAppraises(
  state: GateState,
  func: "KEXEC_KERNEL_CHECK" | "KEXEC_INITRAMFS_CHECK",
): Known<{ appraise: boolean; imasig: boolean; modsig?: boolean }> | undefined {
  if (state.imaPolicy !== undefined) {
    const rules = imaKexecRules(state.imaPolicy.value, func).filter((r) => /^appraise\s/.test(r));
    // appraise_type=imasig, imasig|modsig (IMA_DIGSIG_REQUIRED, IMA_MODSIG_ALLOWED), sigv3 (ima_policy.c ima_parse_rule)
    return {
      value: {
        appraise: rules.length > 0,
        imasig: rules.some((r) => /appraise_type=(imasig|sigv3)/.test(r)),
        modsig: rules.some((r) => /appraise_type=\S*modsig/.test(r)),
      },
      source: rules.length > 0 ? `${state.imaPolicy.source}: "${rules[0]}"` : state.imaPolicy.source,
    };
  }
  const arch = archPolicyActive(state);
  if (arch === undefined) return undefined;
  if (!arch) return { value: { appraise: false, imasig: false }, source: "no IMA architecture policy" };
  const sig = configOn(state, "CONFIG_KEXEC_SIG");
  if (sig === undefined) return undefined;
  const on = func === "KEXEC_KERNEL_CHECK" && !sig;
  return {
    value: { appraise: on, imasig: on },
    source: `the IMA architecture policy (CONFIG_IMA_ARCH_POLICY, Secure Boot on${on ? ", CONFIG_KEXEC_SIG off" : ""}; ima_efi.c sb_arch_rules)`,
  };
}

/**
 * CONFIG_IMA_ARCH_POLICY's policy is loaded (ima_efi.c arch_get_ima_policy: IMA_ARCH_POLICY and
 * Secure Boot on; arch_ima_get_secureboot exists with IMA_SECURE_AND_OR_TRUSTED_BOOT, which
 * IMA_ARCH_POLICY selects by default, on EFI machines).
 */
export function archPolicyActive(state: GateState): boolean | undefined {
  const ima = configOn(state, "CONFIG_IMA");
  const arch = configOn(state, "CONFIG_IMA_ARCH_POLICY");
  if (ima === false || arch === false) return false;
  if (state.secureBoot?.value === false) return false;
  if (ima === undefined || arch === undefined || state.secureBoot === undefined) return undefined;
  return true;
}

/**
 * The lockdown level in force: /sys/kernel/security/lockdown when read; else inferred from the
 * command line's lockdown= (lockdown_param), CONFIG_LOCK_DOWN_KERNEL_FORCE_* (lockdown_lsm_init)
 * and CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT with Secure Boot on (arch/x86/kernel/setup.c and
 * drivers/firmware/efi: lock_kernel_down("EFI Secure Boot mode", LOCKDOWN_INTEGRITY_MAX)); the
 * highest of those wins, as lock_kernel_down only raises the level.
 */
export function lockdownInForce(state: GateState, cmdline?: string): Known<Lockdown> | undefined {
  if (state.lockdown !== undefined) return state.lockdown;
  if (state.config === undefined) return undefined;
  const lsm = configOn(state, "CONFIG_SECURITY_LOCKDOWN_LSM");
  if (lsm === false)
    return { value: "none", source: `CONFIG_SECURITY_LOCKDOWN_LSM=n in ${state.config.source}` };
  const levels: Known<Lockdown>[] = [];
  const param =
    cmdline !== undefined ? /(?:^|\s)lockdown=(integrity|confidentiality)(?:\s|$)/.exec(cmdline) : null;
  if (param) levels.push({ value: param[1] as Lockdown, source: `lockdown=${param[1]} on the command line` });
  if (configOn(state, "CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY"))
    levels.push({
      value: "confidentiality",
      source: `CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY in ${state.config.source}`,
    });
  if (configOn(state, "CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY"))
    levels.push({
      value: "integrity",
      source: `CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY in ${state.config.source}`,
    });
  if (configOn(state, "CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT") && state.secureBoot?.value === true)
    levels.push({
      value: "integrity",
      source: `CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT with Secure Boot on (${state.secureBoot.source})`,
    });
  const rank = (l: Lockdown) => (l === "none" ? 0 : l === "integrity" ? 1 : 2);
  const top = levels.sort((a, b) => rank(b.value) - rank(a.value))[0];
  if (top !== undefined) return top;
  // Nothing raises it: with every input known, the level is none.
  if (state.secureBoot !== undefined && lsm !== undefined)
    return {
      value: "none",
      source: `no lockdown=, no forced level, no Secure Boot lockdown (${state.config.source})`,
    };
  return undefined;
}

/**
 * Whether kexec_file_load enforces signatures (kernel/kexec_file.c sig_enforce): CONFIG_KEXEC_SIG_FORCE,
 * or set_kexec_sig_enforced() from ima_efi.c arch_get_ima_policy (IMA_ARCH_POLICY under Secure Boot
 * with KEXEC_SIG).
 */
export function sigEnforced(state: GateState): Known<boolean> | undefined {
  const force = configOn(state, "CONFIG_KEXEC_SIG_FORCE");
  const src = state.config?.source ?? "";
  if (force === true) return { value: true, source: `CONFIG_KEXEC_SIG_FORCE=y in ${src}` };
  const arch = archPolicyActive(state);
  if (arch === true && configOn(state, "CONFIG_KEXEC_SIG") === true)
    return {
      value: true,
      source: `the IMA architecture policy under Secure Boot calls set_kexec_sig_enforced() (CONFIG_IMA_ARCH_POLICY in ${src})`,
    };
  if (force === false && arch === false)
    return { value: false, source: `CONFIG_KEXEC_SIG_FORCE off, no IMA architecture policy (${src})` };
  return undefined;
}

/**
 * Whether the kernel file kexec_file_load reads carries security.ima: kexec-tools from 2.0.27 copies
 * the kernel into a memfd named "kernel" (kexec/kexec.c do_kexec_file_load, copybuf_memfd) and passes
 * that, which has no extended attributes whatever the file had; otherwise the file's own (--ima-xattr).
 */
export function kernelImaXattr(q: GateQuery): Known<"signature" | "hash" | "none"> | undefined {
  const kt = q.kexecToolsVersion;
  if ((q.via ?? "kexec-tools") === "kexec-tools" && kt !== undefined) {
    const [maj = 0, min = 0, pat = 0] = kt.split(".").map((n) => Number.parseInt(n, 10));
    if (maj * 10000 + min * 100 + pat >= 20027)
      return {
        value: "none",
        source: `kexec-tools ${kt} passes the kernel to kexec_file_load in a memfd ("memfd:kernel", kexec/kexec.c do_kexec_file_load copybuf_memfd, from 2.0.27), which has no security.ima`,
      };
  }
  return q.state.imaXattr;
}

/**
 * Whether IMA appraisal refuses (ima_enforce): the default enforce, unless ima_appraise=log|fix|off was
 * given; under Secure Boot the kernel ignores that parameter (ima_appraise_parse_cmdline:
 * arch_ima_get_secureboot()). Returns the mode that lets a failure through, or undefined when enforcing.
 */
export function imaNotEnforcing(state: GateState): Known<"log" | "fix" | "off"> | undefined {
  const m = state.imaAppraise;
  if (m === undefined || m.value === "enforce" || state.secureBoot?.value === true) return undefined;
  return { value: m.value, source: m.source };
}
