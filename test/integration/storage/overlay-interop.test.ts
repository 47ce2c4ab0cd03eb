// Merges and rebases as QEMU's own tools see them: after Hangar merges a middle image into its
// child, `qemu-img check` finds the child consistent, `qemu-img info` names the new backing file,
// and `qemu-img convert -O raw` reads the same bytes as before — also for chains QEMU made, with
// compressed and zero clusters in the merged image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createQcow2, mergeBackingInto, openDisk, setBackingFile } from '../../../engine/storage/index.ts';
import { applyOp, firstDifference, pattern, randomOps } from '../../unit/storage/support/workload.ts';
import { CLEAN, qemuCheck, qemuImg, qemuRaw } from './support/qemu.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-overlay-interop-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let serial = 0;
const fresh = (name: string) => join(dir, `${serial++}-${name}`);

function qemuInfo(path: string): { 'backing-filename'?: string; 'backing-filename-format'?: string } {
  return JSON.parse(qemuImg('info', '--output=json', path)) as { 'backing-filename'?: string };
}

function raw(path: string): Uint8Array {
  return qemuRaw(path, fresh('qemu.raw'));
}

function hangarWrites(path: string, seed: number, size: number, count: number): void {
  const disk = openDisk(path);
  for (const op of randomOps(seed, size, count, { maxLength: 200_000 })) applyOp(disk, op);
  disk.close();
}

test('a chain Hangar wrote: merging the middle image keeps what QEMU reads, and QEMU accepts the result', async () => {
  const size = 16 << 20;
  const base = fresh('base.qcow2');
  createQcow2(base, size);
  hangarWrites(base, 1, size, 60);
  const middle = fresh('middle.qcow2');
  createQcow2(middle, undefined, { backing: basename(base), clusterSize: 4096 });
  hangarWrites(middle, 2, size, 60);
  const top = fresh('top.qcow2');
  createQcow2(top, undefined, { backing: basename(middle) });
  hangarWrites(top, 3, size, 10);
  const before = raw(top);

  await mergeBackingInto(top);
  assert.deepEqual(qemuCheck(top), CLEAN);
  assert.equal(qemuInfo(top)['backing-filename'], basename(base));
  assert.equal(qemuInfo(top)['backing-filename-format'], 'qcow2');
  renameSync(middle, `${middle}.gone`); // QEMU must not need it any more
  assert.equal(firstDifference(raw(top), before), -1);
});

test('a chain QEMU made (compressed and zero clusters in the middle): Hangar merges it and QEMU reads the same bytes', async () => {
  const size = 8 << 20;
  const source = fresh('source.raw');
  writeFileSync(source, pattern(7, size));
  const base = fresh('base.qcow2');
  qemuImg('convert', '-O', 'qcow2', source, base);
  // The middle image: compressible data written by qemu-io into a compressed copy of itself.
  const plain = fresh('plain.qcow2');
  qemuImg('create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', plain);
  execFileSync('qemu-io', ['-c', 'write -P 0x11 0 1M', '-c', 'write -P 0x22 3M 200k', plain], { stdio: 'ignore' });
  const middle = fresh('middle.qcow2');
  qemuImg('convert', '-c', '-O', 'qcow2', '-B', base, '-F', 'qcow2', plain, middle);
  execFileSync('qemu-io', ['-c', 'write -z 5M 512k', '-c', 'write -z 6M 1000', middle], { stdio: 'ignore' });
  const top = fresh('top.qcow2');
  qemuImg('create', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', basename(middle), '-F', 'qcow2', top);
  execFileSync('qemu-io', ['-c', 'write -P 0x33 512k 64k', '-c', 'write -P 0x44 5100k 8k', top], { stdio: 'ignore' });
  const before = raw(top);

  await mergeBackingInto(top);
  assert.deepEqual(qemuCheck(top), CLEAN);
  assert.equal(qemuInfo(top)['backing-filename'], base, 'absolute, as the middle image named it');
  rmSync(middle);
  assert.equal(firstDifference(raw(top), before), -1);
});

test('setBackingFile to none and back: qemu-img info agrees at each step', () => {
  const a = fresh('a.qcow2');
  createQcow2(a, 1 << 20);
  const top = fresh('top.qcow2');
  createQcow2(top, undefined, { backing: basename(a) });
  setBackingFile(top, null);
  assert.equal(qemuInfo(top)['backing-filename'], undefined);
  assert.deepEqual(qemuCheck(top), CLEAN);
  setBackingFile(top, { name: a, format: 'qcow2' });
  assert.equal(qemuInfo(top)['backing-filename'], a);
  assert.deepEqual(qemuCheck(top), CLEAN);
});
