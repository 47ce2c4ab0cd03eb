// Raw images: the virtual disk is the file, byte for byte. Node offers no fallocate, so a discard
// cannot punch a hole; it writes zeros (skipped past the end of the data already on disk).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync } from 'node:fs';
import { checkRequest, readAt, writeAt, zeroBytes, type BlockDevice } from './block-device.ts';

const ZERO_CHUNK = 1 << 20;

export class RawDisk implements BlockDevice {
  readonly format = 'raw';
  readonly backing = null;
  readonly size: number;

  /** Takes ownership of `fd`. */
  constructor(readonly path: string, private readonly fd: number, readonly readOnly: boolean) {
    this.size = fstatSync(fd).size;
  }

  read(offset: number, into: Uint8Array): void {
    checkRequest(this, offset, into.length, false);
    readAt(this.fd, into, offset);
  }

  write(offset: number, data: Uint8Array): void {
    checkRequest(this, offset, data.length, true);
    writeAt(this.fd, data, offset);
  }

  flush(): void {
    if (!this.readOnly) fsyncSync(this.fd);
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  writeZeroes(offset: number, length: number): void {
    checkRequest(this, offset, length, true);
    for (let done = 0; done < length; done += ZERO_CHUNK) {
      writeAt(this.fd, zeroBytes(Math.min(ZERO_CHUNK, length - done)), offset + done);
    }
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Creates a sparse raw image of `size` bytes; refuses to replace an existing file. */
export function createRaw(path: string, size: number): void {
  const fd = openSync(path, 'wx');
  try {
    ftruncateSync(fd, size);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
