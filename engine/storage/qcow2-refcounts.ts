// qcow2 refcounts (qcow2.txt "Host cluster management"): a refcount table of block offsets, and
// refcount blocks of 2^refcount_order-bit entries, one per host cluster. This class is also the
// allocator: a free cluster is one whose refcount is 0.
//
// Crash safety rests on what is written when (see qcow2.ts): in memory, a refcount only ever
// goes up ahead of the disk (allocations), never down (frees are applied by the caller once the
// L2 tables that dropped the references are durable). So the dirty blocks can be written at any
// time; the caller writes them, and fsyncs, before any L2 entry that uses the clusters.
// New refcount blocks go at the end of the file and describe themselves; a refcount table that
// fills up is copied, grown, to the end of the file and the header switched over to it.
import { DiskError } from './block-device.ts';
import { entryOffset, HEADER_REFCOUNT_TABLE, MAX_REFCOUNT_TABLE_BYTES } from './qcow2-format.ts';
import type { ImageFile } from './image-file.ts';

export class Refcounts {
  readonly clusterSize: number;
  /** Refcount entries per block. */
  readonly perBlock: number;
  /** The largest refcount an entry can hold. */
  readonly max: number;
  private table: number[];
  private tableOffset: number;
  private tableClusters: number;
  private readonly dirtyEntries = new Set<number>();
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly dirtyBlocks = new Set<number>();
  /** Every cluster from here on is past the data in use: free and unreferenced. */
  private endCluster: number;
  /** No free cluster below this index (a hint; frees move it back). */
  private freeHint = 0;

  constructor(
    private readonly file: ImageFile,
    readonly clusterBits: number,
    readonly order: number,
    tableOffset: number,
    tableClusters: number,
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.perBlock = (this.clusterSize * 8) >> order;
    this.max = order === 6 ? Number.MAX_SAFE_INTEGER : 2 ** (2 ** order) - 1;
    this.tableOffset = tableOffset;
    this.tableClusters = tableClusters;
    this.endCluster = Math.ceil(file.size / this.clusterSize);
    const raw = new Uint8Array(tableClusters * this.clusterSize);
    file.read(raw, tableOffset);
    const view = new DataView(raw.buffer);
    this.table = [];
    for (let i = 0; i < raw.length / 8; i++) {
      const entry = view.getBigUint64(i * 8);
      const offset = entryOffset(entry);
      if (entry !== 0n && (entry & 0x1ffn || offset !== Number(entry) || offset >= file.size)) {
        throw new DiskError(`${file.path}: refcount table entry ${i} (0x${entry.toString(16)}) is misaligned or points beyond the end of the file (${file.size} bytes)`);
      }
      this.table.push(offset);
    }
  }

  get tableLocation(): { offset: number; clusters: number } {
    return { offset: this.tableOffset, clusters: this.tableClusters };
  }

  /** The refcount of host cluster `cluster` (0 where no block covers it). */
  get(cluster: number): number {
    const block = this.blockFor(cluster);
    return block ? readEntry(block, this.order, cluster % this.perBlock) : 0;
  }

  /** Sets a refcount in memory; the block is written by writeDirty(). */
  set(cluster: number, value: number): void {
    if (value > this.max) {
      throw new DiskError(`${this.file.path}: refcount overflow: cluster 0x${(cluster * this.clusterSize).toString(16)} would need refcount ${value}, more than ${this.max}`);
    }
    if (!this.blockFor(cluster)) this.cover([cluster]);
    const r = Math.floor(cluster / this.perBlock);
    const block = this.loadBlock(this.table[r]!);
    writeEntry(block, this.order, cluster % this.perBlock, value);
    this.dirtyBlocks.add(this.table[r]!);
  }

  /** Drops one reference to `cluster`; refuses (image corrupt) below zero. */
  decrement(cluster: number): void {
    const value = this.get(cluster);
    if (value === 0) {
      throw new DiskError(`${this.file.path}: refcount of cluster 0x${(cluster * this.clusterSize).toString(16)} is already 0 (the image is corrupt; run hangar disk check)`);
    }
    this.set(cluster, value - 1);
    if (value === 1) this.freeHint = Math.min(this.freeHint, cluster);
  }

  /** Allocates one free cluster (refcount 0 → 1) and returns its index. */
  allocate(): number {
    for (let cluster = this.freeHint; ; cluster++) {
      if (!this.blockFor(cluster)) this.cover([cluster]); // may place a new block at `cluster` itself
      // Past the end of the file nothing is in use, whatever a leaked refcount there says: the
      // search ends there instead of walking refcount blocks that describe no cluster.
      if (cluster < this.endCluster && this.get(cluster) !== 0) continue;
      this.set(cluster, 1);
      this.freeHint = cluster + 1;
      this.endCluster = Math.max(this.endCluster, cluster + 1);
      this.file.extendTo((cluster + 1) * this.clusterSize);
      return cluster;
    }
  }

  /** Allocates `count` contiguous clusters at the end of the file; returns the first index. */
  allocateContiguous(count: number): number {
    for (;;) {
      const first = this.endCluster;
      this.cover(Array.from({ length: count }, (_, i) => first + i));
      if (this.endCluster !== first) continue; // new blocks took the spot; try past them
      for (let i = 0; i < count; i++) this.set(first + i, 1);
      this.endCluster = first + count;
      this.file.extendTo(this.endCluster * this.clusterSize);
      return first;
    }
  }

  get dirty(): boolean {
    return this.dirtyBlocks.size > 0 || this.dirtyEntries.size > 0;
  }

