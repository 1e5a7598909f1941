/**
 * kexec-lab's Node-only API: the "kexec-lab/node" entry point (package.json "exports"). The main entry
 * ("kexec-lab", src/index.ts) runs in a browser and takes bytes; this one reads and writes files with
 * node:fs and runs QEMU. Every reader names the file in its errors (KexecLabError: E_FILE_READ,
 * E_WRONG_FILE, the parsers' E_FORMAT_*), and the writers follow docs/errors.md's rules for outputs
 * (regular files only, written atomically).
 */

// --- QEMU (docs/qemu.md) ----------------------------------------------------------------------------------
export { haveTool, QEMU_ARM64, QEMU_X86, type QemuResult, runEmitted } from "./emit/node/qemu.js";
// --- any file in, any output file out ------------------------------------------------------------------
export {
  checkOutputPath,
  inputFileSize,
  readFileHead,
  readInputFile,
  readTextFile,
  STDOUT_PATH,
  writeOutputFile,
  writeOutputFileWith,
} from "./formats/node/files.js";
// --- files of a load (docs/loaders.md): kernel, initrd, DTB, iomem --------------------------------------
export {
  kernelFileArch,
  MAX_SIZE_ONLY,
  MAX_SMALL_INPUT,
  type PlanFiles,
  type ReadPlanOptions,
  readKernelFile,
  readPlanFiles,
} from "./formats/node/plan-files.js";
// --- a machine described by kexec-lab-collect (docs/host.md), scenario and JSON files ------------------
export { readHostDir } from "./host/node/read.js";
export { recordCacheDir } from "./node/guest/debs.js";
export {
  arm64TextOffset,
  checkVerifyHost,
  type ProbeOptions,
  type ProbeRun,
  prepareVerifyTools,
  qemuArgs as verifyQemuArgs,
  runProbe,
  VERIFY_KEXEC_TOOLS,
  VERIFY_MACHINES,
  type VerifyTools,
} from "./node/kdump-verify/run.js";
// --- a command's options, files read (what the CLI does before it calls planLoad) ----------------------
export { type PlanOptions, planInputFromOptions } from "./request/node/plan-input.js";
export { loadStrategyFile } from "./request/node/strategy-file.js";
export { readJsonFile, readScenarioFile } from "./scenario/node/read.js";
