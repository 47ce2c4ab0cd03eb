// F and D extensions through instructions (unprivileged spec, "F Standard Extension" and
// "D Standard Extension"; IEEE 754-2008 for the results): rounding modes static and dynamic,
// accrued flags, NaN boxing, conversions that saturate, classification, sign injection,
// min/max with signalling NaNs, fused multiply-add, and mstatus.FS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAUSE, CSR, MSTATUS, TestMachine, runProgram, runToMTrap, u64, type ProgramOptions,
} from './support/machine.ts';
import {
  DZ, F32_CANONICAL_NAN, F32_INF, F32_SNAN, F64_CANONICAL_NAN, F64_INF, F64_SNAN, NV, NX, OF, RM, UF,
  boxed, f64, s,
} from './support/float.ts';

const ONES = u64(-1n);
const MIN = 1n << 63n;
const MAX = MIN - 1n;

interface Expect { f?: Record<string, bigint>; x?: Record<string, bigint>; flags: bigint }

/** Runs `asm` with the given registers and checks results and the accrued fflags. */
function fp(name: string, asm: string, inputs: ProgramOptions, expected: Expect): void {
  test(name, async () => {
    const m = await runProgram(asm, inputs);
    if (expected.f) m.expectF(expected.f);
    if (expected.x) m.expectX(expected.x);
    m.expectCsr({ fflags: expected.flags });
  });
}

// Rounding. Three sums tell the five modes apart (one ulp of 1.0f is 2^-23):
//   1 + 2^-24     a tie:       RNE, RTZ, RDN → 1.0           RUP, RMM → 1 + ulp
//  -1 - 2^-24     a tie:       RNE, RTZ, RUP → -1.0          RDN, RMM → -1 - ulp
//   1 + 3·2^-25   above half:  RTZ, RDN → 1.0                RNE, RUP, RMM → 1 + ulp
const ONE = 0x3f80_0000n, ONE_UP = 0x3f80_0001n, MINUS_ONE = 0xbf80_0000n, MINUS_ONE_DOWN = 0xbf80_0001n;
const ROUNDING: Record<keyof typeof RM, [bigint, bigint, bigint]> = {
  rne: [ONE, MINUS_ONE, ONE_UP],
  rtz: [ONE, MINUS_ONE, ONE],
  rdn: [ONE, MINUS_ONE_DOWN, ONE],
  rup: [ONE_UP, MINUS_ONE, ONE_UP],
  rmm: [ONE_UP, MINUS_ONE_DOWN, ONE_UP],
};
const ROUNDING_INPUTS = {
  ft0: s(1), ft1: boxed(0x3380_0000n), // 2^-24
  ft2: s(-1), ft3: boxed(0xb380_0000n), // -2^-24
  ft4: boxed(0x33c0_0000n), // 3·2^-25
};
const roundingResults = (mode: keyof typeof RM) => {
  const [tie, negativeTie, above] = ROUNDING[mode];
  return { fa0: boxed(tie), fa1: boxed(negativeTie), fa2: boxed(above) };
};

for (const mode of Object.keys(RM) as (keyof typeof RM)[]) {
  fp(`fadd.s with static rm=${mode}`, `
    fadd.s fa0, ft0, ft1, ${mode}
    fadd.s fa1, ft2, ft3, ${mode}
    fadd.s fa2, ft0, ft4, ${mode}`, { f: ROUNDING_INPUTS }, { f: roundingResults(mode), flags: NX });

  fp(`fadd.s with rm=dyn and frm=${mode}`, `
    fsrmi ${RM[mode]}
    fadd.s fa0, ft0, ft1, dyn
    fadd.s fa1, ft2, ft3, dyn
    fadd.s fa2, ft0, ft4, dyn`, { f: ROUNDING_INPUTS }, { f: roundingResults(mode), flags: NX });
}

fp('a static rm overrides frm', `
  fsrmi ${RM.rup}
  fadd.s fa0, ft0, ft1, rtz
  fadd.s fa1, ft0, ft1, dyn`, { f: ROUNDING_INPUTS }, { f: { fa0: boxed(ONE), fa1: boxed(ONE_UP) }, flags: NX });

fp('fadd.d rounds a tie to even, or up under rup', `
  fadd.d fa0, ft0, ft1, rne
  fadd.d fa1, ft0, ft1, rup`, { f: { ft0: f64(1), ft1: f64(2 ** -53) } },
{ f: { fa0: f64(1), fa1: 0x3ff0_0000_0000_0001n }, flags: NX });

