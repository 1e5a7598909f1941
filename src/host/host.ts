/**
 * A host description: what the loaders read on a user's machine, as `kexec-lab-collect` gathers it
 * (bin/kexec-lab-collect) and as the recording fixtures store it (test/fixtures/recordings/<case>/):
 * one file per source, the same names in both. Browser-safe: the files come in as bytes; the Node
 * reader is src/host/node/read.ts.
 *
 * | file | source | used for |
 * | --- | --- | --- |
 * | iomem.txt | /proc/iomem (root: real addresses) | arm64 kexec-tools' memory ranges, kexec_file x86_64, crash region, totalram estimate |
 * | memmap.txt | /sys/firmware/memmap/N/{start,end,type} | x86_64 kexec-tools' memory ranges |
 * | memblock-memory.txt, memblock-reserved.txt | /sys/kernel/debug/memblock/* | arm64 kexec_file_load's free memblock ranges |
 * | kho-scratch.txt | /sys/kernel/debug/kho/out/scratch_{phys,len} ("ADDR SIZE" per area; kho=on only) | the KHO scratch areas kexec_file_load places every segment in |
 * | fdt.dtb | /sys/firmware/fdt | arm64 DTB (its kaslr-seed is already wiped by the running kernel) |
 * | cmdline.txt | /proc/cmdline | --reuse-cmdline |
 * | uname.txt, uname-m.txt | uname -r, uname -m | the running kernel, the architecture |
 * | kexec-version.txt, kexec-path.txt | kexec --version, command -v kexec | which kexec-tools (its syscall choice; its purgatory) |
 * | dmesg.txt | dmesg (kexec-lab-collect keeps its crng and RSDP lines) | whether the random pool was ready ("random: crng init done"), the ACPI RSDP ("ACPI: RSDP 0x...") |
 * | kexec_crash_size.txt | /sys/kernel/kexec_crash_size | the crashkernel reservation's size |
 * | nproc.txt | nproc | CPUs (the crash ELF core header has one PT_NOTE per CPU) |
 * | meminfo.txt | MemTotal, MemFree, MemAvailable of /proc/meminfo | totalram (MemTotal = totalram_pages), memory for a load |
 * | modules.txt | /proc/modules (name and size) | crashkernel estimate (module sizes) |
 * | cma.txt | CmaTotal/CmaFree, /sys/kernel/mm/cma/NAME/*, debugfs cma/NAME/* | the default CMA area's taken pages (src/host/cma.ts; its base from dmesg.txt) |
 * | case.json | recordings only | the architecture of a recorded case; the Debian suite of its kexec-tools (purgatory preset) |
 */

import { KexecLabError } from "../errors.js";
import { isFdt } from "../formats/fdt.js";
import type { GateState } from "../gates/types.js";
import type { Arch } from "../kimage/constants.js";
import type { Range } from "../machine/ranges.js";
import { type HostCma, parseHostCma } from "./cma.js";
import { efiSignatureListCerts } from "./efi-certs.js";
import { GATE_HOST_FILES, parseHostGates, parseHostKeys } from "./gates.js";

/** Every file name a host directory may hold (others are ignored). */
export const HOST_FILES = [
  "iomem.txt",
  "memmap.txt",
  "memblock-memory.txt",
  "memblock-reserved.txt",
  "kho-scratch.txt",
  "fdt.dtb",
  "cmdline.txt",
  "uname.txt",
  "uname-m.txt",
  "kexec-version.txt",
  "kexec-path.txt",
  "kexec_crash_size.txt",
  "kexec-file.txt",
  "nproc.txt",
  "meminfo.txt",
  "modules.txt",
  "dmesg.txt",
  "cma.txt",
  "case.json",
  ...GATE_HOST_FILES,
] as const;
export type HostFileName = (typeof HOST_FILES)[number];

