// Consistency check of a qcow2 image, as `qemu-img check` does it: every reference from the
// metadata (header, L1/L2 tables of the active image and of internal snapshots, refcount
// structures, snapshot table, bitmaps) is counted, and the counts are compared with the stored
// refcounts. Stored > counted is a leak (space lost, harmless); stored < counted is a corruption
// (a write could reuse a cluster still in use). Repair fixes leaks only, and only when there is
// no corruption; a dirty image (lazy refcounts) has every refcount rebuilt.
import { DiskError } from './block-device.ts';
import { COPIED_HI, decodeL2Entry, heldClusters, hostOffset, Kind, l1EntryProblem } from './qcow2-entries.ts';
import { HEADER_INCOMPATIBLE, Incompatible, MAX_L1_BYTES, type Qcow2Header } from './qcow2-format.ts';
import { Refcounts } from './qcow2-refcounts.ts';
import { Qcow2Disk } from './qcow2.ts';
import type { ImageFile } from './image-file.ts';

export interface CheckReport {
  /** References to clusters whose stored refcount is too small, and other metadata damage. */
  corruptions: number;
  /** Clusters whose stored refcount is larger than their references. */
  leaks: number;
  /** Human-readable findings (the first 100). */
  messages: string[];
  /** Guest clusters holding data, and all guest clusters. */
  allocatedClusters: number;
  totalClusters: number;
  /** The dirty bit as found (refcounts may be stale). */
  dirty: boolean;
  /** What a repair changed (absent without --repair). */
  repaired?: { leaks: number; corruptions: number };
}

export type RepairMode = 'none' | 'leaks' | 'all';
const MAX_MESSAGES = 100;
/**
 * The check reads each distinct table once; this bounds what the L1 tables (the image's and its
 * snapshots') and the bitmap tables may hold in all: 64 Mi entries, 512 MiB of tables, more than
 * 16 snapshots of the largest disk QEMU makes.
 */
const MAX_CHECKED_TABLE_ENTRIES = 64 << 20;

