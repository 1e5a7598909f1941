/**
 * Which loader takes which kernel file, per kexec-tools version: the acceptance rules behind `plan`.
 *
 * For a kernel file (its format as src/formats/unwrap.ts describes it) and a loader path
 *   kexec_load via kexec-tools        (`kexec -c`, and the fallback of `kexec -a`)
 *   kexec_file_load via kexec-tools   (`kexec -s`, and the first try of `kexec -a`)
 *   kexec_file_load via systemd       (`systemctl kexec`)
 *   kexec_file_load given the file as it is (no tool unwraps it: the kernel's probe alone)
 * the result is accepted (the file goes to the loader as it is), unwrapped (the tool first
 * decompresses it or extracts .linux/.initrd, and the inner kernel is loaded), or refused: by
 * kexec-tools before any syscall ("Cannot determine the file type", no errno), or by the kernel's
 * kexec_file_load with an errno (arm64 image_probe: EINVAL; x86_64 bzImage64_probe: ENOEXEC).
 * `autoLoad` then says what plain `kexec -l` does: from 2.0.27 on it is `-a`: kexec_file_load first,
 * and kexec_load when that fails with EINVAL, ENOEXEC, ENOTSUP or ENOSYS (kexec/kexec.c,
 * do_kexec_file_load's errno switch); before 2.0.27 it is kexec_load only.
 *
 * Every rule names its source: a kexec-tools file at the tag where the behaviour first appears (read
 * in the kexec-tools git history), or a kernel file. Rules marked derivedFromSource have not been
 * checked against a real run.
 */

import { KexecLabError } from "../errors.js";
import type { KernelFileFormat } from "../formats/unwrap.js";
import type { Arch } from "../kimage/constants.js";

export type { KernelFileFormat };

export type LoaderPath =
  | "kexec-tools:kexec_load"
  | "kexec-tools:kexec_file_load"
  | "kernel:kexec_file_load"
  | "systemd:kexec_file_load";
/**
 * "kernel:kexec_file_load" is the syscall given the file as it is, with no tool unwrapping anything
 * (a hand-written caller, or kexec-tools before it learnt to unwrap): the kernel's probe alone.
 */
export const LOADER_PATHS: readonly LoaderPath[] = [
  "kexec-tools:kexec_load",
  "kexec-tools:kexec_file_load",
  "kernel:kexec_file_load",
  "systemd:kexec_file_load",
];

/** The newest kexec-tools release modelled, and the default. */
export const LATEST_KEXEC_TOOLS = "2.0.32";

export interface Acceptance {
  path: LoaderPath;
  outcome: "accepted" | "unwrapped" | "refused";
  /** Who refuses: kexec-tools (no syscall is made) or the kernel (with errno). */
  refusedBy?: "kexec-tools" | "kernel" | "systemd";
  errno?: "EINVAL" | "ENOEXEC";
  /** What the tool does first, in order ("decompress gzip", "extract .linux", ...). */
  unwrap: string[];
  /** One sentence. */
  reason: string;
  /** The header field a refusal rests on, when one does. */
  field?: string;
  /** Where the rule comes from. */
  sources: string[];
  derivedFromSource: boolean;
}

/** "2.0.31" -> 20031; throws on a malformed version. */
export function kexecToolsVersionNumber(v: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v.trim().replace(/^v/, ""));
  if (!m)
    throw new KexecLabError("E_FIELD_VALUE", `kexec-tools version "${v}" is not X.Y.Z (e.g. 2.0.31)`, {
      field: "kexec-tools-version",
    });
  return Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]);
}

const KT = (tag: string, file: string) => `kexec-tools ${tag} ${file}`;
const KERNEL_ARM64_PROBE =
  'linux arch/arm64/kernel/kexec_image.c image_probe (-EINVAL without "ARM\\x64" at 0x38)';
