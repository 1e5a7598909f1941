import type { Command } from "commander";
import { inspectFile } from "../../formats/detect.js";
import { LATEST_KEXEC_TOOLS } from "../../loader/accept.js";
import { renderInspectText } from "../../report/inspect-text.js";
import { inspectSignature, judgeLoaders } from "../../request/inspect.js";
import { readTrustedCerts } from "../../signature/node/trusted-certs.js";
import type { CliContext } from "../context.js";
import { EXIT_OK } from "../exit.js";
import { readInputFile } from "../files.js";
import { printJson } from "../io.js";
import { startProgress } from "../progress.js";

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
    .option(
      "--trusted-cert <[keyring=]file>",
      "a certificate (DER or PEM) the machine trusts, in keyring builtin (default), secondary, machine or platform; the kernel's signature is verified against these (repeatable)",
      (v: string, prev: string[] = []) => [...prev, v],
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
  $ kexec-lab inspect /boot/vmlinuz-6.1.0-50-cloud-arm64 --trusted-cert platform=debian-secure-boot-ca.pem

The kind is detected from the content: "MZ" + "zimg" (EFI zboot), "ARM\\x64" at 0x38 (arm64 Image),
"HdrS" at 0x202 (bzImage), the ELF magic, a PE file with a .linux section (UKI), a compression magic
(gzip, zstd, xz, lz4; lzma, lzo and bzip2 are recognised, not decoded), the FDT magic 0xd00dfeed, or
"start-end : name" lines (iomem). For a kernel, "loaders" says which loader path takes the file with
that kexec-tools version (accepted, unwrapped, or refused with the errno) and what "kexec -l" does;
"signature" reads its Authenticode signature (PE certificate table), computes the image hash as the
kernel's verify_pefile_signature does and says whether the signature is valid against the --trusted-cert
certificates: valid, unsigned (ENODATA), untrusted (ENOKEY), bad (EKEYREJECTED, EBADMSG, ELIBBAD) or
unknown (no certificates given: then it names the certificate and keyrings that would be needed).`,
    )
    .action(
      async (file: string, opts: { json?: boolean; kexecToolsVersion: string; trustedCert?: string[] }) => {
        const bytes = readInputFile(file);
        const trusted = await readTrustedCerts(opts.trustedCert ?? []);
        const progress = startProgress(ctx.io, `decompress ${file}`);
        let summary: Awaited<ReturnType<typeof inspectFile>>;
        try {
          summary = await inspectFile(bytes, file, { onProgress: (d, t) => progress.update(d, t) });
        } finally {
          progress.stop();
        }
        judgeLoaders(summary, opts.kexecToolsVersion);
        await inspectSignature(summary, bytes, trusted, file);
        if (opts.json) printJson(ctx.io, summary);
        else ctx.io.stdout(renderInspectText(summary));
        ctx.exitCode = EXIT_OK;
      },
    );
}
