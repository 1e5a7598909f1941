/**
 * The gate state of a collected host (src/gates/types.ts GateState) from the files kexec-lab-collect
 * writes for the gates, plus the recording files it shares with the loaders (iomem, kexec_crash_size,
 * fdt, cmdline). Browser-safe. Every file is optional; what is missing stays unknown.
 *
 * | file | source | GateState field |
 * | --- | --- | --- |
 * | lockdown.txt | /sys/kernel/security/lockdown ("none [integrity] confidentiality") | lockdown (the bracketed level) |
 * | kexec_load_disabled.txt | /proc/sys/kernel/kexec_load_disabled | kexecLoadDisabled |
 * | kexec_load_limit_reboot.txt, kexec_load_limit_panic.txt | /proc/sys/kernel/kexec_load_limit_* (6.3+) | limitReboot, limitPanic |
 * | kernel-config.txt | the gate items of /boot/config-$(uname -r) or /proc/config.gz, or derived from /proc/kallsyms; its first line "# source: ..." | config |
 * | kexec-file.txt | (older collections) whether CONFIG_KEXEC_FILE is set | config (that item only) |
 * | secureboot.txt | the value byte of efivars' SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c (1 on) | secureBoot |
 * | collect.log | its "missing secureboot.txt: /sys/firmware/efi does not exist" line: not booted through EFI | secureBoot (off) |
 * | uefi-db.esl, moklist-rt.esl | the UEFI db and shim's MokListRT (EFI signature lists; efi-certs.ts) | Host.trustedCerts (.platform) |
 * | ima-policy.txt | /sys/kernel/security/ima/policy | imaPolicy |
 * | cmdline.txt | ima_appraise=enforce\|log\|fix\|off | imaAppraise |
 * | capeff.txt, uid_map.txt | CapEff of /proc/self/status, /proc/self/uid_map | capSysBoot (bit 22 in the initial user namespace) |
 * | kexec-sysfs.txt | "PATH VALUE" of each /sys/kernel/kexec_* and /sys/kernel/kexec/* file present | kexecCore (a kexec_loaded / loaded file exists) |
 * | iomem.txt, kexec_crash_size.txt | "Crash kernel" lines, the reservation's size | crashRegion |
 * | fdt.dtb, cmdline.txt | /cpus enable-method (spin-table), kvm-arm.mode=protected | cpusStuck (arm64) |
 */

import { KexecLabError } from "../errors.js";
import { type FdtNode, getProp, parseFdt } from "../formats/fdt.js";
import { parseIomem } from "../formats/iomem.js";
import { parseKernelConfig as parseConfigText } from "../formats/kconfig.js";
import {
  type ConfigValue,
  GATE_CONFIG_ITEMS,
  type GateConfigItem,
  type GateState,
  type KernelConfig,
  LOCKDOWN_LEVELS,
  type Lockdown,
} from "../gates/types.js";

/** The files the gate state is read from (besides the loaders' iomem, fdt, cmdline, kexec_crash_size). */
export const GATE_HOST_FILES = [
  "lockdown.txt",
  "kexec_load_disabled.txt",
  "kexec_load_limit_reboot.txt",
  "kexec_load_limit_panic.txt",
  "kernel-config.txt",
  "secureboot.txt",
  "ima-policy.txt",
  "keys.txt",
  "capeff.txt",
  "uid_map.txt",
  "kexec-sysfs.txt",
  "collect.log",
  "uefi-db.esl",
  "moklist-rt.esl",
] as const;

/** CAP_SYS_BOOT's bit (include/uapi/linux/capability.h). */
export const CAP_SYS_BOOT = 22;

const text = (b: Uint8Array) => new TextDecoder().decode(b);
function firstLine(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined;
  const t = text(b).trim();
  return t === "" || t === "absent" ? undefined : t;
}

function bad(source: string, file: string, detail: string): KexecLabError {
  return new KexecLabError("E_FIELD_VALUE", detail, { file: `${source}/${file}` });
}

/** "none [integrity] confidentiality" -> integrity (lockdown_read's format). */
export function parseLockdown(t: string, where = "lockdown"): Lockdown {
  const m = /\[(\w+)\]/.exec(t);
  const level = m?.[1] ?? t.trim();
  if (!(LOCKDOWN_LEVELS as readonly string[]).includes(level))
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `expected none, integrity or confidentiality (as "[integrity]" in /sys/kernel/security/lockdown), got "${t.trim().slice(0, 60)}"`,
      {
        field: where,
      },
    );
  return level as Lockdown;
}

/**
 * A kernel config text (a full .config, /proc/config.gz's content, or kexec-lab-collect's
 * kernel-config.txt): the gate items it sets. "CONFIG_X=y|m" is on, "# CONFIG_X is not set" off; in
 * a full config (more than 100 CONFIG_ lines) an item it does not mention is off too (its
 * dependencies are unmet). `source` names it; a first line "# source: WHERE" overrides.
 */
