/**
 * kexec-tools' own command line (kexec/kexec.c KEXEC_OPTIONS, KEXEC_OPT_STR "h?vdfixyluet:pscaS", and
 * the arch option lists of kexec/arch/{arm64,i386,x86_64}), parsed as getopt_long would: long options
 * as --name=value or --name value, short options bundled (-dl), the first non-option the kernel.
 * What kexec-lab models is returned; the rest is a catalogued error naming the option.
 */

import { KexecLabError } from "../errors.js";

export type KexecSyscall = "kexec_load" | "kexec_file_load" | "auto";

export interface KexecArgs {
  /** -l/--load or -p/--load-panic. */
  action: "load" | "load-panic";
  /** -c (kexec_load), -s (kexec_file_load), -a (file first, then kexec_load); default: kexec_load (2.0.25). */
  syscall: KexecSyscall;
  /** Whether -s/-c/-a was given (else the version's default applies). */
  syscallGiven: boolean;
  debug: boolean;
  kernel?: string;
  initrd?: string;
  /** --append / --command-line (the last one wins, as in kexec-tools). */
  append?: string;
  reuseCmdline: boolean;
  dtb?: string;
  memMin?: string;
  memMax?: string;
  noChecks: boolean;
  noCma: boolean;
  printCkrSize: boolean;
  /** x86: --real-mode / --entry-32bit (kexec-tools' 32-bit bzImage loader, do_bzImage_load). */
  x86Entry?: "32bit" | "real-mode";
  /** x86_64 ELF vmlinux: --args-elf (default) / --args-linux / --args-none (elf_x86_64_load). */
  elfArgs?: "elf" | "linux" | "none";
  /**
   * kexec-lab's own additions, not kexec-tools': --host DIR, --iomem FILE, and the purgatory of the
   * kexec that runs (--kexec-binary FILE or --purgatory PRESET; a collected host names the binary
   * in kexec-path.txt but does not copy it).
   */
  host?: string;
  iomem?: string;
  kexecBinary?: string;
  purgatory?: string;
  /** --trusted-cert [KEYRING=]FILE (repeatable): what kexec_file_load's signature gate verifies against. */
  trustedCert?: string[];
}

/** Options kexec-tools has that kexec-lab does not model, with what they do (for the error). */
const UNMODELLED: Record<string, string> = {
  force: "-f/--force (reboot without shutdown)",
  "no-ifdown": "--no-ifdown",
  "no-sync": "--no-sync",
  "exec-live-update": "--exec-live-update",
  "load-preserve-context": "--load-preserve-context (kexec jump)",
  "load-jump-back-helper": "--load-jump-back-helper (kexec jump)",
  "load-live-update": "--load-live-update",
  entry: "--entry (an entry point other than the image's)",
  type: "-t/--type (forcing the image type)",
  reuseinitrd: "--reuseinitrd",
  status: "-S/--status",
  serial: "--serial (arm64 purgatory console)",
  "serial-baud": "--serial-baud",
  "console-vga": "--console-vga",
  "console-serial": "--console-serial",
  "elf32-core-headers": "--elf32-core-headers",
  "elf64-core-headers": "--elf64-core-headers",
  "pass-memmap-cmdline": "--pass-memmap-cmdline",
  noefi: "--noefi",
  "reuse-video-type": "--reuse-video-type",
  "dt-no-old-root": "--dt-no-old-root",
  module: "--module (multiboot)",
  "force-dtb": "--force-dtb",
};
const UNMODELLED_SHORT: Record<string, string> = {
  f: "-f (reboot without shutdown)",
  x: "-x (--no-ifdown)",
  y: "-y (--no-sync)",
  t: "-t/--type",
  S: "-S/--status",
};

const WITH_VALUE = new Set([
  "initrd",
  "ramdisk",
  "append",
  "command-line",
  "dtb",
  "mem-min",
  "mem-max",
  "host",
  "iomem",
  "kexec-binary",
  "purgatory",
  "trusted-cert",
]);

function refuse(what: string): never {
  throw new KexecLabError(
    "E_USAGE",
    `${what}: kexec-lab simulates loading only; it never executes or unloads a kernel (use real kexec on the machine)`,
    { field: what },
  );
}

function unmodelled(name: string): never {
  throw new KexecLabError("E_NOT_MODELED", `kexec option ${name} is not modelled by kexec-lab`, {
    field: name,
  });
}

/**
 * Parse kexec's arguments. Errors: E_USAGE for -e/-u/--exec/--unload (never simulated), a missing
 * value, an unknown option or a missing kernel; E_NOT_MODELED for kexec-tools options kexec-lab does
 * not model (named).
 */
