/**
 * Bounds-checked reads of fixed-width integers from a byte buffer. Every read names the field it is
 * for, so a truncated file becomes a catalogued E_FORMAT_TRUNCATED error that says which field and
 * at which offset the file ended. 64-bit values are read as two 32-bit halves and returned as JS
 * numbers; values at or above 2^53 are refused (E_FORMAT_CORRUPT) since no real header field of
 * these formats holds one.
 */

import { KexecLabError } from "../errors.js";

const TWO_32 = 4294967296;

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly file: string | undefined;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, file?: string) {
    this.bytes = bytes;
    this.file = file;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws E_FORMAT_TRUNCATED unless [offset, offset+size) lies inside the buffer. */
  need(offset: number, size: number, field: string): void {
    if (offset < 0 || size < 0 || offset + size > this.bytes.length) {
      throw new KexecLabError(
        "E_FORMAT_TRUNCATED",
        `${field} needs bytes 0x${offset.toString(16)}..0x${(offset + size).toString(16)} but the file has 0x${this.bytes.length.toString(16)} bytes`,
        this.where(offset, field),
      );
    }
  }

  where(offset: number, field: string): { file?: string; offset: number; field: string } {
    return this.file !== undefined ? { file: this.file, offset, field } : { offset, field };
  }

  corrupt(offset: number, field: string, detail: string): KexecLabError {
    return new KexecLabError("E_FORMAT_CORRUPT", detail, this.where(offset, field));
  }

  u8(offset: number, field: string): number {
    this.need(offset, 1, field);
    return this.bytes[offset]!;
  }

  u16(offset: number, field: string, littleEndian = true): number {
    this.need(offset, 2, field);
    return this.view.getUint16(offset, littleEndian);
  }

  u32(offset: number, field: string, littleEndian = true): number {
    this.need(offset, 4, field);
    return this.view.getUint32(offset, littleEndian);
  }

  /** A u64 as a JS number; throws E_FORMAT_CORRUPT when it is 2^53 or more. */
  u64(offset: number, field: string, littleEndian = true): number {
    this.need(offset, 8, field);
    const a = this.view.getUint32(offset, littleEndian);
    const b = this.view.getUint32(offset + 4, littleEndian);
    const hi = littleEndian ? b : a;
    const lo = littleEndian ? a : b;
    if (hi >= 0x200000) {
      throw this.corrupt(
        offset,
        field,
        `value 0x${hi.toString(16)}${lo.toString(16).padStart(8, "0")} is 2^53 or more`,
      );
    }
    return hi * TWO_32 + lo;
  }

  /** A full 64-bit value as a bigint (for virtual addresses; header parsing only, never per page). */
  u64big(offset: number, field: string, littleEndian = true): bigint {
    this.need(offset, 8, field);
    return this.view.getBigUint64(offset, littleEndian);
  }

  ascii(offset: number, length: number, field: string): string {
    this.need(offset, length, field);
    let s = "";
    for (let i = 0; i < length; i++) s += String.fromCharCode(this.bytes[offset + i]!);
    return s;
  }
}

/** Split a JS number below 2^53 into big-endian bytes of a u64 (for FDT properties). */
export function u64BeBytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  const v = new DataView(out.buffer);
  v.setUint32(0, hi);
  v.setUint32(4, lo);
  return out;
}

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