export function parseKernelConfig(t: string, source: string): KernelConfig {
  const values: Partial<Record<GateConfigItem, ConfigValue>> = {};
  // collect's kernel-config.txt names where it read the items in a "# source: WHERE" comment
  const src = /^# source: (.+)$/m.exec(t)?.[1] ?? source;
  const all = parseConfigText(t, source);
  for (const [name, v] of all) {
    const item = `CONFIG_${name}` as GateConfigItem;
    if ((GATE_CONFIG_ITEMS as readonly string[]).includes(item))
      values[item] = v === "y" || v === "m" ? v : "n";
  }
  // a whole .config (not collect's excerpt) says "not set" for every item it does not mention
  if (all.size > 100) for (const item of GATE_CONFIG_ITEMS) values[item] ??= "n";
  return { values, source: src };
}

/** arm64: why the secondary CPUs are stuck (cpus_are_stuck_in_kernel), or false; undefined when the tree has no CPUs. */
export function cpusStuckFromFdt(fdt: Uint8Array, cmdline: string | undefined): string | false | undefined {
  if (cmdline !== undefined && /(?:^|\s)kvm-arm\.mode=protected(?:\s|$)/.test(cmdline))
    return "protected KVM (kvm-arm.mode=protected) keeps the CPUs in the hypervisor (is_protected_kvm_enabled)";
  const root = parseFdt(fdt).root;
  const cpus = root.children.find((n) => n.name === "cpus");
  if (cpus === undefined) return undefined;
  const str = (n: FdtNode, p: string) => {
    const v = getProp(n, p)?.value;
    return v === undefined ? undefined : text(v).replace(/\0+$/, "");
  };
  const list = cpus.children.filter(
    (n) => str(n, "device_type") === "cpu" && str(n, "status") !== "disabled",
  );
  if (list.length === 0) return undefined;
  const spin = list.filter((n) => str(n, "enable-method") === "spin-table");
  if (list.length > 1 && spin.length > 0)
    return `${list.length} CPUs and ${spin.length === list.length ? "every one" : `${spin.length} of them`} use the spin-table enable-method, which has no cpu_die (have_cpu_die() is false)`;
  return false;
}

