// qcow2 images read and written by Hangar alone, checked against an in-memory model of the disk
// and against the layout qcow2.txt prescribes. (Interop with QEMU's own tools: test/integration/storage.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { checkDisk, createQcow2, createRaw, openDisk } from '../../../engine/storage/index.ts';
import { applyOp, applyToModel, firstDifference, pattern, randomOps, readAll } from './support/workload.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-qcow2-'));
let serial = 0;
const fresh = (name: string) => join(dir, `${serial++}-${name}`);

function u32(bytes: Uint8Array, at: number): number { return Buffer.from(bytes).readUInt32BE(at); }
function u64(bytes: Uint8Array, at: number): number { return Number(Buffer.from(bytes).readBigUInt64BE(at)); }

test('a new image has the version 3 header, refcounts and L1 table qcow2.txt describes', () => {
  const path = fresh('new.qcow2');
  createQcow2(path, 1 << 30);
  const bytes = readFileSync(path);
  assert.equal(u32(bytes, 0), 0x514649fb, 'magic QFI\\xfb');
  assert.equal(u32(bytes, 4), 3, 'version');
  assert.equal(u32(bytes, 20), 16, 'cluster_bits: 64 KiB clusters');
  assert.equal(u64(bytes, 24), 1 << 30, 'virtual size');
  assert.equal(u32(bytes, 36), 2, 'l1_size: 1 GiB / (64 KiB × 8192 entries per L2) = 2');
  assert.equal(u64(bytes, 48), 0x10000, 'refcount table in cluster 1');
  assert.equal(u32(bytes, 56), 1, 'one refcount table cluster');
  assert.equal(u64(bytes, 72), 0, 'no incompatible features (not dirty)');
  assert.equal(u32(bytes, 96), 4, 'refcount_order 4: 16-bit refcounts');
  assert.equal(u32(bytes, 100), 112, 'header_length');
  assert.equal(u64(bytes, 0x10000), 0x20000, 'refcount table entry 0 → block in cluster 2');
  assert.equal(u64(bytes, 40), 0x30000, 'L1 table in cluster 3');
  // Clusters 0..3 are in use, each with refcount 1 (16-bit big-endian entries); cluster 4 is free.
  assert.deepEqual([...bytes.subarray(0x20000, 0x2000a)], [0, 1, 0, 1, 0, 1, 0, 1, 0, 0]);
  assert.equal(bytes.length, 4 * 0x10000);
  const ext = u32(bytes, 112);
  assert.equal(ext, 0x6803f857, 'feature name table extension first (no backing format)');
  assert.equal(Buffer.from(bytes.subarray(112 + 8 + 2, 112 + 8 + 11)).toString(), 'dirty bit');
});

test('an overlay names its backing file and format in the header', () => {
  const base = fresh('base.raw');
  createRaw(base, 4 << 20);
  const overlay = join(dir, `${serial++}-overlay.qcow2`);
  const baseName = base.slice(dir.length + 1);
  createQcow2(overlay, undefined, { backing: baseName });
  const bytes = readFileSync(overlay);
  assert.equal(u64(bytes, 24), 4 << 20, 'size taken from the backing file');
  assert.equal(u32(bytes, 112), 0xe2792aca, 'backing file format extension');
  assert.equal(u32(bytes, 116), 3);
  assert.equal(Buffer.from(bytes.subarray(120, 123)).toString(), 'raw');
  const nameAt = u64(bytes, 8);
  assert.equal(Buffer.from(bytes.subarray(nameAt, nameAt + u32(bytes, 16))).toString(), baseName, 'stored as given (relative)');
  const disk = openDisk(overlay, { readOnly: true });
  assert.equal(disk.backing?.path, base);
  disk.close();
});

