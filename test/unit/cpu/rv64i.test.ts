// RV64I (unprivileged spec, chapters "RV32I Base Integer Instruction Set" and "RV64I"):
// expected values worked out from the instruction definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram, runToMTrap, sext32, u64, CAUSE } from './support/machine.ts';

const MIN = 1n << 63n;
const ONES = u64(-1n);

/** One instruction `rd = a0` of inputs a1, a2, checked against `a0`. */
function op(asm: string, a1: bigint, a2: bigint, expected: bigint): void {
  test(`${asm}  a1=${a1} a2=${a2} → ${u64(expected).toString(16)}`, async () => {
    (await runProgram(asm, { x: { a1, a2 } })).expectX({ a0: expected });
  });
}

// Register-register and immediate arithmetic, with the 32-bit W forms sign-extending their result
// and ignoring the upper halves of their operands.
op('add a0, a1, a2', ONES, 1n, 0n);
op('sub a0, a1, a2', 0n, 1n, ONES);
op('addi a0, a1, -2048', 0n, 0n, u64(-2048n));
op('addi a0, a1, 2047', 1n, 0n, 2048n);
op('addiw a0, a1, 0', 0x8000_0000n, 0n, 0xffff_ffff_8000_0000n);
op('addiw a0, a1, 1', 0x7fff_ffffn, 0n, 0xffff_ffff_8000_0000n);
op('addiw a0, a1, -1', 0x1234_5678_0000_0000n, 0n, ONES);
op('addw a0, a1, a2', 0x7fff_ffffn, 1n, 0xffff_ffff_8000_0000n);
op('addw a0, a1, a2', 0x1234_5678_0000_0001n, 0xffff_ffff_0000_0002n, 3n);
op('subw a0, a1, a2', 0n, 1n, ONES);
op('subw a0, a1, a2', 0x8000_0000n, 1n, 0x7fff_ffffn);

// Shifts: RV64 uses the low 6 bits of rs2, the W forms the low 5 bits.
op('sll a0, a1, a2', 1n, 63n, MIN);
op('sll a0, a1, a2', 1n, 64n, 1n);
op('sll a0, a1, a2', 1n, 65n, 2n);
op('srl a0, a1, a2', MIN, 63n, 1n);
op('srl a0, a1, a2', MIN, 127n, 1n);
op('sra a0, a1, a2', MIN, 63n, ONES);
op('sra a0, a1, a2', MIN, 1n, 0xc000_0000_0000_0000n);
op('slli a0, a1, 63', 3n, 0n, MIN);
op('srli a0, a1, 63', ONES, 0n, 1n);
op('srai a0, a1, 63', MIN, 0n, ONES);
op('srai a0, a1, 4', 0x7000_0000_0000_0000n, 0n, 0x0700_0000_0000_0000n);
op('sllw a0, a1, a2', 1n, 31n, 0xffff_ffff_8000_0000n);
op('sllw a0, a1, a2', 1n, 32n, 1n);
op('slliw a0, a1, 31', 1n, 0n, 0xffff_ffff_8000_0000n);
op('slliw a0, a1, 31', 2n, 0n, 0n);
op('srlw a0, a1, a2', 0x8765_4321n, 4n, 0x0876_5432n);
op('srlw a0, a1, a2', 0x8765_4321n, 36n, 0x0876_5432n);
op('srlw a0, a1, a2', 0x8000_0000n, 0n, 0xffff_ffff_8000_0000n);
op('srliw a0, a1, 31', 0xffff_ffff_8000_0000n, 0n, 1n);
op('srliw a0, a1, 0', 0x8000_0000n, 0n, 0xffff_ffff_8000_0000n);
op('sraw a0, a1, a2', 0x1234_5678_8765_4321n, 4n, 0xffff_ffff_f876_5432n);
op('sraiw a0, a1, 31', 0x8000_0000n, 0n, ONES);
op('sraiw a0, a1, 31', 0xffff_ffff_7fff_ffffn, 0n, 0n);

