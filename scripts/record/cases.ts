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
  suite: "bookworm" | "trixie" | "forky";
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
  /**
   * Shell lines /init runs before the collection script and the load (sysctls, an IMA policy): the state a
   * gate reads, set as a user would set it.
   */
  setup?: string[];
  /** seconds to keep reading the console after the loaded kernel's banner (default 8), e.g. to see initramfs unpacking */
  secondBootSec?: number;
  /** bytes of the pattern file in the loaded initrd (default 60,000) */
  initrdSize?: number;
  /** a command the load runs under, e.g. `unshare -Ur` (a user namespace: root in it, no CAP_SYS_BOOT in the initial one) */
  wrap?: string;
  /** pass -c (kexec_load) or -s (kexec_file_load) explicitly: kexec-tools 2.0.27+ otherwise tries kexec_file_load first (-a) */
  explicitSyscall?: boolean;
  /**
   * The running kernel's build config (a deb: ref like `running`): /init puts it at /boot/config-$(uname -r), where
   * a Debian system has it, so the collection script reads the kernel's CONFIG_KEXEC* / CRASH_* items as on a real host.
   */
  runningConfig?: string;
  /** the first kernel's Debian version, for the case list (e.g. "6.12", "7.3") */
  firstKernel?: string;
  /** more QEMU arguments, e.g. -object/-numa for a NUMA machine */
  qemuExtra?: string[];
  /**
   * The loaded initrd also holds busybox and an /init that prints the DTB the loaded kernel was given
   * (its /sys/firmware/fdt, gzip + base64) and powers off: the fixture's new-fdt.dtb (arm64).
   */
  captureNewFdt?: boolean;
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

/** Debian's own kernels newer than 6.1, straight from the archive (src/node/guest/debs.ts debKernel). */
export const DEBIAN_KERNELS = {
  "6.12": {
    x86_64: "deb:linux-image-6.12.118+deb13-cloud-amd64=6.12.118-1:boot/vmlinuz-6.12.118+deb13-cloud-amd64",
    x86_64Unsigned:
      "deb:linux-image-6.12.118+deb13-cloud-amd64-unsigned=6.12.118-1:boot/vmlinuz-6.12.118+deb13-cloud-amd64",
    arm64: "deb:linux-image-6.12.118+deb13-cloud-arm64=6.12.118-1:boot/vmlinuz-6.12.118+deb13-cloud-arm64",
    x86_64Config:
      "deb:linux-image-6.12.118+deb13-cloud-amd64=6.12.118-1:boot/config-6.12.118+deb13-cloud-amd64",
    arm64Config:
      "deb:linux-image-6.12.118+deb13-cloud-arm64=6.12.118-1:boot/config-6.12.118+deb13-cloud-arm64",
  },
  "7.3": {
    x86_64:
      "deb:linux-binary-7.3.4+deb13-cloud-amd64=7.3.4-1~bpo13+1:usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz",
    arm64:
      "deb:linux-binary-7.3.4+deb13-cloud-arm64=7.3.4-1~bpo13+1:usr/lib/modules/7.3.4+deb13-cloud-arm64/vmlinuz",

    x86_64Config:
      "deb:linux-base-7.3.4+deb13-cloud-amd64=7.3.4-1~bpo13+1:usr/lib/modules/7.3.4+deb13-cloud-amd64/config",
    arm64Config:
      "deb:linux-base-7.3.4+deb13-cloud-arm64=7.3.4-1~bpo13+1:usr/lib/modules/7.3.4+deb13-cloud-arm64/config",
  },
} as const;

type Version = keyof typeof DEBIAN_KERNELS;

interface NewCase {
  version: Version;
  arch: Arch;
  syscall: RecordCase["syscall"];
  crash?: boolean;
  /** words after the console on the running kernel's command line (crashkernel=, lockdown=, cma=) */
  extra?: string;
  memory?: number;
  machine?: RecordCase["machine"];
  suite?: RecordCase["suite"];
  initrd?: boolean;
  loaded?: string;
  setup?: string[];
  tag?: string;
  about: string;
  secondBootSec?: number;
  wrap?: string;
  initrdSize?: number;
}

/** The case id's suffix for a kexec-tools other than trixie's 2.0.29 (the default of these cases). */
const SUITE_TAG: Record<RecordCase["suite"], string> = {
  bookworm: "-kexec-tools-2.0.25",
  trixie: "",
  forky: "-kexec-tools-2.0.32",
};

