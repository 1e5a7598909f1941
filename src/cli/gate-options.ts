import { type Command, Option } from "commander";
import { LOCKDOWN_LEVELS } from "../gates/types.js";

/**
 * The gate options every command that loads takes (docs/gates.md): they state what --host would
 * show, and win over it.
 */
export function addGateOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--lockdown <level>",
        "the running kernel's lockdown (/sys/kernel/security/lockdown): integrity and confidentiality refuse kexec_load (EPERM) and unsigned kexec_file_load",
      ).choices([...LOCKDOWN_LEVELS]),
    )
    .option(
      "--no-cap-sys-boot",
      "the caller lacks CAP_SYS_BOOT in the initial user namespace (a container, unshare -U): both syscalls fail with EPERM (kexec_load_permitted)",
    )
    .option(
      "--kexec-load-disabled",
      "kernel.kexec_load_disabled is 1: both syscalls fail with EPERM (kexec_load_permitted)",
    )
    .option(
      "--kernel-config <file>",
      "the running kernel's .config (or /proc/config.gz): CONFIG_KEXEC, KEXEC_FILE, KEXEC_SIG, IMA, lockdown items",
    )
    .addOption(
      new Option(
        "--ima-xattr <kind>",
        "the kernel file's security.ima (getfattr -n security.ima): signature, hash or none; IMA appraisal of KEXEC_KERNEL_CHECK reads it (kexec-tools 2.0.27+ passes a memfd, which has none)",
      ).choices(["signature", "hash", "none"]),
    )
    .option(
      "--trusted-cert <cert>",
      "[KEYRING=]FILE: a certificate (DER or PEM) the machine trusts, in keyring builtin (default), secondary, machine or platform; kexec_file_load's signature gate verifies the kernel against these (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
    );
}
