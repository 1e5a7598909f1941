/**
 * A guest's initramfs: busybox, kexec-tools builds (each with its own ld.so and libraries) and the files
 * to load, and the recorder's /init that prints everything between markers on the serial console (or a
 * caller's own /init: `crashkernel --verify`, src/node/kdump-verify). Used by the recorder
 * (scripts/record) and the verify command. Node only (reads the host files).
 */
import { readFileSync } from "node:fs";
import { type CpioEntry, writeNewc } from "./cpio.js";

/** A kexec-tools build placed in the guest under /kx/<name>/, run through its own ld.so. */
export interface GuestKexec {
  name: string;
  binary: string;
  libs: Map<string, string>;
  interp: string;
}

export interface GuestPlan {
  busybox: string;
  kexecs: GuestKexec[];
  /** guest path -> host file, e.g. /k/kernel */
  files: Map<string, string>;
  /** extra in-memory files, e.g. /k/initrd */
  blobs: Map<string, Uint8Array>;
  /** the load command, as argv after the kexec binary (which is /bin/kexec-<name>) */
  kexecName: string;
  args: string[];
  crash: boolean;
  /** after a successful load: boot it (kexec -e, or a panic for a crash load) */
  confirm: boolean;
  /**
   * Host path of bin/kexec-lab-collect: when given, the guest runs it before the load (with this case's
   * kexec as `kexec` in PATH) and prints its directory as the record collect.tar.gz.b64.
   */
  collect?: string;
  /** shell lines run before the collection script and the load (the state a gate reads) */
  setup?: string[];
  /** a command the load runs under (e.g. `unshare -Ur`) */
  wrap?: string;
  /** guest path of the running kernel's build config, copied to `configAt` at boot */
  config?: string;
  /**
   * where the running kernel's package installs its config (as on a Debian host): /boot/config-$(uname -r)
   * up to 6.x (the default), /usr/lib/modules/$(uname -r)/config from the 7.x linux-base-* packages
   */
  configAt?: string;
  /** the guest's /init instead of initScript(plan) (a shell script run by busybox sh) */
  init?: string;
}

export const M_BEGIN = "@@KXL-BEGIN ";
export const M_END = "@@KXL-END@@";
export const M_EXEC = "@@KXL-EXEC@@";
export const M_DONE = "@@KXL-DONE@@";

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The files dynamic debug is switched on for (kernel 6.1 names); lines for files a kernel lacks just fail. */
const DYNDBG_FILES = [
  "kernel/kexec.c",
  "kernel/kexec_core.c",
  "kernel/kexec_file.c",
  "kernel/crash_core.c",
  "arch/x86/kernel/kexec-bzimage64.c",
  "arch/x86/kernel/machine_kexec_64.c",
  "arch/x86/kernel/crash.c",
  "arch/arm64/kernel/kexec_image.c",
  "arch/arm64/kernel/machine_kexec.c",
  "arch/arm64/kernel/machine_kexec_file.c",
  "kernel/crash_reserve.c",
  "kernel/kexec_handover.c",
  "kernel/liveupdate/kexec_handover.c",
  "drivers/of/kexec.c",
  "arch/x86/kernel/crash_dump_64.c",
  "arch/arm64/mm/init.c",
  "security/lockdown/lockdown.c",
  "security/integrity/ima/ima_main.c",
  "security/integrity/ima/ima_appraise.c",
  "crypto/asymmetric_keys/verify_pefile.c",
  "certs/system_keyring.c",
];

