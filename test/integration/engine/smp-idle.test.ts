// Issue 3's idle bar: a 4-vCPU guest sitting at its shell costs the host almost nothing. Every
// hart sleeps in WFI on Atomics.wait until its next timer; the device thread sleeps on its bell.
// The machine runs on threads of this process, so the process's CPU time over a quiet stretch
// is the machine's (plus an idle test runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootSmpGuest } from './smp-guest.ts';

const HARTS = 4;
/** Boot leaves work behind (deferred probes, the first timer ticks): let it settle first. */
const SETTLE_MS = 10_000;
const MEASURE_MS = 20_000;
/** The bar: under 5% of one host core. */
const MAX_CORE_FRACTION = 0.05;

test('an idle 4-vCPU guest at its shell uses under 5% of one host core', { timeout: 1_800_000 }, async () => {
  const { machine, console: guest } = await bootSmpGuest(HARTS);
  try {
    assert.equal((await guest.run('nproc')).output, String(HARTS));
    await sleep(SETTLE_MS);
    const before = process.cpuUsage();
    const start = performance.now();
    await sleep(MEASURE_MS);
    const used = process.cpuUsage(before);
    const fraction = (used.user + used.system) / 1000 / (performance.now() - start);
    process.stderr.write(`smp-idle: ${(fraction * 100).toFixed(2)}% of one core over ${MEASURE_MS / 1000} s\n`);
    assert.ok(fraction < MAX_CORE_FRACTION, `idle 4-vCPU guest used ${(fraction * 100).toFixed(2)}% of a core`);
    // The guest is still alive and answering after its idle stretch.
    assert.equal((await guest.run('echo awake')).output, 'awake');
  } finally {
    await machine.kill();
  }
});
