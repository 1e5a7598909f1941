/** Test-side access to the QEMU runner (src/emit/node/qemu.ts), plus the loud skip. */

import { haveTool } from "../../src/emit/node/qemu.js";

export {
  firstDiff,
  haveTool,
  QEMU_ARM64,
  QEMU_X86,
  type QemuResult,
  type RunOptions,
  runEmitted,
} from "../../src/emit/node/qemu.js";

/** Skip loudly: a test file calls this once and uses describe.skipIf(!ok). */
export function requireTool(bin: string): boolean {
  const ok = haveTool(bin);
  if (!ok) {
    process.stderr.write(
      `\n*** ${bin} is not installed: the QEMU conformance tests are SKIPPED. ` +
        "Install qemu-system-arm, qemu-system-x86 and binutils-aarch64-linux-gnu (see .ci/run). ***\n\n",
    );
  }
  return ok;
}
