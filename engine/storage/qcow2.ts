// qcow2 images (QEMU docs/interop/qcow2.txt, version 2 and 3): guest clusters map through an L1
// table and one-cluster L2 tables to host clusters; unallocated clusters read from the backing
// file (or as zeros), zero clusters read as zeros, compressed clusters are raw deflate streams.
// The layout itself is described in qcow2-format.ts.
//
// Writes allocate clusters (copy-on-write from the backing file for partial clusters) and keep
// the metadata they change in memory. flush() makes it durable in the order that keeps the image
// consistent across a crash at any point — a crash may leak clusters, never corrupt:
//   1. refcount blocks (increments only), fsync      a refcount is on disk before any use of it
//   2. L2 tables; if the L1 table changed, fsync,     an L2 table is on disk before L1 points at it
//      then the L1 table; fsync
//   3. frees: refcounts of clusters no longer referenced are decremented only now that the
//      tables which dropped the references are durable; written, fsync
// A dirty L2 table evicted from the cache between flushes follows step 1 first. Hangar never
// sets the dirty bit (it does not use lazy refcounts); an image that has it is repaired on a
// read-write open, as the specification asks.
import { inflateRawSync, constants as zlib } from 'node:zlib';
import { checkRequest, DiskError, zeroBytes, type BlockDevice, type Extent } from './block-device.ts';
import { ImageFile } from './image-file.ts';
import { Refcounts } from './qcow2-refcounts.ts';
import { COPIED_HI, decodeL2Entry, heldClusters, hostOffset, Kind, l1EntryProblem, UNALLOCATED, ZERO_LO, type Mapping } from './qcow2-entries.ts';
import { HEADER_AUTOCLEAR, HEADER_INCOMPATIBLE, Incompatible, type Qcow2Header } from './qcow2-format.ts';

/** Bytes of L2 tables kept in memory by default (64 MiB covers 512 GiB of guest disk with 64 KiB clusters). */
export const L2_CACHE_BYTES = 64 << 20;

export class Qcow2Disk implements BlockDevice {
  readonly format = 'qcow2';
  readonly path: string;
  readonly size: number;
  readonly readOnly: boolean;
  readonly clusterSize: number;
  private readonly clusterBits: number;
  private readonly l2Entries: number;
  private readonly l1: Uint8Array;
  private readonly l1View: DataView;
  private readonly dirtyL1 = new Set<number>();
  /** L2 tables by host offset, least recently used first (each a view of its own cluster-sized buffer). */
  private readonly l2Cache = new Map<number, DataView>();
  /** The table used last, which skips the LRU bookkeeping for runs of requests in one table. */
  private recentL2: { offset: number; table: DataView } | null = null;
  private readonly dirtyL2 = new Set<number>();
  private readonly l2CacheLimit: number;
  private readonly refcounts: Refcounts | null;
  /** Host clusters to free (cluster index → references dropped) once the dropping tables are durable. */
  private readonly pendingFrees = new Map<number, number>();
  private lastCompressed: { host: number; data: Uint8Array } | null = null;

  /** Takes ownership of `file` and `backing`. Use openDisk() (open.ts), which prepares both. */
  constructor(private readonly file: ImageFile, readonly header: Qcow2Header, readonly backing: BlockDevice | null, cacheBytes = L2_CACHE_BYTES) {
    this.path = file.path;
    this.size = header.size;
    this.readOnly = file.readOnly;
    this.clusterBits = header.clusterBits;
    this.clusterSize = 2 ** header.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.l2CacheLimit = Math.max(2, Math.floor(cacheBytes / this.clusterSize));
    this.l1 = new Uint8Array(header.l1Size * 8);
    file.read(this.l1, header.l1TableOffset);
    this.l1View = new DataView(this.l1.buffer);
    for (let i = 0; i < header.l1Size; i++) {
      const hi = this.l1View.getUint32(i * 8);
      const lo = this.l1View.getUint32(i * 8 + 4);
      const problem = hi || lo ? l1EntryProblem(hi, lo, this.clusterSize, file.size) : null;
      if (problem) throw new DiskError(`${this.path}: L1 entry ${i} ${problem}`);
    }
    this.refcounts = this.readOnly
      ? null
      : new Refcounts(file, header.clusterBits, header.refcountOrder, header.refcountTableOffset, header.refcountTableClusters);
  }

  /** Bytes the image file occupies (its length, holes included). */
  get fileLength(): number {
    return this.file.size;
  }

