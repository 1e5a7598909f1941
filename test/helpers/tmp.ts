/**
 * Temporary directories for tests: made through the tool's helper (src/node/tmp.ts, named
 * `kexec-lab-<name>-<pid>-XXXXXX`) and removed by an afterAll hook of the test file that asked, so a
 * passing or failing file leaves nothing; a worker killed outright leaves its directory to the sweep at
 * the next start (test/global-setup.ts). Call at a file's top level or inside a describe block.
 */

import { afterAll } from "vitest";
import { makeTempDir } from "../../src/node/tmp.js";

export function testTempDir(name: string): string {
  const dir = makeTempDir(`kexec-lab-${name}`);
  afterAll(() => dir.dispose());
  return dir.path;
}
