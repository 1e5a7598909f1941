/** Types for the decoder packages that ship none (only what src/formats/decompress.ts uses). */

declare module "lz4js" {
  /** Decodes one LZ4 block src[sIndex, sIndex+sLength) into dst from dIndex; returns the new dIndex. */
  export function decompressBlock(
    src: Uint8Array,
    dst: Uint8Array,
    sIndex: number,
    sLength: number,
    dIndex: number,
  ): number;
}
