// Backing-chain operations for snapshots: what an image holds itself, merging its backing file
// into it (the chain reads the same, the old backing file is no longer needed), and repointing
// it. Checked against an in-memory model of each image's content. (QEMU's view of the results:
// test/integration/storage/overlay-interop.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  checkDisk, createQcow2, createRaw, DiskError, mergeBackingInto, mergeGrowth, openDisk, ownExtents, setBackingFile,
} from '../../../engine/storage/index.ts';
import { Qcow2Disk } from '../../../engine/storage/qcow2.ts';
import { applyOp, applyToModel, firstDifference, pattern, randomOps, readAll } from './support/workload.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-overlay-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const fresh = (name: string) => join(dir, `${serial++}-${name}`);
const KiB = 1024;

function withDisk<T>(path: string, use: (disk: ReturnType<typeof openDisk>) => T, readOnly = false): T {
  const disk = openDisk(path, { readOnly });
  try {
    return use(disk);
  } finally {
    disk.close();
  }
}

/** Applies a random workload to the image at `path`, and the same to `model`. */
function workload(path: string, model: Uint8Array, seed: number, count = 40): void {
  withDisk(path, (disk) => {
    for (const op of randomOps(seed, model.length, count, { maxLength: 150_000 })) {
      applyOp(disk, op);
      applyToModel(model, op);
    }
  });
}

function headerBackingName(path: string): string | null {
  return withDisk(path, (disk) => (disk as Qcow2Disk).header.backingFile, true);
}

test('ownExtents lists data, zero and partial-last clusters, merged, and nothing read through', () => {
  const base = fresh('base.qcow2');
  createQcow2(base, 1 << 20, { clusterSize: 64 * KiB });
  withDisk(base, (disk) => disk.write(0, pattern(1, 64 * KiB)));
  const top = fresh('top.qcow2');
  createQcow2(top, 1 << 20, { backing: basename(base), clusterSize: 4 * KiB });
  withDisk(top, (disk) => {
    disk.write(10 * KiB, pattern(2, 100));            // cluster 2
    disk.write(12 * KiB, pattern(3, 8 * KiB));         // clusters 3 and 4: merge with cluster 2
    disk.writeZeroes(512 * KiB, 8 * KiB);              // two zero clusters over the backing file
    assert.deepEqual(ownExtents(disk), [
      { offset: 8 * KiB, length: 12 * KiB },
      { offset: 512 * KiB, length: 8 * KiB },
    ]);
    assert.deepEqual(ownExtents(disk.backing!), [{ offset: 0, length: 64 * KiB }]);
  });
  const raw = fresh('disk.raw');
  createRaw(raw, 3 * KiB);
  withDisk(raw, (disk) => assert.deepEqual(ownExtents(disk), [{ offset: 0, length: 3 * KiB }]));
  // A virtual size that ends inside a cluster: the last extent stops at the size.
  const odd = fresh('odd.qcow2');
  createQcow2(odd, 70 * KiB, { clusterSize: 64 * KiB });
  withDisk(odd, (disk) => {
    disk.write(69 * KiB, pattern(4, 1024));
    assert.deepEqual(ownExtents(disk), [{ offset: 64 * KiB, length: 6 * KiB }]);
  });
});

for (const [middleCluster, topCluster] of [[4 * KiB, 64 * KiB], [64 * KiB, 4 * KiB], [512, 2 << 20]] as const) {
  test(`merging a middle image into its child keeps every byte (clusters ${middleCluster} under ${topCluster}), even its zero clusters`, async () => {
    const size = Math.max(4 << 20, 8 * topCluster); // room for clusters the child does not hold
    const base = fresh('base.qcow2');
    const middle = fresh('middle.qcow2');
    const top = fresh('top.qcow2');
    const model = new Uint8Array(size);
    createQcow2(base, size);
    workload(base, model, 11);
    createQcow2(middle, undefined, { backing: basename(base), clusterSize: middleCluster });
    workload(middle, model, 12);
    // Zeros written over the base's data must stay zeros once the base shows through again.
    withDisk(middle, (disk) => disk.writeZeroes(0, 256 * KiB));
    model.fill(0, 0, 256 * KiB);
    const middleModel = model.slice();
    createQcow2(top, undefined, { backing: basename(middle), clusterSize: topCluster });
    workload(top, model, 13, 3);

    const ownBefore = withDisk(top, (d) => ownExtents(d).reduce((s, e) => s + e.length, 0), true);
    const growth = mergeGrowth(top);
    const phases = new Set<string>();
    await mergeBackingInto(top, { onProgress: (p) => phases.add(p.phase) });
    assert.deepEqual([...phases], ['merge']);
    assert.equal(headerBackingName(top), basename(base), 'the child now names the base, relative as before');
    const ownAfter = withDisk(top, (d) => ownExtents(d).reduce((s, e) => s + e.length, 0), true);
    assert.equal(ownAfter - ownBefore, growth, 'mergeGrowth foretold exactly the clusters the merge allocated');

    // The middle image is not needed any more: move it away and read the chain.
    renameSync(middle, `${middle}.gone`);
    withDisk(top, (disk) => assert.equal(firstDifference(readAll(disk), model), -1), true);
    withDisk(`${middle}.gone`, (disk) => assert.equal(firstDifference(readAll(disk), middleModel), -1), true);
    for (const image of [top, base]) {
      const report = checkDisk(image);
      assert.equal(report.corruptions + report.leaks, 0, report.messages.join('\n'));
    }
  });
}

