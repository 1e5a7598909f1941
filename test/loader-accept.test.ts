/**
 * The acceptance table (src/loader/accept.ts): the facts of the issue checked cell by cell, and
 * docs/loaders.md's table generated from the same function (UPDATE_DOCS=1 rewrites it), so the
 * document and the code cannot drift apart.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { KernelFileFormat } from "../src/formats/unwrap.js";
import { type Acceptance, acceptance, autoLoad, LOADER_PATHS } from "../src/loader/accept.js";

const IMAGE: KernelFileFormat = { kind: "arm64-image" };
const BZ64: KernelFileFormat = { kind: "bzimage", bzImage64: true, loadedHigh: true, protocol: "2.15" };
const BZ32: KernelFileFormat = {
  kind: "bzimage",
  bzImage64: false,
  loadedHigh: true,
  protocol: "2.15",
  why64: "no XLF_KERNEL_64",
  field: "xloadflags",
};
const comp = (method: string, inner = IMAGE): KernelFileFormat => ({ kind: "compressed", method, inner });
const zboot = (name: string): KernelFileFormat => ({ kind: "zboot", compressionName: name, inner: IMAGE });
const uki = (inner: KernelFileFormat): KernelFileFormat => ({ kind: "uki", inner, hasInitrd: true });

const cell = (a: Acceptance) => (a.outcome === "refused" ? (a.errno ?? "refused") : a.outcome);
const at = (arch: "arm64" | "x86_64", f: KernelFileFormat, path: (typeof LOADER_PATHS)[number], v: string) =>
  cell(acceptance(arch, f, path, v));

describe("acceptance: the issue's facts, each against kexec-tools' history", () => {
  it("kexec_file_load given the file as it is: only the kernel's own format (Image, bzImage64)", () => {
    expect(at("arm64", IMAGE, "kernel:kexec_file_load", "2.0.32")).toBe("accepted");
    expect(at("arm64", zboot("gzip"), "kernel:kexec_file_load", "2.0.32")).toBe("EINVAL");
    expect(at("arm64", comp("gzip"), "kernel:kexec_file_load", "2.0.32")).toBe("EINVAL");
    expect(at("arm64", uki(IMAGE), "kernel:kexec_file_load", "2.0.32")).toBe("EINVAL");
    expect(at("x86_64", BZ64, "kernel:kexec_file_load", "2.0.25")).toBe("accepted");
    expect(at("x86_64", BZ32, "kernel:kexec_file_load", "2.0.25")).toBe("ENOEXEC");
    expect(at("x86_64", uki(BZ64), "kernel:kexec_file_load", "2.0.25")).toBe("ENOEXEC");
  });

  it("zboot: kexec_file_load from 2.0.27, kexec_load from 2.0.28; zstd22 from 2.0.31; xzkern/lz4/lzo never", () => {
    expect(at("arm64", zboot("gzip"), "kexec-tools:kexec_file_load", "2.0.26")).toBe("refused");
    expect(at("arm64", zboot("gzip"), "kexec-tools:kexec_file_load", "2.0.27")).toBe("unwrapped");
    expect(at("arm64", zboot("gzip"), "kexec-tools:kexec_load", "2.0.27")).toBe("refused");
    expect(at("arm64", zboot("gzip"), "kexec-tools:kexec_load", "2.0.28")).toBe("unwrapped");
    expect(at("arm64", zboot("lzma"), "kexec-tools:kexec_load", "2.0.28")).toBe("unwrapped");
    expect(at("arm64", zboot("zstd22"), "kexec-tools:kexec_file_load", "2.0.30")).toBe("refused");
    expect(at("arm64", zboot("zstd22"), "kexec-tools:kexec_file_load", "2.0.31")).toBe("unwrapped");
    for (const n of ["xzkern", "lz4", "lzo"])
      expect(at("arm64", zboot(n), "kexec-tools:kexec_file_load", "2.0.32")).toBe("refused");
  });

  it("UKI: arm64 from 2.0.30, x86_64 from 2.0.31, kexec_file_load only", () => {
    expect(at("arm64", uki(IMAGE), "kexec-tools:kexec_file_load", "2.0.29")).toBe("refused");
    expect(at("arm64", uki(IMAGE), "kexec-tools:kexec_file_load", "2.0.30")).toBe("unwrapped");
    expect(at("arm64", uki(IMAGE), "kexec-tools:kexec_load", "2.0.32")).toBe("refused");
    expect(at("x86_64", uki(BZ64), "kexec-tools:kexec_file_load", "2.0.30")).toBe("refused");
    expect(at("x86_64", uki(BZ64), "kexec-tools:kexec_file_load", "2.0.31")).toBe("unwrapped");
    const a = acceptance("arm64", uki(IMAGE), "kexec-tools:kexec_file_load", "2.0.30");
    expect(a.unwrap).toEqual(["extract .linux", ".initrd as the initrd unless --initrd is given"]);
  });

  it("compressed Images: gzip/xz/lzma always for kexec_load, zstd from 2.0.31, lz4/bzip2 never", () => {
    expect(at("arm64", comp("gzip"), "kexec-tools:kexec_load", "2.0.25")).toBe("unwrapped");
    expect(at("arm64", comp("xz"), "kexec-tools:kexec_load", "2.0.25")).toBe("unwrapped");
    expect(at("arm64", comp("zstd"), "kexec-tools:kexec_load", "2.0.30")).toBe("refused");
    expect(at("arm64", comp("zstd"), "kexec-tools:kexec_load", "2.0.31")).toBe("unwrapped");
    expect(at("arm64", comp("lz4-legacy"), "kexec-tools:kexec_load", "2.0.32")).toBe("refused");
    // kexec_file_load: xz handed over compressed before the 2.0.27 memfd change: the kernel says EINVAL.
    expect(at("arm64", comp("xz"), "kexec-tools:kexec_file_load", "2.0.26")).toBe("EINVAL");
    expect(at("arm64", comp("xz"), "kexec-tools:kexec_file_load", "2.0.27")).toBe("unwrapped");
    expect(at("arm64", comp("gzip"), "kexec-tools:kexec_file_load", "2.0.20")).toBe("unwrapped");
  });

  it("the kernel: arm64 kexec_file_load takes only an Image (EINVAL), x86_64 only a bzImage64 (ENOEXEC)", () => {
    expect(at("arm64", IMAGE, "systemd:kexec_file_load", "2.0.32")).toBe("accepted");
    expect(at("arm64", zboot("zstd22"), "systemd:kexec_file_load", "2.0.32")).toBe("unwrapped");
    expect(acceptance("arm64", zboot("zstd22"), "systemd:kexec_file_load").reason).toMatch(/EINVAL/);
    expect(at("x86_64", BZ32, "kexec-tools:kexec_file_load", "2.0.32")).toBe("ENOEXEC");
    expect(at("x86_64", BZ32, "kexec-tools:kexec_load", "2.0.32")).toBe("accepted");
    expect(at("x86_64", { kind: "elf", arch: "x86_64" }, "kexec-tools:kexec_file_load", "2.0.32")).toBe(
      "ENOEXEC",
    );
    expect(at("x86_64", { kind: "elf", arch: "x86_64" }, "kexec-tools:kexec_load", "2.0.32")).toBe(
      "accepted",
    );
  });

  it("auto: kexec_file_load first from 2.0.27, kexec_load after EINVAL/ENOEXEC; no fallback after a kexec-tools refusal", () => {
    expect(autoLoad("x86_64", BZ32, "2.0.32").tries.map(cell)).toEqual(["ENOEXEC", "accepted"]);
    expect(autoLoad("x86_64", BZ32, "2.0.26").tries.map((t) => t.path)).toEqual(["kexec-tools:kexec_load"]);
    const z = autoLoad("arm64", zboot("xzkern"), "2.0.32");
    expect(z.final).toBeUndefined();
    expect(z.tries).toHaveLength(1);
    expect(autoLoad("arm64", zboot("gzip"), "2.0.27").final?.path).toBe("kexec-tools:kexec_file_load");
  });

  it("every cell names at least one source", () => {
    for (const [, arch, f] of ROWS)
      for (const p of LOADER_PATHS)
        for (const v of VERSIONS) expect(acceptance(arch, f, p, v).sources.length).toBeGreaterThan(0);
  });
});

// ---- the table in docs/loaders.md ------------------------------------------------------------------

const VERSIONS = ["2.0.25", "2.0.27", "2.0.28", "2.0.30", "2.0.31", "2.0.32"];
const ROWS: [string, "arm64" | "x86_64", KernelFileFormat][] = [
  ["arm64 Image (raw)", "arm64", IMAGE],
  ["Image.gz", "arm64", comp("gzip")],
  ["Image.zst", "arm64", comp("zstd")],
  ["Image.xz", "arm64", comp("xz")],
  ["Image.lzma (legacy .lzma)", "arm64", comp("lzma")],
  ["Image.lz4 (frame)", "arm64", comp("lz4")],
  ["Image.lz4 (legacy, lz4 -l)", "arm64", comp("lz4-legacy")],
  ["Image.bz2", "arm64", comp("bzip2")],
  ["Image.lzo (lzop)", "arm64", comp("lzo")],
  ["zboot gzip", "arm64", zboot("gzip")],
  ["zboot lzma", "arm64", zboot("lzma")],
  ["zboot zstd22", "arm64", zboot("zstd22")],
  ["zboot xzkern", "arm64", zboot("xzkern")],
  ["zboot lz4", "arm64", zboot("lz4")],
  ["zboot lzo", "arm64", zboot("lzo")],
  ["UKI (arm64 Image inside)", "arm64", uki(IMAGE)],
  ["arm64 ELF vmlinux", "arm64", { kind: "elf", arch: "arm64" }],
  ["bzImage64", "x86_64", BZ64],
  ["bzImage, 32-bit entry only", "x86_64", BZ32],
  ["UKI (bzImage64 inside)", "x86_64", uki(BZ64)],
  ["x86_64 ELF vmlinux", "x86_64", { kind: "elf", arch: "x86_64" }],
];

function renderTable(): string {
  const short = (a: Acceptance) =>
    a.outcome === "accepted" ? "A" : a.outcome === "unwrapped" ? "U" : a.errno ? a.errno : "R";
  let out = `| file | loader | ${VERSIONS.join(" | ")} | sources (for the newest version; earlier cells: the first version listed in the source) |\n`;
  out += `| --- | --- | ${VERSIONS.map(() => "---").join(" | ")} | --- |\n`;
  for (const [name, arch, f] of ROWS) {
    for (const p of LOADER_PATHS) {
      const cells = VERSIONS.map((v) => short(acceptance(arch, f, p, v)));
      const sources = new Set<string>();
      for (const v of VERSIONS) for (const s of acceptance(arch, f, p, v).sources) sources.add(s);
      out += `| ${name} | ${p} | ${cells.join(" | ")} | ${[...sources].join("; ").replaceAll("|", "\\|")} |\n`;
    }
  }
  return out;
}

describe("docs/loaders.md", () => {
  it("holds the acceptance table as the code computes it (UPDATE_DOCS=1 rewrites it)", () => {
    const path = fileURLToPath(new URL("../docs/loaders.md", import.meta.url));
    const doc = readFileSync(path, "utf8");
    const begin = "<!-- acceptance-table:begin -->\n";
    const end = "<!-- acceptance-table:end -->";
    const i = doc.indexOf(begin);
    const j = doc.indexOf(end);
    expect(i).toBeGreaterThan(0);
    const want = renderTable();
    if (process.env.UPDATE_DOCS === "1")
      writeFileSync(path, doc.slice(0, i + begin.length) + want + doc.slice(j));
    else expect(doc.slice(i + begin.length, j)).toBe(want);
  });
});