const KERNEL_X86_PROBE =
  "linux arch/x86/kernel/kexec-bzimage64.c bzImage64_probe (-ENOEXEC unless HdrS, protocol >= 2.12, LOADED_HIGH, XLF_KERNEL_64 and XLF_CAN_BE_LOADED_ABOVE_4G)";
const SYSTEMD =
  "systemd src/shared/reboot-util.c kexec_maybe_decompress_kernel, called by systemctl's load_kexec_kernel when kexec_file_load fails with ENOEXEC (systemd PR 41390) or EINVAL (PR 42234); from source, not yet recorded";

/**
 * The zboot payloads systemd decodes: decompress_zboot_to_memfd takes a compression name starting with
 * gzip, xz (xzkern too), lz4 or zstd (zstd22); any other name is EOPNOTSUPP ("Unsupported ZBOOT
 * compression type"), and systemctl kexec fails.
 */
function systemdZbootDecodes(name: string): boolean {
  return ["gzip", "xz", "lz4", "zstd"].some((p) => name.startsWith(p));
}

/**
 * The compressed kernels systemd recognises by their magic (kexec_maybe_decompress_kernel): gzip, xz,
 * zstd and the lz4 frame format. Anything else (bzip2, legacy lzma, lzo, legacy lz4) is passed
 * through as it is, so the kernel's refusal stands.
 */
const SYSTEMD_DECOMPRESSES = new Set(["gzip", "xz", "zstd", "lz4"]);

/** Which compression methods kexec-tools' slurp_decompress_file can undo, per version (kexec/kexec.c). */
function ktDecompresses(method: string, v: number): { ok: boolean; source: string } {
  if (method === "gzip")
    return { ok: true, source: KT("v2.0.0", "kexec/kexec.c slurp_decompress_file (zlib)") };
  if (method === "xz" || method === "lzma")
    return { ok: true, source: KT("v2.0.2", "kexec/lzma.c (liblzma lzma_auto_decoder: .xz and .lzma)") };
  if (method === "zstd")
    return v >= 20031
      ? { ok: true, source: KT("v2.0.31", "kexec/zstd.c + kexec/kexec.c slurp_decompress_file") }
      : { ok: false, source: KT("v2.0.31", "kexec/zstd.c (zstd support starts here)") };
  return { ok: false, source: KT("v2.0.32", "kexec/kexec.c slurp_decompress_file (zlib, zstd, lzma only)") };
}

/** zboot compression names pez_prepare accepts (kexec/kexec-pe-zboot.c compares the first 4 bytes). */
function zbootNameOk(name: string, v: number): boolean {
  const four = name.slice(0, 4);
  if (four === "gzip" || four === "lzma") return true;
  return four === "zstd" && v >= 20031;
}

function refused(
  path: LoaderPath,
  by: "kexec-tools" | "kernel" | "systemd",
  reason: string,
  sources: string[],
  errno?: "EINVAL" | "ENOEXEC",
  unwrap: string[] = [],
): Acceptance {
  return {
    path,
    outcome: "refused",
    refusedBy: by,
    ...(errno ? { errno } : {}),
    unwrap,
    reason,
    sources,
    derivedFromSource: true,
  };
}

function ok(path: LoaderPath, unwrap: string[], reason: string, sources: string[]): Acceptance {
  return {
    path,
    outcome: unwrap.length > 0 ? "unwrapped" : "accepted",
    unwrap,
    reason,
    sources,
    derivedFromSource: true,
  };
}

/** What the kernel's kexec_file_load says to the bytes it is finally given. */
function kernelFileProbe(
  arch: Arch,
  f: KernelFileFormat,
): { ok: boolean; errno: "EINVAL" | "ENOEXEC"; source: string } {
  if (arch === "arm64") return { ok: f.kind === "arm64-image", errno: "EINVAL", source: KERNEL_ARM64_PROBE };
  return { ok: f.kind === "bzimage" && f.bzImage64, errno: "ENOEXEC", source: KERNEL_X86_PROBE };
}

