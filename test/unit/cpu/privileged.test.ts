// Machine and supervisor mode (privileged spec 1.12): ECALL causes by mode, trap delegation,
// MRET/SRET and the xPP/xPIE stacks, illegal-instruction mtval, misaligned RAM accesses,
// interrupts (timer, external, software; priority; vectored mtvec) and WFI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuExit } from '../../../engine/cpu/cpu.ts';
import { InterruptBit } from '../../../engine/devices/device.ts';
import {
  CAUSE, CSR, DEFAULT_NOW_NS, INTERRUPT, MSTATUS, TestMachine, enter, hex, runProgram, runToMTrap, u64,
} from './support/machine.ts';

const MPP_S = 1n << MSTATUS.MPP_SHIFT;
const GUEST_NOW_TICKS = DEFAULT_NOW_NS / 100n;
const MTIE = 1n << 7n;

const field = (value: bigint, mask: bigint): bigint => value & mask;

test('ecall from M, S and U mode traps to M with causes 11, 9 and 8', async () => {
  const fromM = await runToMTrap(`
  at:
    ecall`);
  fromM.expectMTrap(CAUSE.ecallM, fromM.symbol('at'), 0n);
  assert.equal(fromM.privilege, 3);

  const fromS = await runToMTrap(enter('S', 'at') + `
  at:
    ecall`);
  fromS.expectMTrap(CAUSE.ecallS, fromS.symbol('at'), 0n);
  assert.equal(field(fromS.csr(CSR.mstatus), MSTATUS.MPP), MPP_S);
  assert.equal(fromS.privilege, 3);

  const fromU = await runToMTrap(enter('U', 'at') + `
  at:
    ecall`);
  fromU.expectMTrap(CAUSE.ecallU, fromU.symbol('at'), 0n);
  assert.equal(field(fromU.csr(CSR.mstatus), MSTATUS.MPP), 0n);
});

test('a trap to M stacks MIE into MPIE and clears MIE', async () => {
  const m = await runToMTrap(`
    csrsi mstatus, ${MSTATUS.MIE}
    ecall`);
  const mstatus = m.csr(CSR.mstatus);
  assert.equal(field(mstatus, MSTATUS.MIE), 0n);
  assert.equal(field(mstatus, MSTATUS.MPIE), MSTATUS.MPIE);
  assert.equal(field(mstatus, MSTATUS.MPP), MSTATUS.MPP, 'MPP = M');
});

test('medeleg bit 8 sends an ecall from U to the S handler', async () => {
  const m = await TestMachine.load(`
    li t0, ${1 << 8}
    csrw medeleg, t0
    csrw mcause, zero
    csrsi sstatus, ${MSTATUS.SIE}
  ` + enter('U', 'at') + `
  at:
    ecall`);
  m.runTo('s-trap');
  m.expectSTrap(CAUSE.ecallU, m.symbol('at'), 0n);
  m.expectCsr({ mcause: 0n });
  assert.equal(m.privilege, 1);
  const sstatus = m.csr(CSR.sstatus);
  assert.equal(field(sstatus, MSTATUS.SPP), 0n, 'SPP = U');
  assert.equal(field(sstatus, MSTATUS.SPIE), MSTATUS.SPIE, 'SPIE = old SIE');
  assert.equal(field(sstatus, MSTATUS.SIE), 0n);
});

test('an exception that is not delegated goes to M even from S', async () => {
  const m = await runToMTrap(`
    li t0, ${1 << 8}
    csrw medeleg, t0
  ` + enter('S', 'at') + `
  at:
    ecall`);
  m.expectMTrap(CAUSE.ecallS, m.symbol('at'));
});

test('a delegated exception in S mode traps to S with SPP = S', async () => {
  const m = await TestMachine.load(`
    li t0, ${1 << 2}
    csrw medeleg, t0
  ` + enter('S', 'at') + `
  at:
    .word 0xfe000033`);
  m.runTo('s-trap');
  m.expectSTrap(CAUSE.illegalInstruction, m.symbol('at'), 0xfe00_0033n);
  assert.equal(field(m.csr(CSR.sstatus), MSTATUS.SPP), MSTATUS.SPP);
});