  /** Writes dirty blocks, then (after an fsync, so a table entry never points at an unwritten block) dirty table entries. */
  writeDirty(): void {
    for (const offset of this.dirtyBlocks) this.file.write(this.blocks.get(offset)!, offset);
    this.dirtyBlocks.clear();
    if (this.dirtyEntries.size === 0) return;
    this.file.sync();
    const entry = new DataView(new ArrayBuffer(8));
    for (const index of this.dirtyEntries) {
      entry.setBigUint64(0, BigInt(this.table[index]!));
      this.file.write(new Uint8Array(entry.buffer), this.tableOffset + index * 8);
    }
    this.dirtyEntries.clear();
  }

  private blockFor(cluster: number): Uint8Array | null {
    const offset = this.table[Math.floor(cluster / this.perBlock)];
    return offset ? this.loadBlock(offset) : null;
  }

  private loadBlock(offset: number): Uint8Array {
    let block = this.blocks.get(offset);
    if (!block) {
      if (offset % this.clusterSize !== 0 || offset >= this.file.size) {
        throw new DiskError(`${this.file.path}: refcount block at 0x${offset.toString(16)} is misaligned or beyond the end of the file`);
      }
      block = new Uint8Array(this.clusterSize);
      this.file.read(block, offset);
      this.blocks.set(offset, block);
    }
    return block;
  }

  /**
   * Gives every cluster in `clusters` a refcount block. The new blocks (and, when the table is
   * full, a bigger copy of the table) are laid out at the end of the file; blocks are counted
   * until the area they and the table occupy is covered too.
   */
  private cover(clusters: number[]): void {
    const start = this.endCluster;
    let blockCount = 0;
    let tableClusters = 0;
    let missing: number[] = [];
    for (;;) {
      const ranges = new Set(clusters.map((c) => Math.floor(c / this.perBlock)));
      for (let c = start; c < start + blockCount + tableClusters; c++) ranges.add(Math.floor(c / this.perBlock));
      missing = [...ranges].filter((r) => !this.table[r]).sort((a, b) => a - b);
      const highest = Math.max(this.table.length - 1, ...missing);
      const neededClusters = highest < this.table.length ? 0 : Math.ceil(((highest + 1) * 8 * 3) / 2 / this.clusterSize);
      if (missing.length === blockCount && neededClusters === tableClusters) break;
      blockCount = missing.length;
      tableClusters = neededClusters;
    }
    if (tableClusters * this.clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
      throw new DiskError(`${this.file.path}: the refcount table would exceed ${MAX_REFCOUNT_TABLE_BYTES} bytes`);
    }
    this.endCluster = start + blockCount + tableClusters;
    this.file.extendTo(this.endCluster * this.clusterSize);
    missing.forEach((range, i) => {
      const offset = (start + i) * this.clusterSize;
      this.blocks.set(offset, new Uint8Array(this.clusterSize));
      this.dirtyBlocks.add(offset);
      while (this.table.length <= range) this.table.push(0);
      this.table[range] = offset;
      this.dirtyEntries.add(range);
    });
    for (let c = start; c < this.endCluster; c++) this.set(c, 1);
    if (tableClusters) this.moveTable(start + blockCount, tableClusters);
  }

  /** Writes the whole table to its new clusters, switches the header to it, and frees the old one. */
  private moveTable(firstCluster: number, clusters: number): void {
    const old = { offset: this.tableOffset, clusters: this.tableClusters };
    const raw = new Uint8Array(clusters * this.clusterSize);
    const view = new DataView(raw.buffer);
    this.table.forEach((offset, i) => view.setBigUint64(i * 8, BigInt(offset)));
    while (this.table.length < raw.length / 8) this.table.push(0);
    for (const offset of this.dirtyBlocks) this.file.write(this.blocks.get(offset)!, offset);
    this.dirtyBlocks.clear();
    this.dirtyEntries.clear();
    this.file.write(raw, firstCluster * this.clusterSize);
    this.file.sync();
    const header = new DataView(new ArrayBuffer(12));
    header.setBigUint64(0, BigInt(firstCluster * this.clusterSize));
    header.setUint32(8, clusters);
    this.file.write(new Uint8Array(header.buffer), HEADER_REFCOUNT_TABLE);
    this.file.sync();
    this.tableOffset = firstCluster * this.clusterSize;
    this.tableClusters = clusters;
    // Only the header referenced the old table, and the header is durable: free it now.
    for (let i = 0; i < old.clusters; i++) this.decrement(old.offset / this.clusterSize + i);
  }
}

/** Reads entry `index` of a refcount block with 2^order-bit entries (sub-byte entries: bit 0 is the least significant). */
export function readEntry(block: Uint8Array, order: number, index: number): number {
  switch (order) {
    case 3: return block[index]!;
    case 4: return (block[index * 2]! << 8) | block[index * 2 + 1]!;
    case 5: return new DataView(block.buffer, block.byteOffset).getUint32(index * 4);
    case 6: return Number(new DataView(block.buffer, block.byteOffset).getBigUint64(index * 8));
    default: {
      const bits = 2 ** order;
      const perByte = 8 / bits;
      return (block[Math.floor(index / perByte)]! >> ((index % perByte) * bits)) & ((1 << bits) - 1);
    }
  }
}

export function writeEntry(block: Uint8Array, order: number, index: number, value: number): void {
  switch (order) {
    case 3: block[index] = value; return;
    case 4: block[index * 2] = value >> 8; block[index * 2 + 1] = value & 0xff; return;
    case 5: new DataView(block.buffer, block.byteOffset).setUint32(index * 4, value); return;
    case 6: new DataView(block.buffer, block.byteOffset).setBigUint64(index * 8, BigInt(value)); return;
    default: {
      const bits = 2 ** order;
      const perByte = 8 / bits;
      const shift = (index % perByte) * bits;
      const at = Math.floor(index / perByte);
      block[at] = (block[at]! & ~(((1 << bits) - 1) << shift)) | (value << shift);
    }
  }
}
