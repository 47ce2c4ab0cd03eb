// Opening and creating images. The format is detected from the qcow2 magic (anything else is
// raw) unless a qcow2 backing-format extension names it, as QEMU does; backing files named with
// a relative path are found next to the image that names them.
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, realpathSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { DiskError, type BlockDevice, type DiskFormat } from './block-device.ts';
import { ImageFile } from './image-file.ts';
import { checkQcow2 } from './qcow2-check.ts';
import {
  buildHeaderCluster, DEFAULT_CLUSTER_BITS, DEFAULT_REFCOUNT_ORDER, HEADER_AUTOCLEAR, Incompatible,
  MAX_CLUSTER_BITS, MIN_CLUSTER_BITS, parseHeader, QCOW2_MAGIC, type Qcow2Header,
} from './qcow2-format.ts';
import { writeEntry } from './qcow2-refcounts.ts';
import { Qcow2Disk, writeRefusal } from './qcow2.ts';
import { RawDisk } from './raw.ts';

export interface OpenOptions {
  readOnly?: boolean;
  /** Skip detection (a backing-format extension does this for backing files). */
  format?: DiskFormat;
  /** Memory for cached qcow2 L2 tables (default 64 MiB). */
  cacheBytes?: number;
  /**
   * For an image from outside Hangar (a download, a file the user names): the folders its backing
   * chain must stay in, symbolic links followed — usually the image's own folder. A hostile image
   * must not make a host file (`/etc/…`, `../../..`) part of a disk. Absent: the chain is one
   * Hangar wrote itself (the VM library's overlays) and its names are followed as written.
   */
  backingRoots?: readonly string[];
}

export function openDisk(path: string, options: OpenOptions = {}): BlockDevice {
  const roots = options.backingRoots?.map((root) => realpathOrSelf(root));
  return openChain(path, options.format, { readOnly: options.readOnly ?? false, cacheBytes: options.cacheBytes, roots }, [], null);
}

/** Where a backing file name stored in `image` points. */
export function resolveBacking(image: string, name: string): string {
  return isAbsolute(name) ? name : resolve(dirname(image), name);
}

