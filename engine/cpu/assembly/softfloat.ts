// IEEE-754 binary32/binary64 arithmetic in integer operations, exact in all five RISC-V
// rounding modes with exact exception flags (native wasm float ops only round to nearest-even
// and raise no flags). Follows the RISC-V F/D chapters: NaN results are canonical, tininess is
// detected after rounding, fcvt to integer saturates.
//
// Values travel as raw bit patterns (f32 in u32, f64 in u64). Internally both formats share one
// implementation over u64 bit patterns, parameterised by `fmt` (F32 or F64). Finite nonzero
// operands are unpacked to a sign, an exponent `exp` and a significand `sig` with its leading
// one at bit 62, so that value = sig * 2^(exp - 62); bit 63 is headroom for a carry, and the
// bits below the format's precision are guard bits. A lost tail is "jammed" (ORed) into bit 0
// so rounding still sees that the value is inexact. No allocation: only locals and globals.

/** Accumulated exception flags (fflags layout); the caller resets it. */
export let fflags: u32 = 0;

const NV: u32 = 16; // invalid operation
const DZ: u32 = 8;  // divide by zero
const OF: u32 = 4;  // overflow
const UF: u32 = 2;  // underflow
const NX: u32 = 1;  // inexact

// Rounding modes as encoded in frm. The decoder resolves DYN (7) and rejects the reserved 5 and
// 6 as illegal instructions; should any other value arrive, it behaves as RNE.
const RNE: u32 = 0;
const RTZ: u32 = 1;
const RDN: u32 = 2;
const RUP: u32 = 3;
const RMM: u32 = 4;

const F32: i32 = 0;
const F64: i32 = 1;

// ---- format fields -------------------------------------------------------------------------

@inline function fracBits(fmt: i32): i32 { return fmt == F64 ? 52 : 23; }
@inline function expBits(fmt: i32): i32 { return fmt == F64 ? 11 : 8; }
@inline function bias(fmt: i32): i32 { return (1 << (expBits(fmt) - 1)) - 1; }
@inline function expMax(fmt: i32): i32 { return (1 << expBits(fmt)) - 1; }
@inline function signBit(fmt: i32): u64 { return <u64>1 << <u64>(fracBits(fmt) + expBits(fmt)); }
@inline function fracMask(fmt: i32): u64 { return (<u64>1 << <u64>fracBits(fmt)) - 1; }

@inline function signOf(x: u64, fmt: i32): u32 { return (x & signBit(fmt)) != 0 ? 1 : 0; }
@inline function expField(x: u64, fmt: i32): i32 {
  return <i32>(x >> <u64>fracBits(fmt)) & expMax(fmt);
}
@inline function fracField(x: u64, fmt: i32): u64 { return x & fracMask(fmt); }

@inline function isNaN(x: u64, fmt: i32): bool {
  return expField(x, fmt) == expMax(fmt) && fracField(x, fmt) != 0;
}
@inline function isSignalingNaN(x: u64, fmt: i32): bool {
  return isNaN(x, fmt) && (x & (<u64>1 << <u64>(fracBits(fmt) - 1))) == 0;
}
@inline function isInf(x: u64, fmt: i32): bool {
  return expField(x, fmt) == expMax(fmt) && fracField(x, fmt) == 0;
}
@inline function isZero(x: u64, fmt: i32): bool { return (x & ~signBit(fmt)) == 0; }

@inline function canonicalNaN(fmt: i32): u64 {
  return (<u64>expMax(fmt) << <u64>fracBits(fmt)) | (<u64>1 << <u64>(fracBits(fmt) - 1));
}
@inline function infinity(sign: u32, fmt: i32): u64 {
  return (sign != 0 ? signBit(fmt) : 0) | (<u64>expMax(fmt) << <u64>fracBits(fmt));
}
@inline function zero(sign: u32, fmt: i32): u64 { return sign != 0 ? signBit(fmt) : 0; }

@inline function flagSignaling(x: u64, fmt: i32): void {
  if (isSignalingNaN(x, fmt)) fflags |= NV;
}

/** The NaN result of an operation: canonical, and NV when any operand is signaling. */
function nanResult(a: u64, b: u64, fmt: i32): u64 {
  flagSignaling(a, fmt);
  flagSignaling(b, fmt);
  return canonicalNaN(fmt);
}

