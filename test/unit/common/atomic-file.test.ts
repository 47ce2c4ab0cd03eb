// Atomic writes: the target holds the old content or the new one, never a mix; a failed write
// leaves the target untouched and no temporary file; a crash's leftovers are swept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  removeStaleTemporaries, temporaryPath, writeAtomic, writeFileAtomic, writeFileAtomicSync,
} from '../../../engine/common/atomic-file.ts';

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('async and sync forms replace the content and leave only the target', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'vm.json');
  writeFileSync(path, 'old');
  await writeFileAtomic(path, 'new async', { mode: 0o600 });
  assert.equal(readFileSync(path, 'utf8'), 'new async');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileAtomicSync(path, Buffer.from('new sync'));
  assert.equal(readFileSync(path, 'utf8'), 'new sync');
  assert.deepEqual(readdirSync(dir), ['vm.json']);
});

test('the streaming form writes pieces at positions', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'state');
  await writeAtomic(path, async (file) => {
    await file.write(Buffer.from('world'), 0, 5, 6);
    await file.write(Buffer.from('hello '), 0, 6, 0);
  });
  assert.equal(readFileSync(path, 'utf8'), 'hello world');
});

test('a failing writer leaves the old file and no temporary file', async (t) => {
  const dir = scratch(t);
  const path = join(dir, 'vm.json');
  writeFileSync(path, 'old');
  await assert.rejects(writeAtomic(path, async (file) => {
    await file.writeFile('half of the new');
    throw new Error('disk full');
  }), /disk full/);
  assert.equal(readFileSync(path, 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir), ['vm.json']);
});

test("a crashed writer's temporary file is swept; a live one's is kept", async (t) => {
  const dir = scratch(t);
  const dead = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
  writeFileSync(join(dir, `.vm.json.${dead}-0.tmp`), 'half');
  const mine = temporaryPath(join(dir, 'vm.json'));
  writeFileSync(mine, 'in progress');
  writeFileSync(join(dir, 'vm.json'), 'kept');
  assert.deepEqual(await removeStaleTemporaries(dir), [`.vm.json.${dead}-0.tmp`]);
  assert.deepEqual(readdirSync(dir).sort(), [mine.slice(dir.length + 1), 'vm.json'].sort());
});
