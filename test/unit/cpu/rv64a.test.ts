// A extension (unprivileged spec, "A Standard Extension for Atomic Instructions"): LR/SC
// reservations, every AMO on doublewords and words, and the alignment rule for atomics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram, runToMTrap, u64, CAUSE } from './support/machine.ts';

const ONES = u64(-1n);
const CELL = `
cell:
  .dword 0
neighbour:
  .dword 0x1111111111111111
`;

test('lr.d then sc.d to the same address succeeds (rd = 0) and stores', async () => {
  const m = await runProgram(`
    la s0, cell
    sd a1, 0(s0)
    lr.d a0, (s0)
    addi a0, a0, 1
    sc.d a2, a0, (s0)`, { x: { a1: 41n, a2: 7n }, data: CELL });
  m.expectX({ a0: 42n, a2: 0n });
  assert.equal(m.memory.readU64(m.symbol('cell')), 42n);
});

test('sc.d without a reservation fails (rd ≠ 0) and does not store', async () => {
  const m = await runProgram(`
    la s0, cell
    sc.d a2, a1, (s0)`, { x: { a1: 99n }, data: CELL });
  assert.notEqual(m.x('a2'), 0n);
  assert.equal(m.memory.readU64(m.symbol('cell')), 0n);
});

test('an sc consumes the reservation: a second sc.w fails', async () => {
  const m = await runProgram(`
    la s0, cell
    lr.w a0, (s0)
    sc.w a2, a1, (s0)
    sc.w a3, a4, (s0)`, { x: { a1: 5n, a4: 6n }, data: CELL });
  assert.equal(m.x('a2'), 0n);
  assert.notEqual(m.x('a3'), 0n);
  assert.equal(m.memory.readU64(m.symbol('cell')), 5n);
});

test('lr.w sign-extends the word; sc.w stores only the low 32 bits', async () => {
  const m = await runProgram(`
    la s0, cell
    li t0, 0x80000000
    sw t0, 0(s0)
    lr.w a0, (s0)
    sc.w a2, a1, (s0)`, { x: { a1: 0x1234_5678_9abc_def0n }, data: CELL });
  m.expectX({ a0: 0xffff_ffff_8000_0000n, a2: 0n });
  assert.equal(m.memory.readU64(m.symbol('cell')), 0x9abc_def0n);
  assert.equal(m.memory.readU64(m.symbol('neighbour')), 0x1111_1111_1111_1111n);
});

/** An AMO on `cell` holding `before`, with rs2 = `operand`: rd gets the old value, memory the result. */
function amo(asm: string, before: bigint, operand: bigint, rd: bigint, after: bigint): void {
  test(`${asm}  memory=${u64(before).toString(16)} rs2=${u64(operand).toString(16)} → memory ${u64(after).toString(16)}`, async () => {
    const m = await runProgram(`
      la s0, cell
      sd a1, 0(s0)
      ${asm} a0, a2, (s0)`, { x: { a1: before, a2: operand }, data: CELL });
    m.expectX({ a0: rd });
    assert.equal(m.memory.readU64(m.symbol('cell')).toString(16), u64(after).toString(16));
    assert.equal(m.memory.readU64(m.symbol('neighbour')), 0x1111_1111_1111_1111n);
  });
}

amo('amoswap.d', 5n, 9n, 5n, 9n);
amo('amoadd.d', ONES, 2n, ONES, 1n);
amo('amoxor.d', 0xff00n, 0x0ff0n, 0xff00n, 0xf0f0n);
amo('amoand.d', 0xff00n, 0x0ff0n, 0xff00n, 0x0f00n);
amo('amoor.d', 0xff00n, 0x0ff0n, 0xff00n, 0xfff0n);
amo('amomin.d', 1n, -1n, 1n, -1n);
amo('amomin.d', -5n, 3n, u64(-5n), -5n);
amo('amomax.d', -1n, 1n, ONES, 1n);
amo('amominu.d', 1n, -1n, 1n, 1n);
amo('amomaxu.d', 1n, -1n, 1n, -1n);
// Word forms act on the low word only, and sign-extend the old value into rd.
amo('amoswap.w', 0xffff_ffffn, 3n, ONES, 3n);
amo('amoadd.w', 0x7fff_ffffn, 1n, 0x7fff_ffffn, 0x8000_0000n);
amo('amoadd.w', 0xffff_ffffn, 1n, ONES, 0n); // the carry does not reach the upper word
amo('amoxor.w', 0x8000_0000n, 0xffff_ffff_0000_0001n, 0xffff_ffff_8000_0000n, 0x8000_0001n);
amo('amoand.w', 0xf0f0_f0f0n, 0xff00_ff00n, 0xffff_ffff_f0f0_f0f0n, 0xf000_f000n);
amo('amoor.w', 1n, 0x8000_0000n, 1n, 0x8000_0001n);
amo('amomin.w', 0x8000_0000n, 0x7fff_ffffn, 0xffff_ffff_8000_0000n, 0x8000_0000n);
amo('amomax.w', 0x8000_0000n, 0x7fff_ffffn, 0xffff_ffff_8000_0000n, 0x7fff_ffffn);
amo('amominu.w', 0x8000_0000n, 0xffff_ffff_0000_0001n, 0xffff_ffff_8000_0000n, 1n);
amo('amomaxu.w', 0x8000_0000n, 0x7fff_ffffn, 0xffff_ffff_8000_0000n, 0x8000_0000n);
amo('amomin.w', 0x0000_0005_0000_0001n, 0xffff_ffffn, 1n, 0x0000_0005_ffff_ffffn); // -1 < 1, upper word kept

test('amoswap.d with rd = x0 still stores', async () => {
  const m = await runProgram(`
    la s0, cell
    amoswap.d zero, a2, (s0)`, { x: { a2: 77n }, data: CELL });
  assert.equal(m.memory.readU64(m.symbol('cell')), 77n);
  m.expectX({ zero: 0n });
});

/**
 * A misaligned atomic traps with the given cause and the address in mtval, and stores nothing
 * (a reservation is held first, so an SC could otherwise succeed).
 */
function misaligned(asm: string, offset: bigint, cause: bigint): void {
  test(`${asm} at cell+${offset} traps with cause ${cause}`, async () => {
    const m = await runToMTrap(`
      la s0, cell
      addi s1, s0, ${offset}
      lr.w t1, (s0)
    at:
      ${asm}`, { x: { a2: 0x55n }, data: CELL });
    m.expectMTrap(cause, m.symbol('at'), m.symbol('cell') + offset);
    assert.equal(m.memory.readU64(m.symbol('cell')), 0n);
  });
}

misaligned('amoadd.w a0, a2, (s1)', 2n, CAUSE.storeMisaligned);
misaligned('amoswap.d a0, a2, (s1)', 4n, CAUSE.storeMisaligned);
misaligned('amoor.d a0, a2, (s1)', 1n, CAUSE.storeMisaligned);
misaligned('lr.d a0, (s1)', 4n, CAUSE.loadMisaligned);
misaligned('sc.w a0, a2, (s1)', 1n, CAUSE.storeMisaligned);
