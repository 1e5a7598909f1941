/**
 * Which kind of file is this, and what does it say: the library side of `kexec-lab inspect`.
 * Every summary is a plain JSON-ready object: addresses as "0x..." strings, sizes and counts as numbers.
 */

import { emptyFileError, KexecLabError } from "../errors.js";
import { isArm64Image, parseArm64Image } from "./arm64-image.js";
import { hex } from "./bytes.js";
import { isBzImage, parseBzImage } from "./bzimage.js";
import { COMPRESSION_METHODS, detectCompression } from "./compression.js";
import type { DecompressOptions } from "./decompress.js";
import { deviceTreeInfo } from "./devicetree.js";
import { isElf, parseElf64 } from "./elf.js";
import { isFdt, parseFdt } from "./fdt.js";
import { iomemToMemoryMap, looksLikeIomem, parseIomem } from "./iomem.js";
import { checkKernelComplete } from "./kernel-extent.js";
import { isPe, type PeFile, parsePe, peSectionData } from "./pe.js";
import { isUki, rawFormat, type UnwrapLayer, unwrapKernel } from "./unwrap.js";
import { isZboot, parseZboot } from "./zboot.js";

export type FileKind =
  | "arm64-image"
  | "bzimage"
  | "elf64"
  | "dtb"
  | "iomem"
  | "zboot"
  | "uki"
  | "pe"
  | "compressed";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The section table as `inspect` shows it (objdump -h's columns). */
function sectionRows(pe: PeFile): Record<string, unknown>[] {
  return pe.sections.map((s) => ({
    name: s.name,
    virtualSize: s.virtualSize,
    virtualAddress: hex(s.virtualAddress),
    rawSize: s.sizeOfRawData,
    rawOffset: hex(s.pointerToRawData),
    characteristics: hex(s.characteristics),
  }));
}

function peSummary(pe: PeFile): Record<string, unknown> {
  return {
    machine: pe.machineName,
    peFormat: pe.format,
    entryPoint: hex(pe.entryPoint),
    sizeOfImage: pe.sizeOfImage,
  };
}

function isText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09)) return false;
  }
  return true;
}

export function detectKind(bytes: Uint8Array): FileKind | undefined {
  if (isFdt(bytes)) return "dtb";
  if (isZboot(bytes)) return "zboot";
  if (isArm64Image(bytes)) return "arm64-image";
  if (isBzImage(bytes)) return "bzimage";
  if (isElf(bytes)) return "elf64";
  if (isUki(bytes)) return "uki";
  if (isPe(bytes)) return "pe";
  if (detectCompression(bytes) !== undefined) return "compressed";
  if (isText(bytes) && looksLikeIomem(new TextDecoder().decode(bytes))) return "iomem";
  return undefined;
}

export type InspectSummary = Record<string, unknown> & { kind: string };

