// qcow2 on-disk layout, as QEMU's docs/interop/qcow2.txt defines it (all numbers big-endian).
//
// Header (cluster 0):                           Header extensions (after header_length bytes):
//   0 magic "QFI\xfb"     40 l1_table_offset       u32 type, u32 length, data, padding to 8
//   4 version (2, 3)      48 refcount_table_offset   0x00000000 end of the extension area
//   8 backing_file_offset 56 refcount_table_clusters 0xe2792aca backing file format name
//  16 backing_file_size   60 nb_snapshots           0x6803f857 feature name table
//  20 cluster_bits        64 snapshots_offset       0x23852875 bitmaps
//  24 size                v3 only:                  0x0537be77 full disk encryption header
//  32 crypt_method        72 incompatible_features  0x44415441 external data file name
//  36 l1_size             80 compatible_features    The backing file name follows them, inside
//                         88 autoclear_features     cluster 0.
//                         96 refcount_order
//                        100 header_length
//                        104 compression_type (u8)
//
// L1 entry: bits 9-55 L2 table offset, bit 63 "refcount is exactly one" (COPIED).
// L2 entry: bit 63 COPIED, bit 62 compressed; standard clusters: bits 9-55 host offset, bit 0
// reads as zeros; compressed clusters: host byte offset in bits 0..x-1 and the number of extra
// 512-byte sectors in bits x..61, where x = 62 - (cluster_bits - 8).
// Refcount table entry: bits 9-63 refcount block offset. Refcount block: 2^refcount_order-bit
// entries, one per host cluster.
import { DiskError } from './block-device.ts';

export const QCOW2_MAGIC = 0x514649fb;
export const V3_HEADER_LENGTH = 112; // up to and including compression_type, padded to 8

export const MIN_CLUSTER_BITS = 9;
/** QEMU refuses larger clusters; so do we, so that every image we write opens in QEMU. */
export const MAX_CLUSTER_BITS = 21;
export const DEFAULT_CLUSTER_BITS = 16;
export const DEFAULT_REFCOUNT_ORDER = 4;
/** QEMU's limits: 32 MiB of L1 table, 8 MiB of refcount table, 1023-byte backing file names. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFCOUNT_TABLE_BYTES = 8 << 20;
export const MAX_BACKING_NAME = 1023;
export const MAX_SNAPSHOTS = 65536;
const BITMAPS_EXTENSION_BYTES = 24;
/** QEMU's limits on a backing format name (15 bytes), persistent bitmaps and their directory. */
const MAX_FORMAT_NAME = 15;
const MAX_BITMAPS = 65535;
const MAX_BITMAP_DIRECTORY_BYTES = 64 << 20;

export const enum Ext {
  End = 0,
  BackingFormat = 0xe2792aca,
  FeatureTable = 0x6803f857,
  Bitmaps = 0x23852875,
  Encryption = 0x0537be77,
  ExternalDataFile = 0x44415441,
}

export const enum Incompatible { Dirty = 1, Corrupt = 2, ExternalData = 4, CompressionType = 8, ExtendedL2 = 16 }
export const enum Compatible { LazyRefcounts = 1 }
export const enum Autoclear { Bitmaps = 1, RawExternalData = 2 }

/** Feature names as QEMU writes them into the feature name table (type, bit, name). */
export const FEATURE_NAMES: ReadonlyArray<readonly [0 | 1 | 2, number, string]> = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];

/** Incompatible features Hangar implements; any other set bit makes the image unopenable. */
const KNOWN_INCOMPATIBLE = Incompatible.Dirty | Incompatible.Corrupt;

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  /** Parsed from the header extensions and the backing file name. */
  backingFile: string | null;
  backingFormat: string | null;
  /** The bitmaps extension (persistent dirty bitmaps), whose clusters the checker counts. */
  bitmaps: { count: number; directorySize: number; directoryOffset: number } | null;
}

/** Offsets bits 9-55 of a table entry, as a number (host offsets are far below 2^53). */
export function entryOffset(entry: bigint): number {
  return Number(entry & 0x00ff_ffff_ffff_fe00n);
}

