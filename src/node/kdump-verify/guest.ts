/**
 * The two guests of `crashkernel --verify` (Node only: the files are read from the host):
 *
 * - the first kernel's initramfs: busybox, the chosen kexec-tools build with its libraries
 *   (src/node/guest/initramfs.ts lays them out), the kernel to load as crash kernel and its initrd; its
 *   /init prints the "Crash kernel" lines of /proc/iomem and kexec_crash_size, runs `kexec -p`, prints
 *   its output and exit code, and forces a panic with sysrq c;
 * - the crash kernel's initrd, the project's test initrd: busybox and an /init that prints MemTotal and
 *   MemFree, copies all of /proc/vmcore with dd (bs=1M, conv=fsync) onto the dump disk (an NVMe
 *   disk QEMU gives the guest, /dev/nvme0n1: Debian's cloud kernels have the NVMe driver built in),
 *   standing for a dump tool writing to local disk (no makedumpfile: its page filtering and bitmaps
 *   are not exercised), and prints what it read and wrote. Without the disk it only reads.
 *
 * Both print the markers of src/crash/verify.ts VERIFY_MARK, which readProbeConsole reads.
 */

import { readFileSync } from "node:fs";
import { VERIFY_MARK as M } from "../../crash/verify.js";
import { writeNewc } from "../guest/cpio.js";
import { buildInitramfs, type GuestKexec } from "../guest/initramfs.js";

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The crash kernel's /init in the test initrd. */
export const CRASH_INIT = `#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "${M.up}"
kb() { grep "^$1:" /proc/meminfo | tr -s ' ' | cut -d' ' -f2; }
echo "${M.mem}total=$(kb MemTotal) free=$(kb MemFree)@@"
if [ -e /proc/vmcore ]; then
  s=$(stat -c %s /proc/vmcore)
  d=/dev/nvme0n1
  i=0
  while [ ! -b $d ] && [ $i -lt 20 ]; do sleep 1; i=$((i + 1)); done
  t0=$(cut -d' ' -f1 /proc/uptime)
  if [ -b $d ]; then
    dd if=/proc/vmcore of=$d bs=1M conv=fsync 2>/tmp/dd.err
    r=$?
    w=$r
  else
    dd if=/proc/vmcore of=/dev/null bs=1M 2>/tmp/dd.err
    r=$?
    w=nodisk
  fi
  # busybox dd prints "F+P records out" (whole and partial 1 MiB blocks)
  n=$(grep 'records out' /tmp/dd.err | cut -d' ' -f1)
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "${M.vmcore}size=$s records=$n rc=$r@@"
  echo "${M.dump}records=$n rc=$w free=$(kb MemFree) t0=$t0 t1=$t1@@"
else
  echo "${M.noVmcore}"
fi
echo "${M.done}"
poweroff -f
`;

/** The test initrd (uncompressed newc): busybox as /bin/busybox and CRASH_INIT as /init. */
export function testInitrd(busybox: string): Uint8Array {
  return writeNewc([
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/busybox", data: readFileSync(busybox), mode: 0o755 },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    { kind: "dir", path: "tmp" },
    { kind: "file", path: "init", data: new TextEncoder().encode(CRASH_INIT), mode: 0o755 },
  ]);
}

export interface FirstKernelPlan {
  /** kexec -p's --append: the crash kernel's command line. */
  append: string;
  /**
   * arm64: `_stext - _text` of the kernel (the PE header's .text VirtualAddress). When set and
   * /proc/kallsyms has no `_text`, /init bind-mounts over /proc/kallsyms a copy with `_text` added
   * (`_stext` minus this), the symbol kexec-tools needs for the kernel text PT_LOAD (docs/kdump.md).
   */
  kallsymsTextOffset?: number;
}

/** The first kernel's /init. */
export function firstKernelInit(kexecName: string, plan: FirstKernelPlan): string {
  const kx = `/bin/kexec-${kexecName}`;
  const load = [kx, "-p", "/k/kernel", "--initrd=/k/crash.cpio", `--append=${plan.append}`]
    .map(shq)
    .join(" ");
  const kallsyms =
    plan.kallsymsTextOffset === undefined
      ? `if grep -q ' _text$' /proc/kallsyms; then echo "${M.kallsyms}present@@"; else echo "${M.kallsyms}missing@@"; fi`
      : `if grep -q ' _text$' /proc/kallsyms; then
  echo "${M.kallsyms}present@@"
else
  s=$(grep ' _stext$' /proc/kallsyms | cut -d' ' -f1)
  hi=\${s%????????}
  lo=\${s#$hi}
  l=$(( 0x$lo - ${plan.kallsymsTextOffset} ))
  if [ -n "$s" ] && [ "$l" -ge 0 ]; then
    t=$(printf '%s%08x' "$hi" "$l")
    { echo "$t T _text"; cat /proc/kallsyms; } > /tmp/kallsyms
    if mount -o bind /tmp/kallsyms /proc/kallsyms; then echo "${M.kallsyms}supplied _text=$t@@"; else echo "${M.kallsyms}missing (bind mount failed)@@"; fi
  else
    echo "${M.kallsyms}missing@@"
  fi
fi`;
  return `#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
echo "${M.iomem}"
grep 'Crash kernel' /proc/iomem
echo "${M.iomemEnd}"
echo "${M.crashSize}$(cat /sys/kernel/kexec_crash_size 2>/dev/null)@@"
${kallsyms}
${load} > /tmp/kx.out 2>&1
rc=$?
echo "${M.kexecOut}"
cat /tmp/kx.out
echo
echo "${M.kexecRc}$rc@@"
if [ "$rc" = 0 ]; then
  echo 7 > /proc/sys/kernel/printk
  echo "${M.panic}"
  sleep 2
  echo c > /proc/sysrq-trigger
fi
poweroff -f
`;
}

/**
 * The first kernel's initramfs: busybox, the kexec build, /k/kernel (the crash kernel: the same file),
 * /k/crash.cpio (the test initrd or the user's), and the /init above.
 */
export function firstKernelInitramfs(
  busybox: string,
  kexec: GuestKexec,
  kernel: string,
  crashInitrd: Uint8Array,
  plan: FirstKernelPlan,
): Uint8Array {
  return buildInitramfs({
    busybox,
    kexecs: [kexec],
    files: new Map([["/k/kernel", kernel]]),
    blobs: new Map([["/k/crash.cpio", crashInitrd]]),
    kexecName: kexec.name,
    args: [],
    crash: true,
    confirm: true,
    init: firstKernelInit(kexec.name, plan),
  });
}
