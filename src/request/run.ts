/**
 * `kexec-lab run` as one library call: pick the input (a loaded scenario file, real kernel files placed
 * by a loader, or the embedded default scenario), run it through the relocation strategies with the
 * timing model, and attach the reboot model (src/model/reboot.ts). Browser-safe: files come in as
 * bytes or as an already loaded Scenario with a ReadFile for the files it names.
 */

import type { GateState } from "../gates/types.js";
import type { HostPlanFields } from "../host/plan.js";
import type { Arch } from "../kimage/constants.js";
import type { LoaderKind, PlacedBy, PlanInput } from "../loader/plan.js";
import type { FreePagePolicy } from "../machine/freepages.js";
import type { ContentMode } from "../machine/machine.js";
import type { PageSize } from "../machine/physmem.js";
import { kernelPayloadOf, scenarioKernelPayload, syntheticKernelPayload } from "../model/kernel-payload.js";
import { traceModeler } from "../model/model.js";
import type { KernelPayload, LoadCall } from "../model/phases.js";
import {
  builtinProfile,
  checkProfileArch,
  coherenceOf,
  defaultProfileName,
  type Profile,
  resolveProfileRefs,
} from "../model/profiles.js";
import { rebootReport } from "../model/reboot.js";
import {
  machineFor,
  type RelocScenario,
  type RunOutcome,
  type RunScenarioOptions,
  runScenario,
} from "../reloc/run.js";
import { scenarioPageMap } from "../report/pagemap.js";
import { defaultScenario } from "../scenario/default.js";
import { type ReadFile, runLoadedScenario, type Scenario } from "../scenario/load.js";
import { gatedPlanLoad } from "./gates.js";

/** The real files of a load, as bytes (readPlanFiles in src/formats/node/plan-files.ts reads them). */
export type RunPlanFiles = Pick<
  PlanInput,
  "kernel" | "kernelName" | "initrd" | "dtb" | "iomem" | "kernelFormat"
>;

/** What `run` relocates. */
export type RunSource =
  /** The embedded default scenario of the request's arch (src/scenario/default.ts). */
  | { kind: "default" }
  /** A scenario file loaded with loadScenario; `readFile` reads the files it names; `file` names it in errors. */
  | { kind: "scenario"; scenario: Scenario; readFile: ReadFile; file?: string }
  /**
   * Real files placed by `loader` (planLoad). Without iomem and dtb the machine is the default
   * scenario's. `name` labels the run (the kernel file's name).
   */
  | {
      kind: "files";
      name: string;
      files: RunPlanFiles;
      loader: LoaderKind;
      append?: string;
      wipeKaslrSeed?: boolean;
      /** What the gates read (src/gates; a --host's host.gates): a refused load throws E_GATE_REFUSED. */
      gates?: GateState;
      /**
       * The machine as kexec-lab-collect saw it (hostPlanFields of a --host directory): its memory
       * map, DTB, MemTotal, kexec-tools and kernel versions. The files' own iomem/dtb win over it.
       */
      host?: HostPlanFields;
    };