/**
 * Parses and validates cluster 0. `first` holds the file's first bytes (up to one cluster),
 * `fileSize` the file's length. Every value that would make a later read absurd is refused here.
 */
export function parseHeader(path: string, first: Uint8Array, fileSize: number): Qcow2Header {
  const bad = (what: string) => new DiskError(`${path}: ${what}`);
  if (first.length < 72 || fileSize < 72) throw bad(`truncated qcow2 header (${fileSize} bytes)`);
  const view = new DataView(first.buffer, first.byteOffset, first.length);
  const u32 = (at: number) => view.getUint32(at);
  const u64 = (at: number) => view.getBigUint64(at);
  const safe = (at: number, what: string): number => {
    const value = u64(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} 0x${value.toString(16)} is absurd`);
    return Number(value);
  };
  if (u32(0) !== QCOW2_MAGIC) throw bad('not a qcow2 image (bad magic)');
  const version = u32(4);
  if (version !== 2 && version !== 3) throw bad(`qcow2 version ${version} is not supported (2 and 3 are)`);
  // Version 3 fields run to byte 104 (header_length at 100), so a shorter version 3 header is cut off.
  if (version === 3 && first.length < 104) throw bad(`truncated qcow2 header (${fileSize} bytes; a version 3 header_length must be at least 104)`);

  const clusterBits = u32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw bad(`cluster_bits ${clusterBits} is out of range (${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS})`);
  }
  const clusterSize = 2 ** clusterBits;
  const headerLength = version === 2 ? 72 : u32(100);
  if (version === 3 && (headerLength < 104 || headerLength % 8 !== 0 || headerLength > clusterSize)) {
    throw bad(`header_length ${headerLength} is invalid`);
  }
  if (fileSize < headerLength || first.length < headerLength) throw bad(`truncated qcow2 header (${fileSize} bytes)`);

  const incompatible = version === 3 ? u64(72) : 0n;
  const compatible = version === 3 ? u64(80) : 0n;
  const autoclear = version === 3 ? u64(88) : 0n;
  const refcountOrder = version === 3 ? u32(96) : 4;
  if (refcountOrder > 6) throw bad(`refcount_order ${refcountOrder} is out of range (0..6)`);
  if (u32(32) !== 0) throw bad('encrypted qcow2 images are not supported');
  const compressionType = version === 3 && headerLength > 104 ? first[104]! : 0;

  const header: Qcow2Header = {
    version,
    backingFileOffset: safe(8, 'backing_file_offset'),
    backingFileSize: u32(16),
    clusterBits,
    size: safe(24, 'virtual size'),
    l1Size: u32(36),
    l1TableOffset: safe(40, 'l1_table_offset'),
    refcountTableOffset: safe(48, 'refcount_table_offset'),
    refcountTableClusters: u32(56),
    nbSnapshots: u32(60),
    snapshotsOffset: safe(64, 'snapshots_offset'),
    incompatible,
    compatible,
    autoclear,
    refcountOrder,
    headerLength,
    backingFile: null,
    backingFormat: null,
    bitmaps: null,
  };
  const featureNames = parseExtensions(path, header, first, clusterSize);

  const unknown = incompatible & ~BigInt(KNOWN_INCOMPATIBLE);
  if (unknown) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if (unknown & (1n << BigInt(bit))) names.push(featureNames.get(bit) ?? FEATURE_NAMES.find(([t, b]) => t === 0 && b === bit)?.[2] ?? `bit ${bit}`);
    }
    throw bad(`uses qcow2 features Hangar does not support: ${names.join(', ')}`);
  }
  if (compressionType !== 0) throw bad(`compression type ${compressionType} is not supported (only zlib)`);
  // "May only be set if the External Data File bit is also set" (qcow2.txt, autoclear bit 1).
  if (autoclear & BigInt(Autoclear.RawExternalData)) throw bad('autoclear bit "raw external data" is set without an external data file');

  // Tables must be aligned and lie inside the file; sizes must fit QEMU's limits.
  const aligned = (offset: number) => offset % clusterSize === 0;
  const l2Span = clusterSize * (clusterSize / 8);
  if (header.size > Number.MAX_SAFE_INTEGER - l2Span) throw bad(`virtual size ${header.size} is absurd`);
  const l1Needed = Math.ceil(header.size / l2Span);
  if (header.l1Size * 8 > MAX_L1_BYTES) throw bad(`l1_size ${header.l1Size} is absurd (more than ${MAX_L1_BYTES} bytes of L1 table)`);
  if (header.l1Size < l1Needed) throw bad(`l1_size ${header.l1Size} is too small for the virtual size ${header.size} (needs ${l1Needed})`);
  // Alignment is checked whether or not a table has entries, as QEMU does (validate_table_offset).
  if (!aligned(header.l1TableOffset) || (header.l1Size > 0 && (header.l1TableOffset === 0 || header.l1TableOffset + header.l1Size * 8 > fileSize))) {
    throw bad(`L1 table at 0x${header.l1TableOffset.toString(16)} (${header.l1Size} entries) is misaligned or beyond the end of the file (${fileSize} bytes)`);
  }
  const refcountTableBytes = header.refcountTableClusters * clusterSize;
  if (header.refcountTableClusters === 0 || refcountTableBytes > MAX_REFCOUNT_TABLE_BYTES) {
    throw bad(`refcount_table_clusters ${header.refcountTableClusters} is absurd`);
  }
  if (!aligned(header.refcountTableOffset) || header.refcountTableOffset === 0 || header.refcountTableOffset >= fileSize) {
    throw bad(`refcount table at 0x${header.refcountTableOffset.toString(16)} is misaligned or beyond the end of the file (${fileSize} bytes)`);
  }
  if (header.nbSnapshots > MAX_SNAPSHOTS) throw bad(`nb_snapshots ${header.nbSnapshots} is absurd`);
  if (!aligned(header.snapshotsOffset) || (header.nbSnapshots > 0 && header.snapshotsOffset >= fileSize)) {
    throw bad(`snapshot table at 0x${header.snapshotsOffset.toString(16)} is misaligned or beyond the end of the file`);
  }
  return header;
}

export interface HeaderExtension {
  type: number;
  /** Offset of the extension's data in the first cluster, and its length (without padding). */
  data: number;
  length: number;
}

/**
 * The header extensions, in order, up to the end marker. They follow the header in version 2
 * images too, and end where the backing file name starts (else at the end of the first cluster);
 * as QEMU does, every entry's length is checked against that end, the end marker's included.
 */
export function* headerExtensions(path: string, header: Qcow2Header, first: Uint8Array): Generator<HeaderExtension> {
  const view = new DataView(first.buffer, first.byteOffset, first.length);
  const limit = Math.min(first.length, 2 ** header.clusterBits, header.backingFileOffset || Infinity);
  let at = header.headerLength;
  while (at + 8 <= limit) {
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    const data = at + 8;
    if (data + length > limit) throw new DiskError(`${path}: header extension 0x${type.toString(16)} runs past the first cluster`);
    if (type === Ext.End) return;
    yield { type, data, length };
    at = data + Math.ceil(length / 8) * 8;
  }
}

/** Reads the header extensions and the backing file name; returns the feature name table's incompatible names. */
function parseExtensions(path: string, header: Qcow2Header, first: Uint8Array, clusterSize: number): Map<number, string> {
  const bad = (what: string) => new DiskError(`${path}: ${what}`);
  const view = new DataView(first.buffer, first.byteOffset, first.length);
  const limit = Math.min(first.length, clusterSize);
  const incompatibleNames = new Map<number, string>();
  const text = (at: number, length: number) => Buffer.from(first.subarray(at, at + length)).toString('utf8');
  for (const { type, data, length } of headerExtensions(path, header, first)) {
    if (type === Ext.BackingFormat) {
      if (length > MAX_FORMAT_NAME) throw bad(`backing format name of ${length} bytes is too long (at most ${MAX_FORMAT_NAME})`);
      header.backingFormat = text(data, length);
    }
    else if (type === Ext.FeatureTable) {
      for (let entry = data; entry + 48 <= data + length; entry += 48) {
        if (first[entry] === 0) incompatibleNames.set(first[entry + 1]!, text(entry + 2, 46).replace(/\0.*$/s, ''));
      }
    } else if (type === Ext.Bitmaps) {
      // The extension is exactly 24 bytes (qcow2.txt "Bitmaps extension"); QEMU refuses any other length.
      if (length !== BITMAPS_EXTENSION_BYTES) throw bad(`bitmaps extension of ${length} bytes (it is ${BITMAPS_EXTENSION_BYTES})`);
      const size = view.getBigUint64(data + 8);
      const offset = view.getBigUint64(data + 16);
      if (view.getUint32(data) > MAX_BITMAPS || size > BigInt(MAX_BITMAP_DIRECTORY_BYTES) || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw bad('bitmaps extension has an absurd directory');
      }
      header.bitmaps = { count: view.getUint32(data), directorySize: Number(size), directoryOffset: Number(offset) };
    }
    else if (type === Ext.Encryption) throw bad('encrypted qcow2 images are not supported');
  }
  if (header.backingFileOffset !== 0) {
    if (header.backingFileSize === 0 || header.backingFileSize > MAX_BACKING_NAME || header.backingFileOffset + header.backingFileSize > limit) {
      throw bad(`backing file name (offset ${header.backingFileOffset}, ${header.backingFileSize} bytes) does not fit in the first cluster`);
    }
    header.backingFile = text(header.backingFileOffset, header.backingFileSize);
  }
  return incompatibleNames;
}

export interface NewImageLayout {
  clusterBits: number;
  size: number;
  refcountOrder: number;
  l1Size: number;
  refcountTableClusters: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Writes a header extension (type, length, data padded to 8 bytes) at `at`; returns where the next one goes. */
export function writeExtension(header: Uint8Array, at: number, type: number, data: Uint8Array): number {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  view.setUint32(at, type);
  view.setUint32(at + 4, data.length);
  header.set(data, at + 8);
  return at + 8 + Math.ceil(data.length / 8) * 8;
}

/** Cluster 0 of a new version 3 image: header, extensions (backing format, feature names), backing name. */
export function buildHeaderCluster(layout: NewImageLayout, tables: { l1: number; refcountTable: number }): Uint8Array {
  const clusterSize = 2 ** layout.clusterBits;
  const out = new Uint8Array(clusterSize);
  const view = new DataView(out.buffer);
  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, 3);
  view.setUint32(20, layout.clusterBits);
  view.setBigUint64(24, BigInt(layout.size));
  view.setUint32(36, layout.l1Size);
  view.setBigUint64(40, BigInt(tables.l1));
  view.setBigUint64(48, BigInt(tables.refcountTable));
  view.setUint32(56, layout.refcountTableClusters);
  view.setUint32(96, layout.refcountOrder);
  view.setUint32(100, V3_HEADER_LENGTH);
  let at = V3_HEADER_LENGTH;
  const extension = (type: number, data: Uint8Array) => { at = writeExtension(out, at, type, data); };
  if (layout.backingFormat) extension(Ext.BackingFormat, Buffer.from(layout.backingFormat));
  const name = Buffer.from(layout.backingFile ?? '');
  if (name.length > MAX_BACKING_NAME || at + 8 + name.length > clusterSize) {
    throw new DiskError(`backing file name "${layout.backingFile}" is too long for the header cluster`);
  }
  // The feature name table is optional; like QEMU, leave it out where it does not fit (512-byte clusters).
  const table = new Uint8Array(FEATURE_NAMES.length * 48);
  if (at + 8 + table.length + 8 + name.length <= clusterSize) {
    FEATURE_NAMES.forEach(([type, bit, feature], i) => {
      table[i * 48] = type;
      table[i * 48 + 1] = bit;
      table.set(Buffer.from(feature), i * 48 + 2);
    });
    extension(Ext.FeatureTable, table);
  }
  at += 8; // end-of-extensions marker (type 0, length 0)
  if (name.length) {
    view.setBigUint64(8, BigInt(at));
    view.setUint32(16, name.length);
    out.set(name, at);
  }
  return out;
}

/** Header byte offsets written after creation. */
export const HEADER_REFCOUNT_TABLE = 48; // u64 offset then u32 clusters: one 12-byte write moves the table
export const HEADER_INCOMPATIBLE = 72;
export const HEADER_AUTOCLEAR = 88;
