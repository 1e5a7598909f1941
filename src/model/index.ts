/** The timing model's public API. */

export {
  type CalibrationPoint,
  type CalibrationResidual,
  type CalibrationResult,
  calibrate,
} from "./calibrate.js";
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
  BUILTIN_PROFILES,
  builtinProfile,
  getParam,
  loadProfile,
  type Profile,
  resolveProfileRefs,
  withParam,
} from "./profiles.js";
export { pagePairs, SHAPE_STRATEGIES, type ShapeStrategy, shapeTrace, strategyTrace } from "./shapes.js";
export { modelSweep, renderModelTable, type SweepPoint, sweepChartSvg } from "./sweep.js";
