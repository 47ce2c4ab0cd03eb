// C extension (unprivileged spec, "C Standard Extension for Compressed Instructions", RV64C):
// a sample of every format (CR, CI, CSS, CIW, CL, CS, CA, CB, CJ), the links of c.jalr
// (pc + 2), 32-bit instructions at 2-byte boundaries, and reserved encodings that must trap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAUSE, runProgram, runToMTrap, u64 } from './support/machine.ts';

const ONES = u64(-1n);
const STACK = `
  .balign 16
stack_low:
  .dword 0x1111111111111111, 0x2222222222222222
  .dword 0xfedcba9880000000, 0x0123456789abcdef
  .dword 0, 0, 0, 0
stack:
  .dword 0x3333333333333333, 0x8877665544332211
`;

/** Compressed code between `.option rvc` markers (the harness assembles without RVC otherwise). */
const rvc = (code: string): string => `.option push\n.option rvc\n${code}\n.option pop`;

test('CI: c.li, c.lui, c.addi, c.addiw sign-extend their immediates', async () => {
  const m = await runProgram(rvc(`
    c.li a0, -32
    c.lui a1, 0xfffff
    c.lui a2, 31
    c.addi a3, -1
    c.addiw a4, 1
    c.addiw a5, 0`), { x: { a3: 0n, a4: 0x7fff_ffffn, a5: 0x1_8000_0000n } });
  m.expectX({
    a0: u64(-32n), a1: u64(-4096n), a2: 0x1f000n, a3: ONES,
    a4: 0xffff_ffff_8000_0000n, a5: 0xffff_ffff_8000_0000n,
  });
});

test('CI/CB shifts and c.andi: c.slli 63, c.srli, c.srai 63', async () => {
  const m = await runProgram(rvc(`
    c.slli a0, 63
    c.srli a1, 1
    c.srai a2, 63
    c.andi a3, -2`), { x: { a0: 1n, a1: ONES, a2: 1n << 63n, a3: 0xffn } });
  m.expectX({ a0: 1n << 63n, a1: ONES >> 1n, a2: ONES, a3: 0xfen });
});

test('CR and CA: c.mv, c.add, c.sub, c.xor, c.or, c.and, c.addw, c.subw', async () => {
  const m = await runProgram(rvc(`
    c.mv t0, a1
    c.add t0, a2
    c.mv s0, a1
    c.sub s0, a2
    c.mv s1, a1
    c.xor s1, a2
    c.mv a3, a1
    c.or a3, a2
    c.mv a4, a1
    c.and a4, a2
    c.mv a5, a1
    c.addw a5, a2
    c.mv a0, a2
    c.subw a0, a1`), { x: { a1: 0x7fff_ffffn, a2: 0xffn } });
  m.expectX({
    t0: 0x8000_00fen, s0: 0x7fff_ff00n, s1: 0x7fff_ff00n, a3: 0x7fff_ffffn, a4: 0xffn,
    a5: 0xffff_ffff_8000_00fen, // 32-bit sum, sign-extended
    a0: 0xffff_ffff_8000_0100n, // 0xff - 0x7fffffff in 32 bits
  });
});

test('CIW and stack-pointer forms: c.addi16sp, c.addi4spn, c.lwsp, c.ldsp, c.swsp, c.sdsp', async () => {
  const m = await runProgram(`
    la sp, stack
  ` + rvc(`
    c.addi16sp sp, -48
    c.addi4spn a0, sp, 16
    c.lwsp a1, 4(sp)
    c.ldsp a2, 8(sp)
    c.swsp a2, 0(sp)
    c.sdsp a1, 24(sp)`), { data: STACK });
  const stack = m.symbol('stack');
  m.expectX({
    sp: stack - 48n,
    a0: stack - 32n,
    a1: 0xffff_ffff_fedc_ba98n, // the high word of the dword at the new sp, sign-extended
    a2: 0x0123_4567_89ab_cdefn,
  });
  assert.equal(m.memory.readU64(stack - 48n).toString(16), 'fedcba9889abcdef');
  assert.equal(m.memory.readU64(stack - 24n).toString(16), 'fffffffffedcba98');
});

