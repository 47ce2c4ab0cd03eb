// Copying a disk's contents (through its whole backing chain) into a new image of either format.
// Zero chunks are not written, so the result is sparse. The new image is written under a
// temporary name and renamed into place at the end: a failed or cancelled conversion leaves no
// partial destination behind.
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DiskError, isAllZero, type BlockDevice, type DiskFormat } from './block-device.ts';
import { createQcow2, openDisk } from './open.ts';
import { createRaw } from './raw.ts';
import { Qcow2Disk } from './qcow2.ts';
import { syncFolderSync } from '../common/atomic-file.ts';

export interface ConvertOptions {
  format: DiskFormat;
  /** qcow2 only. */
  clusterSize?: number;
  /** Bytes copied so far (zero chunks count as copied) out of the virtual size. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The folders the source's backing chain must stay in, for a source from outside Hangar (OpenOptions). */
  backingRoots?: readonly string[];
}

const CHUNK = 1 << 20;

export async function convertDisk(source: string, destination: string, options: ConvertOptions): Promise<void> {
  if (existsSync(destination)) throw new DiskError(`${destination}: already exists`);
  const temporary = `${destination}.part-${process.pid}`;
  const src = openDisk(source, { readOnly: true, backingRoots: options.backingRoots });
  let dst: BlockDevice | null = null;
  try {
    if (options.format === 'raw') createRaw(temporary, src.size);
    else createQcow2(temporary, src.size, { clusterSize: options.clusterSize });
    dst = openDisk(temporary, { format: options.format });
    const chunk = new Uint8Array(CHUNK);
    const granule = dst instanceof Qcow2Disk ? dst.clusterSize : 64 * 1024;
    for (let offset = 0; offset < src.size; offset += CHUNK) {
      options.signal?.throwIfAborted();
      const piece = chunk.subarray(0, Math.min(CHUNK, src.size - offset));
      src.read(offset, piece);
      writeNonZero(dst, offset, piece, granule);
      options.onProgress?.(offset + piece.length, src.size);
      await nextTurn(); // lets a Ctrl-C (abort) land between chunks
    }
    dst.close();
    dst = null;
    renameSync(temporary, destination);
    syncFolderSync(dirname(destination)); // the new name survives a power cut too
  } catch (err) {
    try { dst?.close(); } catch { /* the error that got us here matters more */ }
    rmSync(temporary, { force: true });
    throw err;
  } finally {
    src.close();
  }
}

/** Writes the runs of `data` that are not all zeros, judged `granule` bytes (a cluster) at a time. */
function writeNonZero(dst: BlockDevice, offset: number, data: Uint8Array, granule: number): void {
  let runStart = -1;
  for (let at = 0; at <= data.length; at += granule) {
    const zero = at === data.length || isAllZero(data.subarray(at, at + granule));
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      dst.write(offset + runStart, data.subarray(runStart, at));
      runStart = -1;
    }
  }
}
