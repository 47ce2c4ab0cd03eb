// Operations on backing chains, for snapshots: what an image holds itself, merging an image's
// backing file into it (QEMU's "block stream" of one level), and repointing an image at another
// backing file (`qemu-img rebase -u`).
//
// Merge order, so that a crash at any point leaves the image reading the same bytes:
//   1. the clusters the backing file holds and the image does not are copied into the image,
//      then flushed — the image still reads through the same backing file, now redundantly;
//   2. the header is rewritten to name the backing file's own backing file (one write of the
//      first sector, fsync). Repeating a merge after a crash copies nothing twice.
import { isAbsolute, relative, dirname } from 'node:path';
import { openSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DiskError, isAllZero, type BlockDevice, type DiskFormat, type Extent } from './block-device.ts';
import { ImageFile } from './image-file.ts';
import { openDisk, readQcow2Header, resolveBacking } from './open.ts';
import { Ext, headerExtensions, MAX_BACKING_NAME, writeExtension } from './qcow2-format.ts';
import { Qcow2Disk, writeRefusal } from './qcow2.ts';
import type { OperationOptions } from '../common/operation.ts';

const CHUNK = 1 << 20;

/** The guest byte ranges `disk` holds itself (a raw image holds all of it). */
export function ownExtents(disk: BlockDevice): Extent[] {
  return disk instanceof Qcow2Disk ? disk.ownExtents() : [{ offset: 0, length: disk.size }];
}

/** `from` minus `without`, both sorted and non-overlapping lists. */
function subtract(from: Extent[], without: Extent[]): Extent[] {
  const out: Extent[] = [];
  let j = 0;
  for (const extent of from) {
    let start = extent.offset;
    const end = extent.offset + extent.length;
    while (j < without.length && without[j]!.offset + without[j]!.length <= start) j++;
    for (let k = j; k < without.length && without[k]!.offset < end; k++) {
      const cut = without[k]!;
      if (cut.offset > start) out.push({ offset: start, length: cut.offset - start });
      start = Math.max(start, cut.offset + cut.length);
    }
    if (start < end) out.push({ offset: start, length: end - start });
  }
  return out;
}

/** What a merge copies into `child`: the ranges its backing file holds that the child does not. */
function mergePieces(child: Qcow2Disk, backing: BlockDevice): Extent[] {
  const inside = ownExtents(backing)
    .filter((e) => e.offset < child.size)
    .map((e) => ({ offset: e.offset, length: Math.min(e.length, child.size - e.offset) }));
  return subtract(inside, child.ownExtents());
}

function openWithBacking(path: string, readOnly: boolean): Qcow2Disk & { backing: BlockDevice } {
  const disk = openDisk(path, { readOnly });
  if (!(disk instanceof Qcow2Disk) || !disk.backing) {
    disk.close();
    throw new DiskError(`${path}: has no backing file to merge`);
  }
  return disk as Qcow2Disk & { backing: BlockDevice };
}

/**
 * About how many bytes `child` grows by when its backing file is merged into it: every child
 * cluster a merge would allocate. (Ranges that turn out to be zeros cost less.)
 */
export function mergeGrowth(childPath: string): number {
  const child = openWithBacking(childPath, true);
  try {
    const cs = child.clusterSize;
    const clusters = new Set<number>();
    for (const piece of mergePieces(child, child.backing)) {
      for (let c = Math.floor(piece.offset / cs); c * cs < piece.offset + piece.length; c++) clusters.add(c);
    }
    return clusters.size * cs;
  } finally {
    child.close();
  }
}

/**
 * Copies into the qcow2 image at `childPath` everything its backing file holds that the image
 * does not, then makes the image's backing file the backing file's own (or none). The image reads
 * the same bytes before, during and after; the old backing file is no longer needed by it.
 */
