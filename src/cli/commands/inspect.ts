import type { Command } from "commander";
import { inspectBytes } from "../../formats/detect.js";
import { maybeGunzip } from "../../formats/node/decompress.js";
import { formatBytes, renderTable } from "../../report/format.js";
import { EXIT_OK } from "../exit.js";
import { readInputFile } from "../files.js";
import { printJson } from "../io.js";
import type { CliContext } from "../main.js";

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) && v >= 1024 ? `${v} (${formatBytes(v)})` : String(v);
  if (v === null || v === undefined) return "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
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

export function registerInspect(program: Command, ctx: CliContext): Command {
  return program
    .command("inspect")
    .description(
      "read a kernel (arm64 Image, bzImage, ELF64), a DTB or a /proc/iomem dump and show what loaders see",
    )
    .argument("<file>", "the file; Image.gz is inflated first")
    .option("--json", "print one JSON document")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab inspect /boot/vmlinuz-6.1.0-50-cloud-arm64
  $ kexec-lab inspect board.dtb --json
  $ kexec-lab inspect /proc/iomem

The kind is detected from the content: "ARM\\x64" at 0x38 (arm64 Image), "HdrS" at 0x202 (bzImage),
the ELF magic, the FDT magic 0xd00dfeed, or "start-end : name" lines (iomem).`,
    )
    .action((file: string, opts: { json?: boolean }) => {
      const bytes = maybeGunzip(readInputFile(file), file);
      const summary = inspectBytes(bytes, file);
      if (opts.json) {
        printJson(ctx.io, summary);
      } else {
        const scalars = Object.entries(summary).filter(
          ([, v]) => !Array.isArray(v) && (typeof v !== "object" || v === null),
        );
        let out = `${renderTable(
          ["field", "value"],
          scalars.map(([k, v]) => [k, cell(v)]),
          ["left", "left"],
        )}\n`;
        for (const [k, v] of Object.entries(summary)) {
          if (Array.isArray(v)) out += `\n${list(k, v as Record<string, unknown>[])}`;
          else if (v !== null && typeof v === "object") {
            out += `\n${k}:\n${renderTable(
              ["property", "value"],
              Object.entries(v as Record<string, unknown>).map(([a, b]) => [a, cell(b)]),
              ["left", "left"],
            )}\n`;
          }
        }
        ctx.io.stdout(out);
      }
      ctx.exitCode = EXIT_OK;
    });
}
