// The one interface every disk image format implements. It is synchronous on purpose: the device
// thread calls it between virtio requests, and a blocking pread/pwrite on a local file costs less
// than a promise round trip per request.
import { readSync, writeSync } from 'node:fs';
import { HangarError, type ErrorCode } from '../common/errors.ts';

export type DiskFormat = 'raw' | 'qcow2';

export interface BlockDevice {
  readonly path: string;
  readonly format: DiskFormat;
  /** Virtual size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** The image this one reads unallocated clusters from (qcow2 backing file), if any. */
  readonly backing: BlockDevice | null;
  /** Fills `into` with the bytes at [offset, offset + into.length). */
  read(offset: number, into: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
  /** Makes every completed write durable (fsync), metadata in an order that survives a crash. */
  flush(): void;
  /** The range is no longer needed; afterwards it reads as zeros (space is given back where the format can). */
  discard(offset: number, length: number): void;
  /** The range reads as zeros afterwards, with as little written as the format allows. */
  writeZeroes(offset: number, length: number): void;
  /** Flushes and closes the image and its backing chain. */
  close(): void;
}

/** A range of guest bytes. */
export interface Extent {
  offset: number;
  length: number;
}

/** A damaged, unsupported or misused image. The message names the file and what is wrong. */
export class DiskError extends HangarError {
  override name = 'DiskError';
  constructor(message: string, code: ErrorCode = 'invalid-argument') {
    super(code, message);
  }
}

/** Refuses a request outside [0, size) or a write to a read-only disk, before anything is done. */
export function checkRequest(disk: BlockDevice, offset: number, length: number, writing: boolean): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > disk.size) {
    throw new DiskError(`${disk.path}: request [${offset}, +${length}) is outside the disk (${disk.size} bytes)`);
  }
  if (writing && disk.readOnly) throw new DiskError(`${disk.path}: the disk is read-only`);
}

/** pread that fills `into` completely; bytes past the end of the file read as zeros. */
export function readAt(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  into.fill(0, done);
}

/** pwrite of all of `data`. */
export function writeAt(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** A shared all-zero buffer for writing zeros, grown on demand. Never written to. */
let zeros = new Uint8Array(0);
export function zeroBytes(length: number): Uint8Array {
  if (zeros.length < length) zeros = new Uint8Array(Math.max(length, 1 << 20));
  return zeros.subarray(0, length);
}

export function isAllZero(bytes: Uint8Array): boolean {
  return Buffer.compare(bytes, zeroBytes(bytes.length)) === 0; // memcmp, far faster than a JS loop
}
