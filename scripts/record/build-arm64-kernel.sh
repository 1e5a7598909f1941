#!/usr/bin/env bash
# Build a small arm64 Linux from Debian's own linux-source-6.1 with CONFIG_KEXEC_FILE (Debian's arm64 6.1 kernel
# lacks it), plus one EFI zboot image (vmlinuz.efi) per compression the 6.1 tree offers for zboot.
#
# Outputs (not in the repo): $OUT (default $WORK/kernel-arm64, WORK default ~/.cache/kexec-lab/artifacts)
#   Image, vmlinuz-<comp>.efi for gzip lz4 lzma lzo xz zstd, config, manifest.json (size + sha256 of each file)
# Needs (Debian): gcc-aarch64-linux-gnu make bc flex bison libssl-dev libelf-dev lz4 lzop zstd xz-utils
# Usage: scripts/record/build-arm64-kernel.sh [--manifest-only]   (env: OUT, WORK, JOBS, LINUX_SOURCE_VERSION)
set -euo pipefail
start=$(date +%s)
WORK=${WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/kexec-lab/artifacts}
OUT=${OUT:-$WORK/kernel-arm64}
CACHE=${CACHE:-${RECORD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kexec-lab/record}}
JOBS=${JOBS:-2}
VER=${LINUX_SOURCE_VERSION:-6.1.192-2}
SRC=$WORK/linux-source-6.1
BUILD=$WORK/kernel-arm64-build
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
    echo "  \"source\": \"Debian linux-source-6.1 $VER\","
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

deb=$(ls "$CACHE"/src/linux-source-6.1_"${VER}"_all.deb 2>/dev/null || true)
if [[ -z "$deb" ]]; then
  (cd "$CACHE/src" && apt-get download "linux-source-6.1=$VER")
  deb=$(ls "$CACHE"/src/linux-source-6.1_"${VER}"_all.deb)
fi
if [[ ! -f "$SRC/Makefile" ]]; then
  tmp=$WORK/linux-src-deb
  mkdir -p "$tmp"
  [[ -f $tmp/usr/src/linux-source-6.1.tar.xz ]] || dpkg -x "$deb" "$tmp"
  tar -C "$WORK" -xf "$tmp/usr/src/linux-source-6.1.tar.xz"
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
nice "${M[@]}" olddefconfig
for opt in KEXEC KEXEC_FILE CRASH_DUMP PROC_VMCORE EFI EFI_STUB EFI_ZBOOT DYNAMIC_DEBUG DEBUG_FS SERIAL_AMBA_PL011_CONSOLE BLK_DEV_INITRD SMP; do
  grep -q "^CONFIG_${opt}=y" "$BUILD/.config" || { echo "build-arm64-kernel: CONFIG_${opt} did not stick" >&2; exit 1; }
done
nice "${M[@]}" Image
cp "$BUILD/arch/arm64/boot/Image" "$OUT/Image"
cp "$BUILD/.config" "$OUT/config"
cp "$BUILD/vmlinux" "$OUT/vmlinux" 2>/dev/null || true

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
