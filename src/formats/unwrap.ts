/**
 * Kernel files as distributions ship them, peeled layer by layer down to the kernel a loader places:
 *
 *   UKI (a PE file with a .linux section)  -> .linux (+ .initrd, .cmdline, .uname, .osrel, .dtb)
 *   EFI zboot ("MZ" + "zimg")              -> the decompressed payload (an arm64 Image)
 *   compressed (gzip, zstd, xz, lz4)       -> the decompressed stream
 *
 * Layers nest (a UKI's .linux can be a zboot image) up to MAX_LAYERS. Every decompression is capped
 * (DecompressOptions.maxOutput) and reports progress. The result says what each layer was, so the
 * loader rules (src/loader/accept.ts) can judge the outer file and `plan` can place the inner one.
 */

import { KexecLabError } from "../errors.js";
import { formatBytes } from "../report/format.js";
import { isArm64Image } from "./arm64-image.js";
import {
  BZIMAGE_MIN_PROTOCOL,
  isBzImage,
  LOADED_HIGH,
  parseBzImage,
  XLF_CAN_BE_LOADED_ABOVE_4G,
  XLF_KERNEL_64,
} from "./bzimage.js";
import { type CompressionMethod, detectCompression } from "./compression.js";
import { type DecompressOptions, decompress } from "./decompress.js";
import { isElf, parseElf64 } from "./elf.js";
import { findSection, isPe, type PeFile, type PeSection, parsePe, peSectionData } from "./pe.js";
import { isZboot, parseZboot, type ZbootImage, zbootPayload } from "./zboot.js";

export const MAX_LAYERS = 4;

/** A kernel file as the loaders see it: its outer wrapping and what is inside. */
export type KernelFileFormat =
  | { kind: "arm64-image" }
  | { kind: "compressed"; method: string; inner: KernelFileFormat }
  | { kind: "zboot"; compressionName: string; inner: KernelFileFormat }
  | { kind: "uki"; inner: KernelFileFormat; hasInitrd: boolean }
  | {
      kind: "bzimage";
      /** What kexec-tools' bzImage64_probe wants: protocol >= 2.12, LOADED_HIGH, XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G. */
      bzImage64: boolean;
      /** LOADED_HIGH: a bzImage (not a zImage) for every kexec-tools bzImage loader. */
      loadedHigh: boolean;
      protocol: string;
      /** Why it is not a bzImage64, and the header field that says so. */
      why64?: string;
      field?: string;
    }
  | { kind: "elf"; arch: "arm64" | "x86_64" | "unknown" }
  | { kind: "other" };

export type UnwrapLayer =
  | {
      kind: "uki";
      pe: PeFile;
      linux: PeSection;
      initrd?: PeSection;
      cmdline?: string;
      uname?: string;
      osrel?: string;
    }
  | { kind: "zboot"; zboot: ZbootImage; decompressedSize: number }
  | { kind: "compressed"; method: CompressionMethod; compressedSize: number; decompressedSize: number };

export interface UnwrappedKernel {
  /** The outer file's format, layers included. */
  format: KernelFileFormat;
  /** Outer to inner. */
  layers: UnwrapLayer[];
  /** The innermost bytes: the kernel a loader places. */
  kernel: Uint8Array;
  /** A UKI's .initrd section. */
  initrd?: Uint8Array;
  /** A UKI's .dtb section. */
  dtb?: Uint8Array;
}

