/**
 * kexec-lab's public API (browser-safe: no node: imports). Each area adds its exports in its own block.
 * The Node-only file readers (readPlanFiles, readScenarioFile, readHostDir, ...) are in the
 * "kexec-lab/node" entry point (src/node.ts).
 */

// --- kdump: crashkernel= parsed and reserved as the kernel does, the crash load's region, what the
// crash kernel is given, sizing (src/crash; docs/kdump.md) --------------------------------------------
export { crashLoadRegion, KEXEC_TOOLS_MULTI_REGION, kernelCrashRes } from "./crash/choose.js";
export { type DistroDefault, distroDefaultSizes, distroDefaults } from "./crash/defaults.js";
export { type CrashKernelGiven, crashKernelGiven } from "./crash/given.js";
export { type HostMemblock, hostMemblock, hostReserveInput } from "./crash/host.js";
export {
  CRASH_MEASUREMENTS,
  type CrashMeasurement,
  type CrashRuntimeFit,
  fitCrashRuntime,
  type MeasuredMinimum,
  type MeasuredProbe,
  measuredCrashRuntime,
} from "./crash/measured.js";
export {
  type CrashkernelSpec,
  formatCrashkernel,
  memparse,
  type ParsedValue,
  parseCrashkernelOption,
  specOf,
} from "./crash/parse.js";
export {
  type CrashRegion,
  iomemLines,
  memblockFindTopDown,
  type ReserveInput,
  type ReserveResult,
  reserveCrashkernel,
} from "./crash/reserve.js";
export { crashRuntimeNeed, type RuntimeInput, type RuntimeTerm } from "./crash/runtime.js";
export {
  type BisectResult,
  bisectCrashkernel,
  bisectProbeCount,
  type ProbeResult,
  type ProbeRunner,
  readProbeConsole,
  sizeText,
  VERIFY_MARK,
} from "./crash/verify.js";
export {
  type VerifyProbe,
  type VerifyReport,
  type VerifyRunner,
  type VerifySetup,
  verifyBisect,
  verifyOnce,
} from "./crash/verify-report.js";
export { type DiffReport, diffLoad, explainNoHole, type Finding, smallestChanges } from "./diagnose/diff.js";
export { type KexecLogFacts, parseKexecLog } from "./diagnose/log.js";
// --- executable proof on QEMU (src/emit; the QEMU runner itself is Node-only: src/emit/node/qemu.ts) ---
export {
  type Arm64Params,
  type EmittedImage,
  emitArm64,
  emitArm64MmuOff,
  type QemuRamFile,
  type QemuRange,
  qemuArm64Args,
  qemuRamBase,
  qemuRamMiB,
} from "./emit/arm64.js";
export { type EmitBlob, kimagePages, pagesToBlobs } from "./emit/blobs.js";
export { type CompareOptions, compareEmission, compareRanges, type MemoryReader } from "./emit/compare.js";
export { emitProbeImage, type ProbeOutcome, predictProbe } from "./emit/probe.js";
export { emitX86ProbeImage, predictX86Probe, type X86ProbeOutcome } from "./emit/probe-x86.js";
export { fitScenarioForQemu, qemuDemoScenario } from "./emit/scenario.js";
export {
  type EmitStrategyOptions,
  emitStrategy,
  qemuArgsFor,
  type StrategyEmission,
} from "./emit/strategy.js";
export { emitX86, qemuX86Args } from "./emit/x86.js";
// --- errors: every bad input is a KexecLabError with a catalogued code (docs/errors.md) -------------
export {
  CATALOG,
  type CatalogEntry,
  type ErrorCode,
  type ErrorWhere,
  formatWhere,
  isKexecLabError,
  KexecLabError,
  REFUSAL_CODES,
} from "./errors.js";
// --- real inputs: parsers (src/formats) and segment placement (src/loader) ---------------------------
export { type Arm64Image, parseArm64Image } from "./formats/arm64-image.js";
export { type BzImage, parseBzImage } from "./formats/bzimage.js";
export { type CompressionMethod, detectCompression } from "./formats/compression.js";
export {
  DECODABLE_METHODS,
  DEFAULT_MAX_DECOMPRESSED,
  type Decompressed,
  type DecompressOptions,
  decompress,
} from "./formats/decompress.js";
export {
  detectKind,
  type FileKind,
  type InspectSummary,
  inspectBytes,
  inspectFile,
} from "./formats/detect.js";
export { type DeviceTreeInfo, deviceTreeInfo, deviceTreeMemoryMap } from "./formats/devicetree.js";
export { type Elf64, type ElfLoad, parseElf64 } from "./formats/elf.js";
export {
  type Fdt,
  type FdtNode,
  type FdtNopRun,
  type FdtProp,
  fdtDelpropInPlace,
  fdtSetprop,
  parseFdt,
  serializeFdt,
} from "./formats/fdt.js";
export { type Iomem, iomemToMemoryMap, parseIomem } from "./formats/iomem.js";
export {
  IMAGE_DIRECTORY_ENTRY_SECURITY,
  type PeDataDirectory,
  type PeFile,
  type PeSection,
  parsePe,
  peSectionData,
} from "./formats/pe.js";
export { checkInputRole, describeKind, kernelArchOf, parseArch } from "./formats/role.js";
export {
  describeLayers,
  type KernelFileFormat,
  type UnwrapLayer,
  type UnwrappedKernel,
  unwrapKernel,
} from "./formats/unwrap.js";
export { parseZboot, type ZbootImage } from "./formats/zboot.js";
// --- the gates (src/gates): will the kernel let a load in at all? docs/gates.md ---------------------
export { GateRefusalError } from "./gates/error.js";
export { evaluateGates } from "./gates/evaluate.js";
export { GATE_STAGE, GATES, type GateStage } from "./gates/order.js";
export type {
  Gate,
  GateCheck,
  GateName,
  GateQuery,
  GateRefusal,
  GateSignatureVerdict,
  GateState,
  GateSyscall,
  GateVerdict,
  KernelConfig,
  Lockdown,
} from "./gates/types.js";
// --- the user's machine and kexec's own command line (src/host, src/memory, src/kexectools) ----------
export { type HostCma, parseHostCma } from "./host/cma.js";
export { cpusStuckFromFdt, parseHostGates, parseKernelConfig, parseLockdown } from "./host/gates.js";
export { describeHost, HOST_FILES, type Host, parseHost, parseMeminfo } from "./host/host.js";
export { hostCrashRegion, hostMachineView, hostPlanFields } from "./host/plan.js";
export { type KexecArgs, parseKexecArgs } from "./kexectools/args.js";
export {
  arm64MemoryRanges,
  formatKexecLoad,
  kexecLoadFlags,
  parseKexecLoadTable,
  x86MemoryRanges,
} from "./kexectools/debug.js";
/**
 * Where a KHO kernel (6.16+, kho=on) reserves its scratch areas at boot (kernel/liveupdate/kexec_handover.c
 * kho_reserve_scratch on memblock): `khoReserveScratch` from the memblock state before it,
 * `khoScratchFromBootedMemblock` from a kho=on boot's memblock dump, `hostKhoScratch` for a collected host.
 */
