/** The CLI's file helpers live in the library's Node folder (src/formats/node/files.ts). */
export {
  checkOutputPath,
  readInputFile,
  readTextFile,
  removePartialOutputs,
  writeOutputFile,
  writeOutputFileWith,
} from "../formats/node/files.js";
