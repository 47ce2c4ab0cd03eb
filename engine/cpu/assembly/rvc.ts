// RV64C (unprivileged spec, "C" Standard Extension for Compressed Instructions, RVC
// instruction set listings): each 16-bit instruction is expanded to the 32-bit instruction it
// stands for, which the one decoder then executes. Reserved and illegal encodings (including
// the all-zero parcel) expand to 0, which is not a valid 32-bit instruction.

// 32-bit instruction formats.
@inline function iType(op: u32, rd: u32, f3: u32, rs1: u32, imm: u32): u32 {
  return (imm << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
@inline function sType(op: u32, f3: u32, rs1: u32, rs2: u32, imm: u32): u32 {
  return ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op;
}
@inline function rType(op: u32, rd: u32, f3: u32, rs1: u32, rs2: u32, f7: u32): u32 {
  return (f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op;
}
function bType(f3: u32, rs1: u32, imm: u32): u32 { // rs2 = x0
  return (((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs1 << 15) | (f3 << 12)
    | (((imm >> 1) & 15) << 8) | (((imm >> 11) & 1) << 7) | 0x63;
}
function jType(rd: u32, imm: u32): u32 {
  return (((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20)
    | (((imm >> 12) & 0xff) << 12) | (rd << 7) | 0x6f;
}

const OP_LOAD: u32 = 0x03;
const OP_LOAD_FP: u32 = 0x07;
const OP_IMM: u32 = 0x13;
const OP_IMM_32: u32 = 0x1b;
const OP_STORE: u32 = 0x23;
const OP_STORE_FP: u32 = 0x27;
const OP: u32 = 0x33;
const OP_LUI: u32 = 0x37;
const OP_32: u32 = 0x3b;
const OP_JALR: u32 = 0x67;
const EBREAK: u32 = 0x00100073;

@inline function bit(c: u32, from: u32, to: u32): u32 { return ((c >> from) & 1) << to; }
/** Sign-extends the low `bits` bits of x to 32 bits. */
@inline function sext(x: u32, bits: u32): u32 { return <u32>((<i32>(x << (32 - bits))) >> (32 - bits)); }

// Immediates shared by several formats.
function ciImm(c: u32): u32 { return sext(bit(c, 12, 5) | ((c >> 2) & 31), 6); }
function clDoubleOffset(c: u32): u32 { return (((c >> 10) & 7) << 3) | (((c >> 5) & 3) << 6); }
function clWordOffset(c: u32): u32 { return (((c >> 10) & 7) << 3) | bit(c, 6, 2) | bit(c, 5, 6); }
function ldspOffset(c: u32): u32 { return bit(c, 12, 5) | (((c >> 5) & 3) << 3) | (((c >> 2) & 7) << 6); }
function sdspOffset(c: u32): u32 { return (((c >> 10) & 7) << 3) | (((c >> 7) & 7) << 6); }

export function expandCompressed(c: u32): u32 {
  const rdFull = (c >> 7) & 31;
  const rs2Full = (c >> 2) & 31;
  const rdShort = ((c >> 2) & 7) + 8; // rd' / rs2' in bits 4:2
  const rs1Short = ((c >> 7) & 7) + 8; // rs1' / rd' in bits 9:7
  const f3 = (c >> 13) & 7;
  switch (c & 3) {
    case 0:
      switch (f3) {
        case 0: { // c.addi4spn
          const imm = (((c >> 11) & 3) << 4) | (((c >> 7) & 15) << 6) | bit(c, 6, 2) | bit(c, 5, 3);
          return imm == 0 ? 0 : iType(OP_IMM, rdShort, 0, 2, imm);
        }
        case 1: return iType(OP_LOAD_FP, rdShort, 3, rs1Short, clDoubleOffset(c)); // c.fld
        case 2: return iType(OP_LOAD, rdShort, 2, rs1Short, clWordOffset(c)); // c.lw
        case 3: return iType(OP_LOAD, rdShort, 3, rs1Short, clDoubleOffset(c)); // c.ld
        case 5: return sType(OP_STORE_FP, 3, rs1Short, rdShort, clDoubleOffset(c)); // c.fsd
        case 6: return sType(OP_STORE, 2, rs1Short, rdShort, clWordOffset(c)); // c.sw
        case 7: return sType(OP_STORE, 3, rs1Short, rdShort, clDoubleOffset(c)); // c.sd
      }
      return 0;
    case 1:
      switch (f3) {
        case 0: return iType(OP_IMM, rdFull, 0, rdFull, ciImm(c) & 0xfff); // c.addi, c.nop
        case 1: return rdFull == 0 ? 0 : iType(OP_IMM_32, rdFull, 0, rdFull, ciImm(c) & 0xfff); // c.addiw
        case 2: return iType(OP_IMM, rdFull, 0, 0, ciImm(c) & 0xfff); // c.li
        case 3: {
          if (rdFull == 2) { // c.addi16sp
            const imm = sext(bit(c, 12, 9) | bit(c, 6, 4) | bit(c, 5, 6) | (((c >> 3) & 3) << 7) | bit(c, 2, 5), 10);
            return imm == 0 ? 0 : iType(OP_IMM, 2, 0, 2, imm & 0xfff);
          }
          const imm = ciImm(c); // c.lui: nzimm[17:12]
          return imm == 0 ? 0 : ((imm << 12) | (rdFull << 7) | OP_LUI);
        }
        case 4: {
          const shamt = bit(c, 12, 5) | ((c >> 2) & 31);
          switch ((c >> 10) & 3) {
            case 0: return iType(OP_IMM, rs1Short, 5, rs1Short, shamt); // c.srli
            case 1: return iType(OP_IMM, rs1Short, 5, rs1Short, shamt | 0x400); // c.srai
            case 2: return iType(OP_IMM, rs1Short, 7, rs1Short, ciImm(c) & 0xfff); // c.andi
          }
          const kind = (c >> 5) & 3;
          if ((c & 0x1000) == 0) {
            // c.sub c.xor c.or c.and
            if (kind == 0) return rType(OP, rs1Short, 0, rs1Short, rdShort, 0x20);
            return rType(OP, rs1Short, kind == 1 ? 4 : kind == 2 ? 6 : 7, rs1Short, rdShort, 0);
          }
          if (kind == 0) return rType(OP_32, rs1Short, 0, rs1Short, rdShort, 0x20); // c.subw
          if (kind == 1) return rType(OP_32, rs1Short, 0, rs1Short, rdShort, 0); // c.addw
          return 0;
        }
        case 5: { // c.j
          const imm = bit(c, 12, 11) | bit(c, 11, 4) | (((c >> 9) & 3) << 8) | bit(c, 8, 10) | bit(c, 7, 6)
            | bit(c, 6, 7) | (((c >> 3) & 7) << 1) | bit(c, 2, 5);
          return jType(0, sext(imm, 12));
        }
        default: { // c.beqz, c.bnez
          const imm = bit(c, 12, 8) | (((c >> 10) & 3) << 3) | (((c >> 5) & 3) << 6) | (((c >> 3) & 3) << 1) | bit(c, 2, 5);
          return bType(f3 == 6 ? 0 : 1, rs1Short, sext(imm, 9));
        }
      }
    case 2:
      switch (f3) {
        case 0: return iType(OP_IMM, rdFull, 1, rdFull, bit(c, 12, 5) | rs2Full); // c.slli
        case 1: return iType(OP_LOAD_FP, rdFull, 3, 2, ldspOffset(c)); // c.fldsp
        case 2: { // c.lwsp
          const offset = bit(c, 12, 5) | (((c >> 4) & 7) << 2) | (((c >> 2) & 3) << 6);
          return rdFull == 0 ? 0 : iType(OP_LOAD, rdFull, 2, 2, offset);
        }
        case 3: return rdFull == 0 ? 0 : iType(OP_LOAD, rdFull, 3, 2, ldspOffset(c)); // c.ldsp
        case 4:
          if ((c & 0x1000) == 0) {
            if (rs2Full == 0) return rdFull == 0 ? 0 : iType(OP_JALR, 0, 0, rdFull, 0); // c.jr
            return rType(OP, rdFull, 0, 0, rs2Full, 0); // c.mv
          }
          if (rs2Full == 0) return rdFull == 0 ? EBREAK : iType(OP_JALR, 1, 0, rdFull, 0); // c.ebreak, c.jalr
          return rType(OP, rdFull, 0, rdFull, rs2Full, 0); // c.add
        case 5: return sType(OP_STORE_FP, 3, 2, rs2Full, sdspOffset(c)); // c.fsdsp
        case 6: return sType(OP_STORE, 2, 2, rs2Full, (((c >> 9) & 15) << 2) | (((c >> 7) & 3) << 6)); // c.swsp
        case 7: return sType(OP_STORE, 3, 2, rs2Full, sdspOffset(c)); // c.sdsp
      }
  }
  return 0;
}