/** Parse a file of any supported kind and summarize it. */
export function inspectBytes(bytes: Uint8Array, file?: string): InspectSummary {
  const kind = detectKind(bytes);
  if (bytes.length === 0) throw emptyFileError(file);
  if (kind === "arm64-image" || kind === "bzimage") checkKernelComplete(bytes, file);
  switch (kind) {
    case "arm64-image": {
      const h = parseArm64Image(bytes, file);
      return {
        kind: h.kind,
        textOffset: h.textOffset,
        imageSize: h.imageSize,
        pageSize: h.pageSize,
        bigEndian: h.bigEndian,
        placeAnywhere: h.placeAnywhere,
        efi: h.efi,
        flags: hex(h.flags),
        pre317: h.pre317,
        fileSize: h.fileSize,
      };
    }
    case "bzimage": {
      const h = parseBzImage(bytes, file);
      return {
        kind: h.kind,
        protocolVersion: h.protocolVersion,
        version: h.kernelVersion ?? null,
        entry64: h.kernel64,
        entry32: hex(h.code32Start),
        initSize: h.has.initSize ? h.initSize : null,
        prefAddress: hex(h.prefAddress),
        kernelAlignment: h.has.relocatable ? h.kernelAlignment : null,
        relocatable: h.relocatable,
        setupSects: h.setupSects,
        loadflags: hex(h.loadflags),
        xloadflags: hex(h.xloadflags),
        canBeLoadedAbove4G: h.canBeLoadedAbove4G,
        initrdAddrMax: hex(h.initrdAddrMax),
        cmdlineSize: h.cmdlineSize,
        payloadFormat: h.payloadFormat,
        payloadLength: h.payloadLength,
        fileSize: h.fileSize,
      };
    }
    case "elf64": {
      const e = parseElf64(bytes, file);
      return {
        kind: e.kind,
        arch: e.arch,
        machine: e.machine,
        bigEndian: e.bigEndian,
        entry: `0x${e.entry.toString(16)}`,
        loads: e.loads.map((l) => ({
          offset: l.offset,
          vaddr: `0x${l.vaddr.toString(16)}`,
          paddr: hex(l.paddr),
          filesz: l.filesz,
          memsz: l.memsz,
          align: l.align,
        })),
        fileSize: e.fileSize,
      };
    }
    case "dtb": {
      const fdt = parseFdt(bytes, file);
      const info = deviceTreeInfo(fdt);
      const chosen: Record<string, unknown> = {};
      const c = info.chosen;
      if (c) {
        if (c.bootargs !== undefined) chosen.bootargs = c.bootargs;
        if (c.initrdStart !== undefined) chosen.initrdStart = hex(c.initrdStart);
        if (c.initrdEnd !== undefined) chosen.initrdEnd = hex(c.initrdEnd);
        if (c.kaslrSeed !== undefined) {
          chosen.kaslrSeed = `0x${c.kaslrSeed.hi.toString(16).padStart(8, "0")}${c.kaslrSeed.lo.toString(16).padStart(8, "0")}`;
        }
        if (c.rngSeedBytes !== undefined) chosen.rngSeedBytes = c.rngSeedBytes;
        if (c.stdoutPath !== undefined) chosen.stdoutPath = c.stdoutPath;
        if (c.bootedFromKexec) chosen.bootedFromKexec = true;
        chosen.properties = c.properties;
      }
      return {
        kind: "dtb",
        version: fdt.version,
        totalSize: fdt.totalSize,
        addressCells: info.addressCells,
        sizeCells: info.sizeCells,
        memory: info.memory.map((m) => ({ start: hex(m.start), size: m.size })),
        memreserve: info.memreserve.map((m) => ({ start: hex(m.start), size: m.size })),
        reservedMemory: info.reservedMemory.flatMap((n): Record<string, unknown>[] =>
          n.reg.length > 0
            ? n.reg.map((r) => ({ name: n.name, start: hex(r.start), size: r.size, noMap: n.noMap }))
            : [{ name: n.name, start: null, size: n.dynamicSize ?? 0, noMap: n.noMap, dynamic: true }],
        ),
        chosen: c ? chosen : null,
      };
    }
    case "iomem": {
      const io = parseIomem(new TextDecoder().decode(bytes), file);
      const map = iomemToMemoryMap(io);
      return {
        kind: io.kind,
        entries: io.entries.length,
        ram: map.ram.ranges.map((r) => ({ start: hex(r.start), size: r.end - r.start })),
        reserved: map.regions
          .filter((r) => r.type === "reserved")
          .map((r) => ({ name: r.name, start: hex(r.start), size: r.end - r.start })),
        usableBytes: map.usable.totalBytes,
        crashKernel: io.crashKernel.map((r) => ({ start: hex(r.start), size: r.end - r.start })),
      };
    }
    case "zboot": {
      const z = parseZboot(bytes, file);
      return {
        kind: "zboot",
        ...peSummary(z.pe),
        payloadOffset: hex(z.payloadOffset),
        payloadSize: z.payloadSize,
        compression: z.compressionName,
        method: z.method ?? z.detected ?? null,
        declaredSize: z.declaredSize ?? null,
        fileSize: z.fileSize,
        sections: sectionRows(z.pe),
      };
    }
    case "uki":
    case "pe": {
      const pe = parsePe(bytes, file);
      const out: InspectSummary = { kind, ...peSummary(pe), fileSize: pe.fileSize };
      if (kind === "uki") {
        for (const [sec, key] of [
          [".uname", "uname"],
          [".cmdline", "cmdline"],
          [".osrel", "osrel"],
        ] as const) {
          const s = pe.sections.find((x) => x.name === sec);
          if (s) out[key] = new TextDecoder().decode(peSectionData(bytes, s, file)).replace(/\0+$/, "");
        }
      }
      out.sections = sectionRows(pe);
      return out;
    }
    case "compressed":
      return { kind: "compressed", method: detectCompression(bytes)!, compressedSize: bytes.length };
    default:
      throw new KexecLabError(
        "E_FORMAT_UNKNOWN",
        `not an arm64 Image, bzImage, ELF64, EFI zboot image, UKI, PE file, compressed kernel (${COMPRESSION_METHODS.join(", ")}), DTB or iomem/memmap dump`,
        file !== undefined ? { file, offset: 0 } : { offset: 0 },
      );
  }
}