for (const rm of [5, 6]) {
  test(`a static rm of ${rm} (reserved) is an illegal instruction`, async () => {
    const m = await runToMTrap(`
    at:
      .insn r 0x53, ${rm}, 0, fa0, ft0, ft1`, { f: { ft0: s(1), ft1: s(1) } });
    m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'));
  });
}

test('rm=dyn with a reserved frm (5) is an illegal instruction', async () => {
  const m = await runToMTrap(`
    fsrmi 5
  at:
    fadd.s fa0, ft0, ft1, dyn`, { f: { ft0: s(1), ft1: s(1) } });
  m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'));
});

// Flags accrue (are ORed in) until software clears them.
test('fflags accrue across instructions and an exact operation clears none', async () => {
  const m = await runProgram(`
    fsflags zero
    fdiv.s fa0, ft0, ft2, rne
    fadd.s fa1, ft0, ft1, rne
    fadd.s fa2, ft0, ft0, rne
    frflags a0
    fsflags a1, zero
    frflags a2`, { f: { ft0: s(1), ft1: boxed(0x3380_0000n), ft2: s(0) } });
  m.expectF({ fa0: boxed(F32_INF), fa1: boxed(ONE), fa2: s(2) });
  m.expectX({ a0: DZ | NX, a1: DZ | NX, a2: 0n });
});

test('fcsr is frm << 5 | fflags', async () => {
  const m = await runProgram(`
    li t0, 0xff
    csrw fcsr, t0
    csrr a0, frm
    csrr a1, fflags
    csrwi frm, 2
    csrwi fflags, 1
    csrr a2, fcsr
    li t0, -1
    csrw fcsr, t0
    csrr a3, fcsr
    csrw fflags, t0
    csrr a4, fflags`);
  // fcsr bits 31:8 are reserved (read as zero); fflags is 5 bits
  m.expectX({ a0: 7n, a1: 0x1fn, a2: (2n << 5n) | 1n, a3: 0xffn, a4: 0x1fn });
});

fp('overflow rounds to infinity under rne, to the largest finite under rtz', `
  fmul.s fa0, ft0, ft1, rne
  fmul.s fa1, ft0, ft1, rtz`, { f: { ft0: boxed(0x7f7f_ffffn), ft1: s(2) } },
{ f: { fa0: boxed(F32_INF), fa1: boxed(0x7f7f_ffffn) }, flags: OF | NX });

fp('an exact subnormal result raises no underflow', `
  fmul.s fa0, ft0, ft1, rne`, { f: { ft0: boxed(0x0080_0000n), ft1: s(0.5) } },
{ f: { fa0: boxed(0x0040_0000n) }, flags: 0n });

fp('an inexact tiny result raises underflow and inexact', `
  fmul.s fa0, ft0, ft1, rne`, { f: { ft0: boxed(0x0000_0001n), ft1: s(0.5) } },
{ f: { fa0: boxed(0n) }, flags: UF | NX });

fp('division by zero gives infinity and DZ; 0/0 gives the canonical NaN and NV', `
  fdiv.s fa0, ft0, ft1, rne
  fdiv.d fa1, ft2, ft3, rne`, { f: { ft0: s(-1), ft1: s(0), ft2: f64(0), ft3: f64(0) } },
{ f: { fa0: boxed(0xff80_0000n), fa1: F64_CANONICAL_NAN }, flags: DZ | NV });

fp('fsqrt.d of 2 is correctly rounded; fsqrt.s of -1 is the canonical NaN', `
  fsqrt.d fa0, ft0, rne
  fsqrt.s fa1, ft1, rne`, { f: { ft0: f64(2), ft1: s(-1) } },
{ f: { fa0: 0x3ff6_a09e_667f_3bcdn, fa1: boxed(F32_CANONICAL_NAN) }, flags: NX | NV });

// NaN boxing: a single read from a register whose upper 32 bits are not all ones is the
// canonical NaN; single results and narrow transfers in are boxed; transfers out take the low bits.
const UNBOXED_ONE = 0x3f80_0000n;
fp('an improperly boxed single operand reads as the canonical NaN', `
  fadd.s fa0, ft0, ft1, rne
  fsgnj.s fa1, ft0, ft2
  fclass.s a0, ft0
  fcvt.d.s fa2, ft0`, { f: { ft0: UNBOXED_ONE, ft1: s(1), ft2: s(-1) } },
{
  f: { fa0: boxed(F32_CANONICAL_NAN), fa1: boxed(0xffc0_0000n), fa2: F64_CANONICAL_NAN },
  x: { a0: 1n << 9n },
  flags: 0n,
});

