import type { Command } from "commander";
import { ramFromOptions } from "../../request/node/totalram.js";
import { validateLoadDocument } from "../../request/validate.js";
import { readJsonFile } from "../../scenario/node/read.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { paint, printJson } from "../io.js";

export function registerValidate(program: Command, ctx: CliContext): Command {
  return program
    .command("validate")
    .description("check a kexec_load segment list as the kernel does: the errno it would return, and why")
    .argument("<file>", "JSON: {arch, pageSize, ramBytes?, segments:[{mem, memsz, bufsz}], crash?}")
    .option("--host <dir>", "totalram from the machine's MemTotal (kexec-lab-collect's meminfo.txt)")
    .option(
      "--iomem <file>",
      "totalram estimated from a /proc/iomem's System RAM (MemTotal is a little less)",
    )
    .option("--ram <size>", "totalram_pages() x PAGE_SIZE, typed")
    .option("--json", "print the verdict as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ kexec-lab validate load.json
  $ kexec-lab validate load.json --json
  $ kexec-lab validate load.json --host ./my-host

Exit code 0 when the kernel would accept the segments, 1 when it would refuse them, 2 on bad input.`,
    )
    .action((file: string, opts: { json?: boolean; host?: string; iomem?: string; ram?: string }) => {
      const v = validateLoadDocument(readJsonFile(file), file, ramFromOptions(opts));
      if (opts.json) {
        printJson(ctx.io, { ok: v.ok, errno: v.errno, check: v.check, segment: v.segment, reason: v.reason });
      } else if (v.ok) {
        ctx.io.stdout(`${paint(ctx.io, "green", "accepted")}: ${v.reason}\n`);
      } else {
        const seg = v.segment !== null ? ` (segment ${v.segment})` : "";
        ctx.io.stdout(
          `${paint(ctx.io, "red", "refused")} with ${v.errno} by the ${v.check} check${seg}: ${v.reason}\n`,
        );
      }
      ctx.exitCode = v.ok ? EXIT_OK : EXIT_REFUSED;
    });
}