function layerSummary(l: UnwrapLayer): Record<string, unknown> {
  if (l.kind === "uki")
    return {
      layer: "uki",
      extracted: ".linux",
      size: l.linux.virtualSize,
      initrd: l.initrd ? l.initrd.virtualSize : null,
    };
  if (l.kind === "zboot")
    return {
      layer: "zboot",
      extracted: "payload",
      size: l.decompressedSize,
      method: l.zboot.method ?? l.zboot.detected ?? null,
    };
  return { layer: "compressed", extracted: l.method, size: l.decompressedSize, method: l.method };
}

/**
 * inspectBytes plus the layers inside: a zboot image, UKI or compressed kernel is unwrapped
 * (decompressed with the cap and progress of `opts`) and the kernel inside summarized as `inner`.
 * For a zboot or compressed file the decompressed size is added. Errors: inspectBytes' and unwrapKernel's.
 */
export async function inspectFile(
  bytes: Uint8Array,
  file?: string,
  opts: Omit<DecompressOptions, "file" | "offset" | "what"> = {},
): Promise<InspectSummary> {
  const kind = detectKind(bytes);
  const outer = inspectBytes(bytes, file);
  if (kind === "arm64-image" || kind === "bzimage" || kind === "elf64") outer.kernelFormat = rawFormat(bytes);
  if (kind !== "zboot" && kind !== "uki" && kind !== "compressed") return outer;
  let u: Awaited<ReturnType<typeof unwrapKernel>>;
  try {
    u = await unwrapKernel(bytes, file, opts);
  } catch (e) {
    // A zboot payload in a method kexec-lab cannot decode (lzma, lzo): the header is still shown, and
    // the loaders judged by it: an arm64 zboot image always wraps the arm64 Image (Makefile.zboot).
    if (!(e instanceof KexecLabError) || e.code !== "E_COMPRESSION_UNSUPPORTED" || kind !== "zboot") throw e;
    outer.inner = null;
    outer.payloadNotDecoded = e.message;
    const z = parseZboot(bytes, file);
    if (z.pe.machineName === "arm64")
      outer.kernelFormat = {
        kind: "zboot",
        compressionName: z.compressionName,
        inner: { kind: "arm64-image" },
      };
    return outer;
  }
  const first = u.layers[0]!;
  if (first.kind !== "uki") outer.decompressedSize = first.decompressedSize;
  outer.layers = u.layers.map(layerSummary);
  outer.kernelFormat = u.format;
  const innerName = file !== undefined ? `${file} (inner kernel)` : undefined;
  outer.inner =
    detectKind(u.kernel) === undefined
      ? { kind: "unknown", size: u.kernel.length }
      : inspectBytes(u.kernel, innerName);
  return outer;
}