fp('flw and fmv.w.x NaN-box; fmv.x.w sign-extends the low word', `
  la t0, word
  flw fa0, 0(t0)
  fmv.w.x fa1, a1
  fmv.x.w a0, ft0
  fmv.x.w a2, ft1`, {
  f: { ft0: boxed(0x8000_0000n), ft1: 0xbf80_0000n },
  x: { a1: 0x1234_5678_4000_0000n },
  data: 'word: .word 0x3f800000',
},
{
  f: { fa0: boxed(0x3f80_0000n), fa1: boxed(0x4000_0000n) },
  x: { a0: 0xffff_ffff_8000_0000n, a2: 0xffff_ffff_bf80_0000n },
  flags: 0n,
});

test('fsw stores the low word of the register; fsd and fld move all 64 bits', async () => {
  const m = await runProgram(`
    la t0, slots
    fsw ft0, 0(t0)
    fsd ft1, 8(t0)
    fld fa0, 8(t0)
    fmv.x.d a0, fa0
    fmv.d.x fa1, a1`, {
    f: { ft0: 0x0000_0000_4049_0fdbn, ft1: f64(-2.5) },
    x: { a1: F64_SNAN },
    data: 'slots: .dword -1, 0',
  });
  assert.equal(m.memory.readU64(m.symbol('slots')).toString(16), 'ffffffff40490fdb');
  m.expectF({ fa0: f64(-2.5), fa1: F64_SNAN });
  m.expectX({ a0: f64(-2.5) });
});

// Conversions to integers saturate and raise NV (the spec's table: NaN and +large give the
// largest value, -large the smallest); 32-bit results are sign-extended.
type Conversion = [asm: string, input: bigint, result: bigint, flags: bigint];
const TO_INTEGER: Conversion[] = [
  ['fcvt.w.s a0, ft0, rtz', boxed(F32_INF), 0x7fff_ffffn, NV],
  ['fcvt.w.s a0, ft0, rtz', boxed(0xff80_0000n), 0xffff_ffff_8000_0000n, NV],
  ['fcvt.w.s a0, ft0, rtz', boxed(F32_CANONICAL_NAN), 0x7fff_ffffn, NV],
  ['fcvt.w.s a0, ft0, rtz', s(3e9), 0x7fff_ffffn, NV],
  ['fcvt.w.s a0, ft0, rtz', s(-(2 ** 31)), 0xffff_ffff_8000_0000n, 0n],
  ['fcvt.wu.s a0, ft0, rtz', s(-1), 0n, NV],
  ['fcvt.wu.s a0, ft0, rtz', boxed(F32_CANONICAL_NAN), ONES, NV],
  ['fcvt.wu.s a0, ft0, rtz', s(4294967040), 0xffff_ffff_ffff_ff00n, 0n],
  ['fcvt.wu.s a0, ft0, rtz', s(-0.5), 0n, NX],
  ['fcvt.wu.s a0, ft0, rdn', s(-0.5), 0n, NV],
  ['fcvt.l.d a0, ft0, rtz', f64(1e19), MAX, NV],
  ['fcvt.l.d a0, ft0, rtz', f64(-Infinity), MIN, NV],
  ['fcvt.l.d a0, ft0, rtz', F64_CANONICAL_NAN, MAX, NV],
  ['fcvt.lu.d a0, ft0, rtz', f64(-1), 0n, NV],
  ['fcvt.lu.d a0, ft0, rtz', F64_SNAN, ONES, NV],
  ['fcvt.lu.d a0, ft0, rtz', f64(1e19), 10_000_000_000_000_000_000n, 0n],
  ['fcvt.w.d a0, ft0, rne', f64(2.5), 2n, NX],
  ['fcvt.w.d a0, ft0, rmm', f64(2.5), 3n, NX],
  ['fcvt.w.d a0, ft0, rdn', f64(-2.5), u64(-3n), NX],
  ['fcvt.w.d a0, ft0, rup', f64(-2.5), u64(-2n), NX],
  ['fcvt.l.s a0, ft0, rtz', s(-(2 ** 40)), u64(-(2n ** 40n)), 0n],
];
for (const [asm, input, result, flags] of TO_INTEGER) {
  fp(`${asm} of ${u64(input).toString(16)} → ${result.toString(16)}`, asm, { f: { ft0: input } }, { x: { a0: result }, flags });
}

