// The M extension's multiply-high, divide and remainder (unprivileged spec, "M" Standard
// Extension): the interpreter (index.ts) calls these per instruction, compiled blocks (jit.ts)
// through mulDiv. Division by zero and the one signed overflow (most negative ÷ -1) do not trap:
// the quotient is all ones or the dividend, the remainder the dividend or 0 (the spec's table
// "Semantics for division by zero and division overflow").
import { mulHigh } from './softfloat';

@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }

@inline export function mulhSigned(a: u64, b: u64): u64 {
  return mulHigh(a, b) - (<i64>a < 0 ? b : 0) - (<i64>b < 0 ? a : 0);
}
@inline export function mulhSignedUnsigned(a: u64, b: u64): u64 {
  return mulHigh(a, b) - (<i64>a < 0 ? b : 0);
}
@inline export function mulhUnsigned(a: u64, b: u64): u64 {
  return mulHigh(a, b);
}
export function divSigned(a: u64, b: u64): u64 {
  if (b == 0) return <u64>-1;
  if (a == 0x8000_0000_0000_0000 && b == <u64>-1) return a;
  return <u64>(<i64>a / <i64>b);
}
@inline export function divUnsigned(a: u64, b: u64): u64 {
  return b == 0 ? <u64>-1 : a / b;
}
export function remSigned(a: u64, b: u64): u64 {
  if (b == 0) return a;
  if (a == 0x8000_0000_0000_0000 && b == <u64>-1) return 0;
  return <u64>(<i64>a % <i64>b);
}
@inline export function remUnsigned(a: u64, b: u64): u64 {
  return b == 0 ? a : a % b;
}
export function divSigned32(a: u64, b: u64): u64 {
  const x = <i32>a, y = <i32>b;
  if (y == 0) return <u64>-1;
  if (x == i32.MIN_VALUE && y == -1) return sext32(<u64>x);
  return <u64><i64>(x / y);
}
@inline export function divUnsigned32(a: u64, b: u64): u64 {
  const x = <u32>a, y = <u32>b;
  return y == 0 ? <u64>-1 : sext32(<u64>(x / y));
}
export function remSigned32(a: u64, b: u64): u64 {
  const x = <i32>a, y = <i32>b;
  if (y == 0) return sext32(<u64>x);
  if (x == i32.MIN_VALUE && y == -1) return 0;
  return <u64><i64>(x % y);
}
@inline export function remUnsigned32(a: u64, b: u64): u64 {
  const x = <u32>a, y = <u32>b;
  return y == 0 ? sext32(<u64>x) : sext32(<u64>(x % y));
}

/**
 * MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU (op = funct3) and DIVW, DIVUW, REMW, REMUW
 * (op = 8 + funct3): what a compiled block calls (MUL and MULW it does inline).
 */
export function mulDiv(op: i32, a: u64, b: u64): u64 {
  switch (op) {
    case 1: return mulhSigned(a, b);
    case 2: return mulhSignedUnsigned(a, b);
    case 3: return mulhUnsigned(a, b);
    case 4: return divSigned(a, b);
    case 5: return divUnsigned(a, b);
    case 6: return remSigned(a, b);
    case 7: return remUnsigned(a, b);
    case 12: return divSigned32(a, b);
    case 13: return divUnsigned32(a, b);
    case 14: return remSigned32(a, b);
    default: return remUnsigned32(a, b); // 15
  }
}
