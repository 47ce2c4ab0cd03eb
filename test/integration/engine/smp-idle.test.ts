// Issue 3's idle bar: a 4-vCPU guest sitting at its shell costs the host almost nothing. Every
// hart sleeps in WFI on Atomics.wait until its next timer; the device thread sleeps on its bell.
// The machine runs on threads of this process, so the process's CPU time over a quiet stretch
// is the machine's (plus an idle test runner). The machine's own busy-time account (what the app
// shows as a VM's CPU use) is checked beside it, idle and with one process spinning.
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
    const busyBefore = machine.cpuSeconds();
    const start = performance.now();
    await sleep(MEASURE_MS);
    const used = process.cpuUsage(before);
    const seconds = (performance.now() - start) / 1000;
    const fraction = (used.user + used.system) / 1e6 / seconds;
    // The machine's own account of its harts' busy time (the VM's CPU use in the app) agrees.
    const busy = (machine.cpuSeconds() - busyBefore) / seconds;
    process.stderr.write(`smp-idle: ${(fraction * 100).toFixed(2)}% of one core over ${MEASURE_MS / 1000} s; harts busy ${(busy * 100).toFixed(2)}%\n`);
    assert.ok(fraction < MAX_CORE_FRACTION, `idle 4-vCPU guest used ${(fraction * 100).toFixed(2)}% of a core`);
    assert.ok(busy < MAX_CORE_FRACTION, `the idle harts were busy ${(busy * 100).toFixed(2)}% of the time`);
    // The guest is still alive and answering after its idle stretch; one process spinning in it
    // keeps one hart busy, and the machine's account shows about one core.
    assert.equal((await guest.run('echo awake')).output, 'awake');
    await guest.run('(while :; do :; done) & echo $! > /tmp/spin');
    const spinFrom = machine.cpuSeconds();
    const spinStart = performance.now();
    await sleep(5_000);
    const spinning = (machine.cpuSeconds() - spinFrom) / ((performance.now() - spinStart) / 1000);
    process.stderr.write(`smp-idle: one spinning process, harts busy ${(spinning * 100).toFixed(0)}%\n`);
    assert.ok(spinning > 0.5 && spinning < 1.5, `one spinning guest process: harts busy ${(spinning * 100).toFixed(0)}% of a core`);
    await guest.run('kill $(cat /tmp/spin)');
  } finally {
    await machine.kill();
  }
});