/** A case whose first kernel is one of Debian's newer kernels (id: <arch>-<machine>-<mem>-<version>[-crash][tag]-<syscall>). */
function debian(n: NewCase): RecordCase {
  const crash = n.crash ?? false;
  const machine = n.machine ?? (n.arch === "x86_64" ? "q35" : "virt");
  const gib = n.memory ?? (n.arch === "x86_64" ? 2 : 4);
  const suite = n.suite ?? "trixie";
  const running = DEBIAN_KERNELS[n.version][n.arch];
  const runningConfig = DEBIAN_KERNELS[n.version][`${n.arch}Config`];
  return {
    id: `${n.arch}-${machine}-${gib}g-linux-${n.version}${crash ? "-crash" : ""}${n.tag ?? ""}-${n.syscall}${SUITE_TAG[suite]}`,
    arch: n.arch,
    machine,
    memory: `${gib}G`,
    smp: 2,
    running,
    runningExtra: n.extra ?? (crash ? "crashkernel=256M" : ""),
    suite,
    syscall: n.syscall,
    crash,
    loaded: n.loaded ?? running,
    initrd: n.initrd ?? true,
    about: n.about,
    timeoutSec: 600,
    firstKernel: n.version,
    explicitSyscall: true,
    runningConfig,
    ...(n.setup ? { setup: n.setup } : {}),
    ...(n.secondBootSec ? { secondBootSec: n.secondBootSec } : {}),
    ...(n.wrap ? { wrap: n.wrap } : {}),
    ...(n.initrdSize ? { initrdSize: n.initrdSize } : {}),
  };
}

/**
 * Round 4: Debian 6.12 (trixie) and 7.3 (trixie-backports) as first kernels - placement, crash loads (crash
 * hotplug sizes the elfcorehdr), the 6.8+ kexec_file debug lines, CMA, and the gates (lockdown, sysctls,
 * signatures, IMA) that refuse a load before placement matters.
 */
export const NEW_KERNEL_CASES: RecordCase[] = (["6.12", "7.3"] as const).flatMap((v): RecordCase[] => [
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_load",
    about: `Debian ${v} bzImage loads itself with kexec_load (kexec-tools 2.0.29)`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    about: `Debian ${v} bzImage loads itself with kexec_file_load; -d sends KEXEC_FILE_DEBUG (accepted from 6.7)`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    initrd: false,
    tag: "-noinitrd",
    about: `Debian ${v} kexec_file_load without an initrd`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_load",
    crash: true,
    about: `Debian ${v} crash load with kexec_load (crashkernel=256M)`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    crash: true,
    about: `Debian ${v} crash load with kexec_file_load (crashkernel=256M; CRASH_HOTPLUG sizes the elfcorehdr)`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    crash: true,
    memory: 8,
    extra: "crashkernel=512M,high",
    tag: "-high",
    about: `Debian ${v} crash load with kexec_file_load, crashkernel=512M,high on 8 GiB`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_load",
    suite: "bookworm",
    about: `kexec-tools 2.0.25 (bookworm) kexec_load on Debian ${v}`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    suite: "bookworm",
    tag: "-nodebugflag",
    about: `kexec-tools 2.0.25 kexec -s on Debian ${v}: no KEXEC_FILE_DEBUG, so no segment lines from 6.8 on`,
  }),
  debian({
    version: v,
    arch: "arm64",
    syscall: "kexec_load",
    about: `Debian arm64 ${v} Image loads itself with kexec_load (kexec-tools 2.0.29)`,
  }),
  debian({
    version: v,
    arch: "arm64",
    syscall: "kexec_load",
    initrd: false,
    tag: "-noinitrd",
    about: `Debian arm64 ${v} kexec_load without an initrd (kexec-tools deletes linux,initrd-*)`,
  }),
  debian({
    version: v,
    arch: "arm64",
    syscall: "kexec_load",
    crash: true,
    about: `Debian arm64 ${v} crash load with kexec_load (crashkernel=256M)`,
  }),
  debian({
    version: v,
    arch: "arm64",
    syscall: "kexec_file_load",
    about: `kexec -s on Debian's arm64 ${v} kernel (no CONFIG_KEXEC_FILE): the failure is the fixture`,
  }),
  debian({
    version: v,
    arch: "arm64",
    syscall: "kexec_load",
    memory: 2,
    about: `Debian arm64 ${v} kexec_load on a 2 GiB virt machine`,
  }),
]);