export function checkQcow2(file: ImageFile, header: Qcow2Header, repair: RepairMode = 'none'): CheckReport {
  const cs = 2 ** header.clusterBits;
  const fileClusters = Math.ceil(file.size / cs);
  const counted = new Float64Array(fileClusters);
  const report: CheckReport = {
    corruptions: 0, leaks: 0, messages: [], allocatedClusters: 0,
    totalClusters: Math.ceil(header.size / cs), dirty: (header.incompatible & BigInt(Incompatible.Dirty)) !== 0n,
  };
  const problem = (message: string, times = 1) => {
    report.corruptions += times;
    if (report.messages.length < MAX_MESSAGES) report.messages.push(`ERROR ${message}`);
  };
  const hex = (n: number) => `0x${n.toString(16)}`;
  /** Counts `times` references to every cluster of [offset, offset + length). */
  const reference = (offset: number, length: number, what: string, times = 1) => {
    if (length <= 0) return;
    const last = Math.floor((offset + length - 1) / cs);
    if (last >= fileClusters) return problem(`${what} at ${hex(offset)} lies beyond the end of the file (${file.size} bytes)`, times);
    for (let c = Math.floor(offset / cs); c <= last; c++) counted[c]! += times;
  };
  const readTable = (offset: number, bytes: number) => {
    const data = new Uint8Array(bytes);
    file.read(data, offset);
    return new DataView(data.buffer);
  };
  /** Table entries (L1, bitmap) read so far, against MAX_CHECKED_TABLE_ENTRIES. */
  let entriesRead = 0;
  const withinBudget = (entries: number) => {
    entriesRead += entries;
    if (entriesRead <= MAX_CHECKED_TABLE_ENTRIES) return true;
    problem(`the image's tables hold more than ${MAX_CHECKED_TABLE_ENTRIES} entries in all; the rest is not checked`);
    return false;
  };
  /** Entries with bit 63 ("refcount is one") to compare with the stored refcounts afterwards. */
  const copiedClaims: Array<{ cluster: number; copied: boolean; what: string }> = [];

  // The tables are walked by distinct table, not by entry: an L1 or L2 table that many entries
  // (or snapshots) point at is read and decoded once, and its references counted that many
  // times. The work is then bounded by the file's own size, not by L1 size × L2 size.
  const l2Uses = new Map<number, { count: number; firstIndex: number; active: number[] }>();
  const l1Tables = new Map<string, { offset: number; size: number; count: number; active: boolean }>();
  const addL1 = (offset: number, size: number, active: boolean) => {
    reference(offset, size * 8, 'L1 table');
    const key = `${offset}:${size}:${active}`;
    const known = l1Tables.get(key);
    if (known) known.count++;
    else l1Tables.set(key, { offset, size, count: 1, active });
  };
  const claimedTables = new Set<number>(); // L2 offset × 2 + COPIED flag: one claim each
  reference(0, cs, 'header');
  addL1(header.l1TableOffset, header.l1Size, true);
  walkSnapshots(file, header, reference, addL1, problem);
  for (const { offset, size, count, active } of l1Tables.values()) {
    if (!withinBudget(size)) break;
    const l1 = readTable(offset, size * 8);
    for (let i = 0; i < size; i++) {
      const hi = l1.getUint32(i * 8);
      const lo = l1.getUint32(i * 8 + 4);
      if (!hi && !lo) continue;
      const bad = l1EntryProblem(hi, lo, cs, file.size);
      if (bad) { problem(`L1 entry ${i} ${bad}`, count); continue; }
      const l2Offset = hostOffset(hi, lo);
      reference(l2Offset, cs, 'L2 table', count);
      const copied = (hi & COPIED_HI) !== 0;
      if (active && !claimedTables.has(l2Offset * 2 + Number(copied))) {
        claimedTables.add(l2Offset * 2 + Number(copied));
        copiedClaims.push({ cluster: l2Offset / cs, copied, what: `L2 table ${hex(l2Offset)}` });
      }
      let use = l2Uses.get(l2Offset);
      if (use) use.count += count;
      else l2Uses.set(l2Offset, use = { count, firstIndex: i, active: [] });
      if (active) use.active.push(i);
    }
  }
  const entriesPerL2 = cs / 8;
  const guestClusters = Math.ceil(header.size / cs);
  for (const [l2Offset, { count, firstIndex, active }] of l2Uses) {
    const l2 = readTable(l2Offset, cs);
    const allocated: number[] = []; // entries holding data, in order
    for (let j = 0; j < entriesPerL2; j++) {
      const guest = (firstIndex * entriesPerL2 + j) * cs;
      const m = decodeL2Entry(l2.getUint32(j * 8), l2.getUint32(j * 8 + 4), header.clusterBits, header.version, file.size);
      if (typeof m === 'string') { problem(`L2 entry for guest offset ${hex(guest)} ${m}`, count); continue; }
      const [first, last] = heldClusters(m, cs);
      if (last >= first) reference(first * cs, (last - first + 1) * cs, `cluster for guest offset ${hex(guest)}`, count);
      if (m.kind === Kind.Data || m.kind === Kind.Compressed) allocated.push(j);
      if (active.length && m.kind !== Kind.Compressed && m.host) copiedClaims.push({ cluster: first, copied: m.copied, what: `data cluster ${hex(m.host)}` });
    }
    // Allocated guest clusters inside the virtual size, for each active L1 entry using this table.
    for (const i of active) {
      const below = guestClusters - i * entriesPerL2;
      if (below > 0) report.allocatedClusters += below >= entriesPerL2 ? allocated.length : allocated.filter((j) => j < below).length;
    }
  }

  const refcounts = new Refcounts(file, header.clusterBits, header.refcountOrder, header.refcountTableOffset, header.refcountTableClusters);
  const table = refcounts.tableLocation;
  reference(table.offset, table.clusters * cs, 'refcount table');
  const blocks = readTable(table.offset, table.clusters * cs);
  for (let i = 0; i < (table.clusters * cs) / 8; i++) {
    const block = Number(blocks.getBigUint64(i * 8));
    if (block) reference(block, cs, 'refcount block');
  }
  walkBitmaps(file, header, reference, readTable, withinBudget);

  // Compare: every cluster of the file, then the refcounts recorded past its end (which describe
  // no cluster: any there is a leak), read once per distinct refcount block so that a table full
  // of entries naming one block costs one block.
  const leaked: number[] = [];
  const missing: number[] = [];
  const compare = (c: number, stored: number, references: number) => {
    if (stored === references) return;
    if (references > refcounts.max) problem(`refcount overflow: cluster ${hex(c * cs)} has ${references} references, more than a ${2 ** header.refcountOrder}-bit refcount holds`);
    else if (stored > references) {
      report.leaks++;
      leaked.push(c);
      if (report.messages.length < MAX_MESSAGES) report.messages.push(`Leaked cluster ${hex(c * cs)} refcount=${stored} reference=${references}`);
    } else {
      missing.push(c);
      problem(`cluster ${hex(c * cs)} refcount=${stored} reference=${references}`);
    }
  };
  for (let c = 0; c < fileClusters; c++) compare(c, refcounts.get(c), counted[c]!);
  const perBlock = refcounts.perBlock;
  const seenBlocks = new Set<number>();
  for (let r = Math.floor(fileClusters / perBlock); r < (table.clusters * cs) / 8; r++) {
    const block = Number(blocks.getBigUint64(r * 8));
    if (!block || seenBlocks.has(block)) continue; // a block named twice is already a corruption (counted twice)
    seenBlocks.add(block);
    for (let c = Math.max(r * perBlock, fileClusters); c < (r + 1) * perBlock; c++) compare(c, refcounts.get(c), 0);
  }
  // Bit 63 must say whether the refcount is one; after a full rebuild the counted value will be stored.
  let fixableFlags = 0;
  for (const claim of copiedClaims) {
    const stored = refcounts.get(claim.cluster);
    if (claim.copied === (stored === 1)) continue;
    problem(`OFLAG_COPIED ${claim.what}: refcount=${stored}, flag ${claim.copied ? 'set' : 'clear'}`);
    if (claim.copied === (counted[claim.cluster] === 1)) fixableFlags++;
  }
  if (repair === 'none') return report;

  // Repair only what is safe: refcount mismatches, and nothing when the metadata itself is damaged.
  const fixable = repair === 'all' ? missing.length + fixableFlags : 0;
  if (report.corruptions > fixable) {
    throw new DiskError(`${file.path}: not repaired: ${report.corruptions} corruption(s) that a refcount repair cannot fix (${report.messages.find((m) => m.startsWith('ERROR'))})`);
  }
  for (const c of repair === 'all' ? [...leaked, ...missing] : leaked) refcounts.set(c, c < fileClusters ? counted[c]! : 0);
  refcounts.writeDirty();
  file.sync();
  if (report.dirty) Qcow2Disk.writeHeaderBits(file, HEADER_INCOMPATIBLE, header.incompatible & ~BigInt(Incompatible.Dirty));
  const after = checkQcow2(file, { ...header, incompatible: header.incompatible & ~BigInt(Incompatible.Dirty) });
  return { ...after, dirty: report.dirty, repaired: { leaks: report.leaks - after.leaks, corruptions: report.corruptions - after.corruptions } };
}