test('traps from M never go down to S, whatever medeleg says', async () => {
  const m = await runToMTrap(`
    li t0, -1
    csrw medeleg, t0
  at:
    ecall`);
  m.expectMTrap(CAUSE.ecallM, m.symbol('at'));
  assert.equal(m.privilege, 3);
});

test('mret to S: privilege S, MIE = MPIE, MPIE = 1, MPP = U', async () => {
  const m = await runProgram(`
    li t0, ${MSTATUS.MPIE}
    csrs mstatus, t0
    csrci mstatus, ${MSTATUS.MIE}
  ` + enter('S', 'supervisor') + `
  supervisor:
    li a0, 1`);
  assert.equal(m.privilege, 1);
  const mstatus = m.csr(CSR.mstatus);
  assert.equal(field(mstatus, MSTATUS.MIE), MSTATUS.MIE);
  assert.equal(field(mstatus, MSTATUS.MPIE), MSTATUS.MPIE);
  assert.equal(field(mstatus, MSTATUS.MPP), 0n);
  m.expectX({ a0: 1n });
});

test('mret to a mode below M clears MPRV', async () => {
  const m = await runProgram(`
    li t0, ${MSTATUS.MPRV}
    csrs mstatus, t0
  ` + enter('S', 'supervisor') + `
  supervisor:
    nop`);
  assert.equal(field(m.csr(CSR.mstatus), MSTATUS.MPRV), 0n);
});

test('mret with MPIE = 0 leaves MIE clear', async () => {
  const m = await runProgram(`
    li t0, ${MSTATUS.MPIE}
    csrc mstatus, t0
    csrsi mstatus, ${MSTATUS.MIE}
  ` + enter('S', 'supervisor') + `
  supervisor:
    nop`);
  assert.equal(field(m.csr(CSR.mstatus), MSTATUS.MIE), 0n);
  assert.equal(field(m.csr(CSR.mstatus), MSTATUS.MPIE), MSTATUS.MPIE);
});

test('sret to U: privilege U, SIE = SPIE, SPIE = 1, SPP = U', async () => {
  // Finish in U with an ecall: its cause (8) proves the privilege, and M sees the S bits.
  const m = await runToMTrap(`
    li t0, ${MSTATUS.SPP}
    csrc mstatus, t0
    li t0, ${MSTATUS.SPIE}
    csrs mstatus, t0
    la t0, user
    csrw sepc, t0
  ` + enter('S', 'supervisor') + `
  supervisor:
    sret
  user:
    ecall`);
  m.expectMTrap(CAUSE.ecallU, m.symbol('user'));
  const mstatus = m.csr(CSR.mstatus);
  assert.equal(field(mstatus, MSTATUS.SIE), MSTATUS.SIE);
  assert.equal(field(mstatus, MSTATUS.SPIE), MSTATUS.SPIE);
  assert.equal(field(mstatus, MSTATUS.SPP), 0n);
});

test('sret with SPP = S stays in S and jumps to sepc', async () => {
  const m = await runProgram(`
    li t0, ${MSTATUS.SPP}
    csrs mstatus, t0
    la t0, again
    csrw sepc, t0
  ` + enter('S', 'supervisor') + `
  supervisor:
    sret
    li a0, 1
  again:
    li a1, 2`);
  assert.equal(m.privilege, 1);
  m.expectX({ a0: 0n, a1: 2n });
});

for (const [name, mode, asm, setup] of [
  ['mret in S mode', 'S', 'mret', ''],
  ['sret in U mode', 'U', 'sret', ''],
  ['sret in S mode with mstatus.TSR', 'S', 'sret', `li t0, ${MSTATUS.TSR}\n csrs mstatus, t0`],
  ['sfence.vma in U mode', 'U', 'sfence.vma', ''],
  ['csrr satp in S mode with mstatus.TVM', 'S', 'csrr a0, satp', `li t0, ${MSTATUS.TVM}\n csrs mstatus, t0`],
  // with nothing pending this WFI would never complete, so TW makes it trap
  ['wfi in S mode with mstatus.TW', 'S', 'wfi', `li t0, ${MSTATUS.TW}\n csrs mstatus, t0`],
] as const) {
  test(`${name} is an illegal instruction`, async () => {
    const m = await runToMTrap(setup + enter(mode, 'at') + `
    at:
      ${asm}`);
    m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'));
  });
}

