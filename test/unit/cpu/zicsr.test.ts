// Zicsr (unprivileged spec, "Zicsr, Control and Status Register (CSR) Instructions") and the
// CSR access rules of the privileged spec ("CSR Address Mapping Conventions"): read-only CSRs
// trap on writes, CSRRS/CSRRC with rs1 = x0 (and the immediate forms with 0) do not write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAUSE, MSTATUS, enter, runProgram, runToMTrap } from './support/machine.ts';

test('csrrw swaps a register and a CSR', async () => {
  const m = await runProgram(`
    csrw mscratch, a1
    csrrw a0, mscratch, a2`, { x: { a1: 0x1234n, a2: 0x5678_9abc_def0_1234n } });
  m.expectX({ a0: 0x1234n });
  m.expectCsr({ mscratch: 0x5678_9abc_def0_1234n });
});

test('csrrs sets and csrrc clears the bits of rs1, both returning the old value', async () => {
  const m = await runProgram(`
    csrw mscratch, a1
    csrrs a0, mscratch, a2
    csrrc a3, mscratch, a4`, { x: { a1: 0xf0n, a2: 0x0fn, a4: 0x3cn } });
  m.expectX({ a0: 0xf0n, a3: 0xffn });
  m.expectCsr({ mscratch: 0xc3n });
});

test('immediate forms take a zero-extended 5-bit value', async () => {
  const m = await runProgram(`
    csrrwi a0, mscratch, 31
    csrrsi a1, mscratch, 0
    csrrci a2, mscratch, 5
    csrrsi a3, mscratch, 0x10`);
  m.expectX({ a0: 0n, a1: 31n, a2: 31n, a3: 26n });
  m.expectCsr({ mscratch: 26n });
});

test('csrrw with rd = x0 still writes', async () => {
  const m = await runProgram('csrrw zero, mscratch, a1', { x: { a1: 99n } });
  m.expectCsr({ mscratch: 99n });
});

test('reading read-only CSRs with csrrs/csrrc rs1 = x0 and csrrsi 0 does not trap', async () => {
  const m = await runProgram(`
    csrr a0, mhartid
    csrrc a1, mvendorid, zero
    csrrsi a2, marchid, 0
    csrrci a3, mimpid, 0`, { x: { a0: 9n, a1: 9n, a2: 9n, a3: 9n } });
  m.expectX({ a0: 0n, a1: 0n, a2: 0n, a3: 0n });
});

/** Writes that must raise an illegal instruction with mtval = the instruction's bits. */
for (const [name, asm, encoding] of [
  ['csrrw to mhartid', 'csrrw a0, mhartid, a1', 0xf14_59_573n],
  ['csrrs of mvendorid with a zero-valued rs1 ≠ x0', 'csrrs a0, mvendorid, a2', 0xf11_62_573n],
  ['csrrwi 0 to cycle', 'csrrwi a0, cycle, 0', 0xc00_05_573n],
  ['csrrci with a nonzero mask to time', 'csrrci a0, time, 1', 0xc01_0f_573n],
] as const) {
  test(`${name} is an illegal instruction`, async () => {
    const m = await runToMTrap(`
    at:
      ${asm}`, { x: { a0: 7n, a1: 1n, a2: 0n } });
    m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'), encoding);
    m.expectX({ a0: 7n });
  });
}

test('an unknown CSR is an illegal instruction', async () => {
  const m = await runToMTrap(`
  at:
    csrr a0, 0x7ff`);
  m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'), 0x7ff0_2573n);
});

test('sstatus is a view of mstatus: SIE is shared, MIE invisible', async () => {
  const m = await runProgram(`
    csrsi mstatus, ${MSTATUS.MIE}
    csrsi sstatus, ${MSTATUS.SIE}
    csrr a0, sstatus
    csrr a1, mstatus`);
  const enables = MSTATUS.SIE | MSTATUS.MIE;
  assert.equal(m.x('a1') & enables, enables, 'mstatus holds both enables');
  assert.equal(m.x('a0') & enables, MSTATUS.SIE, 'sstatus shows SIE, not MIE');
});

test('an M-mode CSR from S mode is an illegal instruction', async () => {
  const m = await runToMTrap(enter('S', 'supervisor') + `
  supervisor:
    csrr a0, mscratch`);
  m.expectMTrap(CAUSE.illegalInstruction, m.symbol('supervisor'), 0x3400_2573n);
});

test('time reads (host ns - MACHINE_CLOCK_BASE_NS) / 100', async () => {
  const m = await runProgram(`
    rdtime a0
    csrr a1, time`, { nowNs: 123_456_789_00n });
  m.expectX({ a0: 123_456_789n, a1: 123_456_789n });
});

test('instret and cycle count up as instructions retire', async () => {
  const m = await runProgram(`
    rdinstret a0
    nop
    nop
    rdinstret a1
    rdcycle a2
    rdcycle a3`);
  // rdinstret reads the count before itself: a0, two nops, then a1 → three instructions apart.
  m.expectX({ a1: m.x('a0') + 3n });
  assert.ok(m.x('a3') >= m.x('a2'), 'cycle does not go backwards');
});

test('mcounteren.TM = 0 makes rdtime from S mode illegal; TM = 1 allows it', async () => {
  const denied = await runToMTrap(`
    csrw mcounteren, zero
  ` + enter('S', 'supervisor') + `
  supervisor:
    rdtime a0`);
  denied.expectMTrap(CAUSE.illegalInstruction, denied.symbol('supervisor'));

  const allowed = await runProgram(`
    csrwi mcounteren, 2
  ` + enter('S', 'supervisor') + `
  supervisor:
    rdtime a0`, { nowNs: 500n });
  allowed.expectX({ a0: 5n });
});

test('misa reports MXL = 64 bits with I, M, A, F, D, C, S and U', async () => {
  const m = await runProgram('csrr a0, misa');
  const letters = [...'IMAFDCSU'].reduce((bits, c) => bits | (1n << BigInt(c.charCodeAt(0) - 65)), 0n);
  m.expectX({ a0: (2n << 62n) | letters });
});
