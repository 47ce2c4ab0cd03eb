// Seeded operands for the differential test: edge values, random bit patterns, and operands
// built to land on the hard cases (cancellation, tiny results, exact ties, integer limits).
import type { Kind, Operation } from './harness.ts';

/** splitmix64: a small seeded generator of 64-bit values. */
export class Random {
  private state: bigint;
  constructor(seed: bigint) { this.state = seed; }
  next(): bigint {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  below(n: number): number { return Number(this.next() % BigInt(n)); }
  pick<T>(items: readonly T[]): T { return items[this.below(items.length)]; }
}

interface Format { frac: bigint; expBits: bigint; bias: number }
const FORMATS: Record<'f32' | 'f64', Format> = {
  f32: { frac: 23n, expBits: 8n, bias: 127 },
  f64: { frac: 52n, expBits: 11n, bias: 1023 },
};

function pack(f: Format, sign: bigint, exp: number, frac: bigint): bigint {
  const expMax = (1 << Number(f.expBits)) - 1;
  const field = BigInt(Math.min(Math.max(exp + f.bias, 0), expMax));
  return (sign << (f.frac + f.expBits)) | (field << f.frac) | (frac & ((1n << f.frac) - 1n));
}

/** Bit patterns every operation must get right. */
export function edgeValues(kind: 'f32' | 'f64'): bigint[] {
  const f = FORMATS[kind];
  const expMax = (1 << Number(f.expBits)) - 1 - f.bias;
  const minExp = 1 - f.bias;
  const fracAll = (1n << f.frac) - 1n;
  const positive = [
    pack(f, 0n, -f.bias, 0n), // 0
    pack(f, 0n, -f.bias, 1n), // smallest subnormal
    pack(f, 0n, -f.bias, fracAll), // largest subnormal
    pack(f, 0n, minExp, 0n), // smallest normal
    pack(f, 0n, 0, 0n), // 1
    pack(f, 0n, -1, 0n), // 0.5
    pack(f, 0n, 0, 1n << (f.frac - 1n)), // 1.5
    pack(f, 0n, 1, 1n << (f.frac - 2n)), // 2.5
    pack(f, 0n, 31, 0n), pack(f, 0n, 32, 0n), pack(f, 0n, 63, 0n), pack(f, 0n, 64, 0n),
    pack(f, 0n, 30, fracAll), pack(f, 0n, 31, fracAll), pack(f, 0n, 63, fracAll),
    pack(f, 0n, expMax - 1, fracAll), // largest finite
    pack(f, 0n, expMax, 0n), // infinity
    pack(f, 0n, expMax, 1n << (f.frac - 1n)), // canonical quiet NaN
    pack(f, 0n, expMax, 1n), // signaling NaN
    pack(f, 0n, expMax, (1n << (f.frac - 1n)) | 5n), // quiet NaN with a payload
  ];
  const signBit = 1n << (f.frac + f.expBits);
  return [...positive, ...positive.map((x) => x | signBit)];
}

function randomFloat(random: Random, kind: 'f32' | 'f64'): bigint {
  const f = FORMATS[kind];
  const sign = random.next() & 1n;
  const frac = random.pick([0n, 1n, (1n << f.frac) - 1n, random.next(), random.next(), random.next() >> 40n]);
  switch (random.below(4)) {
    case 0: return BigInt.asUintN(Number(f.frac + f.expBits + 1n), random.next());
    case 1: return pack(f, sign, random.below(2 * f.bias + 2) - f.bias, frac); // any exponent
    case 2: return pack(f, sign, random.below(140) - 70, frac); // moderate magnitudes
    default: return pack(f, sign, random.pick([-f.bias, 1 - f.bias, 2 - f.bias, f.bias - 1, f.bias]), frac);
  }
}

/** A value near `x`: the same or a neighbouring exponent, a few bits changed. */
function neighbour(random: Random, kind: 'f32' | 'f64', x: bigint): bigint {
  const f = FORMATS[kind];
  const width = Number(f.frac + f.expBits + 1n);
  const nudge = BigInt(random.below(8)) << BigInt(random.below(Number(f.frac)));
  const shifted = x + (BigInt(random.below(5) - 2) << f.frac) + nudge;
  return BigInt.asUintN(width, shifted ^ (random.next() & 1n ? 1n << BigInt(width - 1) : 0n));
}

function toFloatBits(kind: 'f32' | 'f64', value: number): bigint {
  const view = new DataView(new ArrayBuffer(8));
  if (kind === 'f64') { view.setFloat64(0, value); return view.getBigUint64(0); }
  view.setFloat32(0, value);
  return BigInt(view.getUint32(0));
}

function fromFloatBits(kind: 'f32' | 'f64', bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  if (kind === 'f64') { view.setBigUint64(0, bits); return view.getFloat64(0); }
  view.setUint32(0, Number(bits));
  return view.getFloat32(0);
}

/** The result exponent at the ends of the format: around the subnormal range or overflow. */
function boundaryExponent(random: Random, kind: 'f32' | 'f64'): number {
  const f = FORMATS[kind];
  return random.below(2)
    ? 1 - f.bias - random.below(Number(f.frac) + 4) // tiny: normal down to below the subnormals
    : f.bias - 1 + random.below(3);                 // near the largest finite value
}

/** `x` with its exponent field replaced (a normal number of that exponent). */
function withExponent(kind: 'f32' | 'f64', x: bigint, exp: number): bigint {
  const f = FORMATS[kind];
  const sign = x >> (f.frac + f.expBits);
  const clamped = Math.min(Math.max(exp, 1 - f.bias), f.bias);
  return pack(f, sign, clamped, x);
}

function exponentOf(kind: 'f32' | 'f64', x: bigint): number {
  const f = FORMATS[kind];
  return Number((x >> f.frac) & ((1n << f.expBits) - 1n)) - f.bias;
}

/** Integers for the int → float conversions: limits, random widths, both signs. */
function randomInt(random: Random): bigint {
  if (random.below(4) === 0) {
    return BigInt.asUintN(64, random.pick([0n, 1n, -1n, 0x7fffffffn, -0x80000000n, 0xffffffffn,
      (1n << 24n) + 1n, (1n << 53n) + 1n, (1n << 63n) - 1n, -(1n << 63n), 0xfffffffffffffc00n]));
  }
  const bits = BigInt(1 + random.below(64));
  const value = random.next() & ((1n << bits) - 1n);
  return random.below(2) ? value : BigInt.asUintN(64, -value);
}

/** Values near integers and near the integer limits for the float → int conversions. */
function randomConvertible(random: Random, kind: 'f32' | 'f64'): bigint {
  const limit = random.pick([2 ** 31, 2 ** 32, 2 ** 63, 2 ** 64, 0]);
  const sign = random.below(2) ? -1 : 1;
  const value = sign * (limit + random.pick([0, 1, -1, 0.5, -0.5, 1.5, 2.5, 0.25, 0.75, random.below(1000) / 8]));
  const bits = toFloatBits(kind, value);
  return random.below(3) ? bits : neighbour(random, kind, bits);
}

/** Operands for one case of `operation` (always three; unused ones are ignored). */
export function operandsFor(random: Random, operation: Operation): bigint[] {
  const kind: Kind = operation.input;
  if (kind === 'int') return [randomInt(random), 0n, 0n];
  if (kind !== 'f32' && kind !== 'f64') throw new Error(`no float operands for ${kind}`);
  const any = (): bigint => (random.below(5) === 0 ? random.pick(edgeValues(kind)) : randomFloat(random, kind));
  if (operation.name.includes('_to_') && operation.output === 'int' && random.below(2)) {
    return [randomConvertible(random, kind), 0n, 0n];
  }
  if (operation.name === 'f64_to_f32' && random.below(2)) {
    return [withExponent('f64', randomFloat(random, 'f64'), boundaryExponent(random, 'f32')), 0n, 0n];
  }
  const a = any();
  let b = random.below(3) === 0 ? neighbour(random, kind, a) : any();
  if (/_(mul|div|fma)$/.test(operation.name) && random.below(3) === 0) {
    // Choose b's exponent so that the product or quotient lands at the end of the range.
    const target = boundaryExponent(random, kind);
    const ea = exponentOf(kind, a);
    b = withExponent(kind, b, operation.name.endsWith('div') ? ea - target : target - ea);
  }
  let c = any();
  if (operation.arity === 3 && random.below(2)) {
    // An addend close to -(a*b) makes the fused sum cancel, where one rounding matters most.
    const product = kind === 'f64'
      ? fromFloatBits(kind, a) * fromFloatBits(kind, b)
      : Math.fround(fromFloatBits(kind, a) * fromFloatBits(kind, b));
    c = neighbour(random, kind, toFloatBits(kind, -product));
    if (random.below(2)) c = toFloatBits(kind, -product);
  }
  return [a, b, c];
}
