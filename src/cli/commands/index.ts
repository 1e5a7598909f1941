/** Every command, registered in the order `--help` lists them. */

import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { registerBench } from "./bench.js";
import { registerCalibrate } from "./calibrate.js";
import { registerCrashkernel } from "./crashkernel.js";
import { registerDiff } from "./diff.js";
import { registerEmit } from "./emit.js";
import { registerInspect } from "./inspect.js";
import { registerKexec } from "./kexec.js";
import { registerMemory } from "./memory.js";
import { registerOverhead } from "./overhead.js";
import { registerPlan } from "./plan.js";
import { registerReport } from "./report.js";
import { registerRun } from "./run.js";
import { registerSweep } from "./sweep.js";
import { registerTables } from "./tables.js";
import { registerValidate } from "./validate.js";
import { registerWalk } from "./walk.js";

export type RegisterCommand = (program: Command, ctx: CliContext) => Command;

export const COMMANDS: RegisterCommand[] = [
  registerRun,
  registerValidate,
  registerCalibrate,
  registerInspect,
  registerPlan,
  registerMemory,
  registerCrashkernel,
  registerKexec,
  registerDiff,
  registerReport,
  registerEmit,
  registerSweep,
  registerBench,
  registerTables,
  registerWalk,
  registerOverhead,
];