function describe(f: KernelFileFormat): string {
  switch (f.kind) {
    case "arm64-image":
      return "an arm64 Image";
    case "compressed":
      return `a ${f.method}-compressed ${describe(f.inner).replace(/^an? /, "")}`;
    case "zboot":
      return `an EFI zboot image (${f.compressionName})`;
    case "uki":
      return "a unified kernel image";
    case "bzimage":
      return f.bzImage64
        ? "a bzImage64"
        : `a bzImage without the bzImage64 entry (${f.why64 ?? `protocol ${f.protocol}`})`;
    case "elf":
      return `an ELF vmlinux (${f.arch})`;
    default:
      return "not a kernel";
  }
}

/**
 * The acceptance of `f` on `arch` by one loader path with kexec-tools `version` (ignored for systemd).
 * Kernel versions: kexec_file_load exists on arm64 from Linux 5.0 and on x86_64 from 3.17; a kernel
 * older than that fails the syscall with ENOSYS (not modelled in this table).
 */
export function acceptance(
  arch: Arch,
  f: KernelFileFormat,
  path: LoaderPath,
  version = LATEST_KEXEC_TOOLS,
): Acceptance {
  const v = kexecToolsVersionNumber(version);
  const what = describe(f);
  if (path === "systemd:kexec_file_load") return systemdAcceptance(arch, f, path, what);
  if (path === "kernel:kexec_file_load") {
    const k = kernelFileProbe(arch, f);
    return k.ok
      ? ok(path, [], "the kernel's probe takes the file as it is", [k.source])
      : refused(path, "kernel", `the kernel's kexec_file_load refuses ${what} as it is`, [k.source], k.errno);
  }
  const file = path === "kexec-tools:kexec_file_load";
  if (arch === "arm64" && v < 20014)
    return refused(path, "kexec-tools", `kexec-tools ${version} has no arm64 support`, [
      KT("v2.0.14", "kexec/arch/arm64 (arm64 support starts here)"),
    ]);
  if (file && v < 20019 && arch === "arm64")
    return refused(path, "kexec-tools", `kexec-tools ${version} has no kexec_file_load support on arm64`, [
      KT("v2.0.19", "kexec/arch/arm64/kexec-image-arm64.c (arm64: add kexec_file_load support)"),
    ]);
  switch (f.kind) {
    case "arm64-image":
      if (arch !== "arm64") break;
      return ok(path, [], "image_arm64_probe takes it", [
        KT("v2.0.14", "kexec/arch/arm64/kexec-image-arm64.c image_arm64_probe"),
        ...(file ? [KERNEL_ARM64_PROBE] : []),
      ]);
    case "compressed": {
      const d = ktDecompresses(f.method, v);
      if (!d.ok)
        return refused(
          path,
          "kexec-tools",
          `kexec-tools ${version} cannot decompress ${f.method}: no loader's probe matches ("Cannot determine the file type")`,
          [d.source],
        );
      const inner = acceptance(arch, f.inner, path, version);
      if (inner.outcome === "refused")
        return { ...inner, unwrap: [`decompress ${f.method}`, ...inner.unwrap] };
      if (file && f.method !== "gzip" && v < 20027)
        return refused(
          path,
          "kernel",
          `kexec-tools ${version} decompresses ${f.method} only to probe it and passes the compressed file to kexec_file_load, which refuses it`,
          [
            d.source,
            KT(
              "v2.0.27",
              "kexec/kexec.c do_kexec_file_load copybuf_memfd (decompressed kernels go to the kernel from here on)",
            ),
            KERNEL_ARM64_PROBE,
          ],
          arch === "arm64" ? "EINVAL" : "ENOEXEC",
        );
      if (file && f.method === "gzip" && v < 20020)
        return refused(
          path,
          "kernel",
          `kexec-tools ${version} passes Image.gz to kexec_file_load compressed`,
          [
            KT("v2.0.20", "kexec/arch/arm64/kexec-zImage-arm64.c (Image.gz for kexec_file_load)"),
            KERNEL_ARM64_PROBE,
          ],
          "EINVAL",
        );
      return ok(
        path,
        [`decompress ${f.method}`, ...inner.unwrap],
        `kexec-tools decompresses ${f.method} and loads the inner kernel`,
        [
          d.source,
          ...(file
            ? [
                v >= 20027
                  ? KT("v2.0.27", "kexec/kexec.c do_kexec_file_load copybuf_memfd")
                  : KT("v2.0.20", "kexec/arch/arm64/kexec-zImage-arm64.c"),
              ]
            : [KT("v2.0.0", "kexec/kexec.c my_load slurp_decompress_file")]),
          ...inner.sources,
        ],
      );
    }
    case "zboot": {
      if (arch !== "arm64") break;
      const src = KT(
        file ? "v2.0.27" : "v2.0.28",
        "kexec/kexec-pe-zboot.c pez_prepare + kexec/arch/arm64/kexec-vmlinuz-arm64.c",
      );
      if (v < 20027)
        return refused(
          path,
          "kexec-tools",
          `kexec-tools ${version} has no zboot support: no probe matches ("Cannot determine the file type")`,
          [KT("v2.0.27", "kexec/kexec-pe-zboot.c (zboot support starts here)")],
        );
      if (!file && v < 20028)
        return refused(path, "kexec-tools", `kexec-tools ${version} unwraps zboot for kexec_file_load only`, [
          KT("v2.0.28", "kexec/arch/arm64/kexec-vmlinuz-arm64.c (zboot: enable arm64 kexec_load)"),
        ]);
      if (!zbootNameOk(f.compressionName, v))
        return refused(
          path,
          "kexec-tools",
          `kexec-tools ${version} decompresses zboot payloads of gzip and lzma${v >= 20031 ? " and zstd" : ""} only, not "${f.compressionName}"`,
          [KT(v >= 20031 ? "v2.0.31" : "v2.0.27", "kexec/kexec-pe-zboot.c pez_prepare compress_type check")],
        );
      return ok(
        path,
        [`extract the zboot payload and decompress ${f.compressionName}`],
        "pez_arm64_probe unwraps the payload; the Image inside is loaded",
        [src],
      );
    }
    case "uki": {
      const since = arch === "arm64" ? 20030 : 20031;
      const src = KT(
        arch === "arm64" ? "v2.0.30" : "v2.0.31",
        `kexec/kexec-uki.c uki_image_probe + kexec/arch/${arch}/kexec-${arch}.c file_type "uki"`,
      );
      if (v < since)
        return refused(
          path,
          "kexec-tools",
          `kexec-tools ${version} has no UKI support on ${arch}: no probe matches ("Cannot determine the file type")`,
          [src],
        );
      if (!file)
        return refused(
          path,
          "kexec-tools",
          "kexec-tools unwraps a UKI for kexec_file_load only: for kexec_load, uki_image_load hands the whole UKI to the inner format's loader, whose header check fails",
          [
            src,
            KT(
              "v2.0.30",
              `kexec/arch/${arch === "arm64" ? "arm64/kexec-image-arm64.c image_arm64_load" : "x86_64/kexec-bzImage64.c bzImage64_load"} (the UKI buffer, not .linux)`,
            ),
          ],
        );
      const inner = acceptance(arch, f.inner, path, version);
      const steps = [
        "extract .linux",
        ...(f.hasInitrd ? [".initrd as the initrd unless --initrd is given"] : []),
      ];
      if (inner.outcome === "refused") return { ...inner, unwrap: [...steps, ...inner.unwrap] };
      return ok(
        path,
        [...steps, ...inner.unwrap],
        "kexec-tools extracts .linux (and .initrd); .cmdline and .dtb are ignored",
        [
          src,
          KT(
            "v2.0.30",
            "kexec/kexec-uki.c: up to v2.0.32 sections are copied with SizeOfRawData (padded to FileAlignment); VirtualSize after commit e18a71f",
          ),
          ...inner.sources,
        ],
      );
    }
    case "bzimage": {
      if (arch !== "x86_64") break;
      if (f.bzImage64) {
        return ok(path, [], "bzImage64_probe takes it", [
          KT("v2.0.4", "kexec/arch/x86_64/kexec-bzImage64.c bzImage64_probe"),
          ...(file ? [KERNEL_X86_PROBE] : []),
        ]);
      }
      if (!f.loadedHigh)
        return refused(
          path,
          "kexec-tools",
          "LOADED_HIGH is clear (a zImage): neither bzImage64_probe nor bzImage_probe takes it",
          [
            KT("v2.0.0", "kexec/arch/i386/kexec-bzImage.c bzImage_probe"),
            KT("v2.0.4", "kexec/arch/x86_64/kexec-bzImage64.c bzImage64_probe"),
          ],
        );
      if (file)
        return refused(
          path,
          "kernel",
          `kexec-tools' 32-bit bzImage loader probes it (${f.why64 ?? ""}), but the kernel's kexec_file_load takes only bzImage64`,
          [
            KT("v2.0.4", "kexec/arch/x86_64/kexec-x86_64.c file_type order (bzImage64, then bzImage)"),
            KERNEL_X86_PROBE,
          ],
          "ENOEXEC",
        );
      return ok(
        path,
        [],
        "kexec-tools' bzImage (32-bit entry) loader takes it (bzImage_probe: HdrS, protocol >= 2.00, LOADED_HIGH)",
        [KT("v2.0.0", "kexec/arch/i386/kexec-bzImage.c bzImage_probe/do_bzImage_load")],
      );
    }
    case "elf": {
      if (f.arch !== arch) break;
      const tag = arch === "arm64" ? "v2.0.14" : "v2.0.0";
      const loader =
        arch === "arm64"
          ? "kexec/arch/arm64/kexec-elf-arm64.c elf_arm64_probe"
          : "kexec/arch/x86_64/kexec-elf-x86_64.c elf_x86_64_probe";
      if (file) {
        const k = kernelFileProbe(arch, f);
        return refused(
          path,
          "kernel",
          "kexec-tools probes the ELF file, but the kernel's kexec_file_load takes only its own Image/bzImage64 format",
          [KT(tag, loader), k.source],
          k.errno,
        );
      }
      return ok(path, [], "the ELF loader places the PT_LOAD segments", [KT(tag, loader)]);
    }
    default:
      break;
  }
  return refused(
    path,
    "kexec-tools",
    `${what} is not a kernel kexec-tools loads on ${arch} ("Cannot determine the file type")`,
    [KT(version.startsWith("v") ? version : `v${version}`, `kexec/arch/${arch}/kexec-${arch}.c file_type`)],
  );
}

