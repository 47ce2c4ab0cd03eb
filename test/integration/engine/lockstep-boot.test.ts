// The lockstep checker (test/unit/cpu/support/lockstep.ts) on real guest code: the Debian guest
// booted twice on this thread (in-process-guest.ts, virtual time so both see the same clock at
// the same instruction), one core translating every block at its first run and stopping at each
// block end, one only interpreting; hart state is compared after every block, guest RAM and the
// serial console every LOCKSTEP_RAM_EVERY instructions and at the end. By default the first
// LOCKSTEP_INSTRUCTIONS (OpenSBI and the kernel's early boot); set the env var for a longer run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuExit } from '../../../engine/cpu/cpu.ts';
import { RAM_OFFSET } from '../../../engine/cpu/layout.ts';
import { InProcessGuest } from '../../unit/cpu/support/in-process-guest.ts';
import { firstRamDifference, lockstepStep, type LockstepSide } from '../../unit/cpu/support/lockstep.ts';

const INSTRUCTIONS = Number(process.env.LOCKSTEP_INSTRUCTIONS ?? 100_000_000);
const RAM_EVERY = 10_000_000;
const RAM_BYTES = 256 << 20;
const NEVER = 0xffff_ffff;

test(`the translator and the interpreter agree at every block of the first ${INSTRUCTIONS / 1e6} M instructions of a Debian boot`, { timeout: 3_600_000 }, async () => {
  const translatedGuest = await InProcessGuest.create({ ramBytes: RAM_BYTES, jitThreshold: 1, virtualTime: true });
  const interpretedGuest = await InProcessGuest.create({ ramBytes: RAM_BYTES, jitThreshold: NEVER, virtualTime: true });
  translatedGuest.cpu.setStopAtBlockEnds(true);
  // The same start: the device tree carries a random rng-seed, which would differ.
  new Uint8Array(interpretedGuest.machine.memory.buffer, RAM_OFFSET, RAM_BYTES).set(new Uint8Array(translatedGuest.machine.memory.buffer, RAM_OFFSET, RAM_BYTES));
  const side = (guest: InProcessGuest): LockstepSide => ({ cpu: guest.cpu, memory: guest.machine.memory, step: (budget) => guest.step(budget) });
  const translated = side(translatedGuest);
  const interpreted = side(interpretedGuest);
  const began = performance.now();
  let done = 0;
  let steps = 0;
  let nextRam = RAM_EVERY;
  let idle = 0;
  while (done < INSTRUCTIONS) {
    const step = lockstepStep(translated, interpreted, 10_000, RAM_BYTES, false);
    done += step.instructions;
    steps++;
    if (step.exit === CpuExit.Idle) idle++;
    if (done >= nextRam || done >= INSTRUCTIONS) {
      nextRam += RAM_EVERY;
      assert.equal(firstRamDifference(translated.memory, interpreted.memory, RAM_BYTES), null, `RAM after ${done} instructions`);
      assert.equal(translatedGuest.output, interpretedGuest.output, `console after ${done} instructions`);
    }
  }
  const seconds = (performance.now() - began) / 1000;
  const profile = translatedGuest.cpu.profile(0);
  console.log(`lockstep boot: ${done} instructions in ${steps} steps (${idle} idle), ${seconds.toFixed(1)} s; `
    + `translated ${(100 * profile.translated / (profile.translated + profile.interpreted)).toFixed(1)}%, ${translatedGuest.cpu.translatedBlocks} blocks; `
    + `console: ${translatedGuest.output.length} bytes`);
  // A run that never left the firmware, or never reached translated code, would prove little.
  assert.match(translatedGuest.output, /OpenSBI/);
  assert.ok(profile.translated > done / 2, `translated instructions: ${profile.translated} of ${done}`);
});
