// convertDisk: contents through the whole backing chain, progress, cancellation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertDisk, createQcow2, openDisk } from '../../../engine/storage/index.ts';
import { pattern, readAll } from './support/workload.ts';

const dir = mkdtempSync(join(tmpdir(), 'hangar-convert-'));

test('an overlay converts to one flat image of either format, with progress up to the virtual size', async () => {
  const base = join(dir, 'base.raw');
  writeFileSync(base, pattern(1, 3 << 20));
  const overlay = join(dir, 'overlay.qcow2');
  createQcow2(overlay, undefined, { backing: 'base.raw' });
  const disk = openDisk(overlay);
  disk.write(1 << 20, pattern(2, 5000));
  disk.writeZeroes(2 << 20, 65536);
  disk.close();
  const expected = pattern(1, 3 << 20);
  expected.set(pattern(2, 5000), 1 << 20);
  expected.fill(0, 2 << 20, (2 << 20) + 65536);

  const progress: Array<[number, number]> = [];
  await convertDisk(overlay, join(dir, 'flat.raw'), { format: 'raw', onProgress: (done, total) => progress.push([done, total]) });
  assert.deepEqual(progress, [[1 << 20, 3 << 20], [2 << 20, 3 << 20], [3 << 20, 3 << 20]]);
  assert.deepEqual(readFileSync(join(dir, 'flat.raw')), Buffer.from(expected));

  await convertDisk(overlay, join(dir, 'flat.qcow2'), { format: 'qcow2', clusterSize: 4096 });
  const flat = openDisk(join(dir, 'flat.qcow2'), { readOnly: true });
  assert.equal(flat.backing, null);
  assert.deepEqual(readAll(flat), expected);
  flat.close();
});

test('an aborted conversion throws AbortError and leaves no file behind', async () => {
  const source = join(dir, 'source.qcow2');
  createQcow2(source, 8 << 20);
  const abort = new AbortController();
  const destination = join(dir, 'aborted.qcow2');
  await assert.rejects(
    convertDisk(source, destination, { format: 'qcow2', signal: abort.signal, onProgress: (done) => { if (done >= 2 << 20) abort.abort(); } }),
    { name: 'AbortError' },
  );
  assert.equal(existsSync(destination), false);
  assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('aborted')), []);
});