/** The GateState a host directory's files give (see the table above). */
export function parseHostGates(
  files: Partial<Record<string, Uint8Array>>,
  source: string,
  extra: { iomem?: string; crashSize?: number; fdt?: Uint8Array; cmdline?: string } = {},
): GateState {
  const s: GateState = {};
  const f = (name: string) => files[name];
  const at = (name: string) => `${source}/${name}`;
  const lock = firstLine(f("lockdown.txt"));
  if (lock !== undefined)
    s.lockdown = { value: parseLockdown(lock, at("lockdown.txt")), source: at("lockdown.txt") };
  const int = (name: string): number | undefined => {
    const t = firstLine(f(name));
    if (t === undefined) return undefined;
    if (!/^-?\d+$/.test(t)) throw bad(source, name, `expected an integer, got "${t.slice(0, 40)}"`);
    return Number(t);
  };
  const disabled = int("kexec_load_disabled.txt");
  if (disabled !== undefined)
    s.kexecLoadDisabled = { value: disabled !== 0, source: at("kexec_load_disabled.txt") };
  const reboot = int("kexec_load_limit_reboot.txt");
  if (reboot !== undefined) s.limitReboot = { value: reboot, source: at("kexec_load_limit_reboot.txt") };
  const panic = int("kexec_load_limit_panic.txt");
  if (panic !== undefined) s.limitPanic = { value: panic, source: at("kexec_load_limit_panic.txt") };
  const cfg = f("kernel-config.txt");
  if (cfg !== undefined && firstLine(cfg) !== undefined)
    s.config = parseKernelConfig(text(cfg), at("kernel-config.txt"));
  else {
    // Older collections: kexec-file.txt "yes|no WHERE" says only whether CONFIG_KEXEC_FILE is set.
    const kf = firstLine(f("kexec-file.txt"));
    const m = kf !== undefined ? /^(yes|no)(?:\s+(\S.*))?$/.exec(kf) : null;
    if (m)
      s.config = {
        values: { CONFIG_KEXEC_FILE: m[1] === "yes" ? "y" : "n" },
        source: `${at("kexec-file.txt")}${m[2] ? ` (${m[2]})` : ""}`,
      };
  }
  const sb = firstLine(f("secureboot.txt"));
  if (sb !== undefined) {
    if (!/^[01]$/.test(sb))
      throw bad(
        source,
        "secureboot.txt",
        `expected 1 or 0 (the SecureBoot variable's value byte), got "${sb.slice(0, 40)}"`,
      );
    s.secureBoot = { value: sb === "1", source: at("secureboot.txt") };
  } else {
    // kexec-lab-collect logs a machine not booted through EFI: no efivars, so no Secure Boot
    const log = f("collect.log");
    const noEfi =
      log !== undefined
        ? /^missing secureboot\.txt: \S*\/sys\/firmware\/efi does not exist/m.exec(text(log))
        : null;
    if (noEfi)
      s.secureBoot = {
        value: false,
        source: `${at("collect.log")}: "${noEfi[0].slice("missing secureboot.txt: ".length)}"`,
      };
  }
  const appraiseMode =
    extra.cmdline !== undefined
      ? /(?:^|\s)ima_appraise=(enforce|log|fix|off)(?:\s|$)/.exec(extra.cmdline)
      : null;
  if (appraiseMode)
    s.imaAppraise = {
      value: appraiseMode[1] as "enforce" | "log" | "fix" | "off",
      source: `${at("cmdline.txt")}: ima_appraise=${appraiseMode[1]}`,
    };
  const ima = f("ima-policy.txt");
  if (ima !== undefined) s.imaPolicy = { value: text(ima), source: at("ima-policy.txt") };
  else {
    // The policy is not readable (no CONFIG_IMA_READ_POLICY), but a built-in one named on the command line
    // is known: ima_policy=secure_boot appraises the kexec kernel (security/integrity/ima/ima_policy.c
    // secure_boot_rules: MODULE_CHECK, FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, POLICY_CHECK, imasig).
    const cmdline = firstLine(f("cmdline.txt"));
    const named = cmdline !== undefined ? /(?:^|\s)ima_policy=(\S+)/.exec(cmdline)?.[1] : undefined;
    if (named?.split("|").includes("secure_boot"))
      s.imaPolicy = {
        value: [
          "appraise func=MODULE_CHECK appraise_type=imasig",
          "appraise func=FIRMWARE_CHECK appraise_type=imasig",
          "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig",
          "appraise func=POLICY_CHECK appraise_type=imasig",
        ].join("\n"),
        source: `${at("cmdline.txt")}: ima_policy=${named} (the built-in secure_boot rules, ima_policy.c)`,
      };
  }
  const cap = firstLine(f("capeff.txt"));
  if (cap !== undefined) {
    if (!/^[0-9a-fA-F]{1,16}$/.test(cap))
      throw bad(source, "capeff.txt", `expected CapEff's hex mask, got "${cap.slice(0, 40)}"`);
    const bits = cap.padStart(16, "0");
    // Bit 22 lives in the low 32 bits: the last 8 hex digits.
    const held = ((Number.parseInt(bits.slice(8), 16) >>> CAP_SYS_BOOT) & 1) === 1;
    const map = firstLine(f("uid_map.txt"));
    const initNs = map === undefined ? undefined : /^0\s+0\s+4294967295$/.test(map.split("\n")[0]!.trim());
    if (held && initNs === false)
      s.capSysBoot = {
        value: false,
        source: `${at("capeff.txt")}: CAP_SYS_BOOT is held in a user namespace (${at("uid_map.txt")}: "${map!.split("\n")[0]!.trim()}"), not the initial one`,
      };
    else
      s.capSysBoot = {
        value: held,
        source: `${at("capeff.txt")}: CapEff ${cap} ${held ? "has" : "lacks"} bit ${CAP_SYS_BOOT} (CAP_SYS_BOOT)`,
      };
  }
  const sysfs = f("kexec-sysfs.txt");
  if (sysfs !== undefined) {
    const paths = text(sysfs)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(/\s+/)[0]!);
    const loaded = paths.find((p) => /\/kexec_loaded$|\/kexec\/loaded$/.test(p));
    s.kexecCore = {
      value: loaded !== undefined,
      source:
        loaded !== undefined
          ? `${at("kexec-sysfs.txt")}: ${loaded}`
          : `${at("kexec-sysfs.txt")}: no kexec_loaded`,
    };
  }
  if (extra.iomem !== undefined) {
    const ck = parseIomem(extra.iomem).crashKernel;
    if (ck.length > 0) s.crashRegion = { value: true, source: `"Crash kernel" in ${at("iomem.txt")}` };
    else if (extra.crashSize !== undefined && extra.crashSize > 0)
      s.crashRegion = { value: true, source: `${at("kexec_crash_size.txt")}: ${extra.crashSize}` };
    else s.crashRegion = { value: false, source: `no "Crash kernel" in ${at("iomem.txt")}` };
  } else if (extra.crashSize !== undefined)
    s.crashRegion = {
      value: extra.crashSize > 0,
      source: `${at("kexec_crash_size.txt")}: ${extra.crashSize}`,
    };
  if (extra.fdt !== undefined) {
    const stuck = cpusStuckFromFdt(extra.fdt, extra.cmdline);
    if (stuck !== undefined)
      s.cpusStuck = {
        value: stuck,
        source: stuck === false ? `${at("fdt.dtb")} /cpus` : `${at("fdt.dtb")} /cpus, ${at("cmdline.txt")}`,
      };
  } else if (extra.cmdline !== undefined && /(?:^|\s)kvm-arm\.mode=protected(?:\s|$)/.test(extra.cmdline))
    s.cpusStuck = { value: "protected KVM (kvm-arm.mode=protected)", source: at("cmdline.txt") };
  return s;
}

/** keys.txt: the "TYPE DESCRIPTION" lines of /proc/keys (keyrings and asymmetric keys only). */
export function parseHostKeys(t: string): { type: string; description: string }[] {
  return t
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const i = l.indexOf(" ");
      return i < 0 ? { type: l, description: "" } : { type: l.slice(0, i), description: l.slice(i + 1) };
    });
}