test('an illegal instruction puts its bits in mtval', async () => {
  const m = await runToMTrap(`
    nop
  at:
    .word 0xfe000033`);
  m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'), 0xfe00_0033n);
});

test('mepc ignores bit 0 (IALIGN = 16)', async () => {
  const m = await runProgram(`
    li t0, 0x80000003
    csrw mepc, t0
    csrr a0, mepc`);
  m.expectX({ a0: 0x8000_0002n });
});

test('misaligned loads and stores to RAM give the right bytes', async () => {
  const m = await runProgram(`
    la s0, bytes
    lw a0, 1(s0)
    ld a1, 3(s0)
    lh a2, 7(s0)
    lhu a3, 15(s0)
    lwu a4, 13(s0)
    sw a5, 17(s0)
    sd a6, 25(s0)
    sh a7, 39(s0)`, {
    x: { a5: 0xa1a2_a3a4n, a6: 0xb1b2_b3b4_b5b6_b7b8n, a7: 0xc1c2n },
    data: `
    bytes:
      .byte 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x8f
      .byte 0x90
      .skip 31`,
  });
  m.expectX({
    a0: 0x0403_0201n,
    a1: 0x0a09_8807_0605_0403n,
    a2: 0xffff_ffff_ffff_8807n,
    a3: 0x908fn,
    a4: 0x908f_0e0dn,
  });
  const at = m.symbol('bytes');
  assert.deepEqual([...m.memory.read(at + 16n, 32)].map((b) => b.toString(16)), [
    '90', 'a4', 'a3', 'a2', 'a1', '0', '0', '0',
    '0', 'b8', 'b7', 'b6', 'b5', 'b4', 'b3', 'b2',
    'b1', '0', '0', '0', '0', '0', '0', 'c2',
    'c1', '0', '0', '0', '0', '0', '0', '0',
  ]);
});

// Interrupts. mtime = nowNs / 100 = GUEST_NOW_TICKS; mtimecmp at or below it makes MTIP pending.
test('a pending enabled machine timer interrupt traps with cause 2^63 | 7', async () => {
  const m = await TestMachine.load(`
    csrr a0, mip
    li t0, ${MTIE}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
  enabled:
    li a1, 1`);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS - 1000n);
  m.runTo('m-trap');
  m.expectMTrap(INTERRUPT | 7n, m.symbol('enabled'), 0n);
  assert.equal(m.x('a0') & MTIE, MTIE, 'mip.MTIP was pending before it was enabled');
  m.expectX({ a1: 0n });
  const mstatus = m.csr(CSR.mstatus);
  assert.equal(field(mstatus, MSTATUS.MIE), 0n);
  assert.equal(field(mstatus, MSTATUS.MPIE), MSTATUS.MPIE);
});

test('mtimecmp equal to mtime is already pending (time >= mtimecmp)', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
    li a1, 1`);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS);
  m.runTo('m-trap');
  m.expectCsr({ mcause: INTERRUPT | 7n });
});

test('a timer in the future does not interrupt', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
    li a1, 1`);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS + 1_000_000n);
  m.runTo('done');
  m.expectX({ a1: 1n });
  assert.equal(m.csr(CSR.mip) & MTIE, 0n);
});

test('a pending timer with mstatus.MIE clear does not interrupt M mode', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    li a1, 1`);
  m.cpu.setMtimecmp(0, 0n);
  m.runTo('done');
  m.expectX({ a1: 1n });
});

test('machine interrupts are always enabled in S mode, whatever mstatus.MIE says', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    csrci mstatus, ${MSTATUS.MIE}
  ` + enter('S', 'supervisor') + `
  supervisor:
    li a1, 1
    li a2, 2`);
  m.cpu.setMtimecmp(0, 0n);
  m.runTo('m-trap');
  assert.equal(m.csr(CSR.mcause), INTERRUPT | 7n);
  assert.equal(field(m.csr(CSR.mstatus), MSTATUS.MPP), MPP_S);
  m.expectX({ a2: 0n });
});