export interface Host {
  /** Where it came from (the directory), for messages. */
  source: string;
  arch?: Arch;
  /** uname -r of the running kernel. */
  release?: string;
  /** /proc/cmdline without its newline. */
  cmdline?: string;
  iomem?: string;
  memmap?: string;
  memblockMemory?: string;
  memblockReserved?: string;
  /**
   * kho-scratch.txt: the KHO scratch areas in index order (lowmem, global, one per node), present only while
   * KHO is on (kho=on); kexec_file_load then places every segment inside them (src/loader/kexec-file/kho.ts).
   */
  khoScratch?: Range[];
  fdt?: Uint8Array;
  kexecVersion?: string;
  /** The X.Y.Z of kexecVersion ("kexec-tools 2.0.25" -> "2.0.25"), when it has one. */
  kexecToolsVersion?: string;
  /**
   * The purgatory preset (src/loader/kexec-tools/purgatory.ts PURGATORY_PRESETS) of the host's
   * kexec-tools build, when the description says which Debian build it is (a recording's case.json
   * kexecTools.suite, "bookworm" -> "debian-bookworm") and the preset is that build's version.
   */
  purgatoryPreset?: string;
  /** dmesg.txt as collected (the crashkernel model reads its RAMDISK/NODE_DATA/cma/swiotlb lines). */
  dmesg?: string;
  /** From dmesg.txt: whether "random: crng init done" was logged (absent: no dmesg.txt). */
  crngReady?: boolean;
  /** From dmesg.txt: the ACPI RSDP address ("ACPI: RSDP 0x..."), x86. */
  acpiRsdp?: number;
  kexecPath?: string;
  /**
   * kexec-file.txt: whether the running kernel has kexec_file_load (CONFIG_KEXEC_FILE), as the
   * collection script read it from the kernel's config or its symbols; undefined when not known.
   */
  kexecFileSyscall?: boolean;
  /** Where kexecFileSyscall was read (/boot/config-..., /proc/config.gz, /proc/kallsyms). */
  kexecFileSource?: string;
  /** /sys/kernel/kexec_crash_size in bytes (0: no reservation). */
  crashSize?: number;
  cpus?: number;
  /** MemTotal in bytes: totalram_pages() x PAGE_SIZE, what kexec_load's "half of RAM" check uses. */
  memTotal?: number;
  memFree?: number;
  memAvailable?: number;
  /** Sum of the sizes in /proc/modules (bytes): every loaded module. */
  modulesBytes?: number;
  /** The default CMA area and its taken pages (cma.txt and dmesg.txt; src/host/cma.ts). */
  cma?: HostCma;
  /**
   * What the gates read on this machine (src/host/gates.ts: lockdown, kexec sysctls, kernel config,
   * Secure Boot, IMA policy, CAP_SYS_BOOT, the kexec sysfs files, the crash reservation, arm64 CPU
   * enable methods); empty when the collection predates them.
   */
  gates: GateState;
  /** keys.txt: the keyrings and asymmetric keys of /proc/keys (type and description). */
  keys?: { type: string; description: string }[];
  /**
   * The certificates the firmware and shim give the kernel's .platform keyring (uefi-db.esl,
   * moklist-rt.esl: efi-certs.ts), DER, for kexec_file_load's signature check (--trusted-cert adds more).
   */
  trustedCerts?: { keyring: ".platform"; source: string; der: Uint8Array }[];
  /** The file names that were present. */
  files: HostFileName[];
}

/**
 * Debian suites whose kexec-tools build has a measured purgatory preset, with the upstream version
 * that build is (src/loader/kexec-tools/purgatory.ts PURGATORY_PRESETS).
 */
const DEBIAN_PURGATORY: Record<string, { name: string; version: string }> = {
  bookworm: { name: "debian-bookworm", version: "2.0.25" },
  trixie: { name: "debian-trixie", version: "2.0.29" },
  forky: { name: "debian-forky", version: "2.0.32" },
};

const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** A one-line file's content; an "absent" placeholder (as the recordings write it) counts as missing. */
function line(b: Uint8Array | undefined): string | undefined {
  if (b === undefined) return undefined;
  const t = text(b).trim();
  return t === "" || t === "absent" ? undefined : t;
}

function integer(b: Uint8Array | undefined, file: string, source: string): number | undefined {
  const t = line(b);
  if (t === undefined) return undefined;
  if (!/^\d+$/.test(t)) {
    throw new KexecLabError("E_FIELD_VALUE", `expected a decimal number, got "${t.slice(0, 40)}"`, {
      file: `${source}/${file}`,
    });
  }
  return Number(t);
}

/** "MemTotal:  4010836 kB" lines of /proc/meminfo, in bytes. */
export function parseMeminfo(t: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of t.split("\n")) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(l.trim());
    if (m) out[m[1]!] = Number(m[2]) * (/kB\s*$/.test(l) ? 1024 : 1);
  }
  return out;
}