export async function mergeBackingInto(childPath: string, options: OperationOptions = {}): Promise<void> {
  const child = openWithBacking(childPath, false);
  let newBacking: { name: string; format: DiskFormat } | null = null;
  try {
    const backing = child.backing;
    const pieces = mergePieces(child, backing);
    const total = pieces.reduce((sum, p) => sum + p.length, 0);
    const chunk = new Uint8Array(CHUNK);
    let done = 0;
    for (const piece of pieces) {
      for (let at = piece.offset; at < piece.offset + piece.length; at += CHUNK) {
        options.signal?.throwIfAborted();
        const data = chunk.subarray(0, Math.min(CHUNK, piece.offset + piece.length - at));
        backing.read(at, data);
        // While the old backing file is still below, a partial cluster's copy-on-write fills the
        // rest of the cluster from it: exactly the bytes the image showed.
        if (isAllZero(data)) child.writeZeroes(at, data.length);
        else child.write(at, data);
        done += data.length;
        options.onProgress?.({ phase: 'merge', item: childPath, done, total });
        await nextTurn();
      }
    }
    child.flush();
    if (backing.backing) newBacking = { name: backingNameFor(childPath, backing as Qcow2Disk), format: backing.backing.format };
  } finally {
    child.close();
  }
  setBackingFile(childPath, newBacking);
}

/** The name under which `childPath` should refer to `backing`'s backing file: relative stays relative. */
function backingNameFor(childPath: string, backing: Qcow2Disk): string {
  const stored = backing.header.backingFile!;
  if (isAbsolute(stored)) return stored;
  return relative(dirname(childPath), resolveBacking(backing.path, stored));
}

/**
 * Rewrites the header of the qcow2 image at `path` to name another backing file (or none),
 * without touching any data (`qemu-img rebase -u`): the caller vouches that the image reads
 * right over the new one. Other header extensions are kept; the optional feature name table is
 * left out so that the header, extensions and a name of up to ~370 bytes fit the first
 * 512-byte sector, which the disk writes as one piece.
 */
export function setBackingFile(path: string, backing: { name: string; format: DiskFormat } | null): void {
  const file = new ImageFile(path, openSync(path, 'r+'), false);
  try {
    const header = readQcow2Header(file);
    const refusal = writeRefusal(header);
    if (refusal) throw new DiskError(`${path} ${refusal}`);
    const clusterSize = 2 ** header.clusterBits;
    const first = new Uint8Array(Math.min(clusterSize, file.size));
    file.read(first, 0);
    const name = Buffer.from(backing?.name ?? '');
    if (name.length > MAX_BACKING_NAME) throw new DiskError(`${path}: backing file name "${backing!.name}" is too long`);

    const out = new Uint8Array(clusterSize);
    const view = new DataView(out.buffer);
    out.set(first.subarray(0, header.headerLength));
    let at = header.headerLength;
    let oldEnd = at;
    const extension = (type: number, data: Uint8Array) => { at = writeExtension(out, at, type, data); };
    for (const ext of headerExtensions(path, header, first)) {
      oldEnd = ext.data + Math.ceil(ext.length / 8) * 8;
      if (ext.type !== Ext.BackingFormat && ext.type !== Ext.FeatureTable) extension(ext.type, first.subarray(ext.data, ext.data + ext.length));
    }
    if (header.version === 3) {
      if (backing) extension(Ext.BackingFormat, Buffer.from(backing.format));
    } else if (backing?.format === 'raw') {
      throw new DiskError(`${path}: a version 2 image cannot name its backing file's format; raw backing files need version 3`);
    }
    at += 8; // end-of-extensions marker (QEMU writes one in version 2 images too)
    oldEnd += 8;
    if (at + name.length > clusterSize) throw new DiskError(`${path}: backing file name "${backing!.name}" does not fit in the header cluster`);
    view.setBigUint64(8, BigInt(name.length ? at : 0));
    view.setUint32(16, name.length);
    out.set(name, at);
    const end = at + name.length;
    if (header.backingFileOffset) oldEnd = Math.max(oldEnd, header.backingFileOffset + header.backingFileSize);

    file.write(out.subarray(0, end), 0);
    file.sync();
    // What the old header left beyond the new one is no longer part of it; clear it for tidiness.
    if (oldEnd > end) {
      file.write(new Uint8Array(oldEnd - end), end);
      file.sync();
    }
  } finally {
    file.close();
  }
}
