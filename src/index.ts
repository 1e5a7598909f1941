/** kexec-lab's public API. Each area adds its exports in its own block. */

// --- real inputs: parsers (src/formats) and segment placement (src/loader) ---------------------------
export { type Arm64Image, parseArm64Image } from "./formats/arm64-image.js";
export { type BzImage, parseBzImage } from "./formats/bzimage.js";
export { detectKind, type FileKind, type InspectSummary, inspectBytes } from "./formats/detect.js";
export { type DeviceTreeInfo, deviceTreeInfo, deviceTreeMemoryMap } from "./formats/devicetree.js";
export { type Elf64, type ElfLoad, parseElf64 } from "./formats/elf.js";
export { type Fdt, type FdtNode, type FdtProp, parseFdt, serializeFdt } from "./formats/fdt.js";
export { type Iomem, iomemToMemoryMap, parseIomem } from "./formats/iomem.js";
export { editDtbKexecFile, editDtbKexecTools } from "./loader/dtb-edit.js";
export {
  DEFAULT_PURGATORY,
  formatPrintSegments,
  LOADERS,
  type LoaderKind,
  type Plan,
  type PlanInput,
  planLoad,
  planToJson,
} from "./loader/plan.js";