test('an external interrupt line (MEIP) outranks a pending timer', async () => {
  const m = await TestMachine.load(`
    li t0, ${(1 << 11) | (1 << 7)}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
    li a1, 1`);
  m.cpu.setMtimecmp(0, 0n);
  m.cpu.setIrqLine(0, InterruptBit.MachineExternal, true);
  m.runTo('m-trap');
  m.expectCsr({ mcause: INTERRUPT | 11n });
  assert.equal(m.csr(CSR.mip) & (1n << 11n), 1n << 11n);
});

test('mip.MTIP follows mtimecmp: set while time >= mtimecmp, clear once it moves ahead', async () => {
  const m = await TestMachine.load('csrr a0, mip');
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS - 1n);
  m.runTo('done');
  assert.equal(m.x('a0') & MTIE, MTIE);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS + 1n);
  assert.equal(m.csr(CSR.mip) & MTIE, 0n);
});

test('a machine software interrupt (MSIP) outranks a pending timer', async () => {
  const m = await TestMachine.load(`
    li t0, ${(1 << 3) | (1 << 7)}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
    li a1, 1`);
  m.cpu.setMtimecmp(0, 0n);
  m.cpu.setIrqLine(0, InterruptBit.MachineSoftware, true);
  m.runTo('m-trap');
  m.expectCsr({ mcause: INTERRUPT | 3n });
});

test('an interrupt delegated to S is not taken while the hart is in M mode', async () => {
  const m = await TestMachine.load(`
    csrsi mideleg, 2
    csrsi mie, 2
    csrsi mstatus, ${MSTATUS.SIE | MSTATUS.MIE}
    csrsi mip, 2
    li a1, 1`);
  m.runTo('done');
  m.expectX({ a1: 1n });
  assert.equal(m.csr(CSR.mip) & 2n, 2n, 'SSIP stays pending');
});

test('the supervisor external line (SEIP), delegated, traps to S with cause 2^63 | 9', async () => {
  const m = await TestMachine.load(`
    li t0, ${1 << 9}
    csrs mideleg, t0
    csrs mie, t0
  ` + enter('S', 'supervisor') + `
  supervisor:
    csrsi sstatus, ${MSTATUS.SIE}
  enabled:
    li a1, 1`);
  m.cpu.setIrqLine(0, InterruptBit.SupervisorExternal, true);
  m.runTo('s-trap');
  m.expectSTrap(INTERRUPT | 9n, m.symbol('enabled'));
  m.expectX({ a1: 0n });
});

test('Sstc: with menvcfg.STCE, stimecmp <= time raises STIP and traps to S with cause 2^63 | 5', async () => {
  const m = await TestMachine.load(`
    li t0, ${hex(1n << 63n)}
    csrs menvcfg, t0
    csrwi mcounteren, 2
    li t0, ${1 << 5}
    csrs mideleg, t0
    csrs mie, t0
    li t0, -1
    csrw 0x14d, t0
  ` + enter('S', 'supervisor') + `
  supervisor:
    csrsi sstatus, ${MSTATUS.SIE}
    li t0, ${GUEST_NOW_TICKS}
    csrw 0x14d, t0
  raised:
    li a1, 1`);
  m.runTo('s-trap');
  m.expectSTrap(INTERRUPT | 5n, m.symbol('raised'));
  assert.equal(m.csr(CSR.mip) & (1n << 5n), 1n << 5n);
  m.cpu.writeCsr(0, 0x14d, GUEST_NOW_TICKS + 10n);
  assert.equal(m.csr(CSR.mip) & (1n << 5n), 0n, 'STIP clears once stimecmp is ahead of time');
});

test('PMP registers are present: pmpaddr0 keeps 54 bits, pmpcfg0 keeps a NAPOT RWX entry', async () => {
  // OpenSBI probes PMP this way before handing the whole address space to S mode.
  const m = await runProgram(`
    li t0, -1
    csrw pmpaddr0, t0
    csrr a0, pmpaddr0
    li t0, 0x1f
    csrw pmpcfg0, t0
    csrr a1, pmpcfg0`);
  m.expectX({ a0: (1n << 54n) - 1n, a1: 0x1fn });
});