/** UKI: a PE file with a .linux section (systemd's UKI specification; kexec-tools kexec/kexec-uki.c). */
export function isUki(bytes: Uint8Array): boolean {
  if (!isPe(bytes) || isZboot(bytes) || isArm64Image(bytes)) return false;
  try {
    return findSection(parsePe(bytes), ".linux") !== undefined;
  } catch {
    return false;
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\0+$/, "");

/** The format of raw (unwrapped) kernel bytes. */
export function rawFormat(bytes: Uint8Array): KernelFileFormat {
  if (isArm64Image(bytes)) return { kind: "arm64-image" };
  if (isBzImage(bytes)) {
    try {
      const bz = parseBzImage(bytes);
      // In bzImage64_probe's order (kexec/arch/x86_64/kexec-bzImage64.c).
      const why: [string, string][] = [];
      if (bz.protocol < BZIMAGE_MIN_PROTOCOL) why.push([`protocol ${bz.protocolVersion} < 2.12`, "version"]);
      const loadedHigh = (bz.loadflags & LOADED_HIGH) !== 0;
      if (!loadedHigh) why.push(["no LOADED_HIGH", "loadflags"]);
      if (bz.protocol >= BZIMAGE_MIN_PROTOCOL) {
        if ((bz.xloadflags & XLF_KERNEL_64) === 0) why.push(["no XLF_KERNEL_64", "xloadflags"]);
        if ((bz.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G) === 0)
          why.push(["no XLF_CAN_BE_LOADED_ABOVE_4G", "xloadflags"]);
      }
      return {
        kind: "bzimage",
        bzImage64: why.length === 0,
        loadedHigh,
        protocol: bz.protocolVersion,
        ...(why.length > 0 ? { why64: why.map((w) => w[0]).join(", "), field: why[0]![1] } : {}),
      };
    } catch {
      return { kind: "other" };
    }
  }
  if (isElf(bytes)) {
    try {
      return { kind: "elf", arch: parseElf64(bytes).arch };
    } catch {
      return { kind: "other" };
    }
  }
  return { kind: "other" };
}

/**
 * Peel `bytes` down to the kernel. Errors: those of the parsers and decompress() (E_LIMIT for a bomb,
 * E_COMPRESSION_UNSUPPORTED for lzo/bzip2, E_FORMAT_* for broken layers), and E_FORMAT_CORRUPT for
 * more than MAX_LAYERS nested layers.
 */
export async function unwrapKernel(
  bytes: Uint8Array,
  file?: string,
  opts: Omit<DecompressOptions, "file" | "offset" | "what"> = {},
): Promise<UnwrappedKernel> {
  const layers: UnwrapLayer[] = [];
  let cur = bytes;
  let initrd: Uint8Array | undefined;
  let dtb: Uint8Array | undefined;
  const name = (what: string) => (file !== undefined ? `${file} ${what}` : what);
  for (let depth = 0; ; depth++) {
    if (depth > MAX_LAYERS) {
      throw new KexecLabError(
        "E_FORMAT_CORRUPT",
        `more than ${MAX_LAYERS} nested layers (UKI/zboot/compressed)`,
        file !== undefined ? { file, offset: 0 } : { offset: 0 },
      );
    }
    if (isZboot(cur)) {
      const z = parseZboot(cur, file);
      const method = z.method ?? z.detected;
      if (method === undefined) {
        throw new KexecLabError(
          "E_COMPRESSION_UNSUPPORTED",
          `zboot compression "${z.compressionName}" is not one kexec-lab knows`,
          file !== undefined
            ? { file, offset: 0x18, field: "compress_type" }
            : { offset: 0x18, field: "compress_type" },
        );
      }
      const d = await decompress(zbootPayload(cur, z), method, {
        ...opts,
        ...(file !== undefined ? { file } : {}),
        offset: z.payloadOffset,
        what: name("zboot payload"),
        // The build's appended size: lzma streams from stdin record no size of their own.
        ...(method === "lzma" && z.declaredSize !== undefined ? { sizeHint: z.declaredSize } : {}),
      });
      layers.push({ kind: "zboot", zboot: z, decompressedSize: d.bytes.length });
      cur = d.bytes;
      continue;
    }
    if (isUki(cur)) {
      const pe = parsePe(cur, file);
      const linux = findSection(pe, ".linux")!;
      const layer: UnwrapLayer & { kind: "uki" } = { kind: "uki", pe, linux };
      const initrdS = findSection(pe, ".initrd");
      if (initrdS) {
        layer.initrd = initrdS;
        initrd = peSectionData(cur, initrdS, file).slice();
      }
      const dtbS = findSection(pe, ".dtb");
      if (dtbS) dtb = peSectionData(cur, dtbS, file).slice();
      for (const [sec, key] of [
        [".cmdline", "cmdline"],
        [".uname", "uname"],
        [".osrel", "osrel"],
      ] as const) {
        const s = findSection(pe, sec);
        if (s) layer[key] = text(peSectionData(cur, s, file));
      }
      layers.push(layer);
      cur = peSectionData(cur, linux, file).slice();
      continue;
    }
    const method = detectCompression(cur);
    if (method !== undefined) {
      const d = await decompress(cur, method, {
        ...opts,
        ...(file !== undefined ? { file } : {}),
        offset: 0,
        what: name("kernel"),
      });
      layers.push({
        kind: "compressed",
        method,
        compressedSize: cur.length,
        decompressedSize: d.bytes.length,
      });
      cur = d.bytes;
      continue;
    }
    break;
  }
  let format = rawFormat(cur);
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    if (l.kind === "compressed") format = { kind: "compressed", method: l.method, inner: format };
    else if (l.kind === "zboot")
      format = { kind: "zboot", compressionName: l.zboot.compressionName, inner: format };
    else format = { kind: "uki", inner: format, hasInitrd: l.initrd !== undefined };
  }
  return { format, layers, kernel: cur, ...(initrd ? { initrd } : {}), ...(dtb ? { dtb } : {}) };
}

/** One line per layer: what a loader (or kexec-lab) did to reach the kernel. */
export function describeLayers(layers: readonly UnwrapLayer[]): string[] {
  return layers.map((l) => {
    if (l.kind === "uki")
      return `UKI: extracted .linux (${formatBytes(l.linux.virtualSize)})${l.initrd ? ` and .initrd (${formatBytes(l.initrd.virtualSize)})` : ""}${l.cmdline !== undefined ? "; .cmdline not used by kexec-tools" : ""}`;
    if (l.kind === "zboot")
      return `EFI zboot: payload at 0x${l.zboot.payloadOffset.toString(16)} (${formatBytes(l.zboot.payloadSize)}, ${l.zboot.compressionName}) decompressed to ${formatBytes(l.decompressedSize)}`;
    return `${l.method}: ${formatBytes(l.compressedSize)} decompressed to ${formatBytes(l.decompressedSize)}`;
  });
}
