/** The timing model's public API. */

export {
  type CalibrationPoint,
  type CalibrationResidual,
  type CalibrationResult,
  calibrate,
} from "./calibrate.js";
export { kernelPayloadOf, scenarioKernelPayload, syntheticKernelPayload } from "./kernel-payload.js";
export {
  COMPONENTS,
  type ModelDetail,
  type ModelOptions,
  type ModelStats,
  modelTrace,
  modelTraceDetailed,
  modelTraceRange,
  physicalLimitSeconds,
  traceModeler,
} from "./model.js";
export {
  ARM64_PARALLEL_TEARDOWN_PER_CPU,
  ARM64_SERIAL_TEARDOWN_PER_CPU,
  ASSUMED_RATIO,
  CMA_DMA_TIMEOUT_SEC,
  CODEC_CYCLES_PER_BYTE,
  type Codec,
  cpuTeardown,
  decompressSeconds,
  hashedBytes,
  hasPurgatory,
  type KernelPayload,
  type LoadCall,
  PHASES,
  type Phase,
  type PhaseName,
  type PublishedConstant,
  phasesRange,
  phasesTotal,
  phasesUnknown,
  type RebootInput,
  type RebootPath,
  type RebootSegment,
  rebootPhases,
  SHA256_BLOCK,
  SHA256_BLOCK_X86_64_INSTRUCTIONS,
  sha256Seconds,
} from "./phases.js";
export {
  BUILTIN_PROFILES,
  builtinProfile,
  coherenceOf,
  getParam,
  loadProfile,
  type Profile,
  resolveProfileRefs,
  withParam,
} from "./profiles.js";
export {
  addRanges,
  directionOf,
  profileBound,
  rangeRatio,
  rangeVerdict,
  type SecondsRange,
  UNKNOWN_RATIO,
  widenRange,
} from "./ranges.js";
export {
  type RebootOptions,
  type RebootReport,
  type RebootSaving,
  type RebootStrategy,
  rankSavings,
  rebootReport,
} from "./reboot.js";
export { pagePairs, SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace, strategyTrace } from "./shapes.js";
export { modelSweep, renderModelTable, type SweepPoint, sweepChartSvg } from "./sweep.js";
export {
  PUBLISHED_POINTS,
  type PublishedPoint,
  predictPoint,
  renderValidationTable,
  type ValidationRow,
  validationRows,
} from "./validation.js";