export { type HostKhoScratch, hostKhoScratch } from "./kho/host.js";
export {
  type KhoReserveInput,
  type KhoReserveResult,
  type KhoScratchArea,
  type KhoScratchParam,
  khoReserveScratch,
  khoScratchFromBootedMemblock,
  type MemblockRegion as KhoMemblockRegion,
  parseKhoScratchParam,
  parseMemblockRegions,
} from "./kho/reserve.js";
// --- relocation (src/reloc): strategies, the simulated CPU, verification, runScenario ------------------
export {
  ARCHES,
  type Arch,
  IND_DESTINATION,
  IND_DONE,
  IND_FLAGS,
  IND_INDIRECTION,
  IND_SOURCE,
} from "./kimage/constants.js";
// --- the kexec_load syscall (src/kimage): the kernel's checks and the kimage ------------------------------
export type { Kimage, Segment } from "./kimage/kimage.js";
export { kexecLoad, type LoadOptions, type LoadResult } from "./kimage/load.js";
export { type Errno, type LoadRequest, type Verdict, validateLoad } from "./kimage/validate.js";
export {
  type Acceptance,
  acceptance,
  autoLoad,
  LATEST_KEXEC_TOOLS,
  type LoaderPath,
} from "./loader/accept.js";
export {
  clearInitrdInPlace,
  editDtbKexecFile,
  editDtbKexecTools,
} from "./loader/dtb-edit.js";
/** The loader registry: kexec-tools' file_type[] and the kernel's kexec_file_loaders[] per architecture (src/loader/registry.ts). */
export type {
  FileType,
  KernelFile,
  KexecFileOps,
  LoadArgs,
  LoadResult as LoaderResult,
} from "./loader/file-ops.js";
/** The running machine as the loaders read it, each text parsed once (src/loader/machine-view.ts). */
export { type MachineInput, MachineView, machineView } from "./loader/machine-view.js";
export {
  DEFAULT_PURGATORY,
  formatPrintSegments,
  kexecFileAcceptance,
  LOADERS,
  type LoaderKind,
  type Plan,
  /** planLoad's input: the kernel's bytes and what else the load takes; `arch` is inferred from the kernel when left out. */
  type PlanLoadInput as PlanInput,
  planLoad,
  planToJson,
} from "./loader/plan.js";
export {
  chooseLoader,
  FILE_TYPES,
  KEXEC_FILE_LOADERS,
  probeFileTypes,
  probeKexecFileLoaders,
} from "./loader/registry.js";
export { Machine, type MachineOptions } from "./machine/machine.js";
export { MemoryMap } from "./machine/memmap.js";
export { answerMemoryQuestions, type MemoryAnswer } from "./memory/answer.js";
export {
  type CrashkernelEstimate,
  estimateCrashkernel,
  KDUMP_UTILS_TREES,
  type KdumpUtilsTree,
  kdumpRecommendCrashkernel,
  kdumpSystemGiB,
} from "./memory/crashkernel.js";
export { type LoadMemory, loadMemory } from "./memory/load-memory.js";
// --- translation tables (src/mmu): formats, builder, walker, TLB, table-page accounting ----------------
export { bumpAllocator, checkMapRequest, leafLevels, TableBuilder, type TableCost } from "./mmu/builder.js";
export { type CountMapping, type CountResult, countTablePages, decompose } from "./mmu/count.js";
export { type DescribedWalk, describeWalk, dumpTree, tableImage } from "./mmu/dump.js";
export { Arm64Format, MAIR_EL1, tcrFor } from "./mmu/format-arm64.js";
export {
  EFER_LMA,
  EFER_LME,
  EFER_NXE,
  MSR_EFER,
  X86_CR0_PG,
  X86_CR4_LA57,
  X86_CR4_PAE,
  X86Format,
} from "./mmu/format-x86.js";
export { createFormat, entrySize, type FormatSpec, levelIndex } from "./mmu/formats.js";
export { buildSingleRange, planSingleRange, type SingleRangeSpec } from "./mmu/single.js";
export type {
  DecodedDescriptor,
  LevelInfo,
  MapAttributes,
  MapOptions,
  MapRequest,
  TableAllocator,
  TranslationFormat,
  VaHalf,
  WalkFault,
  WalkResult,
  WalkStep,
} from "./mmu/types.js";
export { formatVa, fromVaParts, toVaParts } from "./mmu/types.js";
export { Tlb, WalkScratch, walk, walkInto } from "./mmu/walker.js";
export {
  type CalibrationSpec,
  calibrationPoints,
  parseCalibrationSpec,
  relocatedBytes,
  scenarioTrace,
} from "./model/calibrate-points.js";
export { coherenceOf } from "./model/profiles.js";
export { type ListWalk, RelocCpu, relocateList, type Translator } from "./reloc/cpu.js";
export { type GuardedKind, PageGuard } from "./reloc/guard.js";
export {
  ARM64_DEFAULT_COHERENCE,
  type Coherence,
  describeWriter,
  LineTracker,
  X86_COHERENCE,
} from "./reloc/lines.js";
export { type ListVisitor, walkEntryList } from "./reloc/list.js";
// what a strategy module needs besides the interface (docs/strategies.md): attributes, formats, the TLB
export {
  CODE_ATTRS,
  cleanRelocationCode,
  DATA_ATTRS,
  enterInPlace,
  fetch,
  formatFor,
  IDENT_ATTRS,
  installTlb,
  maxEntriesOf,
  memstartAlign,
  memstartOf,
  tableCost,
  tablePagePas,
} from "./reloc/mmu-common.js";
export {
  BUILTIN_STRATEGIES,
  findStrategy,
  REFERENCE_STRATEGIES,
  registerStrategy,
  strategiesFor,
  strategyNames,
} from "./reloc/registry.js";
export type {
  ModelSummary,
  PageMap,
  PageTableCost,
  RelocCounters,
  RunResult,
  StrategyResult,
  VerificationFailure,
} from "./reloc/result.js";
export {
  defaultCoherence,
  LoadRefused,
  noteStrategyFile,
  type RelocScenario,
  type RunOutcome,
  type RunScenarioOptions,
  type RunStrategyOptions,
  runScenario,
  runStrategy,
  StrategyError,
  type StrategyRun,
} from "./reloc/run.js";
export {
  DEFAULT_STRATEGY_OPTIONS,
  noTables,
  type PreparedRelocation,
  type RelocationStrategy,
  type StrategyContext,
  type StrategyOptions,
} from "./reloc/strategy.js";
export {
  ACC_ENTRY,
  ACC_TABLE,
  ACC_UNCACHED,
  type AccessSink,
  BARRIER_DSB,
  BARRIER_ISB,
  BARRIER_MMU_OFF,
  BARRIER_MMU_ON,
  BARRIER_TLBI,
  CMO_DC_CIVAC,
  CMO_DC_CVAC,
  CMO_DC_CVAU,
  CMO_DC_IVAC,
  CMO_IC_IALLU,
  CMO_IC_IVAU,
  COPY_LINEAR_LOOP,
  COPY_SCRATCH,
  COPY_UNCACHED,
  EV_BARRIER,
  EV_CMO,
  EV_COPY,
  EV_DESC_READ,
  EV_LOAD,
  EV_STORE,
  EV_TLB_MISS,
  NULL_SINK,
  TraceBuffer,
} from "./reloc/trace.js";
export { type VaCopyClean, vaCopyStrategy } from "./reloc/va-copy.js";
export { type VerifyOutcome, verifySegments } from "./reloc/verify.js";
export { renderBenchText } from "./report/bench-text.js";
export { renderCalibrationText } from "./report/calibrate-text.js";
export {
  type Curve,
  type ReportCurves,
  type SpreadRow,
  spreadOverLayouts,
  tableCostCurves,
  timeCurves,
} from "./report/curves.js";
export { DIFF_MARKS, renderDiffText } from "./report/diff-text.js";
export {
  EMIT_BLOB_ROWS,
  type EmitReport,
  type EmitRunSummary,
  emitJson,
  renderEmitText,
} from "./report/emit-text.js";
export { escapeHtml, jsonForScript } from "./report/escape.js";
export { formatBytes, formatCount, formatSeconds, hexAddr, renderTable } from "./report/format.js";
export {
  type HtmlReportOptions,
  renderHtmlReport,
  renderMemoryMapSvg,
  verifiedMeaning,
} from "./report/html.js";
export { renderInspectText } from "./report/inspect-text.js";
export { renderMemoryText } from "./report/memory-text.js";
export { renderOverheadText, renderWalkText, tablesJson } from "./report/mmu-text.js";
export { buildPageMap } from "./report/pagemap.js";
export { PHASE_COLORS, strategyPalette } from "./report/palette.js";
export { renderPlanText } from "./report/plan-text.js";
export { loadRunResult } from "./report/result-schema.js";
export { type MarkStyle, plainMark, renderRebootText, renderRunText } from "./report/run-text.js";
// --- a command's options as one library call (src/request; file readers in src/request/node) ---------
export { type BenchOptions, type BenchRow, benchScenario } from "./request/bench.js";
export {
  type CrashkernelAnswer,
  type CrashkernelRequest,
  crashkernelCmdline,
  crashRegionsForPlan,
  reserveForHost,
} from "./request/crashkernel.js";
export { diffLog, loaderForLog } from "./request/diff.js";
export {
  defaultEmitStrategy,
  EMIT_TARGETS,
  type EmitTarget,
  emitScenario,
  emitTargetArch,
} from "./request/emit.js";
export { type GateReport, gatedPlanLoad } from "./request/gates.js";
export { inspectSignature, judgeLoaders, kernelFormatArch } from "./request/inspect.js";
export { crashSizeOf, type KexecInputs, type KexecOutcome, kexecLoadOutput } from "./request/kexec.js";
export {
  type MappingOptions,
  mappingSpec,
  parseVa,
  type TableOverhead,
  tableOverhead,
} from "./request/mapping.js";
export { type ArchEvidence, inferArch, parseSizeAt } from "./request/plan.js";
export { reportCurves, reportProfileName } from "./request/report.js";
export {
  loadCallOf,
  profilesFor,
  type RunPlanFiles,
  type RunRequest,
  type RunSource,
  runRequest,
  splitList,
} from "./request/run.js";
export { type TotalRam, validateLoadDocument } from "./request/validate.js";
export { defaultScenario } from "./scenario/default.js";
export {
  loadScenario,
  placeScenarioFiles,
  type RunLoadedOptions,
  runLoadedScenario,
  type Scenario,
  type ScenarioSegment,
  scenarioMemoryMap,
  scenarioSegments,
  toRelocScenario,
} from "./scenario/load.js";
export { type ScenarioInput, scenarioJsonSchema, scenarioSchema } from "./scenario/schema.js";
export { gateSignatureFrom } from "./signature/gate.js";
export { appendedModsig } from "./signature/modsig.js";
// --- kernel signatures (src/signature; reading --trusted-cert files is Node-only: src/signature/node) ------
export {
  authenticodeRanges,
  digestRanges,
  type HashRange,
  type PeCertificateTable,
  peCertificateTable,
  type WinCertificate,
} from "./signature/pe-hash.js";
export { type AuthenticodeMessage, parseAuthenticode } from "./signature/pkcs7.js";
export {
  authenticodeDigest,
  KEYRINGS,
  type KernelSignatureVerdict,
  type KeyringName,
  type SignatureCheck,
  type SignatureState,
  type TrustedCert,
  type TrustMatch,
  trustedCertsFromFile,
  verifyKernelSignature,
} from "./signature/verify.js";
export { type CertSummary, type ParsedCert, parseCertificates } from "./signature/x509.js";
// --- parameter sweeps (src/sweep; the worker-thread pool is Node-only: src/sweep/node/pool.ts) --------
export {
  evaluatePoint,
  gridFrom,
  parseFreePages,
  parseGranule,
  parseInteger,
  SWEEP_COLUMNS,
  type SweepGridOptions,
  type SweepPoint,
  type SweepRow,
  type SweepScenarioSource,
  toCsv,
} from "./sweep/grid.js";
