// The lock shared by hangar processes: sections run one at a time, and a lock left by a
// process that is gone is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from '../../../engine/containers/lock.ts';
import { scratchDir } from '../../integration/containers/fixtures.ts';

test('sections under one lock never overlap', async () => {
  const { dir, cleanup } = scratchDir('lock');
  try {
    const lock = join(dir, 'x.lock');
    let inside = 0;
    let overlapped = false;
    await Promise.all(Array.from({ length: 8 }, () => withLock(lock, async () => {
      inside++;
      overlapped ||= inside > 1;
      await new Promise((r) => setTimeout(r, 5));
      inside--;
    })));
    assert.equal(overlapped, false);
    assert.equal(existsSync(lock), false, 'released');
  } finally {
    cleanup();
  }
});

test('a lock whose owner is gone is taken over', async () => {
  const { dir, cleanup } = scratchDir('lock-stale');
  try {
    const lock = join(dir, 'x.lock');
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(lock, dead.stdout.trim());
    assert.equal(await withLock(lock, async () => 'ran'), 'ran');
  } finally {
    cleanup();
  }
});