// Comparisons: signed and unsigned, immediates sign-extended before an unsigned compare.
op('slt a0, a1, a2', ONES, 1n, 1n);
op('slt a0, a1, a2', 1n, ONES, 0n);
op('slt a0, a1, a2', 5n, 5n, 0n);
op('slt a0, a1, a2', MIN, MIN - 1n, 1n);
op('sltu a0, a1, a2', ONES, 1n, 0n);
op('sltu a0, a1, a2', 0n, ONES, 1n);
op('slti a0, a1, -1', MIN, 0n, 1n);
op('slti a0, a1, 0', 0n, 0n, 0n);
op('sltiu a0, a1, -1', 5n, 0n, 1n);
op('sltiu a0, a1, -1', ONES, 0n, 0n);
op('seqz a0, a1', 0n, 0n, 1n);
op('snez a0, a2', 0n, MIN, 1n);

// Logic with sign-extended 12-bit immediates.
op('and a0, a1, a2', 0xff00_ff00_ff00_ff00n, 0x0ff0_0ff0_0ff0_0ff0n, 0x0f00_0f00_0f00_0f00n);
op('or a0, a1, a2', 0xff00_0000_0000_0000n, 0xffn, 0xff00_0000_0000_00ffn);
op('xor a0, a1, a2', ONES, 0x1234n, u64(~0x1234n));
op('andi a0, a1, -16', 0x0123_4567_89ab_cdefn, 0n, 0x0123_4567_89ab_cde0n);
op('ori a0, a1, -2048', 0n, 0n, u64(-2048n));
op('xori a0, a1, -1', 0x0123_4567_89ab_cdefn, 0n, 0xfedc_ba98_7654_3210n);

// LUI and its 32-bit result sign-extended.
op('lui a0, 0x80000', 0n, 0n, 0xffff_ffff_8000_0000n);
op('lui a0, 0x7ffff', 0n, 0n, 0x7fff_f000n);
op('lui a0, 0xfffff', 0n, 0n, u64(-4096n));

test('x0 stays zero whatever is written to it', async () => {
  const m = await runProgram(`
    addi x0, x0, 5
    lui x0, 0x12345
    add a0, x0, x0`, { x: { a0: 7n } });
  m.expectX({ a0: 0n, zero: 0n });
});

test('auipc adds the sign-extended upper immediate to its own pc', async () => {
  const m = await runProgram(`
  here:
    auipc a0, 0
  there:
    auipc a1, 0x80000
  `);
  // 0x80000 << 12 sign-extends to -2^31, so a1 = there - 0x8000_0000 (mod 2^64).
  m.expectX({ a0: m.symbol('here'), a1: u64(m.symbol('there') - 0x8000_0000n) });
});

/** A branch that records whether it was taken: a0 = 2 if taken, 1 if it fell through. */
function branch(asm: string, a1: bigint, a2: bigint, taken: boolean): void {
  test(`${asm}  a1=${a1} a2=${a2} ${taken ? 'taken' : 'not taken'}`, async () => {
    const m = await runProgram(`
      ${asm}, 1f
      li a0, 1
      j 2f
    1:
      li a0, 2
    2:`, { x: { a1, a2 } });
    m.expectX({ a0: taken ? 2n : 1n });
  });
}

branch('beq a1, a2', 5n, 5n, true);
branch('beq a1, a2', 5n, 6n, false);
branch('bne a1, a2', 5n, 6n, true);
branch('bne a1, a2', ONES, ONES, false);
branch('blt a1, a2', ONES, 1n, true);
branch('blt a1, a2', 1n, ONES, false);
branch('blt a1, a2', 3n, 3n, false);
branch('bge a1, a2', 3n, 3n, true);
branch('bge a1, a2', MIN, 0n, false);
branch('bltu a1, a2', 1n, ONES, true);
branch('bltu a1, a2', ONES, 1n, false);
branch('bgeu a1, a2', ONES, 1n, true);
branch('bgeu a1, a2', 0n, MIN, false);

test('a backward branch loops', async () => {
  const m = await runProgram(`
    li a0, 5
    li a1, 0
  1:
    addi a1, a1, 3
    addi a0, a0, -1
    bnez a0, 1b`);
  m.expectX({ a0: 0n, a1: 15n });
});

test('jal links the address of the next instruction', async () => {
  const m = await runProgram(`
    jal ra, target
  after:
    j _done
  target:
    li a0, 1`);
  m.expectX({ a0: 1n, ra: m.symbol('after') });
});

test('jalr clears the low bit of the target and links pc + 4', async () => {
  const m = await runProgram(`
    la t0, target
    jalr ra, 1(t0)
  after:
    li a1, 1
    j _done
  target:
    li a0, 1`);
  m.expectX({ a0: 1n, a1: 0n, ra: m.symbol('after') });
});

