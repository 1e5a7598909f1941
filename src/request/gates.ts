/**
 * The one hook between the gates (src/gates) and planning: `gatedPlanLoad` runs a load through the
 * gates in the order kexec-tools and the kernel meet them and places it with planLoad, so a load the
 * kernel refuses is never returned as placed. Browser-safe.
 *
 * The order (src/gates/order.ts): kexec-tools' own checks (crash reservation) first; with kexec_file_load
 * first (kexec -s, or -a the default from kexec-tools 2.0.27) the kernel's gates before the kernel
 * places the segments, and a refusal with an errno kexec-tools falls back from (ENOSYS, EINVAL, ENOEXEC,
 * ENOTSUP) sends -a on to kexec_load; kexec_load's gates act after kexec-tools has placed the segments
 * (its own placement errors come first) and before the kernel's segment checks; machine_kexec_prepare's
 * gate (arm64 CPUs stuck) after the segments passed those checks.
 */

import { GateRefusalError } from "../gates/error.js";
import { evaluateGates, stateKnown } from "../gates/evaluate.js";
import { gateKernelKind } from "../gates/kind.js";
import type { GateQuery, GateState, GateSyscall, GateVerdict } from "../gates/types.js";
import { DEFAULT_KEXEC_TOOLS_VERSION, FALLBACK_ERRNOS, syscallPlan } from "../loader/auto.js";
import { callerOf } from "../loader/caller.js";
import { DEFAULT_KERNEL_VERSION } from "../loader/kexec-file/version.js";
import { type MachineView, machineView } from "../loader/machine-view.js";
import { type Plan, type PlanInput, planLoadOn } from "../loader/plan.js";

/**
 * The state after one permitted call: kexec_load_permitted (6.3+) counts a limit that is not -1 down
 * even when the call then fails (kexec -a's kexec_file_load attempt before its fallback).
 */
function afterOneLoad(state: GateState, crash: boolean): GateState {
  const key = crash ? "limitPanic" : "limitReboot";
  const l = state[key];
  if (l === undefined || l.value <= 0) return state;
  return {
    ...state,
    [key]: {
      value: l.value - 1,
      source: `${l.source}: ${l.value}, less the kexec_file_load attempt kexec_load_permitted counted before it failed`,
    },
  };
}

/**
 * MachineView.crashReserved, or undefined when the memory map text does not parse (planLoad then
 * reports that error where it reads the map).
 */
function reservedPerIomem(view: MachineView): boolean | undefined {
  try {
    return view.crashReserved;
  } catch {
    return undefined;
  }
}

/** What the gates said about a load that passed them. */
export interface GateReport {
  /** The syscall the load was placed for. */
  syscall: GateSyscall;
  /** Every gate verdict, in the order they acted (a gate-refused kexec_file_load before a fallback included). */
  verdicts: GateVerdict[];
  /** Gates that let the load through with something to know (an unverified kernel, IMA appraisal). */
  warnings: string[];
  /** Whether anything about the machine's gates was known (false: every gate answered "unknown"). */
  known: boolean;
}

/**
 * Place `input` as planLoad does, behind the gates of `state` (an empty state passes every gate as
 * unknown). Throws GateRefusalError (E_GATE_REFUSED, exit 1) for a load refused at a gate, and
 * planLoad's errors where placement fails first. The gates' warnings are appended to plan.notes.
 */
