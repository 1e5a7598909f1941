/** The recording cases: which kernel runs, which kexec-tools loads what, with which syscall. */

export type Arch = "x86_64" | "arm64";

export interface RecordCase {
  id: string;
  arch: Arch;
  machine: "q35" | "pc" | "virt";
  memory: string;
  smp: number;
  /** extra -machine properties, e.g. "dtb-randomness=off" (QEMU 7.2: no kaslr-seed/rng-seed in the virt dtb) */
  machineOptions?: string;
  /**
   * running kernel: data:<key of test/fixtures/data-manifest.json> (a Debian kernel the test-data fetcher
   * provides), or artifact:<path under RECORD_ARTIFACTS> (a kernel built by scripts/record/build-arm64-kernel.sh)
   */
  running: string;
  /** extra words on the running kernel's command line (crashkernel=...) */
  runningExtra: string;
  suite: "bookworm" | "trixie";
  syscall: "kexec_load" | "kexec_file_load";
  crash: boolean;
  /** loaded kernel, same notation as `running` */
  loaded: string;
  initrd: boolean;
  /**
   * Pass -d (default). kexec-tools >= 2.0.28 turns -d into KEXEC_FILE_DEBUG (0x8) for kexec_file_load, a flag
   * kernels before 6.7 reject with EINVAL (kernel/kexec_file.c: flags outside KEXEC_FILE_FLAGS), so the
   * "-nodebug" cases load without it to get an accepted load from kexec-tools 2.0.29 on a 6.1 kernel.
   */
  debug?: boolean;
  /** what the case is for, one line (docs/recording.md lists these) */
  about: string;
  timeoutSec: number;
}

const X86 = "data:debian-6.1.0-56-cloud-amd64.bzImage";
const ARM = "data:debian-6.1.0-50-cloud-arm64.Image";
const ARM_CUSTOM = "artifact:kernel-arm64/Image";
const ZBOOT = "artifact:kernel-arm64/vmlinuz-gzip.efi";

function x86(
  machine: "q35" | "pc",
  gib: number,
  syscall: RecordCase["syscall"],
  crash: boolean,
  extra = crash ? "crashkernel=256M" : "",
  tag = "",
  suite: RecordCase["suite"] = "bookworm",
): RecordCase {
  return {
    id: `x86_64-${machine}-${gib}g${crash ? "-crash" : ""}${tag}-${syscall}${suite === "trixie" ? "-kexec-tools-2.0.29" : ""}`,
    arch: "x86_64",
    machine,
    memory: `${gib}G`,
    smp: 2,
    running: X86,
    runningExtra: extra,
    suite,
    syscall,
    crash,
    loaded: X86,
    initrd: true,
    about: `Debian 6.1 bzImage loads itself${crash ? ` as crash kernel (${extra})` : ""} with ${syscall}`,
    timeoutSec: gib > 4 ? 600 : 420,
  };
}

function arm(
  syscall: RecordCase["syscall"],
  crash: boolean,
  running: string,
  loaded: string,
  tag: string,
  about: string,
  suite: RecordCase["suite"] = "bookworm",
  debug = true,
): RecordCase {
  return {
    debug,
    id: `arm64-virt-4g${crash ? "-crash" : ""}-${syscall}${tag}`,
    arch: "arm64",
    machine: "virt",
    memory: "4G",
    smp: 2,
    running,
    runningExtra: crash ? "crashkernel=256M" : "",
    suite,
    syscall,
    crash,
    loaded,
    initrd: true,
    about,
    timeoutSec: 600,
  };
}