test('a supervisor software interrupt delegated by mideleg traps to S with cause 2^63 | 1', async () => {
  const m = await TestMachine.load(`
    csrsi mideleg, 2
    csrsi mie, 2
  ` + enter('S', 'supervisor') + `
  supervisor:
    csrsi sstatus, ${MSTATUS.SIE}
    csrsi sip, 2
  raised:
    li a1, 1`);
  m.runTo('s-trap');
  m.expectSTrap(INTERRUPT | 1n, m.symbol('raised'), 0n);
  m.expectX({ a1: 0n });
  assert.equal(m.privilege, 1);
});

/** A program with a vectored mtvec: slot 0 (exceptions) sets a0 = 100, slot 7 (MTI) a0 = 7. */
function vectored(code: string): string {
  const slots = Array.from({ length: 16 }, (_, n) => (n === 0 || n === 7 ? `j vector${n}` : 'j vector_other'));
  return `
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    ${code}
    .balign 256
  vectors:
    ${slots.join('\n')}
  vector0:
    li a0, 100
    j _trap_m
  vector7:
    li a0, 7
    j _trap_m
  vector_other:
    li a0, -1
    j _trap_m`;
}

test('vectored mtvec sends interrupt n to base + 4n and exceptions to base', async () => {
  const interrupt = await TestMachine.load(vectored(`
    li t0, ${MTIE}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
    ecall`));
  interrupt.cpu.setMtimecmp(0, 0n);
  interrupt.runTo('m-trap');
  interrupt.expectX({ a0: 7n });

  const exception = await TestMachine.load(vectored('ecall'));
  exception.runTo('m-trap');
  exception.expectX({ a0: 100n });
  exception.expectCsr({ mcause: CAUSE.ecallM });
});

test('WFI with nothing pending makes run() return Idle without going past it', async () => {
  const m = await TestMachine.load(`
    wfi
    li a0, 1`);
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle);
  m.expectX({ a0: 0n });
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle, 'still idle: nothing became pending');
  m.expectX({ a0: 0n });
});

test('a locally enabled interrupt wakes WFI even with mstatus.MIE clear, and run() goes on', async () => {
  const m = await TestMachine.load(`
    li t0, ${1 << 11}
    csrs mie, t0
    wfi
    li a0, 1`);
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle);
  m.expectX({ a0: 0n });
  m.cpu.setIrqLine(0, InterruptBit.MachineExternal, true);
  m.runTo('done');
  m.expectX({ a0: 1n });
  // still pending and enabled: the end loop's WFI does not idle, so the budget ends the run
  assert.equal(m.cpu.run(0, 100), CpuExit.Budget);
});

test('an interrupt taken in WFI returns to the instruction after it (mepc = wfi + 4)', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    csrsi mstatus, ${MSTATUS.MIE}
  waiting:
    wfi
    li a0, 1`);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS + 1_000_000n);
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS);
  m.runTo('m-trap');
  m.expectMTrap(INTERRUPT | 7n, m.symbol('waiting') + 4n);
  m.expectX({ a0: 0n });
});

test('a pending interrupt that mie does not enable does not wake WFI', async () => {
  const m = await TestMachine.load(`
    wfi
    li a0, 1`);
  m.cpu.setMtimecmp(0, 0n);
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle);
  m.expectX({ a0: 0n });
});

test('mtimecmp = 2^64 - 1 (how OpenSBI parks the timer) is never reached', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0
    wfi
    li a0, 1`);
  m.cpu.setMtimecmp(0, u64(-1n));
  assert.equal(m.cpu.run(0, 1000), CpuExit.Idle);
  assert.equal(m.cpu.getMtimecmp(0), u64(-1n));
});

test('nextTimerTicks reports the enabled machine timer\'s mtimecmp', async () => {
  const m = await TestMachine.load(`
    li t0, ${MTIE}
    csrs mie, t0`);
  m.cpu.setMtimecmp(0, GUEST_NOW_TICKS + 123_456n);
  m.runTo('done');
  assert.equal(m.cpu.nextTimerTicks(0), GUEST_NOW_TICKS + 123_456n);
});
