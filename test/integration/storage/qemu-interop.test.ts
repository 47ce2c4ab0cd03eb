// qcow2 interop with QEMU's own tools (Debian's qemu-utils): images Hangar writes pass
// `qemu-img check` and convert to exactly what was written; images QEMU writes read in Hangar
// exactly as `qemu-img convert -O raw` reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDisk, createQcow2, openDisk } from '../../../engine/storage/index.ts';
import { applyOp, applyToModel, firstDifference, pattern, randomOps, readAll, sha256 } from '../../unit/storage/support/workload.ts';
import { qemuCheck, qemuImg, qemuRaw } from './support/qemu.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-interop-'));
let serial = 0;
const fresh = (name: string) => join(dir, `${serial++}-${name}`);

/** The virtual disk as QEMU reads it. */
function raw(path: string): Uint8Array {
  return qemuRaw(path, fresh('qemu.raw'));
}

function qemuIo(path: string, ...commands: string[]): void {
  execFileSync('qemu-io', [...commands.flatMap((c) => ['-c', c]), path], { stdio: 'ignore' });
}

/** A raw disk with patterned extents and holes, as the source of QEMU-made images. */
function sourceRaw(size: number, seed: number): string {
  const path = fresh('source.raw');
  const model = new Uint8Array(size);
  for (const op of randomOps(seed, size, 60, { maxLength: 300_000 })) if (op.kind === 'write') applyToModel(model, op);
  writeFileSync(path, model);
  return path;
}

for (const clusterSize of [512, 4096, 65536, 2 << 20]) {
  for (const withBacking of [false, true]) {
    test(`Hangar's writes pass qemu-img check and convert to what was written (${clusterSize}-byte clusters${withBacking ? ', over a backing file' : ''})`, () => {
      const size = 16 << 20;
      const model = new Uint8Array(size);
      let backing: string | undefined;
      if (withBacking) {
        backing = fresh('base.qcow2');
        const source = sourceRaw(size, 3);
        qemuImg('convert', '-t', 'unsafe', '-O', 'qcow2', source, backing);
        model.set(readFileSync(source));
      }
      const path = fresh('hangar.qcow2');
      createQcow2(path, size, { clusterSize, backing });
      const disk = openDisk(path);
      const ops = [
        ...randomOps(clusterSize + 1, size, 150, { sectorAligned: true }),
        ...randomOps(clusterSize + 2, size, 100),
      ];
      ops.forEach((op, i) => {
        applyOp(disk, op);
        applyToModel(model, op);
        if (i % 40 === 39) disk.flush();
      });
      disk.close();
      assert.deepEqual(qemuCheck(path), { corruptions: 0, leaks: 0, errors: 0 });
      assert.equal(firstDifference(raw(path), model), -1);
    });
  }
}

test('a 512-byte-cluster image written past its first refcount table passes qemu-img check', () => {
  const path = fresh('grown.qcow2');
  createQcow2(path, 64 << 20, { clusterSize: 512 });
  const disk = openDisk(path);
  const data = pattern(9, 24 << 20);
  disk.write(4 << 20, data);
  disk.close();
  assert.ok(Number(readFileSync(path).readUInt32BE(56)) > 1, 'the refcount table grew');
  assert.deepEqual(qemuCheck(path), { corruptions: 0, leaks: 0, errors: 0 });
  assert.equal(firstDifference(raw(path).subarray(4 << 20, 28 << 20), data), -1);
});

const qemuMade: Array<[string, string[]]> = [
  ['4K clusters', ['-o', 'cluster_size=4096']],
  ['64K clusters', []],
  ['2M clusters', ['-o', 'cluster_size=2M']],
  ['512-byte clusters', ['-o', 'cluster_size=512']],
  ['compressed, 64K clusters', ['-c']],
  ['compressed, 4K clusters', ['-c', '-o', 'cluster_size=4096']],
  ['compressed, 2M clusters', ['-c', '-o', 'cluster_size=2M']],
  ['version 2 (compat=0.10)', ['-o', 'compat=0.10']],
  ['1-bit refcounts', ['-o', 'refcount_bits=1']],
  ['64-bit refcounts', ['-o', 'refcount_bits=64']],
];
for (const [what, options] of qemuMade) {
  test(`qemu-img convert image (${what}) reads in Hangar as qemu-img convert -O raw reads it, and takes Hangar's writes`, () => {
    const size = 12 << 20;
    const source = sourceRaw(size, what.length);
    const path = fresh('qemu.qcow2');
    qemuImg('convert', '-t', 'unsafe', '-O', 'qcow2', ...options, source, path);
    const expected = raw(path);
    assert.equal(sha256(expected), sha256(readFileSync(source)), 'QEMU itself round-trips the source');
    const disk = openDisk(path);
    assert.equal(firstDifference(readAll(disk), expected), -1, 'Hangar reads what QEMU reads');
    // Overwrite part of it (copy-on-write out of compressed clusters where there are some).
    const model = expected.slice();
    for (const op of randomOps(what.length + 50, size, 80, { sectorAligned: true })) { applyOp(disk, op); applyToModel(model, op); }
    disk.close();
    assert.deepEqual(qemuCheck(path), { corruptions: 0, leaks: 0, errors: 0 });
    assert.equal(firstDifference(raw(path), model), -1);
  });
}

