#!/usr/bin/env bash
# Build a small arm64 Linux from Debian's own kernel source with CONFIG_KEXEC_FILE (no Debian arm64 kernel has it:
# 6.1, 6.12 and 7.x alike), optionally CONFIG_KEXEC_HANDOVER (no Debian kernel has it), plus for the 6.1 build one
# EFI zboot image (vmlinuz.efi) per compression the tree offers for zboot.
#
# Three builds are known (LINUX_SERIES picks one; everything else follows from it unless set):
#   6.1  linux-source-6.1 6.1.192-2 (bookworm, the host's apt)           -> $WORK/kernel-arm64/      (+ zboot images)
#   6.12 linux-source-6.12 6.12.118-1 (trixie-security, through the recorder's private apt under $CACHE/apt-trixie)
#                                                                       -> $WORK/kernel-arm64-6.12/ (no KHO: 6.16+)
#   7.3  linux-source-7.3 7.3.4-1~bpo13+1 (trixie-backports, through the recorder's private apt under
#        $CACHE/apt-trixie, the one scripts/record/debs.ts writes)      -> $WORK/kernel-arm64-7.3/  (+ KEXEC_HANDOVER)
# Outputs (not in the repo): $OUT: Image, vmlinux, config, manifest.json (size + sha256 of each file),
#   vmlinuz-<comp>.efi for gzip lz4 lzma lzo xz zstd when ZBOOT=1
# Needs (Debian): gcc-aarch64-linux-gnu make bc flex bison libssl-dev libelf-dev lz4 lzop zstd xz-utils
# Usage: scripts/record/build-arm64-kernel.sh [--manifest-only | --config-only]
#   --config-only: fetch and unpack the source, write the config and check that every key option stuck; no build
#   env: LINUX_SERIES (6.1|6.12|7.3), LINUX_SOURCE_VERSION, PRIVATE_APT (dir of a private apt, '' = host apt),
#        KHO (1 = KEXEC_HANDOVER), ZBOOT (1 = zboot images), OUT, WORK, JOBS
set -euo pipefail
start=$(date +%s)
WORK=${WORK:-${RECORD_ARTIFACTS:-${XDG_CACHE_HOME:-$HOME/.cache}/kexec-lab/artifacts}}
CACHE=${CACHE:-${RECORD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexec-lab/record}}
JOBS=${JOBS:-2}
SERIES=${LINUX_SERIES:-6.1}
case $SERIES in
  6.1)
    VER=${LINUX_SOURCE_VERSION:-6.1.192-2}
    PRIVATE_APT=${PRIVATE_APT-}
    KHO=${KHO:-0}
    ZBOOT=${ZBOOT:-1}
    OUT=${OUT:-$WORK/kernel-arm64}
    BUILD=$WORK/kernel-arm64-build
    ;;
  6.12)
    VER=${LINUX_SOURCE_VERSION:-6.12.118-1}
    PRIVATE_APT=${PRIVATE_APT-$CACHE/apt-trixie}
    KHO=${KHO:-0}
    ZBOOT=${ZBOOT:-0}
    OUT=${OUT:-$WORK/kernel-arm64-$SERIES}
    BUILD=$WORK/kernel-arm64-$SERIES-build
    ;;
  7.3)
    VER=${LINUX_SOURCE_VERSION:-7.3.4-1~bpo13+1}
    PRIVATE_APT=${PRIVATE_APT-$CACHE/apt-trixie}
    KHO=${KHO:-1}
    ZBOOT=${ZBOOT:-0}
    OUT=${OUT:-$WORK/kernel-arm64-$SERIES}
    BUILD=$WORK/kernel-arm64-$SERIES-build
    ;;
  *) echo "build-arm64-kernel: LINUX_SERIES must be 6.1, 6.12 or 7.3" >&2; exit 2 ;;
esac
PKG=linux-source-$SERIES
SRC=$WORK/linux-source-$SERIES
mkdir -p "$OUT" "$CACHE/src" "$BUILD"

