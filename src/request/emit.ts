/**
 * `kexec-lab emit`'s choices: the QEMU target's architecture, its default strategy, and the scenario an
 * image is built from (the seeded demo, or a scenario file fitted to QEMU's RAM). Browser-safe.
 */

import { fitScenarioForQemu, qemuDemoScenario } from "../emit/scenario.js";
import { KexecLabError } from "../errors.js";
import type { Arch } from "../kimage/constants.js";
import type { PageSize } from "../machine/physmem.js";
import type { RelocScenario } from "../reloc/run.js";
import { type ReadFile, type Scenario, toRelocScenario } from "../scenario/load.js";

/** The QEMU machines an image is emitted for. */
export const EMIT_TARGETS = ["qemu-virt-arm64", "qemu-pc-x86_64"] as const;
export type EmitTarget = (typeof EMIT_TARGETS)[number];

/** qemu-virt-arm64 runs arm64, qemu-pc-x86_64 x86_64. */
export function emitTargetArch(target: EmitTarget): Arch {
  return target === "qemu-virt-arm64" ? "arm64" : "x86_64";
}

/** The strategy emitted when none is named: linear-map-copy on arm64, x86-ident on x86_64. */
export function defaultEmitStrategy(arch: Arch): string {
  return arch === "arm64" ? "linear-map-copy" : "x86-ident";
}

/**
 * The scenario of an emission: without `scenario` the seeded QEMU demo (qemuDemoScenario: 4 MiB kernel,
 * 2 MiB initrd and DTB, random page order) at `pageSize`; with it, the loaded scenario file fitted to
 * the target's RAM (fitScenarioForQemu), its own page size and seed. Errors: E_FIELD_VALUE naming
 * `scenario.file` and machine.arch when the scenario is for the other architecture; fitScenarioForQemu's.
 */
export function emitScenario(
  target: EmitTarget,
  pageSize: PageSize,
  seed: number,
  scenario?: { loaded: Scenario; readFile: ReadFile; file: string },
): RelocScenario {
  const arch = emitTargetArch(target);
  if (scenario === undefined) return qemuDemoScenario({ arch, pageSize, seed });
  if (scenario.loaded.arch !== arch) {
    throw new KexecLabError(
      "E_FIELD_VALUE",
      `the scenario is ${scenario.loaded.arch}; target ${target} runs ${arch}`,
      {
        file: scenario.file,
        field: "machine.arch",
      },
    );
  }
  return fitScenarioForQemu(toRelocScenario(scenario.loaded, scenario.readFile));
}