function invalid(fmt: i32): u64 {
  fflags |= NV;
  return canonicalNaN(fmt);
}

/** Sign of an exact zero sum of operands with opposite signs: -0 only when rounding down. */
@inline function exactZeroSum(rm: u32, fmt: i32): u64 { return zero(rm == RDN ? 1 : 0, fmt); }

// Unpacking a finite nonzero value (subnormals are normalised here).
function unpackSig(x: u64, fmt: i32): u64 {
  const frac = fracField(x, fmt);
  if (expField(x, fmt) == 0) return frac << (clz(frac) - 1);
  return (frac | (<u64>1 << <u64>fracBits(fmt))) << <u64>(62 - fracBits(fmt));
}
function unpackExp(x: u64, fmt: i32): i32 {
  const e = expField(x, fmt);
  // A subnormal is frac * 2^(1 - bias - fracBits), and unpackSig shifts frac left by clz - 1.
  if (e == 0) return 64 - bias(fmt) - fracBits(fmt) - <i32>clz(fracField(x, fmt));
  return e - bias(fmt);
}

// ---- wide integer helpers ------------------------------------------------------------------

/** High 64 bits of the 128-bit product a*b (the low half is plain a*b). */
export function mulHigh(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p01 = a0 * b1, p10 = a1 * b0;
  const mid = ((a0 * b0) >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/** x >> n with every shifted-out one bit jammed into bit 0 (wasm shifts count modulo 64). */
function shiftRightJam(x: u64, n: i32): u64 {
  if (n <= 0) return x;
  if (n >= 64) return x != 0 ? 1 : 0;
  return (x >> <u64>n) | ((x << <u64>(64 - n)) != 0 ? 1 : 0);
}

// 128-bit values are (hi, lo) pairs; each helper returns one half.
function shr128Hi(hi: u64, n: i32): u64 {
  if (n <= 0) return hi;
  return n >= 64 ? 0 : hi >> <u64>n;
}
function shr128JamLo(hi: u64, lo: u64, n: i32): u64 {
  if (n <= 0) return lo;
  if (n < 64) {
    return (hi << <u64>(64 - n)) | (lo >> <u64>n) | ((lo << <u64>(64 - n)) != 0 ? 1 : 0);
  }
  if (n == 64) return hi | (lo != 0 ? 1 : 0);
  if (n < 128) return (hi >> <u64>(n - 64)) | (((hi << <u64>(128 - n)) | lo) != 0 ? 1 : 0);
  return (hi | lo) != 0 ? 1 : 0;
}
function shl128Hi(hi: u64, lo: u64, n: i32): u64 {
  if (n <= 0) return hi;
  return n < 64 ? (hi << <u64>n) | (lo >> <u64>(64 - n)) : lo << <u64>(n - 64);
}
function shl128Lo(lo: u64, n: i32): u64 { return n < 64 ? lo << <u64>n : 0; }

// ---- rounding ------------------------------------------------------------------------------

/** Whether to add one unit in the last kept place, given the discarded bits and their half. */
function roundsUp(rm: u32, sign: u32, lsb: u64, rest: u64, half: u64): bool {
  if (rm == RTZ) return false;
  if (rm == RDN) return sign != 0 && rest != 0;
  if (rm == RUP) return sign == 0 && rest != 0;
  if (rm == RMM) return rest >= half;
  return rest > half || (rest == half && lsb != 0);
}

/**
 * Rounds sign * sig * 2^(exp - 62) (sig nonzero, leading one anywhere) to the format and packs
 * it, raising NX/UF/OF. Packing adds the significand (hidden bit included) to the exponent
 * field minus one, so a rounding carry moves into the exponent by itself.
 */
function roundPack(sign: u32, exp: i32, sig: u64, rm: u32, fmt: i32): u64 {
  const lz = <i32>clz(sig);
  if (lz == 0) {
    sig = shiftRightJam(sig, 1);
    exp += 1;
  } else {
    sig <<= <u64>(lz - 1);
    exp -= lz - 1;
  }
  const f = fracBits(fmt);
  const shift = 62 - f; // guard bits below a normal result's precision
  const restMask = (<u64>1 << <u64>shift) - 1;
  const half = <u64>1 << <u64>(shift - 1);
  let biased = exp + bias(fmt);
  let tiny = false;
  if (biased < 1) {
    // Tiny after rounding: the value rounded with an unbounded exponent stays below the
    // smallest normal. Only biased == 0 can round up into it.
    const kept = sig >> <u64>shift;
    const carry = roundsUp(rm, sign, kept & 1, sig & restMask, half) ? 1 : 0;
    tiny = biased < 0 || kept + carry < (<u64>1 << <u64>(f + 1));
    sig = shiftRightJam(sig, 1 - biased);
    biased = 1; // the exponent field becomes 0; a carry out of the fraction makes it normal
  }
  if (biased >= expMax(fmt)) return overflow(sign, rm, fmt);
  const rest = sig & restMask;
  let kept = sig >> <u64>shift;
  if (roundsUp(rm, sign, kept & 1, rest, half)) kept += 1;
  const bits = (<u64>(biased - 1) << <u64>f) + kept;
  if (expField(bits, fmt) == expMax(fmt)) return overflow(sign, rm, fmt);
  if (rest != 0) fflags |= tiny ? NX | UF : NX;
  return bits | zero(sign, fmt);
}

/** Overflow result per rounding mode: infinity, or the largest finite value of that sign. */
function overflow(sign: u32, rm: u32, fmt: i32): u64 {
  fflags |= OF | NX;
  const toInf = rm == RNE || rm == RMM || (rm == RUP && sign == 0) || (rm == RDN && sign != 0)
    || rm > RMM;
  return toInf ? infinity(sign, fmt) : infinity(sign, fmt) - 1;
}

// ---- arithmetic ----------------------------------------------------------------------------

function add(a: u64, b: u64, rm: u32, fmt: i32): u64 {
  if (isNaN(a, fmt) || isNaN(b, fmt)) return nanResult(a, b, fmt);
  const sa = signOf(a, fmt), sb = signOf(b, fmt);
  if (isInf(a, fmt)) return isInf(b, fmt) && sa != sb ? invalid(fmt) : a;
  if (isInf(b, fmt)) return b;
  if (isZero(a, fmt)) {
    if (isZero(b, fmt)) return sa == sb ? a : exactZeroSum(rm, fmt);
    return b;
  }
  if (isZero(b, fmt)) return a;
  let ea = unpackExp(a, fmt), eb = unpackExp(b, fmt);
  let ma = unpackSig(a, fmt), mb = unpackSig(b, fmt);
  let sign = sa;
  if (ea < eb || (ea == eb && ma < mb)) { // make a the larger magnitude
    const e = ea; ea = eb; eb = e;
    const m = ma; ma = mb; mb = m;
    sign = sb;
  }
  // With 9+ guard bits, an alignment that loses bits (shift >= 2) cancels at most one bit.
  mb = shiftRightJam(mb, ea - eb);
  const sum = sa == sb ? ma + mb : ma - mb;
  if (sum == 0) return exactZeroSum(rm, fmt);
  return roundPack(sign, ea, sum, rm, fmt);
}

function mul(a: u64, b: u64, rm: u32, fmt: i32): u64 {
  if (isNaN(a, fmt) || isNaN(b, fmt)) return nanResult(a, b, fmt);
  const sign = signOf(a, fmt) ^ signOf(b, fmt);
  if (isInf(a, fmt) || isInf(b, fmt)) {
    return isZero(a, fmt) || isZero(b, fmt) ? invalid(fmt) : infinity(sign, fmt);
  }
  if (isZero(a, fmt) || isZero(b, fmt)) return zero(sign, fmt);
  const ma = unpackSig(a, fmt), mb = unpackSig(b, fmt);
  // ma*mb < 2^126; its high half keeps 60+ significant bits, the low half becomes sticky.
  const sig = mulHigh(ma, mb) | (ma * mb != 0 ? 1 : 0);
  return roundPack(sign, unpackExp(a, fmt) + unpackExp(b, fmt) + 2, sig, rm, fmt);
}

function div(a: u64, b: u64, rm: u32, fmt: i32): u64 {
  if (isNaN(a, fmt) || isNaN(b, fmt)) return nanResult(a, b, fmt);
  const sign = signOf(a, fmt) ^ signOf(b, fmt);
  if (isInf(a, fmt)) return isInf(b, fmt) ? invalid(fmt) : infinity(sign, fmt);
  if (isInf(b, fmt)) return zero(sign, fmt);
  if (isZero(b, fmt)) {
    if (isZero(a, fmt)) return invalid(fmt);
    fflags |= DZ;
    return infinity(sign, fmt);
  }
  if (isZero(a, fmt)) return zero(sign, fmt);
  const ma = unpackSig(a, fmt), mb = unpackSig(b, fmt);
  // Restoring division: 64 quotient bits of ma/mb in (1/2, 2), integer bit at bit 63.
  // The remainder stays below 2*mb < 2^64.
  let rem = ma;
  let q: u64 = 0;
  for (let i = 0; i < 64; i++) {
    q <<= 1;
    if (rem >= mb) {
      rem -= mb;
      q |= 1;
    }
    rem <<= 1;
  }
  const sig = q | (rem != 0 ? 1 : 0);
  return roundPack(sign, unpackExp(a, fmt) - unpackExp(b, fmt) - 1, sig, rm, fmt);
}

function squareRoot(a: u64, rm: u32, fmt: i32): u64 {
  if (isNaN(a, fmt)) {
    flagSignaling(a, fmt);
    return canonicalNaN(fmt);
  }
  if (isZero(a, fmt)) return a; // sqrt(-0) = -0
  if (signOf(a, fmt) != 0) return invalid(fmt);
  if (isInf(a, fmt)) return a;
  const ea = unpackExp(a, fmt), ma = unpackSig(a, fmt);
  // Radicand R = ma * 2^64 or ma * 2^63 (128 bits) so that the remaining power of two,
  // 2^scale with value = R * 2^scale, has an even exponent.
  const odd = (ea & 1) != 0;
  const rHi = odd ? ma >> 1 : ma;
  const rLo: u64 = odd ? ma << 63 : 0;
  const scale = odd ? ea - 125 : ea - 126;
  // floor(sqrt(R)) < 2^63.5. ma has at most 53 significant bits, so <f64>ma is exact and the
  // native (correctly rounded) square root estimates sqrt(R) = sqrt(ma / 2^odd) * 2^32 within
  // 2^63.5 * 2^-53 < 1449, plus 1 for truncation. The floor thus lies in [estimate - 2048,
  // estimate + 2047]; a 12-step binary search on exact 128-bit squares finds it.
  const estimate = <u64>(sqrt<f64>(<f64>ma * (odd ? 0.5 : 1.0)) * 4294967296.0);
  let root = estimate - 2048;
  for (let step: u64 = 2048; step != 0; step >>= 1) {
    const trial = root + step;
    const sqHi = mulHigh(trial, trial), sqLo = trial * trial;
    if (sqHi < rHi || (sqHi == rHi && sqLo <= rLo)) root = trial;
  }
  const exact = mulHigh(root, root) == rHi && root * root == rLo;
  return roundPack(0, 62 + (scale >> 1), root | (exact ? 0 : 1), rm, fmt);
}

function fma(a: u64, b: u64, c: u64, rm: u32, fmt: i32): u64 {
  // RISC-V unprivileged ISA, F extension, "Single-Precision Floating-Point Computational
  // Instructions": "The fused multiply-add instructions must set the invalid operation
  // exception flag when the multiplicands are infinity and zero, even when the addend is a
  // quiet NaN."
  const infTimesZero = (isInf(a, fmt) && isZero(b, fmt)) || (isZero(a, fmt) && isInf(b, fmt));
  if (isNaN(a, fmt) || isNaN(b, fmt) || isNaN(c, fmt)) {
    if (infTimesZero) fflags |= NV;
    flagSignaling(c, fmt);
    return nanResult(a, b, fmt);
  }
  if (infTimesZero) return invalid(fmt);
  const sp = signOf(a, fmt) ^ signOf(b, fmt), sc = signOf(c, fmt);
  if (isInf(a, fmt) || isInf(b, fmt)) {
    return isInf(c, fmt) && sc != sp ? invalid(fmt) : infinity(sp, fmt);
  }
  if (isInf(c, fmt)) return c;
  if (isZero(a, fmt) || isZero(b, fmt)) {
    if (!isZero(c, fmt)) return c;
    return sp == sc ? c : exactZeroSum(rm, fmt);
  }
  const ma = unpackSig(a, fmt), mb = unpackSig(b, fmt);
  const ep = unpackExp(a, fmt) + unpackExp(b, fmt);
  // Product P = ma*mb in [2^124, 2^126) with value P * 2^(ep - 124).
  let pHi = mulHigh(ma, mb), pLo = ma * mb;
  if (isZero(c, fmt)) return roundPack(sp, ep + 2, pHi | (pLo != 0 ? 1 : 0), rm, fmt);
  // Addend C = mc * 2^62 in [2^124, 2^125) with value C * 2^(ec - 124).
  const mc = unpackSig(c, fmt);
  const ec = unpackExp(c, fmt);
  let cHi = mc >> 2, cLo = mc << 62;
  let exp = ep;
  if (ep >= ec) {
    const n = ep - ec;
    const hi = shr128Hi(cHi, n);
    cLo = shr128JamLo(cHi, cLo, n);
    cHi = hi;
  } else {
    const n = ec - ep;
    const hi = shr128Hi(pHi, n);
    pLo = shr128JamLo(pHi, pLo, n);
    pHi = hi;
    exp = ec;
  }
  let sign = sp;
  let hi: u64, lo: u64;
  if (sp == sc) { // the sum stays below 2^127
    lo = pLo + cLo;
    hi = pHi + cHi + (lo < pLo ? 1 : 0);
  } else if (pHi > cHi || (pHi == cHi && pLo >= cLo)) {
    lo = pLo - cLo;
    hi = pHi - cHi - (pLo < cLo ? 1 : 0);
  } else {
    lo = cLo - pLo;
    hi = cHi - pHi - (cLo < pLo ? 1 : 0);
    sign = sc;
  }
  if ((hi | lo) == 0) return exactZeroSum(rm, fmt);
  // Bring the leading one to bit 126, then round from the high half plus a sticky bit.
  const n = (hi != 0 ? <i32>clz(hi) : 64 + <i32>clz(lo)) - 1;
  const nHi = shl128Hi(hi, lo, n);
  lo = shl128Lo(lo, n);
  return roundPack(sign, exp - n + 2, nHi | (lo != 0 ? 1 : 0), rm, fmt);
}

// ---- comparisons, min/max, classify --------------------------------------------------------

/** A signed key that orders values as numbers, with -0 just below +0. */
function orderKey(x: u64, fmt: i32): i64 {
  const magnitude = <i64>(x & ~signBit(fmt));
  return signOf(x, fmt) != 0 ? -magnitude - 1 : magnitude;
}

function eq(a: u64, b: u64, fmt: i32): u32 {
  if (isNaN(a, fmt) || isNaN(b, fmt)) {
    nanResult(a, b, fmt); // feq is a quiet comparison: NV only for signaling NaNs
    return 0;
  }
  return a == b || (isZero(a, fmt) && isZero(b, fmt)) ? 1 : 0;
}

/** flt (orEqual false) and fle (true): signaling comparisons, NV for any NaN. */
function less(a: u64, b: u64, orEqual: bool, fmt: i32): u32 {
  if (isNaN(a, fmt) || isNaN(b, fmt)) {
    fflags |= NV;
    return 0;
  }
  if (isZero(a, fmt) && isZero(b, fmt)) return orEqual ? 1 : 0;
  const ka = orderKey(a, fmt), kb = orderKey(b, fmt);
  return ka < kb || (orEqual && ka == kb) ? 1 : 0;
}

/** fmin (wantMax false) / fmax: a single NaN yields the other operand; -0 < +0. */
function minMax(a: u64, b: u64, wantMax: bool, fmt: i32): u64 {
  const aNaN = isNaN(a, fmt), bNaN = isNaN(b, fmt);
  if (aNaN || bNaN) {
    const result = nanResult(a, b, fmt);
    return aNaN && bNaN ? result : aNaN ? b : a;
  }
  return (orderKey(a, fmt) < orderKey(b, fmt)) != wantMax ? a : b;
}

function classify(x: u64, fmt: i32): u32 {
  const negative = signOf(x, fmt) != 0;
  if (isNaN(x, fmt)) return isSignalingNaN(x, fmt) ? 1 << 8 : 1 << 9;
  if (isInf(x, fmt)) return negative ? 1 << 0 : 1 << 7;
  if (isZero(x, fmt)) return negative ? 1 << 3 : 1 << 4;
  if (expField(x, fmt) == 0) return negative ? 1 << 2 : 1 << 5;
  return negative ? 1 << 1 : 1 << 6;
}

// ---- conversions ---------------------------------------------------------------------------

/**
 * fcvt to a `width`-bit integer (32 or 64), signed or not. Out-of-range values and NaN
 * saturate with NV only; 32-bit results are sign-extended to 64 bits, as RV64 writes them.
 */
function toInt(x: u64, rm: u32, signed: bool, width: i32, fmt: i32): u64 {
  const sign = signOf(x, fmt);
  const posLimit: u64 = signed ? (<u64>1 << <u64>(width - 1)) - 1 : (<u64>-1 >> <u64>(64 - width));
  const negLimit: u64 = signed ? <u64>1 << <u64>(width - 1) : 0;
  let result: u64 = 0;
  if (isNaN(x, fmt)) {
    fflags |= NV;
    result = posLimit;
  } else if (isInf(x, fmt)) {
    fflags |= NV;
    result = sign != 0 ? 0 - negLimit : posLimit;
  } else if (!isZero(x, fmt)) {
    const exp = unpackExp(x, fmt), sig = unpackSig(x, fmt);
    // Split value = sig * 2^(exp - 62) into an integer part and the discarded fraction.
    let magnitude: u64 = 0, rest: u64 = 0, half: u64 = 0;
    let tooBig = false;
    if (exp > 63) {
      tooBig = true; // at least 2^64: out of range for every target
    } else if (exp >= 62) {
      magnitude = sig << <u64>(exp - 62); // exact, < 2^64 for exp <= 63
    } else if (exp >= -1) {
      const shift = <u64>(62 - exp);
      magnitude = sig >> shift;
      rest = sig & ((<u64>1 << shift) - 1);
      half = <u64>1 << (shift - 1);
    } else { // below one half: nonzero, less than half
      rest = 1;
      half = 2;
    }
    if (rest != 0 && roundsUp(rm, sign, magnitude & 1, rest, half)) magnitude += 1;
    if (tooBig || magnitude > (sign != 0 ? negLimit : posLimit)) {
      fflags |= NV;
      result = sign != 0 ? 0 - negLimit : posLimit;
    } else {
      if (rest != 0) fflags |= NX;
      result = sign != 0 ? 0 - magnitude : magnitude;
    }
  }
  return width == 32 ? <u64><i64><i32>result : result;
}

/** fcvt from an integer: `signed` reads the low `width` bits as two's complement. */
function fromInt(x: u64, rm: u32, signed: bool, width: i32, fmt: i32): u64 {
  if (width == 32) x = signed ? <u64><i64><i32>x : x & 0xffffffff;
  const negative = signed && <i64>x < 0;
  const magnitude = negative ? 0 - x : x;
  if (magnitude == 0) return 0;
  return roundPack(negative ? 1 : 0, 62, magnitude, rm, fmt);
}

/** Converts between formats (exact when widening). */
function convert(x: u64, rm: u32, from: i32, to: i32): u64 {
  const sign = signOf(x, from);
  if (isNaN(x, from)) {
    flagSignaling(x, from);
    return canonicalNaN(to);
  }
  if (isInf(x, from)) return infinity(sign, to);
  if (isZero(x, from)) return zero(sign, to);
  return roundPack(sign, unpackExp(x, from), unpackSig(x, from), rm, to);
}

// ---- the exported API ----------------------------------------------------------------------

export function f32_add(a: u32, b: u32, rm: u32): u32 { return <u32>add(a, b, rm, F32); }
export function f32_sub(a: u32, b: u32, rm: u32): u32 {
  return <u32>add(a, b ^ <u32>signBit(F32), rm, F32);
}
export function f32_mul(a: u32, b: u32, rm: u32): u32 { return <u32>mul(a, b, rm, F32); }
export function f32_div(a: u32, b: u32, rm: u32): u32 { return <u32>div(a, b, rm, F32); }
export function f32_sqrt(a: u32, rm: u32): u32 { return <u32>squareRoot(a, rm, F32); }
export function f32_fma(a: u32, b: u32, c: u32, rm: u32): u32 {
  return <u32>fma(a, b, c, rm, F32);
}

export function f64_add(a: u64, b: u64, rm: u32): u64 { return add(a, b, rm, F64); }
export function f64_sub(a: u64, b: u64, rm: u32): u64 { return add(a, b ^ signBit(F64), rm, F64); }
export function f64_mul(a: u64, b: u64, rm: u32): u64 { return mul(a, b, rm, F64); }
export function f64_div(a: u64, b: u64, rm: u32): u64 { return div(a, b, rm, F64); }
export function f64_sqrt(a: u64, rm: u32): u64 { return squareRoot(a, rm, F64); }
export function f64_fma(a: u64, b: u64, c: u64, rm: u32): u64 { return fma(a, b, c, rm, F64); }

export function f32_eq(a: u32, b: u32): u32 { return eq(a, b, F32); }
export function f32_lt(a: u32, b: u32): u32 { return less(a, b, false, F32); }
export function f32_le(a: u32, b: u32): u32 { return less(a, b, true, F32); }
export function f64_eq(a: u64, b: u64): u32 { return eq(a, b, F64); }
export function f64_lt(a: u64, b: u64): u32 { return less(a, b, false, F64); }
export function f64_le(a: u64, b: u64): u32 { return less(a, b, true, F64); }

export function f32_min(a: u32, b: u32): u32 { return <u32>minMax(a, b, false, F32); }
export function f32_max(a: u32, b: u32): u32 { return <u32>minMax(a, b, true, F32); }
export function f64_min(a: u64, b: u64): u64 { return minMax(a, b, false, F64); }
export function f64_max(a: u64, b: u64): u64 { return minMax(a, b, true, F64); }

export function f32_classify(a: u32): u32 { return classify(a, F32); }
export function f64_classify(a: u64): u32 { return classify(a, F64); }

export function f32_to_i32(a: u32, rm: u32): u64 { return toInt(a, rm, true, 32, F32); }
export function f32_to_u32(a: u32, rm: u32): u64 { return toInt(a, rm, false, 32, F32); }
export function f32_to_i64(a: u32, rm: u32): u64 { return toInt(a, rm, true, 64, F32); }
export function f32_to_u64(a: u32, rm: u32): u64 { return toInt(a, rm, false, 64, F32); }
export function f64_to_i32(a: u64, rm: u32): u64 { return toInt(a, rm, true, 32, F64); }
export function f64_to_u32(a: u64, rm: u32): u64 { return toInt(a, rm, false, 32, F64); }
export function f64_to_i64(a: u64, rm: u32): u64 { return toInt(a, rm, true, 64, F64); }
export function f64_to_u64(a: u64, rm: u32): u64 { return toInt(a, rm, false, 64, F64); }

export function i32_to_f32(a: u64, rm: u32): u32 { return <u32>fromInt(a, rm, true, 32, F32); }
export function u32_to_f32(a: u64, rm: u32): u32 { return <u32>fromInt(a, rm, false, 32, F32); }
export function i64_to_f32(a: u64, rm: u32): u32 { return <u32>fromInt(a, rm, true, 64, F32); }
export function u64_to_f32(a: u64, rm: u32): u32 { return <u32>fromInt(a, rm, false, 64, F32); }
export function i32_to_f64(a: u64, rm: u32): u64 { return fromInt(a, rm, true, 32, F64); }
export function u32_to_f64(a: u64, rm: u32): u64 { return fromInt(a, rm, false, 32, F64); }
export function i64_to_f64(a: u64, rm: u32): u64 { return fromInt(a, rm, true, 64, F64); }
export function u64_to_f64(a: u64, rm: u32): u64 { return fromInt(a, rm, false, 64, F64); }

export function f32_to_f64(a: u32): u64 { return convert(a, RNE, F32, F64); }
export function f64_to_f32(a: u64, rm: u32): u32 { return <u32>convert(a, rm, F64, F32); }