export const CASES: RecordCase[] = [
  x86("q35", 2, "kexec_load", false),
  x86("q35", 2, "kexec_file_load", false),
  x86("q35", 2, "kexec_load", true),
  x86("q35", 2, "kexec_file_load", true),
  arm(
    "kexec_load",
    false,
    ARM,
    ARM,
    "",
    "Debian arm64 Image loads itself with kexec_load (dtb from /sys/firmware/fdt)",
  ),
  arm("kexec_load", true, ARM, ARM, "", "Debian arm64 Image loads itself as crash kernel (crashkernel=256M)"),
  arm(
    "kexec_file_load",
    false,
    ARM,
    ARM,
    "-unsupported",
    "kexec -s on Debian's arm64 6.1 kernel (no CONFIG_KEXEC_FILE): the failure is the fixture",
  ),
  arm(
    "kexec_file_load",
    true,
    ARM,
    ARM,
    "-unsupported",
    "kexec -s -p on Debian's arm64 6.1 kernel (no CONFIG_KEXEC_FILE): the failure is the fixture",
  ),
  x86("q35", 8, "kexec_load", false),
  x86("q35", 8, "kexec_file_load", false),
  x86("q35", 8, "kexec_load", true),
  x86("q35", 8, "kexec_file_load", true),
  x86("q35", 8, "kexec_load", true, "crashkernel=512M,high", "-high"),
  x86("q35", 8, "kexec_file_load", true, "crashkernel=512M,high", "-high"),
  x86("pc", 2, "kexec_load", false),
  x86("pc", 2, "kexec_file_load", false),
  arm(
    "kexec_file_load",
    false,
    ARM_CUSTOM,
    ARM_CUSTOM,
    "-custom",
    "custom 6.1 arm64 kernel (KEXEC_FILE) loads itself with kexec_file_load",
  ),
  arm(
    "kexec_file_load",
    true,
    ARM_CUSTOM,
    ARM_CUSTOM,
    "-custom",
    "custom 6.1 arm64 kernel loads itself as crash kernel with kexec_file_load",
  ),
  arm(
    "kexec_load",
    false,
    ARM_CUSTOM,
    ARM_CUSTOM,
    "-custom",
    "custom 6.1 arm64 kernel loads itself with kexec_load",
  ),
  arm(
    "kexec_load",
    true,
    ARM_CUSTOM,
    ARM_CUSTOM,
    "-custom",
    "custom 6.1 arm64 kernel loads itself as crash kernel with kexec_load",
  ),
  arm(
    "kexec_load",
    false,
    ARM_CUSTOM,
    ZBOOT,
    "-zboot-gzip",
    "kexec-tools 2.0.25 given a zboot (vmlinuz.efi, gzip) image",
  ),
  arm(
    "kexec_file_load",
    false,
    ARM_CUSTOM,
    ZBOOT,
    "-zboot-gzip-kexec-tools-2.0.29-nodebug",
    "kexec-tools 2.0.29 (trixie) loads a zboot (gzip) image with kexec_file_load (no -d: see debug)",
    "trixie",
    false,
  ),
  arm(
    "kexec_load",
    false,
    ARM_CUSTOM,
    ZBOOT,
    "-zboot-gzip-kexec-tools-2.0.29",
    "kexec-tools 2.0.29 (trixie) loads a zboot (gzip) image with kexec_load",
    "trixie",
  ),
  arm(
    "kexec_file_load",
    false,
    ARM_CUSTOM,
    "artifact:kernel-arm64/vmlinuz-zstd.efi",
    "-zboot-zstd-kexec-tools-2.0.29-nodebug",
    "kexec-tools 2.0.29 (trixie) given a zstd zboot image (its Debian build links zlib only)",
    "trixie",
    false,
  ),
  ...[
    arm("kexec_load", false, ARM_CUSTOM, ARM_CUSTOM, "-custom", ""),
    arm("kexec_load", true, ARM_CUSTOM, ARM_CUSTOM, "-custom", ""),
    arm("kexec_load", false, ARM_CUSTOM, ZBOOT, "-zboot-gzip-kexec-tools-2.0.29", "", "trixie"),
  ].map(
    (c): RecordCase => ({
      ...c,
      id: `${c.id}-nokaslrseed`,
      machineOptions: "dtb-randomness=off",
      about: `${c.id} again on -machine virt,dtb-randomness=off: kexec-tools refuses a non-zero /chosen/kaslr-seed (the custom kernel has no RANDOMIZE_BASE, so nothing wipes QEMU's seed)`,
    }),
  ),
  x86("q35", 2, "kexec_load", false, "", "", "trixie"),
  x86("q35", 2, "kexec_file_load", false, "", "", "trixie"),
  arm(
    "kexec_load",
    false,
    ARM,
    ARM,
    "-kexec-tools-2.0.29",
    "kexec-tools 2.0.29 (trixie) loads the Debian arm64 Image with kexec_load (compare with 2.0.25)",
    "trixie",
  ),
  {
    ...x86("q35", 2, "kexec_file_load", false, "", "", "trixie"),
    id: "x86_64-q35-2g-kexec_file_load-kexec-tools-2.0.29-nodebug",
    debug: false,
    about:
      "kexec-tools 2.0.29 (trixie) kexec -s -l without -d (with -d it sends KEXEC_FILE_DEBUG, which 6.1 rejects)",
  },
];
