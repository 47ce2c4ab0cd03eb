// What `hangar disk info` and `hangar disk check` report about an image.
import { openSync, statSync } from 'node:fs';
import { DiskError, type BlockDevice, type DiskFormat } from './block-device.ts';
import { ImageFile } from './image-file.ts';
import { checkQcow2, type CheckReport } from './qcow2-check.ts';
import { Compatible, Incompatible, QCOW2_MAGIC } from './qcow2-format.ts';
import { openDisk, readQcow2Header } from './open.ts';
import { Qcow2Disk } from './qcow2.ts';

export interface DiskInfo {
  path: string;
  format: DiskFormat;
  virtualSize: number;
  /** Bytes the file occupies on the host (allocated blocks, not its length). */
  diskSize: number;
  clusterSize?: number;
  /** The backing file name as stored in the image, and the chain below it as opened. */
  backingFile?: string;
  backingChain: Array<{ path: string; format: DiskFormat; virtualSize: number }>;
  /** qcow2 compatibility level as qemu-img names it: "0.10" (version 2) or "1.1" (version 3). */
  compat?: string;
  refcountBits?: number;
  lazyRefcounts?: boolean;
  dirty?: boolean;
  corrupt?: boolean;
  snapshots?: number;
}

export function diskInfo(path: string): DiskInfo {
  const disk = openDisk(path, { readOnly: true });
  try {
    const info: DiskInfo = {
      path,
      format: disk.format,
      virtualSize: disk.size,
      diskSize: statSync(path).blocks * 512,
      backingChain: [],
    };
    for (let below: BlockDevice | null = disk.backing; below; below = below.backing) {
      info.backingChain.push({ path: below.path, format: below.format, virtualSize: below.size });
    }
    if (disk instanceof Qcow2Disk) {
      const h = disk.header;
      Object.assign(info, {
        clusterSize: disk.clusterSize,
        backingFile: h.backingFile ?? undefined,
        compat: h.version === 2 ? '0.10' : '1.1',
        refcountBits: 2 ** h.refcountOrder,
        lazyRefcounts: (h.compatible & BigInt(Compatible.LazyRefcounts)) !== 0n,
        dirty: (h.incompatible & BigInt(Incompatible.Dirty)) !== 0n,
        corrupt: (h.incompatible & BigInt(Incompatible.Corrupt)) !== 0n,
        snapshots: h.nbSnapshots,
      });
    }
    return info;
  } finally {
    disk.close();
  }
}

export interface DiskCheck extends CheckReport {
  path: string;
  format: DiskFormat;
}

/**
 * Checks an image's metadata; with `repair`, fixes leaked clusters (every refcount when the image
 * is dirty). Raw images have no metadata: they are always consistent.
 */
export function checkDisk(path: string, { repair = false } = {}): DiskCheck {
  let fd: number;
  try {
    fd = openSync(path, repair ? 'r+' : 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DiskError(`${path}: ${code === 'ENOENT' ? 'no such file' : `cannot open (${code})`}`);
  }
  // Only this image's own metadata is checked: its backing chain need not even be there.
  const file = new ImageFile(path, fd, !repair);
  try {
    const magic = new Uint8Array(4);
    file.read(magic, 0);
    if (Buffer.from(magic).readUInt32BE(0) !== QCOW2_MAGIC) {
      return { path, format: 'raw', corruptions: 0, leaks: 0, messages: [], allocatedClusters: 0, totalClusters: 0, dirty: false };
    }
    const header = readQcow2Header(file);
    const dirty = (header.incompatible & BigInt(Incompatible.Dirty)) !== 0n;
    return { path, format: 'qcow2', ...checkQcow2(file, header, repair ? (dirty ? 'all' : 'leaks') : 'none') };
  } finally {
    file.close();
  }
}