/**
 * kho-scratch.txt: one "ADDR SIZE" line per KHO scratch area (hex with 0x, as debugfs' scratch_phys and
 * scratch_len print them, kernel/liveupdate/kexec_handover_debugfs.c), in index order. An area may be empty:
 * with the default scale (no kho_scratch=) the global area is the kernel's reservations above
 * ARCH_LOW_ADDRESS_LIMIT, none on a machine whose memory is all "low" (recorded: 0x130400000 0x0 on arm64
 * QEMU virt); kho_walk_scratch then offers a range no buffer fits. E_FIELD_VALUE names the line that is
 * not two hex numbers.
 */
export function parseKhoScratch(t: string, file: string): Range[] {
  const out: Range[] = [];
  t.split("\n").forEach((l, i) => {
    if (l.trim() === "") return;
    const m = /^\s*0x([0-9a-fA-F]{1,16})\s+0x([0-9a-fA-F]{1,16})\s*$/.exec(l);
    const start = m ? Number.parseInt(m[1]!, 16) : Number.NaN;
    const size = m ? Number.parseInt(m[2]!, 16) : Number.NaN;
    if (!m || !Number.isSafeInteger(start + size)) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `line ${i + 1}: expected "0xADDR 0xSIZE" of a KHO scratch area, got "${l.trim().slice(0, 60)}"`,
        { file },
      );
    }
    out.push({ start, end: start + size });
  });
  return out;
}

/** Architecture from uname -m (aarch64, x86_64) or Debian's names. */
function archOf(t: string | undefined): Arch | undefined {
  if (t === "aarch64" || t === "arm64") return "arm64";
  if (t === "x86_64" || t === "amd64") return "x86_64";
  return undefined;
}

/**
 * A Host from a directory's files (name -> bytes; absent files missing). E_FIELD_VALUE names a file
 * whose content is not what its name says.
 */