interface ChainOptions {
  readOnly: boolean;
  cacheBytes?: number;
  /** Real paths of the folders backing files must lie in, or undefined for anywhere. */
  roots?: string[];
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Opens `path` (the image, or the backing file `child` names as `name`) and the chain below it. */
function openChain(path: string, format: DiskFormat | undefined, options: ChainOptions, seen: string[], child: { path: string; name: string } | null): BlockDevice {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new DiskError(child ? `${child.path}: backing file ${path} does not exist` : `${path}: no such file`);
  }
  if (child && options.roots && !options.roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) {
    throw new DiskError(`${child.path}: backing file name "${child.name}" leads to ${real}, outside ${options.roots.join(', ')}; refused for an image from outside Hangar`);
  }
  if (seen.includes(real)) throw new DiskError(`${child!.path}: backing file ${path} loops back into its own chain (${[...seen, real].join(' → ')})`);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO returns at once (to be refused below) instead of waiting for a writer.
    fd = openSync(real, (options.readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK);
  } catch (err) {
    throw new DiskError(`${path}: cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new DiskError(`${child ? `${child.path}: backing file ` : ''}${path}: is a directory`);
    // A backing file is a regular file; the image itself may also be a block device.
    if (!stat.isFile() && (child || !stat.isBlockDevice())) {
      throw new DiskError(child
        ? `${child.path}: backing file name "${child.name}" leads to ${path}, which is not a regular file`
        : `${path}: is not a regular file or block device`);
    }
    const detected = format ?? (readMagic(fd) === QCOW2_MAGIC ? 'qcow2' : 'raw');
    if (detected === 'raw') return new RawDisk(path, fd, options.readOnly);
    return openQcow2(new ImageFile(path, fd, options.readOnly), [...seen, real], options);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function readMagic(fd: number): number {
  const magic = Buffer.alloc(4);
  return readSync(fd, magic, 0, 4, 0) === 4 ? magic.readUInt32BE(0) : 0;
}

export function readQcow2Header(file: ImageFile): Qcow2Header {
  const first = new Uint8Array(Math.min(file.size, 2 ** MAX_CLUSTER_BITS));
  file.read(first, 0);
  return parseHeader(file.path, first, file.size);
}

function openQcow2(file: ImageFile, chain: string[], options: ChainOptions): Qcow2Disk {
  let header = readQcow2Header(file);
  if (!file.readOnly) {
    const refusal = writeRefusal(header);
    if (refusal) throw new DiskError(`${file.path} ${refusal}`);
    // Bits for features we do not maintain must be cleared before the first write (qcow2.txt).
    if (header.autoclear) Qcow2Disk.writeHeaderBits(file, HEADER_AUTOCLEAR, 0n);
    // Dirty: refcounts may be stale (lazy refcounts); rebuild them before allocating anything.
    if (header.incompatible & BigInt(Incompatible.Dirty)) checkQcow2(file, header, 'all');
    header = readQcow2Header(file);
  }
  let backing: BlockDevice | null = null;
  if (header.backingFile) {
    const format = header.backingFormat ?? undefined;
    if (format !== undefined && format !== 'raw' && format !== 'qcow2') {
      throw new DiskError(`${file.path}: backing file format "${format}" is not supported (raw and qcow2 are)`);
    }
    const name = header.backingFile;
    backing = openChain(resolveBacking(file.path, name), format, { ...options, readOnly: true }, chain, { path: file.path, name });
  }
  try {
    return new Qcow2Disk(file, header, backing, options.cacheBytes);
  } catch (err) {
    backing?.close();
    throw err;
  }
}

export interface CreateQcow2Options {
  /** Backing file as it is to be stored: absolute, or relative to the new image's folder. */
  backing?: string;
  clusterSize?: number;
}

/**
 * Creates a version 3 qcow2 image (refuses to replace an existing file). Without `size`, an
 * overlay takes its backing file's size. Layout: header, refcount table, refcount blocks, L1.
 */
export function createQcow2(path: string, size: number | undefined, options: CreateQcow2Options = {}): void {
  const clusterSize = options.clusterSize ?? 2 ** DEFAULT_CLUSTER_BITS;
  const clusterBits = Math.log2(clusterSize);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new DiskError(`cluster size ${clusterSize} must be a power of two from ${2 ** MIN_CLUSTER_BITS} to ${2 ** MAX_CLUSTER_BITS}`);
  }
  let backingFormat: DiskFormat | undefined;
  if (options.backing !== undefined) {
    const backing = openDisk(resolveBacking(path, options.backing), { readOnly: true });
    backingFormat = backing.format;
    size ??= backing.size;
    backing.close();
  }
  if (size === undefined || !Number.isSafeInteger(size) || size < 0 || size % 512 !== 0) {
    throw new DiskError(`${path}: size ${size} must be a whole number of 512-byte sectors`);
  }
  const perBlock = (clusterSize * 8) >> DEFAULT_REFCOUNT_ORDER;
  const l1Size = Math.ceil(size / (clusterSize * (clusterSize / 8)));
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / clusterSize));
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const neededBlocks = Math.ceil(total / perBlock);
    const neededTable = Math.ceil((neededBlocks * 8) / clusterSize);
    if (neededBlocks === blocks && neededTable === tableClusters) break;
    blocks = neededBlocks;
    tableClusters = neededTable;
  }
  const total = 1 + tableClusters + blocks + l1Clusters;
  const image = new Uint8Array(total * clusterSize);
  const l1Offset = (1 + tableClusters + blocks) * clusterSize;
  image.set(buildHeaderCluster(
    { clusterBits, size, refcountOrder: DEFAULT_REFCOUNT_ORDER, l1Size, refcountTableClusters: tableClusters, backingFile: options.backing, backingFormat },
    { l1: l1Offset, refcountTable: clusterSize },
  ));
  const view = new DataView(image.buffer);
  for (let b = 0; b < blocks; b++) view.setBigUint64(clusterSize + b * 8, BigInt((1 + tableClusters + b) * clusterSize));
  const firstBlock = image.subarray((1 + tableClusters) * clusterSize);
  for (let c = 0; c < total; c++) writeEntry(firstBlock, DEFAULT_REFCOUNT_ORDER, c, 1);
  if (existsSync(path)) throw new DiskError(`${path}: already exists`);
  const file = new ImageFile(path, openSync(path, 'wx'), false);
  try {
    file.write(image, 0);
    file.sync();
    file.close();
  } catch (err) {
    file.close();
    unlinkSync(path);
    throw err;
  }
}