  read(offset: number, into: Uint8Array): void {
    checkRequest(this, offset, into.length, false);
    const cs = this.clusterSize;
    for (let done = 0; done < into.length;) {
      const { cluster, inCluster, length: piece } = this.locate(offset + done, offset + into.length);
      let length = piece;
      const m = this.mapping(cluster);
      if (m.kind === Kind.Data) {
        // One pread for a run of clusters that are contiguous on the host too.
        for (let next = cluster + 1; done + length < into.length; next++) {
          const n = this.mapping(next);
          if (n.kind !== Kind.Data || n.host !== m.host + (next - cluster) * cs) break;
          length += Math.min(cs, into.length - done - length);
        }
        this.file.read(into.subarray(done, done + length), m.host + inCluster);
      } else {
        this.readCluster(cluster, m, into.subarray(done, done + length), inCluster);
      }
      done += length;
    }
  }

  write(offset: number, data: Uint8Array): void {
    checkRequest(this, offset, data.length, true);
    const cs = this.clusterSize;
    // Consecutive pieces that land on consecutive host bytes go out as one pwrite.
    let runHost = 0;
    let runFrom = 0;
    let runTo = 0;
    const emit = () => {
      if (runTo > runFrom) this.file.write(data.subarray(runFrom, runTo), runHost);
      runFrom = runTo;
    };
    const queue = (host: number, from: number, to: number) => {
      if (runTo > runFrom && from === runTo && host === runHost + (runTo - runFrom)) { runTo = to; return; }
      emit();
      runHost = host;
      runFrom = from;
      runTo = to;
    };
    for (let done = 0; done < data.length;) {
      const { cluster, inCluster, length } = this.locate(offset + done, offset + data.length);
      const m = this.mapping(cluster);
      if (m.kind === Kind.Data && (m.copied || this.refcounts!.get(m.host / cs) === 1)) {
        queue(m.host + inCluster, done, done + length);
      } else {
        this.l2Table(Math.floor(cluster / this.l2Entries), true);
        const host = this.refcounts!.allocate() * cs;
        if (length === cs) {
          queue(host, done, done + length);
        } else {
          const merged = new Uint8Array(cs);
          this.readCluster(cluster, m, merged, 0);
          merged.set(data.subarray(done, done + length), inCluster);
          emit();
          this.file.write(merged, host);
        }
        this.releaseLater(m);
        this.setEntry(cluster, COPIED_HI | Math.floor(host / 2 ** 32), host % 2 ** 32);
      }
      done += length;
    }
    emit();
  }

  discard(offset: number, length: number): void {
    this.writeZeroes(offset, length);
  }

  /**
   * Whole clusters become unallocated (no backing file) or zero clusters (backing file, version
   * 3), their host clusters freed; the partial clusters at either end are written with zeros.
   */
  writeZeroes(offset: number, length: number): void {
    checkRequest(this, offset, length, true);
    const cs = this.clusterSize;
    const byClusterFlag = !this.backing || this.header.version === 3;
    // Without a backing file an unallocated cluster reads as zeros; with one, only a zero cluster does.
    const target = this.backing ? Kind.Zero : Kind.Unallocated;
    for (let done = 0; done < length;) {
      const pos = offset + done;
      const { cluster, length: piece } = this.locate(pos, offset + length);
      const m = this.mapping(cluster);
      const readsAsZero = m.kind === Kind.Zero || (m.kind === Kind.Unallocated && !this.backing);
      if (piece < cs || !byClusterFlag) {
        if (!readsAsZero) this.write(pos, zeroBytes(piece));
      } else if (m.kind !== target || m.host !== 0) {
        this.l2Table(Math.floor(cluster / this.l2Entries), true);
        this.releaseLater(m);
        this.setEntry(cluster, 0, this.backing ? ZERO_LO : 0);
      }
      done += piece;
    }
  }

  flush(): void {
    if (this.readOnly) return;
    const refcounts = this.refcounts!;
    if (refcounts.dirty) {
      refcounts.writeDirty();
      this.file.sync();
    }
    for (const offset of this.dirtyL2) this.file.write(new Uint8Array(this.l2Cache.get(offset)!.buffer), offset);
    this.dirtyL2.clear();
    if (this.dirtyL1.size) {
      this.file.sync();
      const first = Math.min(...this.dirtyL1);
      const last = Math.max(...this.dirtyL1);
      this.file.write(this.l1.subarray(first * 8, last * 8 + 8), this.header.l1TableOffset + first * 8);
      this.dirtyL1.clear();
    }
    this.file.sync();
    if (this.pendingFrees.size) {
      for (const [cluster, count] of this.pendingFrees) for (let i = 0; i < count; i++) refcounts.decrement(cluster);
      this.pendingFrees.clear();
      refcounts.writeDirty();
      this.file.sync();
    }
  }

