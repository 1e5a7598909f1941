/**
 * Compressed kernels: which method a byte stream uses (from its magic bytes) and the names the
 * kernel's build uses for them.
 *
 * Magic numbers (each format's own specification; the kernel's lib/decompress.c table lists the
 * same ones for its in-kernel decompressors):
 *   gzip 1f 8b (RFC 1952)              zstd 28 b5 2f fd (RFC 8878)       xz fd 37 7a 58 5a 00
 *   bzip2 "BZh"                        lz4 frame 04 22 4d 18             lz4 legacy 02 21 4c 18
 *   lzop 89 4c 5a 4f 00 0d 0a 1a 0a    lzma (LZMA-alone) 5d 00 00 + dictionary size
 *
 * The kernel's `lz4` (scripts/Makefile.lib cmd_lz4: `lz4 -l`) writes the legacy format; the `lz4`
 * tool without -l writes frames. `lzma` (cmd_lzma: `lzma -9`) is the LZMA-alone format; `xzkern`
 * (cmd_xzkern: scripts/xz_wrap.sh) is an .xz stream with CRC32.
 */

export type CompressionMethod = "gzip" | "zstd" | "xz" | "lzma" | "lz4" | "lz4-legacy" | "bzip2" | "lzo";

/** Every method kexec-lab recognises, in a fixed order. */
export const COMPRESSION_METHODS: readonly CompressionMethod[] = [
  "gzip",
  "zstd",
  "xz",
  "lzma",
  "lz4",
  "lz4-legacy",
  "bzip2",
  "lzo",
];

function startsWith(b: Uint8Array, at: number, sig: readonly number[]): boolean {
  if (at < 0 || at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

/**
 * The compression method of the stream at `at`, from its magic bytes, or undefined.
 * LZMA-alone has no magic: it is recognised by the properties byte 0x5d (lc=3 lp=0 pb=2, what every
 * `lzma` tool writes by default) followed by a power-of-two-ish dictionary size below 2^30 and a
 * 64-bit size that is either unknown (all ones) or below 2^40.
 */
export function detectCompression(b: Uint8Array, at = 0): CompressionMethod | undefined {
  if (startsWith(b, at, [0x1f, 0x8b])) return "gzip";
  if (startsWith(b, at, [0x28, 0xb5, 0x2f, 0xfd])) return "zstd";
  if (startsWith(b, at, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "xz";
  if (startsWith(b, at, [0x04, 0x22, 0x4d, 0x18])) return "lz4";
  if (startsWith(b, at, [0x02, 0x21, 0x4c, 0x18])) return "lz4-legacy";
  if (startsWith(b, at, [0x42, 0x5a, 0x68]) && b[at + 3]! >= 0x31 && b[at + 3]! <= 0x39) return "bzip2";
  if (startsWith(b, at, [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a])) return "lzo";
  if (b[at] === 0x5d && at + 13 <= b.length) {
    const dict = (b[at + 1]! | (b[at + 2]! << 8) | (b[at + 3]! << 16) | (b[at + 4]! << 24)) >>> 0;
    let unknown = true;
    for (let i = 5; i < 13; i++) if (b[at + i] !== 0xff) unknown = false;
    const sizeOk = unknown || (b[at + 10] === 0 && b[at + 11] === 0 && b[at + 12] === 0);
    if (dict >= 4096 && dict <= 0x40000000 && sizeOk) return "lzma";
  }
  return undefined;
}

/**
 * The compression names of the kernel's EFI zboot header (drivers/firmware/efi/libstub/Makefile.zboot:
 * comp-type-$(CONFIG_KERNEL_*)), mapped to the stream format each one produces.
 */
export const ZBOOT_COMPRESSION: Readonly<Record<string, CompressionMethod>> = {
  gzip: "gzip",
  lz4: "lz4-legacy",
  lzma: "lzma",
  lzo: "lzo",
  xzkern: "xz",
  zstd22: "zstd",
  zstd: "zstd",
  bzip2: "bzip2",
};