test('CL and CS: c.lw, c.ld, c.sw, c.sd on the compact registers', async () => {
  const m = await runProgram(`
    la s0, stack_low
  ` + rvc(`
    c.lw a0, 20(s0)
    c.ld a1, 24(s0)
    c.sw a1, 32(s0)
    c.sd a0, 40(s0)`), { data: STACK });
  const low = m.symbol('stack_low');
  m.expectX({ a0: 0xffff_ffff_fedc_ba98n, a1: 0x0123_4567_89ab_cdefn });
  assert.equal(m.memory.readU64(low + 32n).toString(16), '89abcdef');
  assert.equal(m.memory.readU64(low + 40n).toString(16), 'fffffffffedcba98');
});

test('float forms: c.fld, c.fsd, c.fldsp, c.fsdsp', async () => {
  const m = await runProgram(`
    la sp, stack
    la s1, stack_low
  ` + rvc(`
    c.fldsp fa0, 8(sp)
    c.fsd fa0, 32(s1)
    c.fld fa1, 0(s1)
    c.fsdsp fa1, 0(sp)`), { data: STACK });
  m.expectF({ fa0: 0x8877_6655_4433_2211n, fa1: 0x1111_1111_1111_1111n });
  assert.equal(m.memory.readU64(m.symbol('stack_low') + 32n), 0x8877_6655_4433_2211n);
  assert.equal(m.memory.readU64(m.symbol('stack')), 0x1111_1111_1111_1111n);
});

test('CJ: c.j forward and backward', async () => {
  const m = await runProgram(rvc(`
    c.li a0, 0
    c.j forward
  back:
    c.addi a0, 2
    c.j out
  forward:
    c.addi a0, 1
    c.j back
  out:
    c.nop`));
  m.expectX({ a0: 3n });
});

for (const [asm, value, taken] of [
  ['c.beqz a1', 0n, true], ['c.beqz a1', 1n, false],
  ['c.bnez a1', 1n, true], ['c.bnez a1', 0n, false],
  ['c.bnez a1', 1n << 63n, true],
] as const) {
  test(`CB: ${asm} with a1=${value} is ${taken ? 'taken' : 'not taken'}`, async () => {
    const m = await runProgram(rvc(`
      c.li a0, 1
      ${asm}, 1f
      c.li a0, 2
    1:
      c.nop`), { x: { a1: value } });
    m.expectX({ a0: taken ? 1n : 2n });
  });
}

test('c.jalr links pc + 2; c.jr jumps without linking', async () => {
  const m = await runProgram(`
    la t0, target
    la t1, finish
  ` + rvc(`
    c.jalr t0
  after:
    c.nop
  target:
    c.li a0, 5
    c.jr t1
    c.li a0, 6
  finish:
    c.nop`));
  m.expectX({ a0: 5n, ra: m.symbol('after') });
});

test('a 32-bit instruction at a 2-byte aligned address runs', async () => {
  const m = await runProgram(rvc('c.nop') + `
  odd:
    li a0, 0x123
    addi a0, a0, 1`);
  assert.equal(m.symbol('odd') % 4n, 2n);
  m.expectX({ a0: 0x124n });
});

test('c.ebreak traps with cause 3 at its address', async () => {
  const m = await runToMTrap(rvc(`
    c.nop
  at:
    c.ebreak`));
  m.expectMTrap(CAUSE.breakpoint, m.symbol('at'));
});

// Reserved encodings are illegal instructions; mtval holds the 16 instruction bits.
for (const [name, halfword] of [
  ['all-zero halfword', 0x0000],
  ['c.addi16sp with immediate 0', 0x6101],
  ['c.lwsp with rd = x0', 0x4002],
  ['c.ldsp with rd = x0', 0x6002],
  ['c.lui with immediate 0', 0x6501],
  ['c.jr with rs1 = x0', 0x8002],
] as const) {
  test(`${name} (0x${halfword.toString(16).padStart(4, '0')}) is an illegal instruction`, async () => {
    const m = await runToMTrap(`
    at:
      .half 0x${halfword.toString(16)}
      .half 0x0001`);
    m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'), BigInt(halfword));
  });
}