/**
 * systemd's own kexec_file_load path (`systemctl kexec`, systemd PRs 41390 and 42234): the file as it
 * is first; when the kernel's probe refuses it (ENOEXEC on x86_64; EINVAL on arm64, retried since PR
 * 42234), one pass of kexec_maybe_decompress_kernel (a zboot image's payload decompressed, a UKI's
 * .linux and .initrd extracted, or a gzip/xz/zstd/lz4 file decompressed) and one more kexec_file_load
 * with its result. A file that needs two steps (a UKI whose .linux is itself a zboot or compressed
 * Image) is refused by the second call.
 */
function systemdAcceptance(arch: Arch, f: KernelFileFormat, path: LoaderPath, what: string): Acceptance {
  const k = kernelFileProbe(arch, f);
  if (k.ok) return { ...ok(path, [], "the kernel's kexec_file_load takes it", [k.source, SYSTEMD]) };
  let steps: string[] = [];
  let next: KernelFileFormat | undefined;
  if (f.kind === "zboot") {
    if (!systemdZbootDecodes(f.compressionName))
      return refused(
        path,
        "systemd",
        `the kernel refuses ${what} with ${k.errno}, and systemd does not decode a zboot payload compressed with ${f.compressionName} ("Unsupported ZBOOT compression type", EOPNOTSUPP)`,
        [k.source, SYSTEMD],
      );
    steps = [`extract the zboot payload and decompress ${f.compressionName}`];
    next = f.inner;
  } else if (f.kind === "uki") {
    steps = ["extract .linux", ...(f.hasInitrd ? [".initrd as the initrd"] : [])];
    next = f.inner;
  } else if (f.kind === "compressed" && SYSTEMD_DECOMPRESSES.has(f.method)) {
    steps = [`decompress ${f.method}`];
    next = f.inner;
  }
  if (next === undefined)
    return refused(
      path,
      "kernel",
      `the kernel's kexec_file_load refuses ${what}, and systemd passes it through unchanged (kexec_maybe_decompress_kernel recognises zboot, UKI, gzip, xz, zstd and lz4 only)`,
      [k.source, SYSTEMD],
      k.errno,
    );
  const k2 = kernelFileProbe(arch, next);
  if (k2.ok)
    return {
      ...ok(path, steps, `the kernel refuses ${what} with ${k.errno}; systemd unwraps it once and retries`, [
        k.source,
        SYSTEMD,
      ]),
    };
  return refused(
    path,
    "kernel",
    `the kernel's kexec_file_load refuses ${what}, and again after systemd's one unwrapping step (${steps.join("; ")}) ${describe(next)}`,
    [k2.source, SYSTEMD],
    k2.errno,
    steps,
  );
}