  close(): void {
    try {
      this.flush();
    } finally {
      this.file.close();
      this.backing?.close();
    }
  }

  /**
   * The guest byte ranges this image holds itself — data, compressed or zero clusters — merged and
   * in order; everything else reads through to the backing file. Tables absent from the L1 table
   * are skipped whole, so a sparse disk is walked in time proportional to what it holds.
   */
  ownExtents(): Extent[] {
    const extents: Extent[] = [];
    const cs = this.clusterSize;
    for (let index = 0; index < this.header.l1Size; index++) {
      if (!this.l2Table(index, false)) continue;
      const first = index * this.l2Entries;
      const end = Math.min(first + this.l2Entries, Math.ceil(this.size / cs));
      for (let cluster = first; cluster < end; cluster++) {
        if (this.mapping(cluster).kind === Kind.Unallocated) continue;
        const offset = cluster * cs;
        const length = Math.min(cs, this.size - offset);
        const last = extents[extents.length - 1];
        if (last && last.offset + last.length === offset) last.length += length;
        else extents.push({ offset, length });
      }
    }
    return extents;
  }

  /** The guest cluster holding byte `pos`, the offset in it, and how much of [pos, end) it holds. */
  private locate(pos: number, end: number): { cluster: number; inCluster: number; length: number } {
    const cluster = Math.floor(pos / this.clusterSize);
    const inCluster = pos - cluster * this.clusterSize;
    return { cluster, inCluster, length: Math.min(this.clusterSize - inCluster, end - pos) };
  }

  /** How guest cluster `cluster` is stored. */
  private mapping(cluster: number): Mapping {
    const table = this.l2Table(Math.floor(cluster / this.l2Entries), false);
    if (!table) return UNALLOCATED;
    const at = (cluster % this.l2Entries) * 8;
    const m = decodeL2Entry(table.getUint32(at), table.getUint32(at + 4), this.clusterBits, this.header.version, this.file.size);
    if (typeof m === 'string') throw new DiskError(`${this.path}: L2 entry for guest offset 0x${(cluster * this.clusterSize).toString(16)} ${m}`);
    return m;
  }

  /** Fills `into` with the contents of guest cluster `cluster` from byte `inCluster` on. */
  private readCluster(cluster: number, m: Mapping, into: Uint8Array, inCluster: number): void {
    switch (m.kind) {
      case Kind.Data:
        this.file.read(into, m.host + inCluster);
        return;
      case Kind.Zero:
        into.fill(0);
        return;
      case Kind.Compressed:
        into.set(this.decompress(cluster, m).subarray(inCluster, inCluster + into.length));
        return;
      case Kind.Unallocated: {
        const pos = cluster * this.clusterSize + inCluster;
        const fromBacking = this.backing ? Math.max(0, Math.min(into.length, this.backing.size - pos)) : 0;
        if (fromBacking) this.backing!.read(pos, into.subarray(0, fromBacking));
        into.fill(0, fromBacking);
      }
    }
  }

  private decompress(cluster: number, m: Mapping): Uint8Array {
    if (this.lastCompressed?.host === m.host) return this.lastCompressed.data;
    const compressed = new Uint8Array(m.compressedBytes);
    this.file.read(compressed, m.host);
    let data: Uint8Array;
    try {
      // QEMU writes raw deflate (zlib, no header) and pads the last sector: stop at the stream's end.
      data = inflateRawSync(compressed, { finishFlush: zlib.Z_SYNC_FLUSH, maxOutputLength: this.clusterSize });
    } catch (err) {
      throw new DiskError(`${this.path}: compressed cluster for guest offset 0x${(cluster * this.clusterSize).toString(16)} is damaged (${(err as Error).message})`);
    }
    if (data.length !== this.clusterSize) {
      throw new DiskError(`${this.path}: compressed cluster for guest offset 0x${(cluster * this.clusterSize).toString(16)} decompresses to ${data.length} bytes, not a cluster`);
    }
    this.lastCompressed = { host: m.host, data };
    return data;
  }