export function parseHost(files: Partial<Record<HostFileName, Uint8Array>>, source: string): Host {
  const host: Host = { source, gates: {}, files: HOST_FILES.filter((f) => files[f] !== undefined) };
  const t = (f: HostFileName) =>
    files[f] !== undefined && line(files[f]) !== undefined ? text(files[f]!) : undefined;
  const iomem = t("iomem.txt");
  if (iomem !== undefined) host.iomem = iomem;
  const memmap = t("memmap.txt");
  if (memmap !== undefined) host.memmap = memmap;
  const mm = t("memblock-memory.txt");
  if (mm !== undefined) host.memblockMemory = mm;
  const mr = t("memblock-reserved.txt");
  if (mr !== undefined) host.memblockReserved = mr;
  const kho = t("kho-scratch.txt");
  if (kho !== undefined) host.khoScratch = parseKhoScratch(kho, `${source}/kho-scratch.txt`);
  if (files["fdt.dtb"] !== undefined && files["fdt.dtb"].length > 0) {
    if (!isFdt(files["fdt.dtb"])) {
      throw new KexecLabError("E_FIELD_VALUE", "fdt.dtb is not a flattened device tree", {
        file: `${source}/fdt.dtb`,
      });
    }
    host.fdt = files["fdt.dtb"];
  }
  const cmdline =
    files["cmdline.txt"] !== undefined ? text(files["cmdline.txt"]).replace(/\n$/, "") : undefined;
  if (cmdline !== undefined) host.cmdline = cmdline;
  const release = line(files["uname.txt"]);
  if (release !== undefined) host.release = release;
  const kv = line(files["kexec-version.txt"]);
  if (kv !== undefined) host.kexecVersion = kv;
  const ktv = kv !== undefined ? /\b(\d+\.\d+\.\d+)\b/.exec(kv) : null;
  if (ktv) host.kexecToolsVersion = ktv[1]!;
  const kp = line(files["kexec-path.txt"]);
  if (kp !== undefined) host.kexecPath = kp;
  const kf = line(files["kexec-file.txt"]);
  if (kf !== undefined) {
    const m = /^(yes|no)(?:\s+(\S.*))?$/.exec(kf);
    if (!m) {
      throw new KexecLabError(
        "E_FIELD_VALUE",
        `expected "yes" or "no" and where it was read, got "${kf.slice(0, 40)}"`,
        {
          file: `${source}/kexec-file.txt`,
        },
      );
    }
    host.kexecFileSyscall = m[1] === "yes";
    if (m[2] !== undefined) host.kexecFileSource = m[2];
  }
  const crash = integer(files["kexec_crash_size.txt"], "kexec_crash_size.txt", source);
  if (crash !== undefined) host.crashSize = crash;
  const cpus = integer(files["nproc.txt"], "nproc.txt", source);
  if (cpus !== undefined) host.cpus = cpus;
  const meminfo = t("meminfo.txt");
  if (meminfo !== undefined) {
    const m = parseMeminfo(meminfo);
    if (m.MemTotal !== undefined) host.memTotal = m.MemTotal;
    if (m.MemFree !== undefined) host.memFree = m.MemFree;
    if (m.MemAvailable !== undefined) host.memAvailable = m.MemAvailable;
  }
  const modules = t("modules.txt");
  if (modules !== undefined) {
    // "name size refcount deps state address" per line (/proc/modules).
    host.modulesBytes = modules
      .split("\n")
      .map((l) => Number(l.trim().split(/\s+/)[1]))
      .filter((n) => Number.isFinite(n))
      .reduce((a, b) => a + b, 0);
  }
  const dmesg = t("dmesg.txt");
  if (dmesg !== undefined) {
    host.dmesg = dmesg;
    host.crngReady = /random: crng init done/.test(dmesg);
    const rsdp = /ACPI: RSDP 0x([0-9A-Fa-f]+)/.exec(dmesg);
    if (rsdp) host.acpiRsdp = Number.parseInt(rsdp[1]!, 16);
  }
  const cma = parseHostCma(t("cma.txt"), dmesg);
  if (cma !== undefined) host.cma = cma;
  let arch = archOf(line(files["uname-m.txt"]));
  if (files["case.json"] !== undefined) {
    let c: { arch?: unknown; kexecTools?: { version?: unknown; suite?: unknown } };
    try {
      c = JSON.parse(text(files["case.json"]));
    } catch {
      throw new KexecLabError("E_JSON_PARSE", "case.json is not JSON", { file: `${source}/case.json` });
    }
    if (arch === undefined) arch = archOf(String(c.arch));
    const suite = c.kexecTools?.suite;
    const preset = typeof suite === "string" ? DEBIAN_PURGATORY[suite] : undefined;
    const version = host.kexecToolsVersion ?? c.kexecTools?.version;
    if (preset !== undefined && version === preset.version) host.purgatoryPreset = preset.name;
  }
  if (arch === undefined && host.fdt !== undefined) arch = "arm64";
  if (arch !== undefined) host.arch = arch;
  host.gates = parseHostGates(files, source, {
    ...(host.iomem !== undefined ? { iomem: host.iomem } : {}),
    ...(host.crashSize !== undefined ? { crashSize: host.crashSize } : {}),
    ...(host.fdt !== undefined && (arch ?? "arm64") === "arm64" ? { fdt: host.fdt } : {}),
    ...(host.cmdline !== undefined ? { cmdline: host.cmdline } : {}),
  });
  const keys = t("keys.txt");
  if (keys !== undefined) host.keys = parseHostKeys(keys);
  const certs: NonNullable<Host["trustedCerts"]> = [];
  for (const name of ["uefi-db.esl", "moklist-rt.esl"] as const) {
    const b = files[name];
    if (b === undefined || b.length === 0) continue;
    for (const der of efiSignatureListCerts(b, `${source}/${name}`))
      certs.push({ keyring: ".platform", source: `${source}/${name}`, der });
  }
  if (certs.length > 0) host.trustedCerts = certs;
  if (host.iomem === undefined && host.memmap === undefined && host.fdt === undefined) {
    throw new KexecLabError(
      "E_NO_MEMORY_MAP",
      `${source} has none of iomem.txt, memmap.txt, fdt.dtb: not a kexec-lab-collect directory`,
      { file: source },
    );
  }
  return host;
}

/** One-line description: "arm64, 6.1.0-50-cloud-arm64, 4 CPUs, MemTotal 3.8 GiB, kexec-tools 2.0.25". */
export function describeHost(h: Host): string {
  const parts = [h.arch ?? "arch unknown"];
  if (h.release !== undefined) parts.push(h.release);
  if (h.cpus !== undefined) parts.push(`${h.cpus} CPUs`);
  if (h.kexecVersion !== undefined) parts.push(h.kexecVersion);
  return parts.join(", ");
}
