import type { Command } from "commander";
import { inspectFile } from "../../formats/detect.js";
import type { KernelFileFormat } from "../../formats/unwrap.js";
import { acceptance, autoLoad, LATEST_KEXEC_TOOLS, LOADER_PATHS } from "../../loader/accept.js";
import { formatBytes, renderTable } from "../../report/format.js";
import { EXIT_OK } from "../exit.js";
import { readInputFile } from "../files.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";
import { startProgress } from "../progress.js";

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) && v >= 1024 ? `${v} (${formatBytes(v)})` : String(v);
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v).replaceAll("\n", "\\n");
}

function list(title: string, rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return `${title}: none\n`;
  const keys = Object.keys(rows[0]!);
  return `${title}:\n${renderTable(
    keys,
    rows.map((r) => keys.map((k) => cell(r[k]))),
    keys.map(() => "left"),
  )}\n`;
}

/** A summary as text: scalars in a field/value table, arrays as tables, objects as nested blocks. */
function render(summary: Record<string, unknown>, title?: string): string {
  const scalars = Object.entries(summary).filter(
    ([, v]) => !Array.isArray(v) && (typeof v !== "object" || v === null),
  );
  let out = title !== undefined ? `${title}:\n` : "";
  out += `${renderTable(
    ["field", "value"],
    scalars.map(([k, v]) => [k, cell(v)]),
    ["left", "left"],
  )}\n`;
  for (const [k, v] of Object.entries(summary)) {
    if (k === "kernelFormat") continue;
    if (Array.isArray(v)) out += `\n${list(k, v as Record<string, unknown>[])}`;
    else if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (k === "inner") out += `\n${render(o, "inner kernel")}`;
      else
        out += `\n${k}:\n${renderTable(
          ["property", "value"],
          Object.entries(o).map(([a, b]) => [a, cell(b)]),
          ["left", "left"],
        )}\n`;
    }
  }
  return out;
}

/** The architecture a kernel file is for, from its innermost format. */
function archOf(f: KernelFileFormat): "arm64" | "x86_64" | undefined {
  switch (f.kind) {
    case "arm64-image":
      return "arm64";
    case "bzimage":
      return "x86_64";
    case "elf":
      return f.arch === "unknown" ? undefined : f.arch;
    case "compressed":
    case "zboot":
    case "uki":
      return archOf(f.inner);
    default:
      return undefined;
  }
}

export function registerInspect(program: Command, ctx: CliContext): Command {
  return program
    .command("inspect")
    .description(
      "read a kernel (arm64 Image, EFI zboot, UKI, compressed Image, bzImage, ELF64), a DTB or a /proc/iomem dump and show what loaders see",
    )
    .argument(
      "<file>",
      "the file; zboot, UKI and compressed kernels are unwrapped and the kernel inside shown",
    )
    .option("--json", "print one JSON document")
    .option(
      "--kexec-tools-version <x.y.z>",
      "judge the loaders as this kexec-tools release does",
      LATEST_KEXEC_TOOLS,
    )
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab inspect /boot/vmlinuz-6.1.0-50-cloud-arm64
  $ kexec-lab inspect /boot/efi/EFI/Linux/fedora.efi --json
  $ kexec-lab inspect Image.zst --kexec-tools-version 2.0.30
  $ kexec-lab inspect board.dtb --json
  $ kexec-lab inspect /proc/iomem

The kind is detected from the content: "MZ" + "zimg" (EFI zboot), "ARM\\x64" at 0x38 (arm64 Image),
"HdrS" at 0x202 (bzImage), the ELF magic, a PE file with a .linux section (UKI), a compression magic
(gzip, zstd, xz, lz4; lzma, lzo and bzip2 are recognised, not decoded), the FDT magic 0xd00dfeed, or
"start-end : name" lines (iomem). For a kernel, "loaders" says which loader path takes the file with
that kexec-tools version (accepted, unwrapped, or refused with the errno) and what "kexec -l" does.`,
    )
    .action(async (file: string, opts: { json?: boolean; kexecToolsVersion: string }) => {
      const bytes = readInputFile(file);
      const progress = startProgress(ctx.io, `decompress ${file}`);
      let summary: Awaited<ReturnType<typeof inspectFile>>;
      try {
        summary = await inspectFile(bytes, file, { onProgress: (d, t) => progress.update(d, t) });
      } finally {
        progress.stop();
      }
      const format = summary.kernelFormat as KernelFileFormat | undefined;
      const arch = format ? archOf(format) : undefined;
      if (format && arch) {
        const v = opts.kexecToolsVersion;
        summary.loaders = LOADER_PATHS.map((p) => {
          const a = acceptance(arch, format, p, v);
          return {
            loader: p,
            outcome: a.outcome,
            errno: a.errno ?? null,
            unwrap: a.unwrap.join("; ") || null,
            reason: a.reason,
          };
        });
        summary.kexecL = autoLoad(arch, format, v).summary;
      }
      if (opts.json) printJson(ctx.io, summary);
      else ctx.io.stdout(render(summary));
      ctx.exitCode = EXIT_OK;
    });
}