const FROM_INTEGER: Conversion[] = [
  ['fcvt.s.w fa0, a0, rne', 0x7fff_ffffn, boxed(0x4f00_0000n), NX],
  ['fcvt.s.w fa0, a0, rtz', 0x7fff_ffffn, boxed(0x4eff_ffffn), NX],
  ['fcvt.s.wu fa0, a0, rne', 0xffff_ffffn, boxed(0x4f80_0000n), NX],
  ['fcvt.d.w fa0, a0', 0x1_0000_0003n, f64(3), 0n],
  ['fcvt.d.w fa0, a0', ONES, f64(-1), 0n],
  ['fcvt.d.wu fa0, a0', 0xffff_ffffn, f64(4294967295), 0n],
  ['fcvt.d.l fa0, a0, rne', MIN, f64(-(2 ** 63)), 0n],
  ['fcvt.d.lu fa0, a0, rne', ONES, f64(2 ** 64), NX],
  ['fcvt.s.l fa0, a0, rne', u64(-3n), s(-3), 0n],
];
for (const [asm, input, result, flags] of FROM_INTEGER) {
  fp(`${asm} of ${input.toString(16)} → ${result.toString(16)}`, asm, { x: { a0: input } }, { f: { fa0: result }, flags });
}

fp('fcvt.s.d rounds; fcvt.d.s of a signalling NaN is the canonical NaN with NV', `
  fcvt.s.d fa0, ft0, rne
  fcvt.d.s fa1, ft1
  fcvt.s.d fa2, ft2, rne`, { f: { ft0: f64(0.1), ft1: boxed(F32_SNAN), ft2: f64(1e300) } },
{ f: { fa0: boxed(0x3dcc_cccdn), fa1: F64_CANONICAL_NAN, fa2: boxed(F32_INF) }, flags: NX | NV | OF });

// fclass: one bit per class, from bit 0 (-inf) to bit 9 (quiet NaN).
const CLASSES: [string, bigint, bigint, number][] = [
  ['-inf', 0xff80_0000n, 0xfff0_0000_0000_0000n, 0],
  ['-normal', 0xbf80_0000n, f64(-1), 1],
  ['-subnormal', 0x8000_0001n, 0x8000_0000_0000_0001n, 2],
  ['-0', 0x8000_0000n, MIN, 3],
  ['+0', 0n, 0n, 4],
  ['+subnormal', 0x0000_0001n, 1n, 5],
  ['+normal', 0x3f80_0000n, f64(1), 6],
  ['+inf', F32_INF, F64_INF, 7],
  ['signalling NaN', F32_SNAN, F64_SNAN, 8],
  ['quiet NaN', F32_CANONICAL_NAN, F64_CANONICAL_NAN, 9],
];
for (const [name, single, double, bit] of CLASSES) {
  fp(`fclass of ${name} sets bit ${bit}`, `
    fclass.s a0, ft0
    fclass.d a1, ft1`, { f: { ft0: boxed(single), ft1: double } }, { x: { a0: 1n << BigInt(bit), a1: 1n << BigInt(bit) }, flags: 0n });
}

fp('fsgnj, fsgnjn, fsgnjx take the sign from rs2 (or its inverse, or the xor)', `
  fsgnj.s fa0, ft0, ft1
  fsgnjn.s fa1, ft0, ft1
  fsgnjx.s fa2, ft1, ft1
  fsgnjn.d fa3, ft2, ft2
  fsgnjx.d fa4, ft3, ft3`, { f: { ft0: s(1), ft1: s(-2), ft2: F64_SNAN, ft3: f64(-3) } },
{
  // sign injection copies NaN payloads and raises nothing, even for a signalling NaN
  f: { fa0: s(-1), fa1: s(1), fa2: s(2), fa3: F64_SNAN | MIN, fa4: f64(3) },
  flags: 0n,
});

fp('fmin/fmax return the number when one operand is a quiet NaN, without flags', `
  fmin.s fa0, ft0, ft1
  fmax.s fa1, ft1, ft0`, { f: { ft0: s(1), ft1: boxed(F32_CANONICAL_NAN) } },
{ f: { fa0: s(1), fa1: s(1) }, flags: 0n });

fp('fmin with a signalling NaN returns the number and raises NV', `
  fmin.s fa0, ft0, ft1`, { f: { ft0: s(1), ft1: boxed(F32_SNAN) } },
{ f: { fa0: s(1) }, flags: NV });

fp('fmax of two signalling NaNs is the canonical NaN with NV', `
  fmax.d fa0, ft0, ft0`, { f: { ft0: F64_SNAN } },
{ f: { fa0: F64_CANONICAL_NAN }, flags: NV });

