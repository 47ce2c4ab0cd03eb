// The CPU suite in lockstep (support/lockstep.ts): each program runs translated at JIT threshold
// 1, stopping at every block end, and an interpreting twin runs the same instructions from the
// same state after each block; hart state, RAM and MMIO accesses must agree at every step. The
// files: support/suite.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu } from '../../../engine/cpu/cpu.ts';
import { describeMachineSuite } from './support/suite.ts';
import { lockstepStep, LockstepDivergence, type LockstepSide } from './support/lockstep.ts';
import { assemble } from './support/assemble.ts';
import { RAM_OFFSET, DRAM_BASE } from '../../../engine/cpu/layout.ts';

process.env.HANGAR_TEST_LOCKSTEP = '1';
describeMachineSuite('lockstep (translated at threshold 1 against the interpreter, every block)');

test('the checker reports a divergence: the first differing register, the pc and the instruction', async () => {
  // Canary: two sides that differ in one register after the first block must be caught there.
  const program = assemble('.option norvc\n_start:\n  addi a0, a0, 1\n  addi a1, a1, 2\n  j _start\n');
  const module = await Cpu.compile();
  const side = (threshold: number): LockstepSide => {
    const memory = Cpu.createMemory(1 << 20);
    const cpu = new Cpu(module, memory, { ramBytes: 1 << 20, harts: 1, bus: { read: () => 0, write: () => {} }, nowNs: () => 0n, jitThreshold: threshold });
    new Uint8Array(memory.buffer, RAM_OFFSET).set(program.image);
    cpu.resetHart(0, { pc: BigInt(DRAM_BASE), a0: 0n, a1: 0n, a2: 0n });
    return { cpu, memory, step: (budget) => cpu.run(0, budget) };
  };
  const translated = side(1);
  translated.cpu.setStopAtBlockEnds(true);
  const interpreted = side(0xffff_ffff);
  for (let i = 0; i < 5; i++) assert.equal(lockstepStep(translated, interpreted, 1000, 1 << 20, true).instructions, 3);
  interpreted.cpu.setX(0, 11, 7n); // a1 differs now: the next step must say so
  assert.throws(() => lockstepStep(translated, interpreted, 1000, 1 << 20, true), (err: Error) => {
    assert.ok(err instanceof LockstepDivergence);
    assert.match(err.message, /from pc 0x80000000 \(instruction 0x150513,/);
    assert.match(err.message, /x11: translated 0xc, interpreted 0x9/);
    return true;
  });
  new Uint8Array(interpreted.memory.buffer, RAM_OFFSET + 0x800, 1)[0] = 1; // and RAM
  interpreted.cpu.setX(0, 11, translated.cpu.getX(0, 11)); // registers agree again: only RAM differs
  assert.throws(() => lockstepStep(translated, interpreted, 1000, 1 << 20, true), /RAM differs first at 0x80000800/);
});
