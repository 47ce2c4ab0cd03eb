// The host file under a qcow2 image: positioned reads and writes that keep track of the file's
// length, so that every table entry can be checked against the end of the file.
import { closeSync, fstatSync, fsyncSync, ftruncateSync } from 'node:fs';
import { DiskError, readAt, writeAt } from './block-device.ts';

export class ImageFile {
  /** Length of the file in bytes, including writes made through this object. */
  size: number;

  constructor(readonly path: string, readonly fd: number, readonly readOnly: boolean) {
    this.size = fstatSync(fd).size;
  }

  read(into: Uint8Array, position: number): void {
    readAt(this.fd, into, position);
  }

  write(data: Uint8Array, position: number): void {
    if (this.readOnly) throw new DiskError(`${this.path}: opened read-only`);
    writeAt(this.fd, data, position);
    this.size = Math.max(this.size, position + data.length);
  }

  /** Grows the file (with a hole) so that it covers `end` bytes. */
  extendTo(end: number): void {
    if (end <= this.size) return;
    ftruncateSync(this.fd, end);
    this.size = end;
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