const K612 = DEBIAN_KERNELS["6.12"].x86_64;

/** The gates, on Debian 6.12 x86_64 (KEXEC_SIG=y, BZIMAGE_VERIFY_SIG=y, no SIG_FORCE, LOCKDOWN_LSM=y, IMA=y). */
export const GATE_CASES: RecordCase[] = [
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    extra: "lockdown=integrity",
    tag: "-lockdown-integrity",
    about: "lockdown=integrity refuses kexec_load (security_locked_down(LOCKDOWN_KEXEC))",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    extra: "lockdown=confidentiality",
    tag: "-lockdown-confidentiality",
    about: "lockdown=confidentiality refuses kexec_load",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: "lockdown=integrity",
    tag: "-lockdown-integrity-signed",
    about:
      "lockdown=integrity, kexec_file_load of Debian's signed kernel (no EFI: the platform keyring is empty)",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: "lockdown=integrity",
    tag: "-lockdown-integrity-unsigned",
    loaded: DEBIAN_KERNELS["6.12"].x86_64Unsigned,
    about: "lockdown=integrity, kexec_file_load of Debian's unsigned build of the same kernel",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    tag: "-unsigned",
    loaded: DEBIAN_KERNELS["6.12"].x86_64Unsigned,
    about: "no lockdown: kexec_file_load of the unsigned kernel loads (KEXEC_SIG without force only logs)",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    tag: "-testkey-signed",
    loaded: `testkey:${K612}`,
    about: "no lockdown: kexec_file_load of the kernel re-signed with a key no keyring has",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: "lockdown=integrity",
    tag: "-lockdown-integrity-testkey-signed",
    loaded: `testkey:${K612}`,
    about: "lockdown=integrity, kernel re-signed with a key no keyring has",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    tag: "-kexec_load_disabled",
    setup: ["echo 1 > /proc/sys/kernel/kexec_load_disabled"],
    about: "kexec_load_disabled=1 refuses every later load (EPERM)",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    tag: "-kexec_load_disabled",
    setup: ["echo 1 > /proc/sys/kernel/kexec_load_disabled"],
    about: "kexec_load_disabled=1 refuses kexec_file_load too",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    tag: "-limit-reboot-0",
    setup: ["echo 0 > /proc/sys/kernel/kexec_load_limit_reboot"],
    about: "kexec_load_limit_reboot=0 (Linux 6.6+) refuses a normal load",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    crash: true,
    tag: "-limit-panic-0",
    setup: ["echo 0 > /proc/sys/kernel/kexec_load_limit_panic"],
    about: "kexec_load_limit_panic=0 refuses a crash load",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    crash: false,
    tag: "-limit-panic-0-normal",
    setup: ["echo 0 > /proc/sys/kernel/kexec_load_limit_panic"],
    about: "kexec_load_limit_panic=0 leaves a normal load alone",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    extra: "ima_policy=secure_boot",
    tag: "-ima-secure-boot",
    about: "IMA secure_boot policy (appraise KEXEC_KERNEL_CHECK) against kexec_load",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: "ima_policy=secure_boot",
    tag: "-ima-secure-boot",
    about: "IMA secure_boot policy against kexec_file_load of a file without an IMA signature",
  }),
  debian({
    version: "6.12",
    arch: "x86_64",
    syscall: "kexec_load",
    tag: "-no-cap-sys-boot",
    wrap: "unshare -Ur",
    about:
      "a caller without CAP_SYS_BOOT in the initial user namespace: kexec run in a new user namespace (unshare -Ur), as in a container",
  }),
];

/** CMA (7.3: CONFIG_CMA=y in cloud-amd64; kexec_file places segments in CMA from 6.17). */
export const CMA_CASES: RecordCase[] = [64, 256].flatMap((mib) => [
  debian({
    version: "7.3",
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: `cma=${mib}M`,
    tag: `-cma${mib}m`,
    secondBootSec: 90,
    about: `Debian 7.3 with cma=${mib}M on 2 GiB: kexec -s -l, then watch the loaded kernel unpack its initramfs`,
  }),
  debian({
    version: "7.3",
    arch: "x86_64",
    syscall: "kexec_file_load",
    memory: 8,
    extra: `cma=${mib}M`,
    tag: `-cma${mib}m`,
    secondBootSec: 90,
    about: `the same on 8 GiB (reported to boot)`,
  }),
]);

