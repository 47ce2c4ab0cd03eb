// Decoding of qcow2 L1 and L2 entries (qcow2.txt "Cluster mapping"), shared by the image and the
// checker so that both read an entry the same way. Entries are handled as two 32-bit words: the
// offsets (bits 9-55) fit a JavaScript number exactly, and no BigInt is made per cluster.

export const enum Kind { Unallocated, Zero, Data, Compressed }

export interface Mapping {
  kind: Kind;
  /** Data/Zero: host cluster offset (0 for a zero cluster without preallocation); Compressed: host byte offset. */
  host: number;
  /** Compressed: bytes of compressed data from `host` to the end of its last 512-byte sector. */
  compressedBytes: number;
  /** Bit 63: the host cluster's refcount is exactly one, so it may be written in place. */
  copied: boolean;
}

export const COPIED_HI = 0x8000_0000;
export const COMPRESSED_HI = 0x4000_0000;
export const ZERO_LO = 1;
export const UNALLOCATED: Mapping = { kind: Kind.Unallocated, host: 0, compressedBytes: 0, copied: false };
const ZERO: Mapping = { kind: Kind.Zero, host: 0, compressedBytes: 0, copied: false };

/** Bits 9-55 of an L1/L2 entry given as its high and low 32-bit words. */
export function hostOffset(hi: number, lo: number): number {
  return (hi & 0x00ff_ffff) * 2 ** 32 + ((lo & 0xffff_fe00) >>> 0);
}

/** Why an L1 entry is unusable, or null. */
export function l1EntryProblem(hi: number, lo: number, clusterSize: number, fileSize: number): string | null {
  const offset = hostOffset(hi, lo);
  if ((hi & 0x7f00_0000) !== 0 || (lo & 0x1ff) !== 0) return 'has reserved bits set';
  if (offset % clusterSize !== 0) return `points at misaligned offset 0x${offset.toString(16)}`;
  if (offset >= fileSize) return `points at 0x${offset.toString(16)}, beyond the end of the file (${fileSize} bytes)`;
  return null;
}

/** Decodes an L2 entry; returns what is wrong with it as a string instead when it is unusable. */
export function decodeL2Entry(hi: number, lo: number, clusterBits: number, version: number, fileSize: number): Mapping | string {
  if (hi & COMPRESSED_HI) {
    if (hi & COPIED_HI) return 'is compressed and has the COPIED flag set';
    const x = 62 - (clusterBits - 8);
    const entry = (BigInt(hi) << 32n) | BigInt(lo);
    const host = Number(entry & ((1n << BigInt(x)) - 1n));
    const sectors = Number((entry >> BigInt(x)) & ((1n << BigInt(62 - x)) - 1n)) + 1;
    if (host >= fileSize) return `compressed data at 0x${host.toString(16)} is beyond the end of the file (${fileSize} bytes)`;
    return { kind: Kind.Compressed, host, compressedBytes: sectors * 512 - (host % 512), copied: false };
  }
  // Bits 1-8 and 56-61 are reserved in every standard entry, an unallocated or zero one too (qemu-img check agrees).
  if ((hi & 0x3f00_0000) !== 0 || (lo & 0x1fe) !== 0) return 'has reserved bits set';
  const host = hostOffset(hi, lo);
  const zero = version === 3 && (lo & ZERO_LO) !== 0;
  if (host === 0) return zero ? ZERO : UNALLOCATED;
  const clusterSize = 2 ** clusterBits;
  if (host % clusterSize !== 0) return `points at misaligned offset 0x${host.toString(16)}`;
  if (host >= fileSize) return `points at 0x${host.toString(16)}, beyond the end of the file (${fileSize} bytes)`;
  return { kind: zero ? Kind.Zero : Kind.Data, host, compressedBytes: 0, copied: (hi & COPIED_HI) !== 0 };
}

/** The host clusters a mapping holds a reference to, as [first, last] indices (empty when last < first). */
export function heldClusters(m: Mapping, clusterSize: number): [number, number] {
  if (m.kind === Kind.Compressed) {
    const start = m.host - (m.host % 512);
    return [Math.floor(start / clusterSize), Math.floor((m.host + m.compressedBytes - 1) / clusterSize)];
  }
  if (m.host === 0) return [0, -1];
  return [m.host / clusterSize, m.host / clusterSize];
}