test('jalr with rd = rs1 jumps to the old value of rs1', async () => {
  const m = await runProgram(`
    la t0, target
    jalr t0, 0(t0)
  after:
    j _done
  target:
    li a0, 1`);
  m.expectX({ a0: 1n, t0: m.symbol('after') });
});

const LOAD_DATA = `
value:
  .dword 0xfedcba9876543210
`;

/** A load from `value` + offset, checked against the sign- or zero-extended bytes. */
function load(asm: string, expected: bigint): void {
  test(`${asm} of 0xfedcba9876543210 → ${u64(expected).toString(16)}`, async () => {
    const m = await runProgram(`la a1, value\n${asm}`, { data: LOAD_DATA });
    m.expectX({ a0: expected });
  });
}

load('lb a0, 7(a1)', u64(-2n));
load('lbu a0, 7(a1)', 0xfen);
load('lb a0, 0(a1)', 0x10n);
load('lh a0, 6(a1)', 0xffff_ffff_ffff_fedcn);
load('lhu a0, 6(a1)', 0xfedcn);
load('lw a0, 4(a1)', 0xffff_ffff_fedc_ba98n);
load('lwu a0, 4(a1)', 0xfedc_ba98n);
load('lw a0, 0(a1)', 0x7654_3210n);
load('ld a0, 0(a1)', 0xfedc_ba98_7654_3210n);

test('stores write the low bytes of rs2, little-endian', async () => {
  const m = await runProgram(`
    la a0, slots
    li a1, 0x1122334455667788
    sb a1, 0(a0)
    sh a1, 8(a0)
    sw a1, 16(a0)
    sd a1, 24(a0)
    sb a1, -1(a0)`, {
    data: `
    .dword 0
    slots:
    .dword 0, 0, 0, 0`,
  });
  const slots = m.symbol('slots');
  assert.deepEqual(
    [m.memory.readU64(slots - 8n), m.memory.readU64(slots), m.memory.readU64(slots + 8n),
      m.memory.readU64(slots + 16n), m.memory.readU64(slots + 24n)].map((v) => v.toString(16)),
    ['8800000000000000', '88', '7788', '55667788', '1122334455667788'],
  );
});

test('fence and fence.i do not change registers or memory', async () => {
  const m = await runProgram(`
    li a0, 3
    fence
    fence rw, rw
    fence.i
    addi a0, a0, 1`);
  m.expectX({ a0: 4n });
});

test('fence.i makes a store over an already-run instruction take effect', async () => {
  // patch returns 1 the first time; the program then overwrites its first instruction with
  // `addi a0, zero, 2` (0x00200513), executes fence.i and calls it again.
  const m = await runProgram(`
    jal ra, patch
    mv s1, a0
    la t0, patch
    li t1, 0x00200513
    sw t1, 0(t0)
    fence.i
    jal ra, patch
    j _done
  patch:
    addi a0, zero, 1
    ret`);
  m.expectX({ s1: 1n, a0: 2n });
});

test('fence.i makes a store to the next instructions of the same straight-line code take effect', async () => {
  // The store rewrites `target` (addi a0, zero, 1) into addi a0, zero, 2 three instructions ahead.
  const m = await runProgram(`
    la t0, target
    li t1, 0x00200513
    sw t1, 0(t0)
    fence.i
  target:
    addi a0, zero, 1`);
  m.expectX({ a0: 2n });
});

test('ecall from M mode traps with cause 11, mepc at the ecall and mtval 0', async () => {
  const m = await runToMTrap(`
    li a0, 1
  call_site:
    ecall
    li a0, 2`);
  m.expectMTrap(CAUSE.ecallM, m.symbol('call_site'), 0n);
  m.expectX({ a0: 1n });
});

test('ebreak traps with cause 3 and mepc at the ebreak', async () => {
  const m = await runToMTrap(`
    nop
  stop:
    ebreak`);
  m.expectMTrap(CAUSE.breakpoint, m.symbol('stop'));
});

test('sign extension of W results holds for every 32-bit boundary value', async () => {
  // addw of the same registers computes 2·x in 32 bits.
  const m = await runProgram(`
    addw a0, a1, a1
    addw a3, a2, a2`, { x: { a1: 0x4000_0000n, a2: 0xffff_ffff_c000_0000n } });
  m.expectX({ a0: sext32(0x8000_0000n), a3: sext32(0x8000_0000n) });
});
