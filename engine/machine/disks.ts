// The machine's disks: images opened with engine/storage's openDisk (raw or qcow2, detected from
// the content) for the board's virtio-blk devices. They are opened all or none, and closed —
// flushed first — when the machine ends, whatever ended it.
import { openDisk, type BlockDevice } from '../storage/index.ts';

/**
 * A disk image the device thread opens (engine/storage openDisk: raw or qcow2, by content) and
 * serves to the guest as a virtio-blk device; it is flushed and closed when the machine ends.
 */
export interface DiskConfig {
  path: string;
  readOnly: boolean;
  /** What the guest reads as the disk's serial number (GET_ID; at most 20 bytes). */
  serial?: string;
  /**
   * The folders the image's backing chain must stay in (engine/storage OpenOptions.backingRoots):
   * an image from outside Hangar must not make a host file part of the disk.
   */
  backingRoots?: readonly string[];
}

/** A disk as the board serves it. */
export interface BoardDisk {
  disk: BlockDevice;
  serial?: string;
}

/** Opens every disk, or none: if one fails, those already open are closed and the error thrown. */
export function openDisks(configs: readonly DiskConfig[]): BoardDisk[] {
  const disks: BoardDisk[] = [];
  try {
    for (const { path, readOnly, serial, backingRoots } of configs) disks.push({ disk: openDisk(path, { readOnly, backingRoots }), serial });
  } catch (err) {
    closeDisks(disks);
    throw err;
  }
  return disks;
}

/** Flushes and closes every disk, even when one fails; the first failure is then thrown. */
export function closeDisks(disks: readonly BoardDisk[]): void {
  let failure: unknown = null;
  for (const { disk } of disks) {
    try {
      disk.close();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== null) throw failure;
}
