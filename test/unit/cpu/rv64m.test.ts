// M extension (unprivileged spec, "M Standard Extension for Integer Multiplication and
// Division"), including its table of division by zero and signed overflow results.
import { test } from 'node:test';
import { runProgram, u64 } from './support/machine.ts';

const MIN = 1n << 63n;
const MAX = MIN - 1n;
const ONES = u64(-1n);
const MIN32 = 0x8000_0000n;

function op(asm: string, a1: bigint, a2: bigint, expected: bigint): void {
  test(`${asm}  a1=${u64(a1).toString(16)} a2=${u64(a2).toString(16)} → ${u64(expected).toString(16)}`, async () => {
    (await runProgram(asm, { x: { a1, a2 } })).expectX({ a0: expected });
  });
}

// Multiplication: MUL keeps the low 64 bits; MULH* the high 64 bits of the 128-bit product.
op('mul a0, a1, a2', -3n, 5n, u64(-15n));
op('mul a0, a1, a2', MIN, 2n, 0n);
op('mul a0, a1, a2', 0x1_0000_0001n, 0x1_0000_0001n, 0x2_0000_0001n);
op('mulh a0, a1, a2', ONES, ONES, 0n); // (-1)(-1) = 1
op('mulh a0, a1, a2', MIN, MIN, 0x4000_0000_0000_0000n); // 2^126
op('mulh a0, a1, a2', ONES, 1n, ONES); // -1: the high half is all ones
op('mulh a0, a1, a2', MIN, ONES, 0n); // 2^63 fits in the low half
op('mulh a0, a1, a2', 0x1234_5678_9abc_def0n, 0x0fed_cba9_8765_4321n, 0x0121_fa00_ad77_d742n);
op('mulhu a0, a1, a2', ONES, ONES, 0xffff_ffff_ffff_fffen); // (2^64-1)^2 = 2^128 - 2^65 + 1
op('mulhu a0, a1, a2', 0x1234_5678_9abc_def0n, 0xfedc_ba98_7654_3210n, 0x121f_a00a_d77d_7422n);
op('mulhsu a0, a1, a2', ONES, ONES, ONES); // -1 · (2^64-1) = -2^64 + 1
op('mulhsu a0, a1, a2', 2n, MIN, 1n); // 2 · 2^63 = 2^64
op('mulhsu a0, a1, a2', -2n, MIN, ONES); // -2 · 2^63 = -2^64
op('mulhsu a0, a1, a2', 0xfedc_ba98_7654_3210n, 0xfedc_ba98_7654_3210n, 0xfede_05ff_5288_28bcn);
op('mulw a0, a1, a2', 0x7fff_ffffn, 2n, u64(-2n));
op('mulw a0, a1, a2', 0xffff_ffff_0000_0003n, 0x1234_5678_0000_0005n, 15n);
op('mulw a0, a1, a2', 0x1_0000n, 0x8000n, 0xffff_ffff_8000_0000n);

// Division rounds toward zero; the remainder takes the dividend's sign.
op('div a0, a1, a2', 7n, -2n, u64(-3n));
op('div a0, a1, a2', -7n, 2n, u64(-3n));
op('rem a0, a1, a2', -7n, 2n, u64(-1n));
op('rem a0, a1, a2', 7n, -2n, 1n);
op('divu a0, a1, a2', ONES, 2n, MAX);
op('remu a0, a1, a2', ONES, 10n, 5n); // 18446744073709551615 mod 10
// By zero: quotient all ones, remainder the dividend.
op('div a0, a1, a2', 42n, 0n, ONES);
op('divu a0, a1, a2', 42n, 0n, ONES);
op('rem a0, a1, a2', -42n, 0n, u64(-42n));
op('remu a0, a1, a2', 42n, 0n, 42n);
// Signed overflow: MIN / -1 = MIN, remainder 0.
op('div a0, a1, a2', MIN, -1n, MIN);
op('rem a0, a1, a2', MIN, -1n, 0n);

// W forms: 32-bit operands (upper halves ignored), results sign-extended.
op('divw a0, a1, a2', 0xffff_ffff_0000_0007n, -2n, u64(-3n));
op('divw a0, a1, a2', MIN32, -1n, 0xffff_ffff_8000_0000n);
op('remw a0, a1, a2', MIN32, -1n, 0n);
op('divw a0, a1, a2', 5n, 0x1_0000_0000n, ONES); // the low 32 bits of the divisor are zero
op('remw a0, a1, a2', MIN32, 0n, 0xffff_ffff_8000_0000n);
op('divuw a0, a1, a2', 0xffff_ffffn, 2n, 0x7fff_ffffn);
op('divuw a0, a1, a2', MIN32, 1n, 0xffff_ffff_8000_0000n);
op('divuw a0, a1, a2', 7n, 0n, ONES);
op('remuw a0, a1, a2', MIN32, 0n, 0xffff_ffff_8000_0000n);
op('remuw a0, a1, a2', 0xffff_ffffn, 0x1_0000_0010n, 15n); // 0xffffffff mod 16