test('overlays made and written by QEMU (data, zero clusters, discards, a three-level chain) read identically', () => {
  const size = 8 << 20;
  const base = fresh('base.qcow2');
  qemuImg('convert', '-t', 'unsafe', '-O', 'qcow2', sourceRaw(size, 11), base);
  const mid = fresh('mid.qcow2');
  qemuImg('create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', mid);
  qemuIo(mid, 'write -P 0xab 100k 300k', 'write -z 1M 256k', 'write -P 0x5a 3000k 70k');
  const top = fresh('top.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', mid, '-F', 'qcow2', top);
  qemuIo(top, 'write -P 0x33 2M 64k', 'write -z -u 4M 512k', 'discard 5M 128k', 'write -P 0x44 7M 1k');
  const disk = openDisk(top, { readOnly: true });
  assert.equal(firstDifference(readAll(disk), raw(top)), -1);
  assert.deepEqual(disk.backing?.backing?.path, base);
  disk.close();
});

test('a dirty image left by a crashed QEMU with lazy refcounts is repaired by a read-write open', () => {
  const path = fresh('lazy.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'lazy_refcounts=on', path, '4M');
  spawnSync('qemu-io', ['-c', 'write -P 0x11 0 192k', '-c', 'sigraise 9', path], { stdio: 'ignore' });
  assert.ok(qemuCheck(path).corruptions > 0, 'QEMU left refcounts behind');
  assert.equal(checkDisk(path).dirty, true);
  const expected = raw(path);
  const disk = openDisk(path);
  disk.write(1 << 20, pattern(12, 100_000));
  disk.close();
  expected.set(pattern(12, 100_000), 1 << 20);
  assert.deepEqual(qemuCheck(path), { corruptions: 0, leaks: 0, errors: 0 });
  assert.equal(firstDifference(raw(path), expected), -1);
  assert.doesNotMatch(qemuImg('info', path), /dirty/);
});

test('refcount overflow (1-bit refcounts, a cluster referenced twice): check names it, repair writes nothing', () => {
  const path = fresh('overflow.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'refcount_bits=1', path, '1M');
  qemuIo(path, 'write -P 1 0 64k', 'write -P 2 64k 64k');
  // Point guest cluster 1 at guest cluster 0's host cluster.
  const bytes = readFileSync(path);
  const l2 = Number(bytes.readBigUInt64BE(Number(bytes.readBigUInt64BE(40))) & 0x00ff_ffff_ffff_fe00n);
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes.subarray(l2, l2 + 8), 0, 8, l2 + 8);
  closeSync(fd);
  const report = checkDisk(path);
  assert.match(report.messages.join('\n'), /refcount overflow: cluster 0x\w+ has 2 references, more than a 1-bit refcount holds/);
  assert.ok(qemuCheck(path).corruptions > 0, 'QEMU agrees the image is corrupt');
  const before = sha256(readFileSync(path));
  assert.throws(() => checkDisk(path, { repair: true }), /not repaired/);
  assert.equal(sha256(readFileSync(path)), before);
});

test('internal snapshots: read-only use, a check that counts their clusters, writes refused', () => {
  const path = fresh('snap.qcow2');
  qemuImg('convert', '-t', 'unsafe', '-O', 'qcow2', sourceRaw(4 << 20, 21), path);
  qemuImg('snapshot', '-c', 'first', path);
  qemuIo(path, 'write -P 0x77 0 128k');
  const disk = openDisk(path, { readOnly: true });
  assert.equal(firstDifference(readAll(disk), raw(path)), -1);
  disk.close();
  const report = checkDisk(path);
  assert.deepEqual([report.corruptions, report.leaks], [0, 0]);
  assert.throws(() => openDisk(path), /has 1 internal snapshot\(s\); Hangar opens such images read-only/);
});

test('damage qemu-img check flags, Hangar\'s check flags too: reserved bits in an L2 entry without a cluster, a snapshot count past the table', () => {
  const reserved = fresh('reserved.qcow2');
  qemuImg('create', '-f', 'qcow2', reserved, '1M');
  qemuIo(reserved, 'write -P 0x11 0 128k');
  const bytes = readFileSync(reserved);
  const l2 = Number(bytes.readBigUInt64BE(Number(bytes.readBigUInt64BE(40))) & 0x00ff_ffff_ffff_fe00n);
  const fd = openSync(reserved, 'r+');
  const entry = (value: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(value); return b; };
  writeSync(fd, entry(0x2n), 0, 8, l2 + 5 * 8); // host offset 0, reserved bit 1
  writeSync(fd, entry(1n << 56n), 0, 8, l2 + 6 * 8); // host offset 0, reserved bit 56
  closeSync(fd);
  assert.equal(qemuCheck(reserved).corruptions, 2, 'QEMU: "found l2 entry with reserved bits set", twice');
  const report = checkDisk(reserved);
  assert.equal(report.corruptions, 2);
  assert.match(report.messages.join('\n'), /L2 entry for guest offset 0x50000 has reserved bits set\n.*L2 entry for guest offset 0x60000 has reserved bits set/);
  assert.throws(() => openDisk(reserved, { readOnly: true }).read(5 * 65536, new Uint8Array(512)), /L2 entry for guest offset 0x50000 has reserved bits set/);

  const snapshots = fresh('snapshots.qcow2');
  qemuImg('create', '-f', 'qcow2', snapshots, '1M');
  qemuIo(snapshots, 'write -P 0x11 0 128k');
  qemuImg('snapshot', '-c', 'first', snapshots);
  const count = openSync(snapshots, 'r+');
  writeSync(count, Buffer.from([0, 0, 0, 2]), 0, 4, 60); // nb_snapshots 2; the table (the file's end) holds one
  closeSync(count);
  assert.equal(qemuCheck(snapshots).corruptions, 1, 'QEMU: "snapshot table entry 1 is incomplete"');
  const found = checkDisk(snapshots);
  assert.equal(found.corruptions, 1);
  assert.match(found.messages.join('\n'), /snapshot table entry 1 is incomplete/);
});
