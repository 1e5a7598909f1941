/**
 * Node-only: the gate state of a command (src/gates/types.ts GateState): the --host directory's
 * (src/host/gates.ts), with the command line's --lockdown, --kexec-load-disabled and --kernel-config
 * FILE winning over it; and the kernel file's signature verdict (verifyKernelSignature against the
 * --trusted-cert certificates) for the signature gate.
 */

import { gunzipSync } from "fflate";
import { KexecLabError } from "../../errors.js";
import { detectKind } from "../../formats/detect.js";
import { readInputFile } from "../../formats/node/files.js";
import type { GateState } from "../../gates/types.js";
import { parseKernelConfig, parseLockdown } from "../../host/gates.js";
import type { Host } from "../../host/host.js";
import { readHostDir } from "../../host/node/read.js";
import { gateSignatureFrom } from "../../signature/gate.js";
import { appendedModsig } from "../../signature/modsig.js";
import { readTrustedCerts } from "../../signature/node/trusted-certs.js";
import { type TrustedCert, verifyKernelSignature } from "../../signature/verify.js";
import { parseCertificates } from "../../signature/x509.js";

/** The gate options as commander gives them. */
export interface GateOptions {
  /** A kexec-lab-collect directory (or a recording) standing for the machine. */
  host?: string;
  /** --lockdown none|integrity|confidentiality */
  lockdown?: string;
  /** --kexec-load-disabled */
  kexecLoadDisabled?: boolean;
  /** --kernel-config FILE: a kernel .config, or /proc/config.gz as copied (gzip is unpacked). */
  kernelConfig?: string;
  /** --trusted-cert [KEYRING=]FILE (repeatable): certificates the machine's keyrings hold. */
  trustedCert?: string[];
  /** --ima-xattr signature|hash|none: the kernel file's security.ima, which IMA appraisal reads. */
  imaXattr?: string;
  /** --no-cap-sys-boot: the caller lacks CAP_SYS_BOOT in the initial user namespace (a container). */
  capSysBoot?: boolean;
}

/** The state from `host` (already read) or opts.host, then the options. Errors: parseLockdown's, the file's read errors. */
export function gateStateFromOptions(opts: GateOptions, host?: Host): GateState {
  const h = host ?? (opts.host !== undefined ? readHostDir(opts.host) : undefined);
  const state: GateState = { ...(h?.gates ?? {}) };
  if (opts.lockdown !== undefined)
    state.lockdown = { value: parseLockdown(opts.lockdown, "--lockdown"), source: "--lockdown" };
  if (opts.kexecLoadDisabled) state.kexecLoadDisabled = { value: true, source: "--kexec-load-disabled" };
  // commander's --no-cap-sys-boot sets capSysBoot to false (true by default, which states nothing)
  if (opts.capSysBoot === false) state.capSysBoot = { value: false, source: "--no-cap-sys-boot" };
  if (opts.imaXattr !== undefined) {
    if (!["signature", "hash", "none"].includes(opts.imaXattr))
      throw new KexecLabError(
        "E_USAGE",
        `--ima-xattr takes signature, hash or none, not "${opts.imaXattr}"`,
        {
          field: "--ima-xattr",
        },
      );
    state.imaXattr = { value: opts.imaXattr as "signature" | "hash" | "none", source: "--ima-xattr" };
  }
  if (opts.kernelConfig !== undefined) {
    let bytes = readInputFile(opts.kernelConfig);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    state.config = parseKernelConfig(new TextDecoder().decode(bytes), opts.kernelConfig);
  }
  return state;
}

/**
 * The kernel file's signature as kexec_file_load's KEXEC_SIG check reaches it (verifyKernelSignature),
 * against the --trusted-cert certificates, for the signature gate. kexec-tools hands a bzImage or an
 * arm64 Image to the kernel as it is; a wrapped kernel (zboot, UKI, compressed) is unwrapped first, so
 * the kernel checks the inner kernel, not the wrapper's signature: then the verdict is "unknown" and
 * says so. Errors: the --trusted-cert files' (E_FILE_READ, E_WRONG_FILE), the kernel file's read errors.
 */
export async function kernelSignatureState(
  kernelFile: string,
  trustedSpecs: readonly string[] = [],
  host?: Host,
) {
  const trusted = [...(await hostTrustedCerts(host)), ...(await readTrustedCerts(trustedSpecs))];
  const bytes = readInputFile(kernelFile);
  const kind = detectKind(bytes);
  if (kind !== "bzimage" && kind !== "arm64-image" && kind !== "elf64")
    return {
      state: "unknown" as const,
      trustedCount: trusted.length,
      detail: `${kernelFile} is ${kind === undefined ? "not a kernel kexec-lab knows" : `a ${kind} file`}: kexec-tools passes the kernel inside it to kexec_file_load, so the kernel checks that kernel's signature, not the file's`,
    };
  const verdict = gateSignatureFrom(await verifyKernelSignature(bytes, trusted, kernelFile));
  if (appendedModsig(bytes) !== null) verdict.modsig = true;
  return verdict;
}

/** The certificates a collected host's firmware and shim gave .platform (Host.trustedCerts), parsed. */
export async function hostTrustedCerts(host: Host | undefined): Promise<TrustedCert[]> {
  const out: TrustedCert[] = [];
  for (const c of host?.trustedCerts ?? [])
    for (const cert of await parseCertificates(c.der, c.source))
      out.push({ keyring: c.keyring, source: c.source, cert });
  return out;
}

/**
 * gateStateFromOptions, plus the signature verdict of `opts.kernel` (kernelSignatureState) when a
 * kernel file is given, against the host's firmware/shim certificates and --trusted-cert.
 */
export async function gateStateWithSignature(
  opts: GateOptions & { kernel?: string },
  host?: Host,
): Promise<GateState> {
  const h = host ?? (opts.host !== undefined ? readHostDir(opts.host) : undefined);
  const state = gateStateFromOptions(opts, h);
  if (opts.kernel !== undefined)
    state.signature = await kernelSignatureState(opts.kernel, opts.trustedCert, h);
  return state;
}
