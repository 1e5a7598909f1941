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
  physicalLimitSeconds,
  traceModeler,
} from "./model.js";
export {
  ASSUMED_RATIO,
  CODEC_CYCLES_PER_BYTE,
  type Codec,
  decompressSeconds,
  hashedBytes,
  hasPurgatory,
  type KernelPayload,
  type LoadCall,
  PHASES,
  type Phase,
  type PhaseName,
  phasesTotal,
  type RebootInput,
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
  type RebootOptions,
  type RebootReport,
  type RebootSaving,
  type RebootStrategy,
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