# manifest.json: size and sha256 of every output; for each zboot image the payload named in its header
# (drivers/firmware/efi/libstub/zboot-header.S: 'zimg' at 4, payload offset at 8 and size at 12, le32, the
# compression name at 0x18) is decompressed with the
# Debian tool; its size and sha256 are recorded and compared with Image (payloadIsImage). Switching the
# compression relinks vmlinux (new build timestamp), so only the first zboot (gzip) holds exactly Image.
le32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }
zboot_check() {
  local f=$1 comp=$2 off size tool
  [[ "$(dd if="$f" bs=1 skip=4 count=4 status=none)" == zimg ]] || { printf '"zboot": false'; return; }
  off=$(le32 "$f" 8)
  size=$(le32 "$f" 12)
  case $comp in
    gzip) tool="gzip -dc" ;; lz4) tool="lz4 -dc" ;; lzma) tool="lzma -dc" ;; lzo) tool="lzop -dc" ;;
    xz) tool="xz -dc --single-stream" ;; zstd) tool="zstd -dc" ;; *) printf '"zboot": "unknown compression"'; return ;;
  esac
  local tmp
  tmp=$(mktemp)
  tail -c +$((off + 1)) "$f" | head -c "$size" | $tool >"$tmp" 2>/dev/null || true
  printf '"payloadOffset": %d, "payloadSize": %d, "decompressedSize": %d, "decompressedSha256": "%s", "payloadIsImage": %s' \
    "$off" "$size" "$(stat -c %s "$tmp")" "$(sha256sum "$tmp" | cut -d' ' -f1)" \
    "$(cmp -s "$tmp" "$OUT/Image" && echo true || echo false)"
  rm -f "$tmp"
}
write_manifest() {
  local seconds=$1 first=1 f comp
  {
    echo "{"
    echo "  \"source\": \"Debian $PKG $VER\","
    echo "  \"kexecHandover\": $( ((KHO)) && echo true || echo false),"
    echo "  \"builtAt\": \"$(date -u -r "$OUT/Image" +%Y-%m-%dT%H:%M:%SZ)\","
    echo "  \"buildSeconds\": $seconds,"
    echo "  \"jobs\": $JOBS,"
    echo "  \"files\": ["
    for f in Image vmlinuz-gzip.efi vmlinuz-lz4.efi vmlinuz-lzma.efi vmlinuz-lzo.efi vmlinuz-xz.efi vmlinuz-zstd.efi; do
      [[ -f "$OUT/$f" ]] || continue
      ((first)) || echo ","
      first=0
      printf '    {"name": "%s", "size": %d, "sha256": "%s"' "$f" "$(stat -c %s "$OUT/$f")" \
        "$(sha256sum "$OUT/$f" | cut -d' ' -f1)"
      if [[ $f == vmlinuz-* ]]; then
        comp=${f#vmlinuz-}
        comp=${comp%.efi}
        printf ', "compression": "%s", %s' "$comp" "$(zboot_check "$OUT/$f" "$comp")"
      fi
      printf '}'
    done
    echo
    echo "  ]"
    echo "}"
  } >"$OUT/manifest.json"
  cat "$OUT/manifest.json"
}

if [[ ${1:-} == --manifest-only ]]; then
  write_manifest "$(cat "$OUT/build-seconds" 2>/dev/null || echo null)"
  exit 0
fi

# The private apt (PRIVATE_APT): its own sources list, lists and cache, dpkg status /dev/null, as
# test/helpers/debian-apt.ts privateAptOptions writes it; the host's apt configuration is never touched.
apt_opts=()
if [[ -n $PRIVATE_APT ]]; then
  [[ -d $PRIVATE_APT/etc/sources.list.d ]] || {
    echo "build-arm64-kernel: $PRIVATE_APT has no sources list (run npm run record:kexec once, it writes it)" >&2
    exit 2
  }
  for o in "Dir::Etc::sourcelist=$PRIVATE_APT/etc/sources.list" "Dir::Etc::sourceparts=$PRIVATE_APT/etc/sources.list.d" \
    "Dir::State::Lists=$PRIVATE_APT/lists" "Dir::Cache=$PRIVATE_APT/cache" "Dir::State::status=/dev/null" \
    "Acquire::Languages=none"; do apt_opts+=(-o "$o"); done
  [[ $(id -u) == 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)
  ls "$PRIVATE_APT"/lists/*_Packages* >/dev/null 2>&1 || apt-get "${apt_opts[@]}" update -qq
fi
debname="${PKG}_${VER/:/%3a}_all.deb"
if [[ ! -f "$CACHE/src/$debname" ]]; then
  (cd "$CACHE/src" && apt-get "${apt_opts[@]}" download "$PKG=$VER")
fi
deb="$CACHE/src/$debname"
if [[ ! -f "$SRC/Makefile" ]]; then
  tmp=$WORK/linux-src-deb-$SERIES
  mkdir -p "$tmp"
  [[ -f $tmp/usr/src/$PKG.tar.xz ]] || dpkg -x "$deb" "$tmp"
  tar -C "$WORK" -xf "$tmp/usr/src/$PKG.tar.xz"
fi

M=(make -C "$SRC" O="$BUILD" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -j"$JOBS")
cfg() { "$SRC/scripts/config" --file "$BUILD/.config" "$@"; }

nice "${M[@]}" tinyconfig
# KEXEC depends on PM_SLEEP_SMP (SMP + SUSPEND + HOTPLUG_CPU on arm64).
# Console and a userspace that runs busybox and a dynamically linked glibc kexec binary.
cfg -e 64BIT -e PRINTK -e PRINTK_TIME -e TTY -e SERIAL_AMBA_PL011 -e SERIAL_AMBA_PL011_CONSOLE \
  -e BLK_DEV_INITRD -e RD_GZIP -e BINFMT_ELF -e BINFMT_SCRIPT -e DEVTMPFS -e DEVTMPFS_MOUNT \
  -e PROC_FS -e PROC_SYSCTL -e SYSFS -e DEBUG_FS -e DEBUG_FS_ALLOW_ALL -e DYNAMIC_DEBUG -e DYNAMIC_DEBUG_CORE \
  -e MULTIUSER -e FUTEX -e POSIX_TIMERS -e EPOLL -e SIGNALFD -e TIMERFD -e EVENTFD -e FILE_LOCKING \
  -e SHMEM -e TMPFS -e MAGIC_SYSRQ -e KALLSYMS -e BUG -e ELF_CORE -e CRC32 \
  -e ARM_PSCI_FW -e SMP -e HOTPLUG_CPU -e PM -e SUSPEND -e PM_SLEEP \
  -e KEXEC -e KEXEC_FILE -e CRASH_DUMP -e PROC_VMCORE -e RELOCATABLE \
  -e EFI -e EFI_STUB -e EFI_ZBOOT \
  -e KERNEL_GZIP
cfg --set-val NR_CPUS 4
must=(KEXEC KEXEC_FILE CRASH_DUMP PROC_VMCORE EFI EFI_STUB DYNAMIC_DEBUG DEBUG_FS SERIAL_AMBA_PL011_CONSOLE BLK_DEV_INITRD SMP)
((ZBOOT)) && must+=(EFI_ZBOOT) || cfg -d EFI_ZBOOT
# KEXEC_HANDOVER (kernel/liveupdate/Kconfig, 6.16+) selects KEXEC_FILE, LIBFDT, CMA and MEMBLOCK_KHO_SCRATCH; its
# debugfs interface (KEXEC_HANDOVER_DEBUGFS: kho/out/{finalize,fdt,scratch_*}) selects DEBUG_FS. kho=on on the
# command line switches it on at boot (KEXEC_HANDOVER_ENABLE_DEFAULT stays off).
if ((KHO)); then
  cfg -e MMU -e CMA -e KEXEC_HANDOVER -e KEXEC_HANDOVER_DEBUGFS
  must+=(KEXEC_HANDOVER KEXEC_HANDOVER_DEBUGFS CMA MEMBLOCK_KHO_SCRATCH)
fi
nice "${M[@]}" olddefconfig
for opt in "${must[@]}"; do
  grep -q "^CONFIG_${opt}=y" "$BUILD/.config" || { echo "build-arm64-kernel: CONFIG_${opt} did not stick" >&2; exit 1; }
done
if [[ ${1:-} == --config-only ]]; then
  echo "build-arm64-kernel: $PKG $VER config in $BUILD/.config, every key option set ($(($(date +%s) - start)) s)"
  exit 0
fi
nice "${M[@]}" Image
cp "$BUILD/arch/arm64/boot/Image" "$OUT/Image"
cp "$BUILD/.config" "$OUT/config"
cp "$BUILD/vmlinux" "$OUT/vmlinux" 2>/dev/null || true

((ZBOOT)) || {
  end=$(date +%s)
  echo $((end - start)) >"$OUT/build-seconds"
  write_manifest $((end - start))
  echo "build-arm64-kernel: took $((end - start)) s"
  exit 0
}

# zboot: the 6.1 tree (drivers/firmware/efi/libstub/Makefile.zboot) takes its compression from the KERNEL_* choice.
for comp in gzip lz4 lzma lzo xz zstd; do
  up=$(echo "$comp" | tr a-z A-Z)
  cfg -d KERNEL_GZIP -d KERNEL_LZ4 -d KERNEL_LZMA -d KERNEL_LZO -d KERNEL_XZ -d KERNEL_ZSTD -e "KERNEL_$up"
  nice "${M[@]}" olddefconfig >/dev/null
  grep -q "^CONFIG_KERNEL_${up}=y" "$BUILD/.config" || { echo "build-arm64-kernel: KERNEL_${up} not offered" >&2; continue; }
  rm -f "$BUILD/arch/arm64/boot/vmlinuz.efi" "$BUILD/arch/arm64/boot/vmlinuz"*
  nice "${M[@]}" vmlinuz.efi
  cp "$BUILD/arch/arm64/boot/vmlinuz.efi" "$OUT/vmlinuz-$comp.efi"
done

end=$(date +%s)
echo $((end - start)) >"$OUT/build-seconds"
write_manifest $((end - start))
echo "build-arm64-kernel: took $((end - start)) s"
