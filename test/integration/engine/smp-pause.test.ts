// Issue 3's pause bar: a 4-vCPU guest paused and resumed 100 times while its threads hammer
// shared counters (smp-atomics: amoadd, and lr/sc + futex through a pthread mutex) never loses
// an increment and never deadlocks: every pause() resolves — every hart parked at an
// instruction boundary, then the device thread — within a bound. Guest time stops while paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ATOMICS, bootSmpGuest } from './smp-guest.ts';

const HARTS = 4;
const PAUSES = 100;
/** A pause waits for at most one batch of every hart and one device request: far below this. */
const PAUSE_BOUND_MS = 2000;
const PAUSED_MS = 40;

test('pausing a 4-vCPU guest 100 times while it runs the atomics test neither corrupts nor deadlocks it', { timeout: 3_600_000 }, async () => {
  const { machine, console: guest } = await bootSmpGuest(HARTS);
  try {
    // The workload runs in the background until told to stop; each run prints its totals.
    await guest.run(`( (while [ ! -e /tmp/stop ]; do ${ATOMICS} 4 1000000; done > /tmp/totals 2>&1; touch /tmp/finished) & )`);
    const uptime = async () => Number((await guest.run('cut -d" " -f1 /proc/uptime')).output);
    const guestStart = await uptime();
    const hostStart = performance.now();
    let pausedMs = 0;
    let slowest = 0;
    for (let pause = 0; pause < PAUSES; pause++) {
      await sleep(10 + Math.random() * 90); // running
      const asked = performance.now();
      await machine.pause();
      const took = performance.now() - asked;
      slowest = Math.max(slowest, took);
      assert.ok(took < PAUSE_BOUND_MS, `pause ${pause + 1} took ${took.toFixed(0)} ms`);
      await sleep(PAUSED_MS);
      const resumed = performance.now();
      await machine.resume();
      pausedMs += resumed - asked;
    }
    const guestElapsed = (await uptime()) - guestStart;
    const hostElapsed = (performance.now() - hostStart) / 1000;
    // Guest time stood still for (at least most of) the time spent paused.
    assert.ok(guestElapsed < hostElapsed - (pausedMs / 1000) / 2,
      `guest ${guestElapsed.toFixed(2)} s, host ${hostElapsed.toFixed(2)} s, paused ${(pausedMs / 1000).toFixed(2)} s`);

    await guest.run('touch /tmp/stop; while [ ! -e /tmp/finished ]; do sleep 1; done', 1_200_000);
    const totals = (await guest.run('cat /tmp/totals')).output.split('\n');
    assert.ok(totals.length >= 1, 'the workload ran to completion at least once');
    for (const line of totals) assert.equal(line, 'atomic 4000000 mutex 4000000');
    process.stderr.write(`smp-pause: ${PAUSES} pauses, slowest ${slowest.toFixed(1)} ms, ${totals.length} workload runs\n`);
  } finally {
    await machine.kill();
  }
});
