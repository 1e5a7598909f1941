/**
 * What the reboot model needs to know about the kernel being entered: its format, and for an x86_64
 * bzImage the compressed payload's codec and sizes (the decompression the kernel does on itself).
 * Reads the bytes the loader loads (formats/bzimage.ts parseBzImage: payload_offset/payload_length and
 * the payload's magic). Every compressed payload ends with its uncompressed size, 4 bytes little-endian:
 * gzip's own trailer (ISIZE, RFC 1952) and, for bzip2/lzma/xz/lzo/lz4/zstd, the size the kernel build
 * appends (arch/x86/boot/compressed/Makefile, size_append; mkpiggy.c reads it from the same place as
 * the decompressor's output length); init_size (0x260, protocol 2.10+) bounds it. Only when the payload
 * is not in the bytes, or its trailer is out of bounds, does the codec's ASSUMED_RATIO apply, and says so.
 */

import { isArm64Image } from "../formats/arm64-image.js";
import { isBzImage, parseBzImage } from "../formats/bzimage.js";
import type { ReadFile, Scenario } from "../scenario/load.js";
import { ASSUMED_RATIO, type Codec, type KernelPayload } from "./phases.js";

const CODECS: readonly Codec[] = ["gzip", "bzip2", "lzma", "xz", "lzo", "lz4", "zstd"];

/** An arm64 Image of `size` bytes: entered as loaded, nothing to decompress. */
function imagePayload(size: number): KernelPayload {
  return { format: "Image", codec: "none", compressedBytes: size, uncompressedBytes: size, sizeFrom: "file" };
}

/**
 * The payload of a kernel file. `bytes`: the file as loaded (or at least its headers); `size`: its
 * length when `bytes` holds only part of it. A bzImage's uncompressed size is its payload's last four
 * bytes (see above); one whose payload magic is not recognised (e.g. the synthetic default scenario's),
 * or whose payload is cut off or states a size above init_size, is taken at the codec's assumed ratio
 * (gzip when unknown), labelled "assumed". Reads header fields and four bytes: nothing is decompressed.
 */
export function kernelPayloadOf(bytes: Uint8Array, size = bytes.length): KernelPayload {
  if (isArm64Image(bytes)) {
    return imagePayload(size);
  }
  if (isBzImage(bytes)) {
    let codec: Codec = "gzip";
    let compressed = Math.max(0, size - 0x4000);
    let uncompressed = -1;
    try {
      const bz = parseBzImage(bytes);
      if (bz.payloadLength > 0) compressed = bz.payloadLength;
      if ((CODECS as readonly string[]).includes(bz.payloadFormat)) codec = bz.payloadFormat as Codec;
      else if (bz.payloadFormat === "elf") codec = "none";
      // payload_offset is relative to the protected-mode code, which starts after the setup sectors.
      const end = bz.setupSize + bz.payloadOffset + bz.payloadLength;
      if (codec !== "none" && bz.payloadFormat === codec && bz.payloadLength >= 4 && end <= bytes.length) {
        const appended =
          (bytes[end - 4]! | (bytes[end - 3]! << 8) | (bytes[end - 2]! << 16) | (bytes[end - 1]! << 24)) >>>
          0;
        if (appended > 0 && (bz.initSize === 0 || appended <= bz.initSize)) uncompressed = appended;
      }
    } catch {
      // a header the parser refuses: keep the assumptions
    }
    const fromFile = uncompressed > 0;
    return {
      format: "bzImage",
      codec,
      compressedBytes: compressed,
      uncompressedBytes:
        codec === "none"
          ? compressed
          : fromFile
            ? uncompressed
            : Math.round(compressed * ASSUMED_RATIO[codec]),
      sizeFrom: fromFile || codec === "none" ? "file" : "assumed",
    };
  }
  if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    return { format: "elf", codec: "none", compressedBytes: size, uncompressedBytes: size, sizeFrom: "file" };
  }
  return {
    format: "unknown",
    codec: "none",
    compressedBytes: size,
    uncompressedBytes: size,
    sizeFrom: "file",
  };
}

/**
 * The kernel of a scenario whose kernel bytes are synthetic (the embedded default): an arm64 Image, or
 * an x86_64 bzImage whose gzip payload is the file minus its 16 KiB of setup, at the assumed ratio.
 */
export function syntheticKernelPayload(arch: "arm64" | "x86_64", size: number): KernelPayload {
  if (arch === "arm64") {
    return imagePayload(size);
  }
  const compressed = Math.max(0, size - 0x4000);
  return {
    format: "bzImage",
    codec: "gzip",
    compressedBytes: compressed,
    uncompressedBytes: Math.round(compressed * ASSUMED_RATIO.gzip),
    sizeFrom: "assumed",
  };
}

/**
 * The kernel of a scenario file (src/scenario/load.ts), so that `run --scenario` models the same
 * phases as `run --kernel`: with `files`, the kernel file as the loader reads it (placeScenarioFiles);
 * otherwise the explicit segment labelled "kernel": a file segment's bytes (up to `bufsz`, as loaded),
 * or for synthetic contents the arch's kernel (syntheticKernelPayload: an Image on arm64, a bzImage
 * with a gzip payload at the assumed ratio on x86_64, labelled "assumed"). Undefined when no segment
 * is labelled "kernel" or it is all zero. Errors: whatever `readFile` throws (E_FILE_READ).
 */
export function scenarioKernelPayload(sc: Scenario, readFile: ReadFile): KernelPayload | undefined {
  if (sc.files !== undefined) return kernelPayloadOf(readFile(sc.files.kernel));
  const k = sc.segments.find((s) => s.label === "kernel");
  if (k === undefined) return undefined;
  switch (k.content.kind) {
    case "zero":
      return undefined;
    case "synthetic":
      return syntheticKernelPayload(sc.arch, k.bufsz ?? k.memsz);
    case "file": {
      const data = readFile(k.content.path);
      return kernelPayloadOf(
        k.bufsz !== undefined && k.bufsz < data.length ? data.subarray(0, k.bufsz) : data,
      );
    }
  }
}
