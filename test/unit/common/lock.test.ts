// The lock shared by hangar processes: sections run one at a time, a lock left by a process that
// is gone is taken over, a holder can be refused at once, and its purpose is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, lockHolder, LockTimeoutError, withLock } from '../../../engine/common/lock.ts';
import { processStartTime } from '../../../engine/common/process.ts';

function scratch(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
}

test('sections under one lock never overlap, and nothing is left behind', async (t) => {
  const dir = scratch(t);
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
  assert.deepEqual(readdirSync(dir), [], 'the lock and its temporary files are gone');
});

test('a lock whose owner is gone is taken over (JSON and bare-pid files)', async (t) => {
  const dir = scratch(t);
  const lock = join(dir, 'x.lock');
  writeFileSync(lock, String(deadPid()));
  assert.equal(await withLock(lock, async () => 'ran'), 'ran');
  writeFileSync(lock, JSON.stringify({ pid: deadPid(), purpose: 'running' }));
  assert.equal(lockHolder(lock), null, 'a dead holder is no holder');
  assert.equal(await withLock(lock, async () => 'ran again'), 'ran again');
  assert.equal(existsSync(lock), false);
});

test('a lock whose pid is alive but belongs to a later process (the pid reused) is taken over; its own process\'s lock is not', { skip: processStartTime(1) === null && 'no process start times here' }, async (t) => {
  const dir = scratch(t);
  const lock = join(dir, 'x.lock');
  // pid 1 is alive for as long as the machine runs; a holder recorded with another start time is
  // the process that had pid 1 before (a crash, a reboot).
  const started = processStartTime(1)!;
  writeFileSync(lock, JSON.stringify({ pid: 1, started: `${started}0`, purpose: 'running' }));
  assert.equal(lockHolder(lock), null, 'a reused pid is no holder');
  assert.equal(await withLock(lock, async () => 'taken over'), 'taken over');
  assert.equal(existsSync(lock), false);

  writeFileSync(lock, JSON.stringify({ pid: 1, started, purpose: 'running' }));
  assert.deepEqual(lockHolder(lock), { pid: 1, started, purpose: 'running' });
  await assert.rejects(acquireLock(lock, { timeoutMs: 50 }), (err: Error) =>
    err instanceof LockTimeoutError && err.message.includes('process 1 (running)'));
  assert.ok(existsSync(lock), 'the live holder\'s lock is left alone');
  // A lock of an older hangar (no start time) with a live pid still counts as held.
  writeFileSync(lock, JSON.stringify({ pid: 1, purpose: 'running' }));
  assert.deepEqual(lockHolder(lock), { pid: 1, purpose: 'running' });
});

test('the holder and its purpose are visible while held, and gone after release', async (t) => {
  const dir = scratch(t);
  const lock = join(dir, 'x.lock');
  const held = await acquireLock(lock, { purpose: 'running' });
  assert.deepEqual(lockHolder(lock), { pid: process.pid, started: processStartTime(process.pid), purpose: 'running' });
  await held.release();
  assert.equal(lockHolder(lock), null);
});

test('refuse turns a live holder into an immediate error; otherwise the wait times out naming the holder', async (t) => {
  const dir = scratch(t);
  const lock = join(dir, 'x.lock');
  // Another live process holds it.
  const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => holder.kill('SIGKILL'));
  writeFileSync(lock, JSON.stringify({ pid: holder.pid, purpose: 'running' }));
  const started = Date.now();
  await assert.rejects(
    acquireLock(lock, { refuse: (h) => (h.purpose === 'running' ? new Error(`running as ${h.pid}`) : undefined) }),
    new RegExp(`running as ${holder.pid}`),
  );
  assert.ok(Date.now() - started < 1000, 'refused without waiting');
  await assert.rejects(acquireLock(lock, { timeoutMs: 50 }), (err: Error) =>
    err instanceof LockTimeoutError && err.message.includes(`process ${holder.pid} (running)`));
  assert.ok(existsSync(lock), "a live holder's lock is left alone");
});