test('merging a backing file that has no backing of its own leaves a standalone image', async () => {
  const size = 2 << 20;
  const base = fresh('base.qcow2');
  const top = fresh('top.qcow2');
  const model = new Uint8Array(size);
  createQcow2(base, size);
  workload(base, model, 21);
  createQcow2(top, undefined, { backing: basename(base) });
  workload(top, model, 22);
  await mergeBackingInto(top);
  assert.equal(headerBackingName(top), null);
  rmSync(base);
  withDisk(top, (disk) => {
    assert.equal(disk.backing, null);
    assert.equal(firstDifference(readAll(disk), model), -1);
  }, true);
});

test('a raw backing file merges whole; the format of the next one down is recorded', async () => {
  const size = 1 << 20;
  const raw = fresh('base.raw');
  createRaw(raw, size);
  const model = new Uint8Array(size);
  workload(raw, model, 31, 10);
  const middle = fresh('middle.qcow2');
  createQcow2(middle, undefined, { backing: basename(raw) });
  workload(middle, model, 32, 10);
  const top = fresh('top.qcow2');
  createQcow2(top, undefined, { backing: basename(middle) });
  await mergeBackingInto(top);
  withDisk(top, (disk) => {
    assert.equal(disk.backing?.format, 'raw', 'backing format extension names raw');
    assert.equal(firstDifference(readAll(disk), model), -1);
  }, true);
});

test('an absolute backing name stays absolute; a cancelled merge leaves the chain as it was and can be run again', async () => {
  const size = 8 << 20;
  const base = fresh('base.qcow2');
  createQcow2(base, size);
  const middle = fresh('middle.qcow2');
  createQcow2(middle, undefined, { backing: base });
  const model = new Uint8Array(size);
  workload(middle, model, 41, 80);
  const top = fresh('top.qcow2');
  createQcow2(top, undefined, { backing: middle });
  const abort = new AbortController();
  await assert.rejects(mergeBackingInto(top, { signal: abort.signal, onProgress: () => abort.abort() }), { name: 'AbortError' });
  assert.equal(headerBackingName(top), middle);
  withDisk(top, (disk) => assert.equal(firstDifference(readAll(disk), model), -1), true);
  await mergeBackingInto(top);
  assert.equal(headerBackingName(top), base, 'absolute, as the middle image stored it');
  withDisk(top, (disk) => assert.equal(firstDifference(readAll(disk), model), -1), true);
});

test('an image without a backing file has nothing to merge', async () => {
  const alone = fresh('alone.qcow2');
  createQcow2(alone, 1 << 20);
  await assert.rejects(mergeBackingInto(alone), (err: Error) => err instanceof DiskError && /has no backing file to merge/.test(err.message));
  assert.throws(() => mergeGrowth(alone), /has no backing file to merge/);
});

test('setBackingFile rewrites only the name: the header fits one sector, stale bytes are cleared, data untouched', () => {
  const a = fresh('a.qcow2');
  const b = fresh('b.qcow2');
  createQcow2(a, 1 << 20);
  createQcow2(b, 1 << 20);
  const top = fresh('top.qcow2');
  createQcow2(top, undefined, { backing: basename(a) });
  withDisk(top, (disk) => disk.write(4096, pattern(5, 5000)));
  const before = readFileSync(top);
  setBackingFile(top, { name: basename(b), format: 'qcow2' });
  const after = readFileSync(top);
  assert.equal(headerBackingName(top), basename(b));
  const nameEnd = Number(after.readBigUInt64BE(8)) + after.readUInt32BE(16);
  assert.ok(nameEnd <= 512, `header ends at ${nameEnd}`);
  assert.ok(after.subarray(nameEnd, 4096).every((x) => x === 0), 'nothing of the old header is left after the name');
  assert.equal(Buffer.compare(before.subarray(4096), after.subarray(4096)), 0, 'nothing after the header changed');
  assert.deepEqual(before.subarray(0, 8), after.subarray(0, 8));
  assert.deepEqual(before.subarray(20, 112), after.subarray(20, 112), 'every other header field kept');
  setBackingFile(top, null);
  assert.equal(headerBackingName(top), null);
  withDisk(top, (disk) => {
    const data = new Uint8Array(5000);
    disk.read(4096, data);
    assert.deepEqual(data, pattern(5, 5000));
  });
  const report = checkDisk(top);
  assert.equal(report.corruptions + report.leaks, 0);
});