/** The knobs of a run; the defaults are `kexec-lab run`'s. */
export interface RunRequest {
  /** Architecture of the default scenario and of real files (a scenario file names its own). */
  arch: Arch;
  /** Strategy names to run (default: every one for the arch, or the scenario's list). */
  strategies?: string[];
  linearMap: "block" | "page";
  /** linear-map-copy's largest block with linearMap "block", bytes (0: the granule's largest). */
  linearMapBlock?: number;
  /** Translation granule of the default scenario and of real files, bytes (default 4096). */
  pageSize?: PageSize;
  vaBits?: number;
  x86Swap?: boolean;
  gbpages?: boolean;
  content: ContentMode;
  /** The running kernel's free-page order (default: the scenario's, random). */
  freePages?: FreePagePolicy;
  /** Seed of the default scenario's contents and random policies (default 1). */
  seed?: number;
  /** Wall-clock seconds per relocation (breaks byte-identical output). */
  timings?: boolean;
  /**
   * Timing-model profiles: [] for none; undefined for the scenario's `profiles`, else the arch's
   * default (defaultProfileName).
   */
  profiles?: Profile[];
  /** Attach RunResult.pageMap (for the HTML report). */
  pageMap?: boolean;
  /** Host-memory budget for exact page contents, bytes (the CLI's --max-memory). */
  maxBytes?: number;
  /** Reboot model: purgatory verifies its SHA-256 digests (kexec-tools without --no-checks). */
  purgatoryChecks: boolean;
  /** Reboot model: kexec_file_load with CMA placement (Linux 6.17+). */
  cma?: boolean;
  /** Reboot model: online CPUs at the jump (CPU teardown); default 1. */
  cpus?: number;
  /**
   * Reboot model: the crash path (a panic into a `kexec -p` crash kernel: no device shutdown, parallel
   * CPU stop, loaded in place). With `cma`, crashkernel=,cma: the 10 s CMA DMA wait.
   */
  crash?: boolean;
  onStrategy?: RunScenarioOptions["onStrategy"];
  onProgress?: RunScenarioOptions["onProgress"];
}

/**
 * "a, b,,c" -> ["a", "b", "c"]: a comma-separated option (--strategy, --profile), blanks dropped.
 * undefined stays undefined.
 */
