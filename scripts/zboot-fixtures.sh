#!/usr/bin/env bash
# Copy EFI zboot images built by the kernel's own build into test/fixtures/zboot, with a manifest.
#
# The images come from scripts/record/build-arm64-kernel.sh (the loaders-recording work): Debian's
# linux-source-6.1 (6.1.192-2), `make ARCH=arm64 tinyconfig` plus EFI, EFI_STUB, EFI_ZBOOT, KEXEC...,
# cross-compiled with Debian's gcc-aarch64-linux-gnu, then one `make vmlinuz.efi` per
# CONFIG_KERNEL_<comp>. It writes $SRC/{Image,vmlinuz-<comp>.efi,manifest.json}.
#
# For each image this records the payload (offset/size from the zboot header) decompressed by the
# real tool (gzip/zstd/xz/lz4/lzma/lzop -d): its size and sha256 ("inner"), and whether it is the
# build's saved Image byte for byte (the first build's; later `make vmlinuz.efi` runs relink vmlinux,
# which bumps the "#N" build number in the version string, so only the first zboot holds that Image).
#
# Usage: scripts/zboot-fixtures.sh [comp ...]   (default: gzip lz4 lzma zstd; env SRC, default ~/.cache/kexec-lab/artifacts/kernel-arm64)
set -euo pipefail
SRC=${SRC:-${XDG_CACHE_HOME:-$HOME/.cache}/kexec-lab/artifacts/kernel-arm64}
DST=$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/zboot
comps=("$@")
((${#comps[@]})) || comps=(gzip lz4 lzma zstd)
mkdir -p "$DST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
img_sha=$(sha256sum "$SRC/Image" | cut -d' ' -f1)
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
{
  echo "["
  first=1
  for c in "${comps[@]}"; do
    f="vmlinuz-$c.efi"
    [[ -f "$SRC/$f" ]] || { echo "zboot-fixtures: $SRC/$f missing" >&2; exit 1; }
    cp "$SRC/$f" "$DST/$f"
    name=$(dd if="$DST/$f" bs=1 skip=24 count=32 2>/dev/null | tr -d '\0')
    off=$(u32 "$DST/$f" 8)
    size=$(u32 "$DST/$f" 12)
    dd if="$DST/$f" of="$tmp/payload" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none
    case "$name" in
      gzip) gzip -dc "$tmp/payload" >"$tmp/inner" ;;
      zstd22) zstd -qdc "$tmp/payload" >"$tmp/inner" ;;
      xzkern) xz -dc "$tmp/payload" >"$tmp/inner" ;;
      lz4) lz4 -dc "$tmp/payload" >"$tmp/inner" ;;
      lzma) lzma -dc "$tmp/payload" >"$tmp/inner" ;;
      lzo) lzop -dc "$tmp/payload" >"$tmp/inner" ;;
      *) echo "zboot-fixtures: unknown compression $name" >&2; exit 1 ;;
    esac
    inner_sha=$(sha256sum "$tmp/inner" | cut -d' ' -f1)
    same=false
    [[ "$inner_sha" == "$img_sha" ]] && same=true
    ((first)) || echo ","
    first=0
    printf '  {"file": "%s", "compression": "%s", "size": %d, "sha256": "%s", "innerSize": %d, "innerSha256": "%s", "isBuildImage": %s}' \
      "$f" "$name" "$(stat -c %s "$DST/$f")" "$(sha256sum "$DST/$f" | cut -d' ' -f1)" \
      "$(stat -c %s "$tmp/inner")" "$inner_sha" "$same"
  done
  echo
  echo "]"
} >"$DST/manifest.json"
cat "$DST/manifest.json"