for (const clusterSize of [512, 4096, 65536]) {
  for (const backingKind of ['none', 'raw', 'qcow2'] as const) {
    test(`random writes, overwrites, zero writes and discards read back (${clusterSize}-byte clusters, backing: ${backingKind})`, () => {
      const size = 8 << 20;
      const model = new Uint8Array(size);
      let backing: string | undefined;
      if (backingKind !== 'none') {
        backing = fresh(`base.${backingKind}`);
        if (backingKind === 'raw') createRaw(backing, size);
        else createQcow2(backing, size, { clusterSize: 4096 });
        const base = openDisk(backing);
        for (const op of randomOps(7, size, 40)) if (op.kind === 'write') { applyOp(base, op); applyToModel(model, op); }
        base.close();
      }
      const path = fresh('image.qcow2');
      createQcow2(path, size, { clusterSize, backing });
      // A cache of two L2 tables forces evictions of dirty tables between flushes.
      let disk = openDisk(path, { cacheBytes: 2 * clusterSize });
      const ops = randomOps(clusterSize + backingKind.length, size, 300);
      ops.forEach((op, i) => {
        applyOp(disk, op);
        applyToModel(model, op);
        if (i % 50 === 49) disk.flush();
        if (i === 150) { disk.close(); disk = openDisk(path, { cacheBytes: 2 * clusterSize }); }
      });
      assert.equal(firstDifference(readAll(disk), model), -1, 'contents before close');
      disk.close();
      disk = openDisk(path, { readOnly: true });
      assert.equal(firstDifference(readAll(disk), model), -1, 'contents after reopening');
      disk.close();
      const check = checkDisk(path);
      assert.deepEqual([check.corruptions, check.leaks, check.messages], [0, 0, []]);
    });
  }
}

test('the refcount table grows (and moves) when the image outgrows it', () => {
  // 512-byte clusters, 16-bit refcounts: a block covers 256 clusters (128 KiB) and the one-cluster
  // table 64 blocks (8 MiB of file), so 16 MiB of data needs a bigger table.
  const path = fresh('grow.qcow2');
  createQcow2(path, 32 << 20, { clusterSize: 512 });
  const tableBefore = u64(readFileSync(path), 48);
  const disk = openDisk(path);
  const data = pattern(1, 16 << 20);
  disk.write(0, data);
  disk.close();
  const header = readFileSync(path);
  assert.notEqual(u64(header, 48), tableBefore, 'refcount_table_offset moved');
  assert.ok(u32(header, 56) > 1, 'refcount_table_clusters grew');
  const check = checkDisk(path);
  assert.deepEqual([check.corruptions, check.leaks], [0, 0]);
  const reopened = openDisk(path, { readOnly: true });
  const back = new Uint8Array(16 << 20);
  reopened.read(0, back);
  reopened.close();
  assert.equal(firstDifference(back, data), -1);
});

test('discarded clusters are freed and reused; zero writes over a backing file become zero clusters', () => {
  const base = fresh('base.raw');
  writeFileSync(base, pattern(2, 1 << 20));
  const path = fresh('overlay.qcow2');
  createQcow2(path, 1 << 20, { backing: base });
  const disk = openDisk(path);
  disk.write(0, pattern(3, 4 * 65536));
  disk.flush();
  const grown = readFileSync(path).length;
  disk.writeZeroes(0, 4 * 65536); // over a backing file: zero clusters, host clusters freed
  disk.flush();
  disk.write(65536 * 8, pattern(4, 4 * 65536)); // reuses the freed clusters: the file does not grow
  disk.close();
  assert.equal(readFileSync(path).length, grown);
  const reopened = openDisk(path, { readOnly: true });
  const head = new Uint8Array(4 * 65536);
  reopened.read(0, head);
  assert.ok(head.every((b) => b === 0), 'zero clusters hide the backing file');
  const tail = new Uint8Array(65536);
  reopened.read(65536 * 4, tail);
  assert.deepEqual(tail, pattern(2, 1 << 20).subarray(65536 * 4, 65536 * 5), 'untouched clusters read from the backing file');
  reopened.close();
  assert.deepEqual([checkDisk(path).corruptions, checkDisk(path).leaks], [0, 0]);
});