export function gatedPlanLoad(input: PlanInput, given: GateState = {}): { plan: Plan; gates: GateReport } {
  // A crash region named on the command line (--crashkernel) is a reservation, whatever the host shows.
  // Without one, and with nothing known of the reservation, the machine view's /proc/iomem decides: no
  // "Crash kernel" line is no reservation, which the crash-reserved gate (kexec-tools) or the
  // crash-region gate (the kernel) refuses before planLoad would (E_CRASH_NOT_RESERVED is left for
  // planLoad called without the gates). A line there needs no verdict: the loader reads the region.
  const view = machineView(input);
  const state: GateState =
    input.crashRegion !== undefined
      ? { ...given, crashRegion: { value: true, source: "--crashkernel" } }
      : given.crashRegion === undefined && input.crash === true && reservedPerIomem(view) === false
        ? {
            ...given,
            crashRegion: {
              value: false,
              source: `no "Crash kernel" in ${input.iomemName ?? "the /proc/iomem given"}`,
            },
          }
        : given;
  const base: Omit<GateQuery, "syscall"> = {
    crash: input.crash === true || input.crashRegion !== undefined,
    arch: input.arch,
    kernelVersion: input.kernelVersion ?? DEFAULT_KERNEL_VERSION,
    state,
    kexecToolsVersion: input.kexecToolsVersion ?? DEFAULT_KEXEC_TOOLS_VERSION,
    via: callerOf(input),
  };
  const kind = gateKernelKind(input.kernel, input.kernelFormat?.kind);
  if (kind !== undefined) base.kernelKind = kind;
  const verdicts: GateVerdict[] = [];
  const check = (v: GateVerdict) => {
    if (v.checks.length > 0) verdicts.push(v);
    if (v.refusal !== undefined) throw new GateRefusalError(v.refusal, verdicts);
  };
  const choice = syscallPlan(input.loader ?? "auto", input.kexecToolsVersion);
  const first: GateSyscall = choice.first === "kexec-file" ? "kexec_file_load" : "kexec_load";
  // kexec-tools' main() checks before any placement or syscall.
  check(evaluateGates({ ...base, syscall: first }, ["kexec-tools"]));
  let planInput = input;
  let fallbackNote: string | undefined;
  if (first === "kexec_file_load") {
    const v = evaluateGates({ ...base, syscall: "kexec_file_load" }, ["syscall"]);
    const r = v.refusal;
    if (r !== undefined && choice.fallback && (FALLBACK_ERRNOS as readonly string[]).includes(r.errno)) {
      verdicts.push(v);
      planInput = { ...input, loader: "kexec-tools" };
      fallbackNote = `${choice.why}; kexec_file_load fails with ${r.errno} at the ${r.gate} gate (${r.reason}), so kexec-tools falls back to kexec_load`;
    } else if (r?.gate === "probe") {
      // The loader's own probe (kexecFileAcceptance) refuses the file with the same errno
      // (E_SYSCALL_REFUSED); let planLoad say it, after the gates before the probe passed.
      verdicts.push(v);
      planInput = { ...input, loader: input.loader === "systemd" ? "systemd" : "kexec-file" };
    } else check(v);
  }
  const plan = planLoadOn(planInput, view);
  if (fallbackNote !== undefined) plan.selection = fallbackNote;
  const syscall: GateSyscall = plan.loader === "kexec-tools" ? "kexec_load" : "kexec_file_load";
  // kexec_load's gates act when the syscall is made, after kexec-tools placed the segments. A
  // kexec_file_load tried first that passed kexec_load_permitted has used one load of the limit.
  if (syscall === "kexec_load") {
    const fileWasPermitted =
      first === "kexec_file_load" &&
      verdicts.some(
        (v) =>
          v.syscall === "kexec_file_load" &&
          v.checks.some((c) => c.gate === "permitted" && c.status !== "refuse"),
      );
    check(
      evaluateGates({ ...base, state: fileWasPermitted ? afterOneLoad(state, base.crash) : state, syscall }, [
        "syscall",
      ]),
    );
  }
  // machine_kexec_prepare comes after the kernel's segment checks passed.
  if (plan.verdict.ok) check(evaluateGates({ ...base, syscall }, ["prepare"]));
  const warnings = [...new Set(verdicts.flatMap((v) => v.warnings))];
  for (const w of warnings) plan.notes.push(w);
  return { plan, gates: { syscall, verdicts, warnings, known: stateKnown(state) } };
}