/**
 * The reported CMA failure needs a real-sized initramfs: with 64 MiB of CMA the 60 MiB kernel takes the area and a
 * 40 MiB initrd must go elsewhere (a 60 KB initrd fits beside the kernel, as CMA_CASES show).
 */
export const CMA_BIG_INITRD_CASES: RecordCase[] = [2, 8].flatMap((gib) =>
  [64, 256].map((mib) =>
    debian({
      version: "7.3",
      arch: "x86_64",
      syscall: "kexec_file_load",
      memory: gib,
      extra: `cma=${mib}M`,
      tag: `-cma${mib}m-initrd40m`,
      initrdSize: 40 << 20,
      secondBootSec: 120,
      about: `Debian 7.3 with cma=${mib}M on ${gib} GiB, a 40 MiB initrd: where it lands, and whether the loaded kernel unpacks it`,
    }),
  ),
);

/** crashkernel= reservations at boot (the collect tree's iomem shows the "Crash kernel" lines), with a crash load into them. */
export const CRASHKERNEL_CASES: RecordCase[] = [
  ...(["6.12", "7.3"] as const).flatMap((v) => [
    debian({
      version: v,
      arch: "x86_64",
      syscall: "kexec_load",
      crash: true,
      memory: 8,
      extra: "crashkernel=256M,high crashkernel=128M,low",
      tag: "-high-low",
      about: `crashkernel=256M,high plus 128M,low on 8 GiB (${v})`,
    }),
    debian({
      version: v,
      arch: "x86_64",
      syscall: "kexec_load",
      crash: true,
      memory: 4,
      extra: "crashkernel=1G-4G:192M,4G-64G:256M",
      tag: "-ranges",
      about: `a range list on 4 GiB (${v})`,
    }),
    debian({
      version: v,
      arch: "x86_64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=128M@0x20000000",
      tag: "-at-offset",
      about: `crashkernel=128M@512M (${v})`,
    }),
    debian({
      version: v,
      arch: "x86_64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=3G",
      tag: "-too-large",
      about: `crashkernel=3G on 2 GiB: the reservation fails at boot (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=512M,high",
      tag: "-high",
      about: `arm64 crashkernel=512M,high (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      memory: 8,
      extra: "crashkernel=512M",
      tag: "-8g",
      about: `arm64 crashkernel=512M on 8 GiB: below 4 GiB first (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=64M,low crashkernel=256M,high",
      tag: "-high-low",
      about: `arm64 crashkernel=256M,high with 64M,low (${v})`,
    }),
  ]),
];

/**
 * What no Debian kernel has: kexec_file_load on arm64 (no Debian arm64 kernel enables CONFIG_KEXEC_FILE) and KHO
 * (CONFIG_KEXEC_HANDOVER), on Debian's own 7.3.4 source built by scripts/record/build-arm64-kernel.sh
 * (LINUX_SERIES=7.3: tinyconfig + KEXEC_FILE, KEXEC_HANDOVER(_DEBUGFS), CRASH_DUMP, CMA). The kernel loads itself
 * with kexec-tools 2.0.29 `kexec -d -s` (KEXEC_FILE_DEBUG: the kernel prints its segment lines). KHO needs nothing
 * before `kexec -e` on 7.3 (the KHO FDT is built at boot by kho_init; the 6.16-era debugfs finalize is gone).
 */
const ARM73 = "artifact:kernel-arm64-7.3/Image";

function custom73(o: {
  tag: string;
  crash?: boolean;
  extra?: string;
  initrd?: boolean;
  about: string;
}): RecordCase {
  const crash = o.crash ?? false;
  return {
    id: `arm64-virt-4g-linux-7.3-custom${crash ? "-crash" : ""}${o.tag}-kexec_file_load`,
    arch: "arm64",
    machine: "virt",
    memory: "4G",
    smp: 2,
    running: ARM73,
    runningExtra: o.extra ?? (crash ? "crashkernel=256M" : ""),
    suite: "trixie",
    syscall: "kexec_file_load",
    crash,
    loaded: ARM73,
    initrd: o.initrd ?? true,
    about: o.about,
    timeoutSec: 600,
    firstKernel: "7.3",
    explicitSyscall: true,
    runningConfig: "artifact:kernel-arm64-7.3/config",
  };
}

export const CUSTOM_73_CASES: RecordCase[] = [
  custom73({ tag: "", about: "custom arm64 7.3.4 kernel (KEXEC_FILE) loads itself with kexec_file_load" }),
  custom73({
    tag: "-noinitrd",
    initrd: false,
    about: "custom arm64 7.3.4 kernel, kexec_file_load without an initrd",
  }),
  custom73({
    tag: "",
    crash: true,
    about: "custom arm64 7.3.4 kernel loads itself as crash kernel with kexec_file_load (crashkernel=256M)",
  }),
  custom73({
    tag: "-kho",
    extra: "kho=on",
    about:
      "KHO (kho=on, default scratch scale 200%): every segment in the KHO scratch areas, plus the scratch table",
  }),
  custom73({
    tag: "-kho-scratch-64m",
    extra: "kho=on kho_scratch=64M,64M,32M",
    about: "KHO with kho_scratch=64M,64M,32M: the lowmem scratch area takes every segment",
  }),
  custom73({
    tag: "-kho-scratch-4m",
    extra: "kho=on kho_scratch=4M,128M,32M",
    about: "KHO with kho_scratch=4M,128M,32M: the kernel does not fit in the 4 MiB lowmem area",
  }),
  custom73({
    tag: "-kho-scratch-too-small",
    extra: "kho=on kho_scratch=4M,4M,4M",
    about:
      "KHO with three 4 MiB scratch areas: the 5 MiB kernel fits in none, and nothing else is tried (EADDRNOTAVAIL)",
  }),
];

// gates and CMA first: they answer the questions no older recording can (docs/recording.md)
CASES.push(
  ...GATE_CASES,
  ...CMA_CASES,
  ...CMA_BIG_INITRD_CASES,
  ...NEW_KERNEL_CASES,
  ...CRASHKERNEL_CASES,
  ...CUSTOM_73_CASES,
);

/** Two NUMA nodes of 2 GiB each on the 4 GiB virt machine, one CPU each. */
const NUMA_2_NODES = [
  "-object",
  "memory-backend-ram,id=m0,size=2G",
  "-object",
  "memory-backend-ram,id=m1,size=2G",
  "-numa",
  "node,nodeid=0,cpus=0,memdev=m0",
  "-numa",
  "node,nodeid=1,cpus=1,memdev=m1",
];

/**
 * Round 5 (issue #23): the hidden variants on Debian 6.12 and 7.3 - the i440fx `pc` machine, an arm64
 * NUMA machine, kexec-tools 2.0.25 on arm64, KASLR off, a crash load without an initrd. The arm64 cases
 * also capture the DTB the loaded kernel was given (new-fdt.dtb), to check kexec-tools' DTB byte for byte.
 */
export const VARIANT_CASES: RecordCase[] = (["6.12", "7.3"] as const).flatMap((v): RecordCase[] => [
  ...([2, 8] as const).flatMap((gib) =>
    (["kexec_load", "kexec_file_load"] as const).map((syscall) =>
      debian({
        version: v,
        arch: "x86_64",
        machine: "pc",
        memory: gib,
        syscall,
        about: `Debian ${v} ${syscall} on the i440fx pc machine with ${gib} GiB`,
      }),
    ),
  ),
  {
    ...debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      tag: "-numa2",
      about: `Debian arm64 ${v} kexec_load on a 2-node NUMA virt machine (2 x 2 GiB)`,
    }),
    qemuExtra: NUMA_2_NODES,
    captureNewFdt: true,
  },
  {
    ...debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      tag: "-numa2",
      about: `Debian arm64 ${v} crash load with kexec_load on the 2-node NUMA machine (crashkernel=256M): the crash kernel prints its DTB`,
    }),
    qemuExtra: NUMA_2_NODES,
    captureNewFdt: true,
  },
  {
    ...debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      suite: "bookworm",
      about: `kexec-tools 2.0.25 (bookworm) kexec_load on Debian arm64 ${v}`,
    }),
    captureNewFdt: true,
  },
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    extra: "nokaslr",
    tag: "-nokaslr",
    about: `Debian ${v} kexec_file_load with the first kernel booted nokaslr (where its image sits in iomem)`,
  }),
  debian({
    version: v,
    arch: "x86_64",
    syscall: "kexec_file_load",
    crash: true,
    initrd: false,
    tag: "-noinitrd",
    about: `Debian ${v} crash load with kexec_file_load and no initrd (crashkernel=256M)`,
  }),
]);

CASES.push(...VARIANT_CASES);

/**
 * The gates on Debian's 7.3 kernel (trixie-backports), the same list as GATE_CASES on 6.12. Its signed kernel is
 * linux-binary-7.3.4+deb13-cloud-amd64 (source linux-signed-amd64), the unsigned build of the same kernel is
 * linux-binary-unsigned-7.3.4+deb13-cloud-amd64, which ships it as vmlinuz.unsigned.
 */
export const K73_UNSIGNED =
  "deb:linux-binary-unsigned-7.3.4+deb13-cloud-amd64=7.3.4-1~bpo13+1:usr/lib/modules/7.3.4+deb13-cloud-amd64/vmlinuz.unsigned";
export const GATE_CASES_73: RecordCase[] = GATE_CASES.map((c) => {
  const tag = /^x86_64-q35-2g-linux-6\.12(-crash)?(-.+)-kexec_(file_)?load$/.exec(c.id)![2]!;
  const loaded =
    c.loaded === DEBIAN_KERNELS["6.12"].x86_64Unsigned
      ? K73_UNSIGNED
      : c.loaded === `testkey:${K612}`
        ? `testkey:${DEBIAN_KERNELS["7.3"].x86_64}`
        : undefined;
  return debian({
    version: "7.3",
    arch: "x86_64",
    syscall: c.syscall,
    crash: c.crash,
    ...(c.runningExtra !== "" && c.runningExtra !== (c.crash ? "crashkernel=256M" : "")
      ? { extra: c.runningExtra }
      : {}),
    tag,
    ...(loaded !== undefined ? { loaded } : {}),
    ...(c.setup ? { setup: c.setup } : {}),
    ...(c.wrap ? { wrap: c.wrap } : {}),
    about: `${c.about} (7.3)`,
  });
});
CASES.push(...GATE_CASES_73);
/** A Debian 6.1 arm64 crash case on the virt machine with `gib` GiB (the 6.1 arm cases' id style: tag after the syscall). */
function arm61Crash(gib: number, extra: string, tag: string, about: string): RecordCase {
  return {
    ...arm("kexec_load", true, ARM, ARM, tag, about),
    id: `arm64-virt-${gib}g-crash-kexec_load${tag}`,
    memory: `${gib}G`,
    runningExtra: extra,
  };
}

/**
 * Issue #24 item 5: the crashkernel= cells no earlier recording covers - on Debian 6.1 (bookworm) a ,high with
 * ,low, a range list, @offset and a reservation too large to fit (x86_64 and arm64, and 512M,high on arm64);
 * on 6.12 and 7.3 arm64 the range list, @offset, too large and X,low alone; on 6.12 and 7.3 x86_64 X,low alone.
 */
export const CRASHKERNEL_MATRIX_CASES: RecordCase[] = [
  x86("q35", 8, "kexec_load", true, "crashkernel=256M,high crashkernel=128M,low", "-high-low"),
  x86("q35", 4, "kexec_load", true, "crashkernel=1G-4G:192M,4G-64G:256M", "-ranges"),
  x86("q35", 2, "kexec_load", true, "crashkernel=128M@0x20000000", "-at-offset"),
  x86("q35", 2, "kexec_load", true, "crashkernel=3G", "-too-large"),
  arm61Crash(4, "crashkernel=512M,high", "-high", "Debian arm64 6.1 crashkernel=512M,high"),
  arm61Crash(
    4,
    "crashkernel=64M,low crashkernel=256M,high",
    "-high-low",
    "Debian arm64 6.1 crashkernel=256M,high with 64M,low",
  ),
  arm61Crash(
    4,
    "crashkernel=1G-4G:192M,4G-64G:256M",
    "-ranges",
    "Debian arm64 6.1 range list on 4 GiB (4 GiB of RAM: the 4G-64G range)",
  ),
  arm61Crash(4, "crashkernel=128M@0x80000000", "-at-offset", "Debian arm64 6.1 crashkernel=128M@2G"),
  arm61Crash(
    4,
    "crashkernel=3G",
    "-too-large",
    "Debian arm64 6.1 crashkernel=3G on 4 GiB: fits neither below 4 GiB nor above",
  ),
  ...(["6.12", "7.3"] as const).flatMap((v) => [
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=1G-4G:192M,4G-64G:256M",
      tag: "-ranges",
      about: `arm64 range list on 4 GiB (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=128M@0x80000000",
      tag: "-at-offset",
      about: `arm64 crashkernel=128M@2G (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=3G",
      tag: "-too-large",
      about: `arm64 crashkernel=3G on 4 GiB: fits neither below 4 GiB nor above (${v})`,
    }),
    debian({
      version: v,
      arch: "arm64",
      syscall: "kexec_load",
      crash: true,
      extra: "crashkernel=128M,low",
      tag: "-low-only",
      about: `arm64 crashkernel=128M,low without ,high (${v})`,
    }),
    debian({
      version: v,
      arch: "x86_64",
      syscall: "kexec_load",
      crash: true,
      memory: 8,
      extra: "crashkernel=128M,low",
      tag: "-low-only",
      about: `crashkernel=128M,low without ,high on 8 GiB (${v})`,
    }),
  ]),
];

CASES.push(...CRASHKERNEL_MATRIX_CASES);

/**
 * arm64 kexec_file_load on Linux 6.12 LTS (Debian trixie): no Debian arm64 kernel has CONFIG_KEXEC_FILE, so
 * scripts/record/build-arm64-kernel.sh builds Debian's own linux-source-6.12 6.12.118-1 (LINUX_SERIES=6.12:
 * tinyconfig + KEXEC_FILE, CRASH_DUMP; no KHO, which arrived in 6.16). The kernel loads itself with
 * kexec-tools 2.0.29 `kexec -d -s` (6.12 takes KEXEC_FILE_DEBUG and prints its segment lines).
 */
const ARM612 = "artifact:kernel-arm64-6.12/Image";

function custom612(o: { tag: string; crash?: boolean; initrd?: boolean; about: string }): RecordCase {
  const crash = o.crash ?? false;
  return {
    id: `arm64-virt-4g-linux-6.12-custom${crash ? "-crash" : ""}${o.tag}-kexec_file_load`,
    arch: "arm64",
    machine: "virt",
    memory: "4G",
    smp: 2,
    running: ARM612,
    runningExtra: crash ? "crashkernel=256M" : "",
    suite: "trixie",
    syscall: "kexec_file_load",
    crash,
    loaded: ARM612,
    initrd: o.initrd ?? true,
    about: o.about,
    timeoutSec: 600,
    firstKernel: "6.12",
    explicitSyscall: true,
    runningConfig: "artifact:kernel-arm64-6.12/config",
  };
}

export const CUSTOM_612_CASES: RecordCase[] = [
  custom612({
    tag: "",
    about: "custom arm64 6.12.118 kernel (KEXEC_FILE) loads itself with kexec_file_load",
  }),
  custom612({
    tag: "-noinitrd",
    initrd: false,
    about: "custom arm64 6.12.118 kernel, kexec_file_load without an initrd",
  }),
  custom612({
    tag: "",
    crash: true,
    about:
      "custom arm64 6.12.118 kernel loads itself as crash kernel with kexec_file_load (crashkernel=256M)",
  }),
];

CASES.push(...CUSTOM_612_CASES);

/**
 * Issue #23, the last hidden variant of arm64 kexec_file_load: the DTB the kernel builds
 * (drivers/of/kexec.c of_kexec_alloc_and_setup_fdt) on the 2-node NUMA virt machine, normal and crash
 * (crashkernel=256M: linux,usable-memory-range and linux,elfcorehdr), with the custom 6.12 and 7.3 kernels as
 * first kernel. The custom kernels have no CONFIG_NUMA: QEMU's DTB still has two memory nodes (numa-node-id 0
 * and 1) and a distance-map, which the kernel copies into the new DTB. The loaded kernel prints the DTB it was
 * given (new-fdt.dtb).
 */
export const CUSTOM_NUMA_FILE_CASES: RecordCase[] = (["6.12", "7.3"] as const).flatMap((v) =>
  [false, true].map((crash): RecordCase => {
    const make = v === "6.12" ? custom612 : custom73;
    const what = crash ? "crash load (crashkernel=256M)" : "load";
    return {
      ...make({
        tag: "-numa2",
        crash,
        about: `custom arm64 ${v} kernel, kexec_file_load ${what} on the 2-node NUMA virt machine (2 x 2 GiB): the loaded kernel prints its DTB`,
      }),
      qemuExtra: NUMA_2_NODES,
      captureNewFdt: true,
    };
  }),
);

CASES.push(...CUSTOM_NUMA_FILE_CASES);

/**
 * kexec-tools 2.0.32, the newest Debian build (forky/sid: 1:2.0.32-3 amd64, 1:2.0.32-3+b1 arm64, seen by the
 * recorder's private apt on 2026-12-07), on Debian's 6.12 and 7.3 kernels: kexec_load and kexec_file_load on
 * x86_64 q35 with 2 GiB, kexec_load on arm64 virt with 4 GiB (7.3).
 */
export const FORKY_CASES: RecordCase[] = [
  ...(["6.12", "7.3"] as const).flatMap((v) =>
    (["kexec_load", "kexec_file_load"] as const).map((syscall) =>
      debian({
        version: v,
        arch: "x86_64",
        syscall,
        suite: "forky",
        about: `kexec-tools 2.0.32 (forky) ${syscall} on Debian ${v} (q35, 2 GiB)`,
      }),
    ),
  ),
  debian({
    version: "7.3",
    arch: "arm64",
    syscall: "kexec_load",
    suite: "forky",
    about: "kexec-tools 2.0.32 (forky) kexec_load on Debian arm64 7.3 (virt, 4 GiB)",
  }),
];

CASES.push(...FORKY_CASES);

/**
 * The same NUMA kexec_file_load pair on 6.1: the custom 6.1.192 arm64 kernel (scripts/record/build-arm64-kernel.sh,
 * no CONFIG_NUMA either) loads itself with kexec-tools 2.0.25 (bookworm), as the other 6.1 -custom cases do.
 */
export const CUSTOM_61_NUMA_FILE_CASES: RecordCase[] = [false, true].map(
  (crash): RecordCase => ({
    ...arm(
      "kexec_file_load",
      crash,
      ARM_CUSTOM,
      ARM_CUSTOM,
      "-custom-numa2",
      `custom 6.1 arm64 kernel, kexec_file_load ${crash ? "crash load (crashkernel=256M)" : "load"} on the 2-node NUMA virt machine (2 x 2 GiB): the loaded kernel prints its DTB`,
    ),
    qemuExtra: NUMA_2_NODES,
    captureNewFdt: true,
  }),
);

CASES.push(...CUSTOM_61_NUMA_FILE_CASES);

/**
 * crashk_low_res on arm64 kexec_file_load: crashkernel=256M,high plus 64M,low on the custom 7.3 kernel (NUMA, the
 * loaded kernel prints its DTB): of_kexec_alloc_and_setup_fdt appends the low region to linux,usable-memory-range.
 */
export const CUSTOM_73_HIGH_LOW_CASES: RecordCase[] = [
  {
    ...custom73({
      tag: "-high-low-numa2",
      crash: true,
      extra: "crashkernel=256M,high crashkernel=64M,low",
      about:
        "custom arm64 7.3 kernel, kexec_file_load crash load with crashkernel=256M,high and 64M,low (NUMA): both regions in linux,usable-memory-range",
    }),
    qemuExtra: NUMA_2_NODES,
    captureNewFdt: true,
  },
];

CASES.push(...CUSTOM_73_HIGH_LOW_CASES);

/** kexec-tools 2.0.32 (forky) `kexec -d -s` on arm64: the custom 7.3 kernel loads itself, normal and crash. */
export const FORKY_ARM64_FILE_CASES: RecordCase[] = [false, true].map(
  (crash): RecordCase => ({
    ...custom73({
      tag: "",
      crash,
      about: `kexec-tools 2.0.32 (forky) kexec_file_load${crash ? " crash load" : ""} of the custom arm64 7.3 kernel`,
    }),
    id: `arm64-virt-4g-linux-7.3-custom${crash ? "-crash" : ""}-kexec_file_load-kexec-tools-2.0.32`,
    suite: "forky",
  }),
);

CASES.push(...FORKY_ARM64_FILE_CASES);