export function splitList(text: string | undefined): string[] | undefined {
  return text
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * The profiles a run models: `given` when set ([] turns the model off), else the scenario's, else the
 * arch's default profile (defaultProfileName).
 */
export function profilesFor(given: Profile[] | undefined, arch: Arch, fromScenario: Profile[]): Profile[] {
  const out =
    given !== undefined
      ? given
      : fromScenario.length > 0
        ? fromScenario
        : [builtinProfile(defaultProfileName(arch))];
  for (const p of out) checkProfileArch(p, arch, given !== undefined ? "--profile" : "profiles");
  return out;
}

/**
 * The load call a placed image implies: on arm64 only kexec-tools' kexec_load path loads a purgatory
 * segment (kexec_file_load jumps straight to the kernel; arch/arm64/kernel/kexec_image.c); on x86_64
 * both do, so kexec_load is assumed.
 */
export function loadCallOf(arch: Arch, outcome: RunOutcome): LoadCall {
  if (arch === "x86_64" || !outcome.ok) return "kexec_load";
  return outcome.result.kimage.segments.some((s) => s.label === "purgatory")
    ? "kexec_load"
    : "kexec_file_load";
}

/**
 * Run `source` as `req` says and, when a profile is modeled, attach the reboot breakdown (result.reboot
 * for the first profile; result.reboots for each when there are several). A refused load is an outcome ({ok: false, verdict}), not an error.
 * Errors: those of loadScenario/planLoad/runScenario (catalogued KexecLabError: unknown strategy,
 * E_PAGE_SIZE, E_LIMIT past maxBytes, ...).
 */
export function runRequest(source: RunSource, req: RunRequest): RunOutcome {
  const common: RunScenarioOptions = {
    linearMap: req.linearMap,
    ...(req.linearMapBlock !== undefined && req.linearMapBlock > 0
      ? { linearMapBlock: req.linearMapBlock }
      : {}),
    x86Swap: req.x86Swap === true,
    gbpages: req.gbpages === true,
    timings: req.timings === true,
    ...(req.onStrategy !== undefined ? { onStrategy: req.onStrategy } : {}),
    ...(req.onProgress !== undefined ? { onProgress: req.onProgress } : {}),
  };
  // Verified against the first profile's cache rules (the one the reboot is modeled on), else the arch's.
  const withModel = (profiles: Profile[]): RunScenarioOptions => {
    const coherence = profiles[0] !== undefined ? { coherence: coherenceOf(profiles[0]) } : {};
    return profiles.length > 0
      ? { ...common, ...coherence, model: traceModeler(profiles) }
      : { ...common, ...coherence };
  };

  let outcome: RunOutcome;
  let profiles: Profile[];
  let call: LoadCall;
  let kernel: KernelPayload | undefined;
  /** The syscall real files were placed for (after --loader auto's choice). */
  let placedBy: PlacedBy | undefined;
  const seed = req.seed ?? 1;
  const pageSize = req.pageSize ?? 4096;
  if (source.kind === "scenario") {
    const sc = source.scenario;
    if (req.strategies !== undefined) sc.strategies = req.strategies.map((name) => ({ name, options: {} }));
    profiles = profilesFor(req.profiles, sc.arch, resolveProfileRefs(sc.profiles, "profiles", source.file));
    outcome = runLoadedScenario(sc, source.readFile, {
      ...withModel(profiles),
      ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}),
      pageMap: req.pageMap === true,
    });
    call = loadCallOf(sc.arch, outcome);
    kernel = scenarioKernelPayload(sc, source.readFile);
  } else {
    const base = defaultScenario(req.arch, req.content, seed, {
      pageSize,
      ...(req.vaBits !== undefined ? { vaBits: req.vaBits } : {}),
    });
    let sc: RelocScenario = {
      ...base,
      ...(req.freePages !== undefined ? { freePages: req.freePages } : {}),
      ...(req.maxBytes !== undefined ? { maxBytes: req.maxBytes } : {}),
    };
    if (source.kind === "files") {
      const input: PlanInput = {
        arch: req.arch,
        loader: source.loader,
        pageSize,
        seed,
        ...(source.host ?? {}),
        ...source.files,
        ...(source.append !== undefined ? { append: source.append } : {}),
        ...(source.wipeKaslrSeed === true ? { wipeKaslrSeed: true } : {}),
      };
      if (input.iomem === undefined && input.dtb === undefined && input.memmap === undefined)
        input.memoryMap = base.memoryMap;
      const { plan } = gatedPlanLoad(input, source.gates ?? {});
      placedBy = plan.loader;
      sc = {
        ...sc,
        name: source.name,
        memoryMap: plan.memoryMap,
        segments: plan.segments,
        contentMode: req.content,
      };
      kernel = kernelPayloadOf(input.kernel);
    } else {
      // the embedded default: synthetic contents behind a known header
      const k = sc.segments.find((s) => s.label === "kernel");
      if (k !== undefined) {
        kernel =
          k.content.kind === "bytes"
            ? kernelPayloadOf(k.content.data)
            : syntheticKernelPayload(sc.arch, k.content.bufsz);
      }
    }
    profiles = profilesFor(req.profiles, sc.arch, []);
    outcome = runScenario(sc, {
      ...withModel(profiles),
      ...(req.strategies !== undefined ? { strategies: req.strategies } : {}),
    });
    if (outcome.ok && req.pageMap === true) {
      const map = scenarioPageMap(machineFor(sc), sc.segments, sc.x86Levels);
      if (map !== undefined) outcome.result.pageMap = map;
    }
    call =
      placedBy !== undefined
        ? placedBy === "kexec-file"
          ? "kexec_file_load"
          : "kexec_load"
        : loadCallOf(sc.arch, outcome);
  }
  if (outcome.ok && profiles.length > 0) {
    const result = outcome.result;
    const reboots = profiles.map((profile) =>
      rebootReport(result, profile, {
        call: req.cma === true && req.crash !== true ? "kexec_file_load" : call,
        purgatoryChecks: req.purgatoryChecks,
        cma: req.cma === true && req.crash !== true,
        ...(req.cpus !== undefined ? { cpus: req.cpus } : {}),
        ...(req.crash === true ? { path: "crash" as const, crashCma: req.cma === true } : {}),
        ...(kernel !== undefined ? { kernel } : {}),
      }),
    );
    result.reboot = reboots[0];
    if (reboots.length > 1) result.reboots = reboots;
  }
  return outcome;
}