/** The guest's /init (busybox sh). Prints each record as BEGIN name / content / newline / END. */
export function initScript(plan: GuestPlan): string {
  const kx = `/bin/kexec-${plan.kexecName}`;
  const cmd = `${plan.wrap ? `${plan.wrap} ` : ""}${[kx, ...plan.args].map(shq).join(" ")}`;
  const exec = plan.crash ? "echo c > /proc/sysrq-trigger" : `${kx} -e`;
  return `#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# as systemd does on a real host: lockdown and IMA show their state under securityfs
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
# keep kernel messages off the console while records are printed (they stay in dmesg)
echo 1 > /proc/sys/kernel/printk
sec() { n=$1; shift; echo "${M_BEGIN}$n@@"; "$@" 2>&1; echo; echo "${M_END}"; }
catf() { if [ -e "$1" ]; then cat "$1"; else printf 'absent'; fi; }
DC=/proc/dynamic_debug/control
[ -e $DC ] || DC=/sys/kernel/debug/dynamic_debug/control
dyn() {
  if [ ! -e $DC ]; then printf 'absent'; return; fi
  for f in ${DYNDBG_FILES.join(" ")}; do echo "file $f +p" > $DC 2>/dev/null; done
  grep -E 'kexec|crash' $DC | grep -v '=_ ' | grep -v '^#'
}
memmap() {
  if [ ! -d /sys/firmware/memmap ]; then printf 'absent'; return; fi
  for i in $(ls /sys/firmware/memmap | sort -n); do d=/sys/firmware/memmap/$i; echo "$(cat $d/start) $(cat $d/end) $(cat $d/type)"; done
}
${
  plan.config
    ? `c=${plan.configAt !== undefined ? shq(plan.configAt) : '"/boot/config-$(uname -r)"'}; mkdir -p "$(dirname "$c")" && cp ${plan.config} "$c"
`
    : ""
}sec dyndbg dyn
${(plan.setup ?? []).map((l) => `${l}\n`).join("")}${(plan.setup ?? []).length ? "sec setup sh -c 'for f in kexec_load_disabled kexec_load_limit_reboot kexec_load_limit_panic; do printf \"%s \" $f; cat /proc/sys/kernel/$f 2>&1; done'\n" : ""}sec uname uname -r
sec nproc nproc
sec cmdline cat /proc/cmdline
sec meminfo grep -E '^(MemTotal|MemFree):' /proc/meminfo
sec kexec_crash_size catf /sys/kernel/kexec_crash_size
sec iomem cat /proc/iomem
sec memmap memmap
sec memblock-memory catf /sys/kernel/debug/memblock/memory
sec memblock-reserved catf /sys/kernel/debug/memblock/reserved
# the CMA areas at load time: dmesg's "cma: Reserved" line gives base and size; the counters (CMA_SYSFS:
# /sys/kernel/mm/cma/NAME/*) and meminfo's CmaTotal/CmaFree how much is taken; the bitmap where CMA_DEBUGFS has it
cma() {
  grep -E '^Cma(Total|Free):' /proc/meminfo
  for d in /sys/kernel/mm/cma/* /sys/kernel/debug/cma/*; do
    [ -d "$d" ] || continue
    find "$d" -type f | sort | while read -r f; do echo "$f: $(cat "$f" 2>&1 | tr '\n' ' ')"; done
  done
}
sec cma cma
# KHO (kho=on, KEXEC_HANDOVER_DEBUGFS): the scratch areas in index order, the ones kexec_file_load places into
khos() { i=1; while read -r a; do echo "$a $(sed -n "\${i}p" /sys/kernel/debug/kho/out/scratch_len)"; i=$((i + 1)); done < /sys/kernel/debug/kho/out/scratch_phys; }
if [ -d /sys/kernel/debug/kho/out ]; then sec kho-scratch khos; fi
# gzip first: QEMU's virt fdt is 1 MiB of mostly padding and the emulated UART is slow
if [ -e /sys/firmware/fdt ]; then sec fdt.gz.b64 sh -c 'gzip -c /sys/firmware/fdt | base64'; fi
sec kexec-version ${kx} --version
${
  plan.collect === undefined
    ? ""
    : `# the shipped collection script, run as a user would run it (as root, before the load)
/bin/kexec-lab-collect /tmp/collect > /tmp/collect.out 2>&1
sec collect-out cat /tmp/collect.out
sec collect.tar.gz.b64 sh -c 'cd /tmp/collect && tar -czf - . | base64'
`
}dmesg > /tmp/dmesg.before
${cmd} > /tmp/kx.out 2>&1
echo $? > /tmp/kx.rc
sec kexec-d cat /tmp/kx.out
sec exit-code cat /tmp/kx.rc
sec cma-after cma
sec dmesg dmesg
sec kexec_loaded catf /sys/kernel/kexec_loaded
sec kexec_crash_loaded catf /sys/kernel/kexec_crash_loaded
if [ "$(cat /tmp/kx.rc)" = 0 ] && [ ${plan.confirm ? 1 : 0} = 1 ]; then
  echo 7 > /proc/sys/kernel/printk
  echo "${M_EXEC}"
  # let the UART drain: a panic or kexec -e right away can lose the marker still in the tty buffer
  sleep 2
  ${exec}
  echo "@@KXL-EXEC-RETURNED $?@@"
fi
echo "${M_DONE}"
poweroff -f
sleep 5
echo b > /proc/sysrq-trigger
`;
}

/** The initramfs for a plan (uncompressed newc; the kernel takes it as is). */
export function buildInitramfs(plan: GuestPlan): Uint8Array {
  const enc = new TextEncoder();
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string): void => {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ kind: "dir", path: d });
      }
    }
  };
  const file = (p: string, data: Uint8Array, mode = 0o644): void => {
    dir(p.split("/").slice(0, -1).join("/"));
    entries.push({ kind: "file", path: p, data, mode });
  };
  file("bin/busybox", readFileSync(plan.busybox), 0o755);
  entries.push({ kind: "symlink", path: "bin/sh", target: "busybox" });
  for (const k of plan.kexecs) {
    file(`kx/${k.name}/sbin/kexec`, readFileSync(k.binary), 0o755);
    for (const [so, host] of k.libs) file(`kx/${k.name}/lib/${so}`, readFileSync(host), 0o755);
    const ld = k.interp.split("/").at(-1)!;
    file(
      `bin/kexec-${k.name}`,
      enc.encode(
        `#!/bin/sh\nexec /kx/${k.name}/lib/${ld} --library-path /kx/${k.name}/lib /kx/${k.name}/sbin/kexec "$@"\n`,
      ),
      0o755,
    );
  }
  if (plan.collect !== undefined) {
    file("bin/kexec-lab-collect", readFileSync(plan.collect), 0o755);
    // what `command -v kexec` finds: this case's kexec-tools build
    file("bin/kexec", enc.encode(`#!/bin/sh\nexec /bin/kexec-${plan.kexecName} "$@"\n`), 0o755);
  }
  for (const [g, host] of plan.files) file(g.replace(/^\//, ""), readFileSync(host));
  for (const [g, data] of plan.blobs) file(g.replace(/^\//, ""), data);
  file("init", enc.encode(plan.init ?? initScript(plan)), 0o755);
  return writeNewc(entries);
}
