// F and D computational instructions (unprivileged spec, "F" and "D" chapters) over the exact
// integer arithmetic of softfloat.ts. Singles live NaN-boxed in the 64-bit f registers: a
// single read from a register whose upper half is not all ones is the canonical NaN.
// Loads and stores of f registers are in the main decoder (index.ts); the caller has checked
// that mstatus.FS is not Off.
import * as sf from './softfloat';
import { HART_FCSR } from '../layout';
import { getX, setX, getF, setF, field, setField, raise, CAUSE_ILLEGAL } from './state';
import { markFpDirty } from './csr';

export const NAN_BOX: u64 = 0xffff_ffff_0000_0000;
const CANONICAL_NAN_S: u32 = 0x7fc0_0000;
const SIGN_S: u32 = 0x8000_0000;
const SIGN_D: u64 = 0x8000_0000_0000_0000;

@inline function readS(i: u32): u32 {
  const v = getF(i);
  return (v & NAN_BOX) == NAN_BOX ? <u32>v : CANONICAL_NAN_S;
}
@inline function writeS(i: u32, v: u32): void { setF(i, NAN_BOX | <u64>v); }

/** The instruction's rounding mode (DYN resolved from frm), or -1 when it is reserved. */
function roundingMode(insn: u32): i32 {
  let rm = <i32>(insn >> 12) & 7;
  if (rm == 7) rm = <i32>(field(HART_FCSR) >> 5) & 7;
  return rm > 4 ? -1 : rm;
}

function illegal(): void { raise(CAUSE_ILLEGAL, 0); }

/** Accrues the flags the operation raised into fcsr; an FP register or fflags was written. */
function finish(): void {
  if (sf.fflags != 0) {
    setField(HART_FCSR, field(HART_FCSR) | sf.fflags);
    sf.fflags = 0;
  }
  markFpDirty();
}

/** FMADD, FMSUB, FNMSUB, FNMADD (opcodes 0x43, 0x47, 0x4B, 0x4F). */
export function fusedMultiplyAdd(insn: u32): void {
  const rm = roundingMode(insn);
  const fmt = (insn >> 25) & 3;
  if (rm < 0 || fmt > 1) return illegal();
  const rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31, rs3 = insn >> 27;
  const kind = (insn >> 2) & 3; // 0 fmadd, 1 fmsub, 2 fnmsub, 3 fnmadd
  const negateProduct = kind >= 2;
  const negateAddend = kind == 1 || kind == 3;
  if (fmt == 0) {
    const a = readS(rs1) ^ (negateProduct ? SIGN_S : 0);
    const c = readS(rs3) ^ (negateAddend ? SIGN_S : 0);
    writeS(rd, sf.f32_fma(a, readS(rs2), c, rm));
  } else {
    const a = getF(rs1) ^ (negateProduct ? SIGN_D : 0);
    const c = getF(rs3) ^ (negateAddend ? SIGN_D : 0);
    setF(rd, sf.f64_fma(a, getF(rs2), c, rm));
  }
  finish();
}