export interface AutoLoad {
  /** The loader path `kexec -l` ends on, or undefined when both refuse. */
  final: Acceptance | undefined;
  /** Each try in order. */
  tries: Acceptance[];
  /** One sentence for the output. */
  summary: string;
}

/**
 * What plain `kexec -l FILE` does with kexec-tools `version`: from 2.0.27 on kexec_file_load first and
 * kexec_load when the kernel fails it with EINVAL/ENOEXEC (kexec/kexec.c: do_kexec_file_load returns
 * EFALLBACK for EINVAL, ENOEXEC, ENOTSUP, ENOSYS; a refusal by kexec-tools itself, EFAILED, does not
 * fall back); before 2.0.27 kexec_load only.
 */
export function autoLoad(arch: Arch, f: KernelFileFormat, version = LATEST_KEXEC_TOOLS): AutoLoad {
  const v = kexecToolsVersionNumber(version);
  if (v < 20027) {
    const a = acceptance(arch, f, "kexec-tools:kexec_load", version);
    return {
      final: a.outcome === "refused" ? undefined : a,
      tries: [a],
      summary: `kexec-tools ${version}: kexec_load only (-a is the default from 2.0.27): ${a.outcome}`,
    };
  }
  const first = acceptance(arch, f, "kexec-tools:kexec_file_load", version);
  if (first.outcome !== "refused")
    return {
      final: first,
      tries: [first],
      summary: `kexec-tools ${version} -a: kexec_file_load ${first.outcome}`,
    };
  if (first.refusedBy !== "kernel")
    return {
      final: undefined,
      tries: [first],
      summary: `kexec-tools ${version} -a: refused before the syscall (no fallback): ${first.reason}`,
    };
  const second = acceptance(arch, f, "kexec-tools:kexec_load", version);
  return {
    final: second.outcome === "refused" ? undefined : second,
    tries: [first, second],
    summary: `kexec-tools ${version} -a: kexec_file_load fails with ${first.errno}, kexec_load ${second.outcome}`,
  };
}