fp('fmin/fmax order -0 below +0', `
  fmin.s fa0, ft0, ft1
  fmax.s fa1, ft0, ft1
  fmin.d fa2, ft3, ft2
  fmax.d fa3, ft3, ft2`, { f: { ft0: boxed(0n), ft1: boxed(0x8000_0000n), ft2: 0n, ft3: MIN } },
{ f: { fa0: boxed(0x8000_0000n), fa1: boxed(0n), fa2: MIN, fa3: 0n }, flags: 0n });

// Fused multiply-add rounds once: (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly, where rounding the
// product first would give 0. Likewise in double with 2^-52 → -2^-104.
fp('fmadd.s is fused (one rounding)', `
  fmadd.s fa0, ft0, ft1, ft2, rne`, { f: { ft0: boxed(0x3f80_0001n), ft1: boxed(0x3f7f_fffen), ft2: s(-1) } },
{ f: { fa0: boxed(0xa880_0000n) }, flags: 0n });

fp('fmadd.d is fused (one rounding)', `
  fmadd.d fa0, ft0, ft1, ft2, rne`, { f: { ft0: 0x3ff0_0000_0000_0001n, ft1: 0x3fef_ffff_ffff_fffen, ft2: f64(-1) } },
{ f: { fa0: 0xb970_0000_0000_0000n }, flags: 0n });

fp('fmadd, fmsub, fnmsub, fnmadd signs', `
  fmadd.d fa0, ft0, ft1, ft2, rne
  fmsub.d fa1, ft0, ft1, ft2, rne
  fnmsub.d fa2, ft0, ft1, ft2, rne
  fnmadd.d fa3, ft0, ft1, ft2, rne`, { f: { ft0: f64(2), ft1: f64(3), ft2: f64(1) } },
{ f: { fa0: f64(7), fa1: f64(5), fa2: f64(-5), fa3: f64(-7) }, flags: 0n });

fp('fmadd of infinity × 0 + quiet NaN raises NV', `
  fmadd.d fa0, ft0, ft1, ft2, rne`, { f: { ft0: F64_INF, ft1: 0n, ft2: F64_CANONICAL_NAN } },
{ f: { fa0: F64_CANONICAL_NAN }, flags: NV });

fp('comparisons: feq is quiet, flt/fle signal on any NaN', `
  feq.s a0, ft0, ft1
  feq.s a1, ft0, ft2
  flt.s a2, ft0, ft1
  fle.d a3, ft3, ft3
  feq.d a4, ft4, ft5
  flt.d a5, ft5, ft4`, {
  f: { ft0: boxed(F32_CANONICAL_NAN), ft1: s(1), ft2: boxed(F32_SNAN), ft3: f64(1), ft4: 0n, ft5: MIN },
  x: { a0: 9n, a1: 9n, a2: 9n },
}, { x: { a0: 0n, a1: 0n, a2: 0n, a3: 1n, a4: 1n, a5: 0n }, flags: NV });

fp('feq of a quiet NaN raises nothing', `
  feq.d a0, ft0, ft0`, { f: { ft0: F64_CANONICAL_NAN }, x: { a0: 9n } }, { x: { a0: 0n }, flags: 0n });

// mstatus.FS (privileged spec, "Extension Context Status in mstatus").
for (const [name, asm] of [
  ['fadd.s', 'fadd.s fa0, ft0, ft1, rne'],
  ['flw', 'flw fa0, 0(sp)'],
  ['fmv.x.d', 'fmv.x.d a0, ft0'],
  ['csrr fcsr', 'csrr a0, fcsr'],
] as const) {
  test(`${name} with mstatus.FS = Off is an illegal instruction`, async () => {
    const m = await TestMachine.load(`
      li sp, 0x80001000
    at:
      ${asm}`, { fpu: 'off' });
    m.runTo('m-trap');
    m.expectMTrap(CAUSE.illegalInstruction, m.symbol('at'));
  });
}

test('writing an f register turns FS from Initial to Dirty and sets SD', async () => {
  const m = await runProgram(`
    csrr a0, mstatus
    fadd.d fa0, ft0, ft0, rne
    csrr a1, mstatus`, { f: { ft0: f64(1) } });
  assert.equal((m.x('a0') & MSTATUS.FS) >> MSTATUS.FS_SHIFT, 1n, 'FS before');
  assert.equal(m.x('a0') & MSTATUS.SD, 0n, 'SD before');
  assert.equal((m.x('a1') & MSTATUS.FS) >> MSTATUS.FS_SHIFT, 3n, 'FS after');
  assert.equal(m.x('a1') & MSTATUS.SD, MSTATUS.SD, 'SD after');
  assert.equal(m.csr(CSR.mstatus) & MSTATUS.SD, MSTATUS.SD);
});
