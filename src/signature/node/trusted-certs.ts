/**
 * The `--trusted-cert [KEYRING=]FILE` option (Node only): which certificates the user says the machine's
 * keyrings hold. KEYRING is builtin, secondary, machine or platform (the kernel's .builtin_trusted_keys,
 * .secondary_trusted_keys, .machine, .platform); without it a certificate counts as .builtin_trusted_keys.
 * FILE is DER or PEM (all "BEGIN CERTIFICATE" blocks), e.g. a certificate exported with
 * `keyctl pipe <id>` or `mokutil --export`, or a distribution's CA.
 */

import { KexecLabError } from "../../errors.js";
import { readInputFile } from "../../formats/node/files.js";
import { type KeyringName, type TrustedCert, trustedCertsFromFile } from "../verify.js";

const KEYRING_NAMES: Record<string, KeyringName> = {
  builtin: ".builtin_trusted_keys",
  ".builtin_trusted_keys": ".builtin_trusted_keys",
  secondary: ".secondary_trusted_keys",
  ".secondary_trusted_keys": ".secondary_trusted_keys",
  machine: ".machine",
  ".machine": ".machine",
  mok: ".machine",
  platform: ".platform",
  ".platform": ".platform",
  db: ".platform",
};

/** Splits "platform=FILE" into keyring and file; a prefix that names no keyring is part of the path. */
export function parseTrustedCertSpec(spec: string): { keyring: KeyringName; file: string } {
  const eq = spec.indexOf("=");
  if (eq > 0) {
    const keyring = KEYRING_NAMES[spec.slice(0, eq)];
    if (keyring !== undefined) {
      if (eq === spec.length - 1)
        throw new KexecLabError("E_USAGE", `--trusted-cert ${spec}: no file after "="`, {
          field: "--trusted-cert",
        });
      return { keyring, file: spec.slice(eq + 1) };
    }
  }
  return { keyring: ".builtin_trusted_keys", file: spec };
}

/** Reads every --trusted-cert. Errors: E_FILE_READ, E_WRONG_FILE (not a certificate), E_FORMAT_CORRUPT. */
export async function readTrustedCerts(specs: readonly string[]): Promise<TrustedCert[]> {
  const out: TrustedCert[] = [];
  for (const spec of specs) {
    const { keyring, file } = parseTrustedCertSpec(spec);
    out.push(...(await trustedCertsFromFile(readInputFile(file), file, keyring)));
  }
  return out;
}
