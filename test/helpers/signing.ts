/**
 * A throwaway signing key for the signature tests: `openssl req -x509` writes an RSA-2048 key and its
 * self-signed certificate (PEM), valid for ten years, with the subject given. sbsign then signs with them.
 */

import { execFileSyncOwned } from "../../src/node/child.js";

export function selfSignedKey(key: string, cert: string, subject: string): void {
  execFileSyncOwned(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      subject,
    ],
    { encoding: "utf8" },
  );
}
