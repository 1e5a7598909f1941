/**
 * Which kind of file is this, and what does it say: the library side of `kexec-lab inspect`.
 * Every summary is a plain JSON-ready object: addresses as "0x..." strings, sizes and counts as numbers.
 */

import { KexecLabError } from "../errors.js";
import { isArm64Image, parseArm64Image } from "./arm64-image.js";
import { hex } from "./bytes.js";
import { isBzImage, parseBzImage } from "./bzimage.js";
import { deviceTreeInfo } from "./devicetree.js";
import { isElf, parseElf64 } from "./elf.js";
import { isFdt, parseFdt } from "./fdt.js";
import { iomemToMemoryMap, looksLikeIomem, parseIomem } from "./iomem.js";

export type FileKind = "arm64-image" | "bzimage" | "elf64" | "dtb" | "iomem" | "gzip";

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
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
  if (isArm64Image(bytes)) return "arm64-image";
  if (isBzImage(bytes)) return "bzimage";
  if (isElf(bytes)) return "elf64";
  if (isGzip(bytes)) return "gzip";
  if (isText(bytes) && looksLikeIomem(new TextDecoder().decode(bytes))) return "iomem";
  return undefined;
}

export type InspectSummary = Record<string, unknown> & { kind: string };

/** Parse a file of any supported kind and summarize it. */
export function inspectBytes(bytes: Uint8Array, file?: string): InspectSummary {
  const kind = detectKind(bytes);
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
        initSize: h.initSize,
        prefAddress: hex(h.prefAddress),
        kernelAlignment: h.kernelAlignment,
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
    case "gzip":
      throw new KexecLabError(
        "E_FORMAT_UNKNOWN",
        "a gzip-compressed file: decompress it first (the CLI does this for Image.gz)",
        file !== undefined ? { file, offset: 0 } : { offset: 0 },
      );
    default:
      throw new KexecLabError(
        "E_FORMAT_UNKNOWN",
        "not an arm64 Image, bzImage, ELF64, DTB or iomem/memmap dump",
        file !== undefined ? { file, offset: 0 } : { offset: 0 },
      );
  }
}
