#!/bin/sh
# Recount what src/model/phases.ts SHA256_BLOCK says about kexec-tools' purgatory SHA-256: build
# util_lib/sha256.c as purgatory/Makefile builds sha256.o for arm64 (-O2, the arm64 purgatory flags) with
# Debian's cross compiler (gcc-aarch64-linux-gnu; X86=1 CC=gcc OBJDUMP=objdump for the x86_64 build), and count sha256_process's instructions, loads and
# stores in its disassembly. Needs a kexec-tools checkout (KEXEC_TOOLS, a work tree or a bare git dir).
#
#   git clone https://git.kernel.org/pub/scm/utils/kernel/kexec/kexec-tools.git /tmp/kexec-tools
#   KEXEC_TOOLS=/tmp/kexec-tools sh bench/purgatory-sha256.sh
set -eu
src=${KEXEC_TOOLS:?KEXEC_TOOLS must name a kexec-tools checkout (a work tree or a bare git dir)}
cc=${CC:-aarch64-linux-gnu-gcc}
dump=${OBJDUMP:-aarch64-linux-gnu-objdump}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -d "$src/util_lib" ]; then
  cp "$src/util_lib/sha256.c" "$src/util_lib/include/sha256.h" "$tmp/"
else
  git -C "$src" show HEAD:util_lib/sha256.c >"$tmp/sha256.c"
  git -C "$src" show HEAD:util_lib/include/sha256.h >"$tmp/sha256.h"
fi
# freestanding: the two headers sha256.c needs, reduced to what it uses
mkdir -p "$tmp/inc/sys"
printf '#include <stddef.h>\nvoid *memcpy(void *, const void *, size_t);\nvoid *memset(void *, int, size_t);\n' >"$tmp/inc/string.h"
printf '#include <stddef.h>\n' >"$tmp/inc/sys/types.h"
arch_flags=""
if [ "${X86:-0}" = 1 ]; then arch_flags="-march=x86-64 -mno-mmx -mno-sse -mno-sse2 -mno-avx"; fi
# shellcheck disable=SC2086
"$cc" -O2 -mcmodel=large $arch_flags -fno-PIC -fno-stack-protector -fno-asynchronous-unwind-tables \
  -ffreestanding -fno-builtin -nostdinc -isystem "$("$cc" -print-file-name=include)" \
  -I"$tmp/inc" -I"$tmp" -c "$tmp/sha256.c" -o "$tmp/sha256.o"
"$dump" -d "$tmp/sha256.o" | awk '/<sha256_process>:/,/^$/' | grep -E '^ +[0-9a-f]+:' >"$tmp/p.txt"
insns=$(wc -l <"$tmp/p.txt")
loads=$(grep -cE '	(ldr|ldrb|ldrh|ldp|ldur)	' "$tmp/p.txt" || true)
stores=$(grep -cE '	(str|strb|strh|stp|stur)	' "$tmp/p.txt" || true)
if [ "${X86:-0}" = 1 ]; then
  echo "sha256_process (x86_64): $insns instructions per 64-byte block"
else
  echo "sha256_process (arm64): $insns instructions ($((insns * 4)) bytes of code), $loads loads, $stores stores per 64-byte block"
fi
