// Issue 3's first bar: a 4-vCPU Debian guest on this 2-core host sees 4 harts, and a program with
// 4 threads doing 1,000,000 atomic increments and 1,000,000 mutex-protected increments each gets
// both totals exactly right, again and again in one boot. AMOs and LR/SC run on different host
// threads at once; glibc's mutex adds futex sleeps and wake-ups, which are IPIs between harts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATOMICS, atomicsTotals, bootSmpGuest } from './smp-guest.ts';

const HARTS = 4;
const THREADS = 4;
const ITERATIONS = 1_000_000;
const REPEATS = 3;
const RUN_TIMEOUT_MS = 600_000;

test('4 vCPUs: nproc is 4, and 4 threads x 1,000,000 atomic and mutex increments total exactly 4,000,000', { timeout: 3_600_000 }, async () => {
  const { machine, console: guest } = await bootSmpGuest(HARTS);
  try {
    assert.equal((await guest.run('nproc')).output, String(HARTS));
    for (let run = 1; run <= REPEATS; run++) {
      const { output, status } = await guest.run(`${ATOMICS} ${THREADS} ${ITERATIONS}`, RUN_TIMEOUT_MS);
      assert.equal(status, 0, output);
      assert.deepEqual(atomicsTotals(output), { atomic: THREADS * ITERATIONS, mutex: THREADS * ITERATIONS }, `run ${run}`);
    }
    // Every hart took part: each one's timer interrupt count moved (a stuck hart stops counting).
    const timers = (await guest.run("grep riscv-timer /proc/interrupts")).output.trim().split(/\s+/).slice(1, 1 + HARTS);
    assert.equal(timers.length, HARTS);
    for (const count of timers) assert.ok(Number(count) > 0, `timer interrupts per hart: ${timers.join(' ')}`);
  } finally {
    await machine.kill();
  }
});