export function parseKexecArgs(argv: readonly string[]): KexecArgs {
  const a: KexecArgs = {
    action: "load",
    syscall: "kexec_load",
    syscallGiven: false,
    debug: false,
    reuseCmdline: false,
    noChecks: false,
    noCma: false,
    printCkrSize: false,
  };
  let actionGiven = false;
  const setLong = (name: string, value: string | undefined): void => {
    switch (name) {
      case "load":
        a.action = "load";
        actionGiven = true;
        return;
      case "load-panic":
        a.action = "load-panic";
        actionGiven = true;
        return;
      case "exec":
        refuse("-e/--exec");
        break;
      case "unload":
        refuse("-u/--unload");
        break;
      case "kexec-file-syscall":
        a.syscall = "kexec_file_load";
        a.syscallGiven = true;
        return;
      case "kexec-syscall":
        a.syscall = "kexec_load";
        a.syscallGiven = true;
        return;
      case "kexec-syscall-auto":
        a.syscall = "auto";
        a.syscallGiven = true;
        return;
      case "debug":
        a.debug = true;
        return;
      case "initrd":
      case "ramdisk":
        a.initrd = value!;
        return;
      case "append":
      case "command-line":
        a.append = value!;
        return;
      case "reuse-cmdline":
        a.reuseCmdline = true;
        return;
      case "dtb":
        a.dtb = value!;
        return;
      case "mem-min":
        a.memMin = value!;
        return;
      case "mem-max":
        a.memMax = value!;
        return;
      case "no-checks":
        a.noChecks = true;
        return;
      case "no-cma":
        a.noCma = true;
        return;
      case "real-mode":
        a.x86Entry = "real-mode";
        return;
      case "entry-32bit":
        // bzImage64_load: --real-mode wins over --entry-32bit (entry_16bit is passed to do_bzImage_load).
        if (a.x86Entry === undefined) a.x86Entry = "32bit";
        return;
      case "args-elf":
        a.elfArgs = "elf";
        return;
      case "args-linux":
        a.elfArgs = "linux";
        return;
      case "args-none":
        a.elfArgs = "none";
        return;
      case "print-ckr-size":
        a.printCkrSize = true;
        return;
      case "host":
        a.host = value!;
        return;
      case "iomem":
        a.iomem = value!;
        return;
      case "kexec-binary":
        a.kexecBinary = value!;
        return;
      case "purgatory":
        a.purgatory = value!;
        return;
      case "trusted-cert":
        a.trustedCert = [...(a.trustedCert ?? []), value!];
        return;
      case "help":
      case "version":
        throw new KexecLabError(
          "E_USAGE",
          `--${name}: use \`kexec-lab kexec --lab-help\` for what kexec-lab models`,
          {
            field: `--${name}`,
          },
        );
    }
    if (UNMODELLED[name] !== undefined) unmodelled(UNMODELLED[name]);
    throw new KexecLabError("E_USAGE", `kexec: unknown option --${name}`, { field: `--${name}` });
  };
  const SHORT: Record<string, string> = {
    l: "load",
    p: "load-panic",
    e: "exec",
    u: "unload",
    s: "kexec-file-syscall",
    c: "kexec-syscall",
    a: "kexec-syscall-auto",
    d: "debug",
    i: "no-checks",
    h: "help",
    v: "version",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      if (a.kernel === undefined && argv[i + 1] !== undefined) a.kernel = argv[i + 1];
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      let value = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (WITH_VALUE.has(name) && value === undefined) {
        value = argv[++i];
        if (value === undefined)
          throw new KexecLabError("E_USAGE", `kexec: option --${name} requires an argument`, {
            field: `--${name}`,
          });
      }
      setLong(name, value);
    } else if (arg.startsWith("-") && arg.length > 1) {
      for (const ch of arg.slice(1)) {
        if (SHORT[ch] !== undefined) setLong(SHORT[ch], undefined);
        else if (UNMODELLED_SHORT[ch] !== undefined) unmodelled(UNMODELLED_SHORT[ch]);
        else throw new KexecLabError("E_USAGE", `kexec: invalid option -- '${ch}'`, { field: `-${ch}` });
      }
    } else if (a.kernel === undefined) {
      a.kernel = arg;
    } else {
      throw new KexecLabError("E_USAGE", `kexec: more than one kernel given ("${a.kernel}", "${arg}")`, {
        field: "kernel",
      });
    }
  }
  if (!actionGiven && !a.printCkrSize) {
    throw new KexecLabError(
      "E_USAGE",
      "kexec: give -l/--load or -p/--load-panic (kexec-lab simulates loads)",
      {
        field: "-l",
      },
    );
  }
  if (a.kernel === undefined && !a.printCkrSize)
    throw new KexecLabError("E_USAGE", "kexec: no kernel given", { field: "kernel" });
  return a;
}