type Reference = (offset: number, length: number, what: string) => void;

/** QEMU's limits (block/qcow2.h): extra data of one snapshot entry, the whole snapshot table. */
const MAX_SNAPSHOT_EXTRA_DATA = 1024;
const MAX_SNAPSHOT_TABLE_BYTES = 64 << 20;

/** The snapshot table (qcow2.txt "Snapshots"): its own clusters, and each snapshot's L1 table. */
function walkSnapshots(file: ImageFile, header: Qcow2Header, reference: Reference, addL1: (offset: number, size: number, active: boolean) => void, problem: (m: string) => void): void {
  let at = header.snapshotsOffset;
  const fixed = new Uint8Array(40);
  const view = new DataView(fixed.buffer);
  for (let i = 0; i < header.nbSnapshots; i++) {
    // Fixed part: L1 offset (0), L1 size (8), id and name lengths (12, 14), extra data length (36).
    const entryLength = at + 40 <= file.size ? (file.read(fixed, at), 40 + view.getUint32(36) + view.getUint16(12) + view.getUint16(14)) : 40;
    if (at + entryLength > file.size) { problem(`snapshot table entry ${i} is incomplete (it runs past the end of the file)`); break; }
    if (view.getUint32(36) > MAX_SNAPSHOT_EXTRA_DATA) { problem(`snapshot table entry ${i} has ${view.getUint32(36)} bytes of extra data (at most ${MAX_SNAPSHOT_EXTRA_DATA})`); break; }
    if (at + entryLength - header.snapshotsOffset > MAX_SNAPSHOT_TABLE_BYTES) { problem(`the snapshot table is larger than ${MAX_SNAPSHOT_TABLE_BYTES} bytes`); break; }
    const l1Offset = Number(view.getBigUint64(0));
    const l1Size = view.getUint32(8);
    if (l1Size * 8 > MAX_L1_BYTES || l1Offset % 2 ** header.clusterBits !== 0 || l1Offset + l1Size * 8 > file.size) {
      problem(`snapshot ${i}: L1 table at 0x${l1Offset.toString(16)} (${l1Size} entries) is misaligned or beyond the end of the file`);
    } else {
      addL1(l1Offset, l1Size, false);
    }
    at += Math.ceil(entryLength / 8) * 8;
  }
  if (header.nbSnapshots) reference(header.snapshotsOffset, at - header.snapshotsOffset, 'snapshot table');
}

/** Persistent bitmaps (qcow2.txt "Bitmaps"): the directory, each bitmap table and its data clusters. */
function walkBitmaps(file: ImageFile, header: Qcow2Header, reference: Reference, readTable: (offset: number, bytes: number) => DataView, withinBudget: (entries: number) => boolean): void {
  if (!header.bitmaps) return;
  const { count, directorySize, directoryOffset } = header.bitmaps;
  reference(directoryOffset, directorySize, 'bitmap directory');
  if (directoryOffset + directorySize > file.size) return; // reported just above
  const directory = readTable(directoryOffset, directorySize);
  let at = 0;
  // Entry: table offset (0), table size (8), name length (18), extra data length (20).
  for (let i = 0; i < count && at + 24 <= directorySize; i++) {
    const tableOffset = Number(directory.getBigUint64(at));
    const tableSize = directory.getUint32(at + 8);
    reference(tableOffset, tableSize * 8, 'bitmap table');
    if (tableOffset + tableSize * 8 <= file.size && withinBudget(tableSize)) {
      const table = readTable(tableOffset, tableSize * 8);
      for (let j = 0; j < tableSize; j++) {
        const offset = hostOffset(table.getUint32(j * 8), table.getUint32(j * 8 + 4));
        if (offset) reference(offset, 2 ** header.clusterBits, 'bitmap data');
      }
    }
    at += Math.ceil((24 + directory.getUint32(at + 20) + directory.getUint16(at + 18)) / 8) * 8;
  }
}