  /** The L2 table for L1 index `index`, allocating an empty one when `allocate` is set. */
  private l2Table(index: number, allocate: boolean): DataView | null {
    const hi = this.l1View.getUint32(index * 8);
    const offset = hostOffset(hi, this.l1View.getUint32(index * 8 + 4));
    if (offset === 0) {
      if (!allocate) return null;
      const created = this.refcounts!.allocate() * this.clusterSize;
      const table = new DataView(new ArrayBuffer(this.clusterSize));
      this.cacheL2(created, table);
      this.dirtyL2.add(created);
      this.l1View.setUint32(index * 8, COPIED_HI | Math.floor(created / 2 ** 32));
      this.l1View.setUint32(index * 8 + 4, created % 2 ** 32);
      this.dirtyL1.add(index);
      return table;
    }
    if (allocate && !(hi & COPIED_HI) && this.refcounts!.get(offset / this.clusterSize) !== 1) {
      throw new DiskError(`${this.path}: L2 table at 0x${offset.toString(16)} is shared (internal snapshots); Hangar does not write such images`);
    }
    if (this.recentL2?.offset === offset) return this.recentL2.table;
    let table = this.l2Cache.get(offset);
    if (table) {
      this.l2Cache.delete(offset); // re-insert: most recently used last
    } else {
      table = new DataView(new ArrayBuffer(this.clusterSize));
      this.file.read(new Uint8Array(table.buffer), offset);
    }
    this.cacheL2(offset, table);
    return table;
  }

  private cacheL2(offset: number, table: DataView): void {
    this.l2Cache.set(offset, table);
    this.recentL2 = { offset, table };
    if (this.l2Cache.size <= this.l2CacheLimit) return;
    const [oldest, evicted] = this.l2Cache.entries().next().value as [number, DataView];
    if (this.dirtyL2.has(oldest)) {
      if (this.refcounts!.dirty) {
        this.refcounts!.writeDirty();
        this.file.sync();
      }
      this.file.write(new Uint8Array(evicted.buffer), oldest);
      this.dirtyL2.delete(oldest);
    }
    this.l2Cache.delete(oldest);
  }

  /** Sets the L2 entry of guest cluster `cluster` (its table was made present just before). */
  private setEntry(cluster: number, hi: number, lo: number): void {
    const index = Math.floor(cluster / this.l2Entries);
    const table = this.l2Table(index, true)!;
    table.setUint32((cluster % this.l2Entries) * 8, hi);
    table.setUint32((cluster % this.l2Entries) * 8 + 4, lo);
    this.dirtyL2.add(hostOffset(this.l1View.getUint32(index * 8), this.l1View.getUint32(index * 8 + 4)));
  }

  /** Queues the host clusters of a mapping about to be replaced for freeing at the next flush. */
  private releaseLater(m: Mapping): void {
    const cs = this.clusterSize;
    const [first, last] = heldClusters(m, cs);
    if (m.kind === Kind.Compressed && this.lastCompressed?.host === m.host) this.lastCompressed = null;
    for (let c = first; c <= last; c++) {
      const count = (this.pendingFrees.get(c) ?? 0) + 1;
      if (this.refcounts!.get(c) < count) {
        throw new DiskError(`${this.path}: host cluster 0x${(c * cs).toString(16)} is in use but its refcount is ${this.refcounts!.get(c)} (the image is corrupt; run hangar disk check)`);
      }
      this.pendingFrees.set(c, count);
    }
  }

  /** Clears the dirty bit (after a repair) or the autoclear bits (before the first write), durably. */
  static writeHeaderBits(file: ImageFile, at: typeof HEADER_INCOMPATIBLE | typeof HEADER_AUTOCLEAR, value: bigint): void {
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setBigUint64(0, value);
    file.write(new Uint8Array(bytes.buffer), at);
    file.sync();
  }
}

/** Whether an image may be opened for writing; returns why not. */
export function writeRefusal(header: Qcow2Header): string | null {
  if (header.incompatible & BigInt(Incompatible.Corrupt)) return 'is marked corrupt; it can only be opened read-only';
  if (header.nbSnapshots > 0) return `has ${header.nbSnapshots} internal snapshot(s); Hangar opens such images read-only`;
  if (header.bitmaps) return 'has persistent dirty bitmaps; Hangar opens such images read-only';
  return null;
}
