/** The CLI's file helpers live in the library's Node folder (src/formats/node/files.ts). */

import { KexecLabError } from "../errors.js";
import { checkOutputPath, STDOUT_PATH } from "../formats/node/files.js";

export {
  checkOutputPath,
  readInputFile,
  readTextFile,
  removePartialOutputs,
  STDOUT_PATH,
  writeOutputFile,
  writeOutputFileWith,
} from "../formats/node/files.js";

/**
 * Check a text output's path before the work starts: `-` (standard output) is accepted when `stdoutFree`
 * (the command prints nothing else there), else refused with E_USAGE naming `option`; any other path by
 * checkOutputPath's rules.
 */
export function checkTextOutput(path: string, force: boolean, option: string, stdoutFree = true): void {
  if (path === STDOUT_PATH) {
    if (!stdoutFree) {
      throw new KexecLabError(
        "E_USAGE",
        `${option} -: standard output already carries this command's own output; give a file`,
        { field: option },
      );
    }
    return;
  }
  checkOutputPath(path, force);
}

/**
 * Check a binary output's path before the work starts: `-` is refused (E_USAGE: binary bytes are not
 * printed); any other path by checkOutputPath's rules.
 */
export function checkBinaryOutput(path: string, force: boolean, option: string): void {
  if (path === STDOUT_PATH) {
    throw new KexecLabError("E_USAGE", `${option} -: this output is binary; give a file`, {
      field: option,
    });
  }
  checkOutputPath(path, force);
}
