import type { Command } from "commander";
import { KexecLabError } from "../../errors.js";
import { iomemToMemoryMap, parseIomem } from "../../formats/iomem.js";
import { readHostDir } from "../../host/node/read.js";
import { validateLoad } from "../../kimage/validate.js";
import { parseSize } from "../../scenario/numbers.js";
import { parseJson, parseLoadRequest } from "../../scenario/validate-input.js";
import { EXIT_OK, EXIT_REFUSED } from "../exit.js";
import { readTextFile } from "../files.js";
import { paint, printJson } from "../io.js";
import type { CliContext } from "../main.js";

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
      const json = parseJson(readTextFile(file), file);
      const ram = ramFromOptions(opts);
      if (ram !== undefined && json !== null && typeof json === "object" && !Array.isArray(json)) {
        if ("ramBytes" in json) {
          throw new KexecLabError("E_USAGE", `${file} has ramBytes and ${ram.from} gives it too: keep one`, {
            field: "ramBytes",
          });
        }
        (json as Record<string, unknown>).ramBytes = ram.bytes;
      }
      // Fields before ramBytes (arch, pageSize) are reported by parseLoadRequest in its own order.
      if (
        ram === undefined &&
        json !== null &&
        typeof json === "object" &&
        "segments" in json &&
        !("ramBytes" in json)
      ) {
        throw new KexecLabError(
          "E_FIELD_MISSING",
          '"ramBytes" is required: put it in the file, or give --host DIR (MemTotal), --iomem FILE or --ram SIZE',
          { file, field: "ramBytes" },
        );
      }
      const req = parseLoadRequest(json);
      const v = validateLoad(req);
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

/** totalram from --host (MemTotal), --iomem (System RAM sum) or --ram; at most one of them. */
function ramFromOptions(opts: {
  host?: string;
  iomem?: string;
  ram?: string;
}): { bytes: string; from: string } | undefined {
  const given = (["host", "iomem", "ram"] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 1)
    throw new KexecLabError("E_USAGE", `--${given.join(" and --")} exclude each other`, {
      field: `--${given[0]}`,
    });
  if (opts.host !== undefined) {
    const host = readHostDir(opts.host);
    if (host.memTotal === undefined)
      throw new KexecLabError("E_FIELD_MISSING", "no MemTotal (meminfo.txt)", { file: opts.host });
    return { bytes: String(host.memTotal), from: "--host" };
  }
  if (opts.iomem !== undefined) {
    const map = iomemToMemoryMap(parseIomem(readTextFile(opts.iomem), opts.iomem));
    return { bytes: String(map.ramBytes), from: "--iomem" };
  }
  if (opts.ram !== undefined) return { bytes: String(parseSize(opts.ram, "--ram")), from: "--ram" };
  return undefined;
}