/** The OP-FP major opcode (0x53). */
export function floatOperation(insn: u32): void {
  const rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
  const funct3 = (insn >> 12) & 7;
  const funct7 = insn >> 25;
  const double = (funct7 & 3) == 1;
  if ((funct7 & 3) > 1) return illegal();
  switch (funct7 >> 2) {
    case 0: case 1: case 2: case 3: { // fadd fsub fmul fdiv
      const rm = roundingMode(insn);
      if (rm < 0) return illegal();
      const op = funct7 >> 2;
      if (double) {
        const a = getF(rs1), b = getF(rs2);
        setF(rd, op == 0 ? sf.f64_add(a, b, rm) : op == 1 ? sf.f64_sub(a, b, rm)
          : op == 2 ? sf.f64_mul(a, b, rm) : sf.f64_div(a, b, rm));
      } else {
        const a = readS(rs1), b = readS(rs2);
        writeS(rd, op == 0 ? sf.f32_add(a, b, rm) : op == 1 ? sf.f32_sub(a, b, rm)
          : op == 2 ? sf.f32_mul(a, b, rm) : sf.f32_div(a, b, rm));
      }
      break;
    }
    case 11: { // fsqrt
      const rm = roundingMode(insn);
      if (rm < 0 || rs2 != 0) return illegal();
      if (double) setF(rd, sf.f64_sqrt(getF(rs1), rm));
      else writeS(rd, sf.f32_sqrt(readS(rs1), rm));
      break;
    }
    case 4: { // fsgnj fsgnjn fsgnjx
      if (funct3 > 2) return illegal();
      if (double) {
        const a = getF(rs1), b = getF(rs2);
        const sign = funct3 == 0 ? b : funct3 == 1 ? ~b : a ^ b;
        setF(rd, (a & ~SIGN_D) | (sign & SIGN_D));
      } else {
        const a = readS(rs1), b = readS(rs2);
        const sign = funct3 == 0 ? b : funct3 == 1 ? ~b : a ^ b;
        writeS(rd, (a & ~SIGN_S) | (sign & SIGN_S));
      }
      break;
    }
    case 5: { // fmin fmax
      if (funct3 > 1) return illegal();
      if (double) setF(rd, funct3 == 0 ? sf.f64_min(getF(rs1), getF(rs2)) : sf.f64_max(getF(rs1), getF(rs2)));
      else writeS(rd, funct3 == 0 ? sf.f32_min(readS(rs1), readS(rs2)) : sf.f32_max(readS(rs1), readS(rs2)));
      break;
    }
    case 8: { // fcvt.s.d, fcvt.d.s
      const rm = roundingMode(insn);
      if (rm < 0 || rs2 != (double ? 0 : 1)) return illegal();
      if (double) setF(rd, sf.f32_to_f64(readS(rs1)));
      else writeS(rd, sf.f64_to_f32(getF(rs1), rm));
      break;
    }
    case 20: { // fle flt feq
      if (funct3 > 2) return illegal();
      let result: u32;
      if (double) {
        const a = getF(rs1), b = getF(rs2);
        result = funct3 == 0 ? sf.f64_le(a, b) : funct3 == 1 ? sf.f64_lt(a, b) : sf.f64_eq(a, b);
      } else {
        const a = readS(rs1), b = readS(rs2);
        result = funct3 == 0 ? sf.f32_le(a, b) : funct3 == 1 ? sf.f32_lt(a, b) : sf.f32_eq(a, b);
      }
      setX(rd, result);
      break;
    }
    case 24: { // fcvt.{w,wu,l,lu}.{s,d}
      const rm = roundingMode(insn);
      if (rm < 0 || rs2 > 3) return illegal();
      let result: u64;
      if (double) {
        const a = getF(rs1);
        result = rs2 == 0 ? sf.f64_to_i32(a, rm) : rs2 == 1 ? sf.f64_to_u32(a, rm)
          : rs2 == 2 ? sf.f64_to_i64(a, rm) : sf.f64_to_u64(a, rm);
      } else {
        const a = readS(rs1);
        result = rs2 == 0 ? sf.f32_to_i32(a, rm) : rs2 == 1 ? sf.f32_to_u32(a, rm)
          : rs2 == 2 ? sf.f32_to_i64(a, rm) : sf.f32_to_u64(a, rm);
      }
      setX(rd, result);
      break;
    }
    case 26: { // fcvt.{s,d}.{w,wu,l,lu}
      const rm = roundingMode(insn);
      if (rm < 0 || rs2 > 3) return illegal();
      const a = getX(rs1);
      if (double) {
        setF(rd, rs2 == 0 ? sf.i32_to_f64(a, rm) : rs2 == 1 ? sf.u32_to_f64(a, rm)
          : rs2 == 2 ? sf.i64_to_f64(a, rm) : sf.u64_to_f64(a, rm));
      } else {
        writeS(rd, rs2 == 0 ? sf.i32_to_f32(a, rm) : rs2 == 1 ? sf.u32_to_f32(a, rm)
          : rs2 == 2 ? sf.i64_to_f32(a, rm) : sf.u64_to_f32(a, rm));
      }
      break;
    }
    case 28: { // fmv.x.{w,d}, fclass
      if (rs2 != 0 || funct3 > 1) return illegal();
      if (funct3 == 1) setX(rd, double ? sf.f64_classify(getF(rs1)) : sf.f32_classify(readS(rs1)));
      else setX(rd, double ? getF(rs1) : <u64><i64><i32>getF(rs1));
      return; // only an integer register changed
    }
    case 30: { // fmv.{w,d}.x
      if (rs2 != 0 || funct3 != 0) return illegal();
      if (double) setF(rd, getX(rs1));
      else writeS(rd, <u32>getX(rs1));
      break;
    }
    default:
      return illegal();
  }
  finish();
}