test('compressed clusters (raw deflate, the descriptor of qcow2.txt) read back and are copied on write', () => {
  // Hand-build what QEMU writes: one cluster deflated at an unaligned host offset; the L2 entry
  // holds the offset in bits 0..x-1 and the extra sectors in bits x..61, x = 62 - (16 - 8) = 54.
  const path = fresh('compressed.qcow2');
  createQcow2(path, 1 << 20);
  const content = new Uint8Array(65536).map((_, i) => (i % 251 === 0 ? i & 0xff : 0x55));
  const compressed = deflateRawSync(content);
  const l2At = 4 * 65536;
  const dataAt = 5 * 65536 + 100;
  const sectors = Math.ceil((100 + compressed.length) / 512);
  const entry = (1n << 62n) | (BigInt(sectors - 1) << 54n) | BigInt(dataAt);
  const fd = openSync(path, 'r+');
  const l1 = Buffer.alloc(8); l1.writeBigUInt64BE((1n << 63n) | BigInt(l2At)); writeSync(fd, l1, 0, 8, 0x30000);
  const l2 = Buffer.alloc(65536); l2.writeBigUInt64BE(entry, 8); writeSync(fd, l2, 0, l2.length, l2At);
  writeSync(fd, compressed, 0, compressed.length, dataAt);
  const refcounts = Buffer.alloc(4); refcounts.writeUInt16BE(1, 0); refcounts.writeUInt16BE(1, 2);
  writeSync(fd, refcounts, 0, 4, 0x20000 + 4 * 2); // clusters 4 (L2) and 5 (compressed data)
  closeSync(fd);
  assert.deepEqual([checkDisk(path).corruptions, checkDisk(path).leaks], [0, 0], 'hand-built image is consistent');

  const disk = openDisk(path);
  const back = new Uint8Array(65536);
  disk.read(65536, back);
  assert.deepEqual(back, content);
  disk.write(65536 + 10, Uint8Array.of(1, 2, 3));
  disk.close();
  const expected = content.slice();
  expected.set([1, 2, 3], 10);
  const reopened = openDisk(path, { readOnly: true });
  reopened.read(65536, back);
  reopened.close();
  assert.deepEqual(back, expected);
  const check = checkDisk(path);
  assert.deepEqual([check.corruptions, check.leaks], [0, 0], 'the compressed cluster was freed after the copy');
});

test('a dirty image (lazy refcounts) is repaired when opened for writing, and left alone read-only', () => {
  const path = fresh('dirty.qcow2');
  createQcow2(path, 1 << 20);
  const disk = openDisk(path);
  disk.write(0, pattern(5, 3 * 65536));
  disk.close();
  // Simulate lazy refcounts after a crash: the refcounts of the three data clusters were never
  // written, and the dirty bit is set.
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(8), 0, 8, 0x20000 + 5 * 2);
  const dirty = Buffer.alloc(8); dirty.writeBigUInt64BE(1n); writeSync(fd, dirty, 0, 8, 72);
  closeSync(fd);
  const found = checkDisk(path);
  assert.equal(found.dirty, true);
  assert.ok(found.corruptions >= 3, 'missing refcounts show up as corruptions');

  openDisk(path, { readOnly: true }).close();
  assert.equal(u64(readFileSync(path), 72), 1, 'read-only open keeps the dirty bit');
  const writable = openDisk(path);
  writable.write(4 * 65536, pattern(6, 65536)); // must not land on a cluster already in use
  writable.close();
  assert.equal(u64(readFileSync(path), 72), 0, 'dirty bit cleared');
  const after = checkDisk(path);
  assert.deepEqual([after.corruptions, after.leaks, after.dirty], [0, 0, false]);
  const reopened = openDisk(path, { readOnly: true });
  const back = new Uint8Array(5 * 65536);
  reopened.read(0, back);
  reopened.close();
  assert.deepEqual(back.subarray(0, 3 * 65536), pattern(5, 3 * 65536));
  assert.deepEqual(back.subarray(4 * 65536), pattern(6, 65536));
});

test('check --repair frees leaked clusters', () => {
  const path = fresh('leaky.qcow2');
  createQcow2(path, 1 << 20);
  // Refcount 1 for clusters 4 and 9, which nothing references (as after a crash between an
  // allocation's refcount update and the L2 table that would have used it).
  const fd = openSync(path, 'r+');
  const one = Buffer.from([0, 1]);
  writeSync(fd, one, 0, 2, 0x20000 + 4 * 2);
  writeSync(fd, one, 0, 2, 0x20000 + 9 * 2);
  closeSync(fd);
  const found = checkDisk(path);
  assert.deepEqual([found.corruptions, found.leaks], [0, 2]);
  assert.match(found.messages.join('\n'), /Leaked cluster 0x40000 refcount=1 reference=0/);
  const repaired = checkDisk(path, { repair: true });
  assert.deepEqual([repaired.corruptions, repaired.leaks, repaired.repaired], [0, 0, { leaks: 2, corruptions: 0 }]);
});

test('check looks at the image itself: an overlay whose backing file is gone can still be checked', () => {
  const base = fresh('gone-base.raw');
  createRaw(base, 1 << 20);
  const overlay = fresh('orphan.qcow2');
  createQcow2(overlay, undefined, { backing: base });
  rmSync(base);
  assert.throws(() => openDisk(overlay), /backing file .*gone-base\.raw does not exist/);
  const report = checkDisk(overlay);
  assert.deepEqual([report.format, report.corruptions, report.leaks], ['qcow2', 0, 0]);
});
