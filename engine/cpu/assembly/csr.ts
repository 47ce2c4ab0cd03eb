// Control and status registers, traps and interrupts (privileged spec 1.12: "Machine-Level
// ISA", "Supervisor-Level ISA"; Sstc; Zicntr). The registers live in the HART block
// (engine/cpu/layout.ts); mstatus is stored without its read-only fields (UXL, SXL, SD), which
// reads add.
//
//   0x001-0x003 fflags frm fcsr        0xC00-0xC1F cycle time instret hpmcounter3-31 (0)
//   0x100 sstatus  0x104 sie  0x105 stvec  0x106 scounteren  0x10A senvcfg
//   0x140 sscratch 0x141 sepc 0x142 scause 0x143 stval 0x144 sip 0x14D stimecmp 0x180 satp
//   0x300 mstatus  0x301 misa 0x302 medeleg 0x303 mideleg 0x304 mie 0x305 mtvec
//   0x306 mcounteren 0x30A menvcfg 0x320 mcountinhibit 0x323-0x33F mhpmevent (0)
//   0x340 mscratch 0x341 mepc 0x342 mcause 0x343 mtval 0x344 mip
//   0x3A0-0x3AE pmpcfg (even)  0x3B0-0x3EF pmpaddr  (stored, not enforced)
//   0xB00 mcycle 0xB02 minstret 0xB03-0xB1F mhpmcounter (0)  0xF11-0xF15 ids (0, mhartid)
import {
  HART_PRIV, HART_WAITING, HART_IRQ_LINES, HART_MIP_SOFT, HART_MTIMECMP, HART_INSTRET,
  HART_CYCLE_DELTA, HART_MSTATUS, HART_MEDELEG, HART_MIDELEG, HART_MIE, HART_MTVEC,
  HART_MSCRATCH, HART_MEPC, HART_MCAUSE, HART_MTVAL, HART_MCOUNTEREN, HART_MENVCFG,
  HART_MCOUNTINHIBIT, HART_STVEC, HART_SSCRATCH, HART_SEPC, HART_SCAUSE, HART_STVAL,
  HART_SCOUNTEREN, HART_SENVCFG, HART_SATP, HART_STIMECMP, HART_FCSR, HART_MHARTID,
  HART_PMPCFG, HART_PMPADDR,
} from '../layout';
import {
  hb, field, setField, priv, mstatus, raise, excCause, endChunk, mtime, refreshTime,
  PRIV_U, PRIV_S, PRIV_M, CAUSE_ILLEGAL,
} from './state';
import { selectTlb, flushTlb, flushTranslatedTlb, MSTATUS_MPRV, MSTATUS_SUM, MSTATUS_MXR } from './mmu';

export const INTERRUPT: u64 = <u64>1 << 63;

const MSTATUS_SIE: u64 = 1 << 1;
const MSTATUS_MIE: u64 = 1 << 3;
const MSTATUS_SPIE: u64 = 1 << 5;
const MSTATUS_MPIE: u64 = 1 << 7;
const MSTATUS_SPP: u64 = 1 << 8;
const MSTATUS_MPP: u64 = 3 << 11;
export const MSTATUS_FS: u64 = 3 << 13;
export const MSTATUS_TVM: u64 = 1 << 20;
export const MSTATUS_TW: u64 = 1 << 21;
export const MSTATUS_TSR: u64 = 1 << 22;
const MSTATUS_WRITABLE: u64 = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP
  | MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW
  | MSTATUS_TSR;
const MSTATUS_XLEN: u64 = (<u64>2 << 32) | (<u64>2 << 34); // UXL = SXL = 64 bits, read-only
const MSTATUS_SD: u64 = <u64>1 << 63;
// sstatus: SIE SPIE UBE SPP VS FS XS SUM MXR UXL SD readable; SIE SPIE SPP FS SUM MXR writable.
const SSTATUS_READABLE: u64 = 0x8000_0003_000d_e762;
const SSTATUS_WRITABLE: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

// misa: MXL = 64, extensions A C D F I M S U.
const MISA: u64 = (<u64>2 << 62) | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 5) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);

// mip/mie bits.
const SSIP: u64 = 1 << 1;
const MSIP: u64 = 1 << 3;
const STIP: u64 = 1 << 5;
const MTIP: u64 = 1 << 7;
const SEIP: u64 = 1 << 9;
const MEIP: u64 = 1 << 11;
const SUPERVISOR_INTERRUPTS: u64 = SSIP | STIP | SEIP;
const ALL_INTERRUPTS: u64 = SUPERVISOR_INTERRUPTS | MSIP | MTIP | MEIP;
// Exceptions medeleg can delegate: all but 11 (ECALL from M) and the reserved 10 and 14.
const DELEGABLE_EXCEPTIONS: u64 = 0xb3ff;

const MENVCFG_STCE: u64 = <u64>1 << 63;
const ENVCFG_FIOM: u64 = 1;
const COUNTEREN_TM: u64 = 1 << 1;
const PMPADDR_MASK: u64 = (<u64>1 << 54) - 1;
const SATP_MODE_AND_PPN: u64 = (<u64>0xf << 60) | ((<u64>1 << 44) - 1);

// ---- interrupts ----------------------------------------------------------------------------

/** mip as the hart sees it: device lines, software bits and the two timer comparisons. */
export function effectiveMip(): u64 {
  let mip = <u64>(atomic.load<i32>(hb + HART_IRQ_LINES) | load<i32>(hb + HART_MIP_SOFT));
  if (mtime >= field(HART_MTIMECMP)) mip |= MTIP;
  if ((field(HART_MENVCFG) & MENVCFG_STCE) != 0) {
    mip = (mip & ~STIP) | (mtime >= field(HART_STIMECMP) ? STIP : 0);
  }
  return mip;
}

/** Whether WFI may stop: no interrupt both pending and enabled in mie. */
export function wfiCanSleep(): bool {
  return (effectiveMip() & field(HART_MIE)) == 0;
}

function highestPriority(bits: u64): i32 {
  if ((bits & MEIP) != 0) return 11;
  if ((bits & MSIP) != 0) return 3;
  if ((bits & MTIP) != 0) return 7;
  if ((bits & SEIP) != 0) return 9;
  if ((bits & SSIP) != 0) return 1;
  return 5;
}

/** The interrupt to take now (its cause code), or -1 (privileged spec 3.1.9). */
export function pendingInterrupt(): i32 {
  const pending = effectiveMip() & field(HART_MIE);
  if (pending == 0) return -1;
  const p = priv();
  const s = mstatus();
  const mideleg = field(HART_MIDELEG);
  const machine = pending & ~mideleg;
  if (machine != 0 && (p < PRIV_M || (s & MSTATUS_MIE) != 0)) return highestPriority(machine);
  const supervisor = pending & mideleg;
  if (supervisor != 0 && (p < PRIV_S || (p == PRIV_S && (s & MSTATUS_SIE) != 0))) {
    return highestPriority(supervisor);
  }
  return -1;
}

// ---- traps ---------------------------------------------------------------------------------

export function setPriv(p: i32): void {
  store<i32>(hb + HART_PRIV, p);
  selectTlb();
}

/** Enters the trap handler for `cause` (INTERRUPT bit included); returns the new pc. */
export function takeTrap(cause: u64, tval: u64, epc: u64): u64 {
  const interrupt = (cause & INTERRUPT) != 0;
  const code = cause & 63;
  const p = priv();
  const delegation = field(interrupt ? HART_MIDELEG : HART_MEDELEG);
  let s = mstatus();
  let vector: u64;
  if (p <= PRIV_S && ((delegation >> code) & 1) != 0) {
    setField(HART_SCAUSE, cause);
    setField(HART_SEPC, epc);
    setField(HART_STVAL, tval);
    s = (s & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP))
      | ((s & MSTATUS_SIE) != 0 ? MSTATUS_SPIE : 0) | (p == PRIV_S ? MSTATUS_SPP : 0);
    setField(HART_MSTATUS, s);
    setPriv(PRIV_S);
    vector = field(HART_STVEC);
  } else {
    setField(HART_MCAUSE, cause);
    setField(HART_MEPC, epc);
    setField(HART_MTVAL, tval);
    s = (s & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP))
      | ((s & MSTATUS_MIE) != 0 ? MSTATUS_MPIE : 0) | (<u64>p << 11);
    setField(HART_MSTATUS, s);
    setPriv(PRIV_M);
    vector = field(HART_MTVEC);
  }
  store<i32>(hb + HART_WAITING, 0);
  const base = vector & ~<u64>3;
  return interrupt && (vector & 1) != 0 ? base + 4 * code : base;
}

/** MRET (the caller has checked the privilege); returns the new pc. */
export function mret(): u64 {
  const s = mstatus();
  const previous = <i32>(s >> 11) & 3;
  let next = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE | ((s & MSTATUS_MPIE) != 0 ? MSTATUS_MIE : 0);
  if (previous != PRIV_M) next &= ~MSTATUS_MPRV;
  setField(HART_MSTATUS, next);
  setPriv(previous);
  endChunk();
  return field(HART_MEPC);
}

/** SRET (the caller has checked privilege and TSR); returns the new pc. */
export function sret(): u64 {
  const s = mstatus();
  const previous = (s & MSTATUS_SPP) != 0 ? PRIV_S : PRIV_U;
  const next = (s & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | MSTATUS_SPIE
    | ((s & MSTATUS_SPIE) != 0 ? MSTATUS_SIE : 0);
  setField(HART_MSTATUS, next);
  setPriv(previous);
  endChunk();
  return field(HART_SEPC);
}

// ---- CSR access ----------------------------------------------------------------------------

/** Instructions retired before the current one in this run() (for instret/cycle reads). */
let retiredInRun: u64 = 0;
export function setRetiredInRun(n: u64): void { retiredInRun = n; }

function instret(): u64 { return field(HART_INSTRET) + retiredInRun; }

export function markFpDirty(): void {
  setField(HART_MSTATUS, mstatus() | MSTATUS_FS);
}

function writeMstatus(value: u64): void {
  const old = mstatus();
  let next = (old & ~MSTATUS_WRITABLE) | (value & MSTATUS_WRITABLE);
  if ((next & MSTATUS_MPP) == (<u64>2 << 11)) next = (next & ~MSTATUS_MPP) | (old & MSTATUS_MPP); // reserved
  setField(HART_MSTATUS, next);
  if (((old ^ next) & (MSTATUS_SUM | MSTATUS_MXR)) != 0) flushTranslatedTlb();
  selectTlb();
}

function fpEnabled(): bool { return (mstatus() & MSTATUS_FS) != 0; }

/**
 * Whether the running privilege may access `csr` (privileged spec 2.1, counter enables, TVM,
 * Sstc, FS). Unknown CSRs are refused by csrRead.
 */
function csrAllowed(csr: u32, writes: bool): bool {
  const p = priv();
  if (<i32>((csr >> 8) & 3) > p) return false;
  if (writes && (csr >> 10) == 3) return false;
  if (csr <= 0x003) return fpEnabled();
  if (csr >= 0xc00 && csr <= 0xc1f) {
    const bit = <u64>1 << (csr & 31);
    if (p < PRIV_M && (field(HART_MCOUNTEREN) & bit) == 0) return false;
    if (p == PRIV_U && (field(HART_SCOUNTEREN) & bit) == 0) return false;
    return true;
  }
  if (csr == 0x180) return !(p == PRIV_S && (mstatus() & MSTATUS_TVM) != 0);
  if (csr == 0x14d && p == PRIV_S) {
    return (field(HART_MCOUNTEREN) & COUNTEREN_TM) != 0 && (field(HART_MENVCFG) & MENVCFG_STCE) != 0;
  }
  return true;
}

/** Reads a CSR with no access checks; raises illegal instruction for one that does not exist. */
export function csrRead(csr: u32): u64 {
  switch (csr) {
    case 0x001: return field(HART_FCSR) & 0x1f;
    case 0x002: return (field(HART_FCSR) >> 5) & 7;
    case 0x003: return field(HART_FCSR) & 0xff;
    case 0xc00: case 0xb00: return instret() + field(HART_CYCLE_DELTA);
    case 0xc01: return refreshTime();
    case 0xc02: case 0xb02: return instret();
    case 0x100: {
      const s = mstatus() | MSTATUS_XLEN;
      return (s & SSTATUS_READABLE) | ((s & MSTATUS_FS) == MSTATUS_FS ? MSTATUS_SD : 0);
    }
    case 0x104: return field(HART_MIE) & field(HART_MIDELEG);
    case 0x105: return field(HART_STVEC);
    case 0x106: return field(HART_SCOUNTEREN);
    case 0x10a: return field(HART_SENVCFG);
    case 0x140: return field(HART_SSCRATCH);
    case 0x141: return field(HART_SEPC);
    case 0x142: return field(HART_SCAUSE);
    case 0x143: return field(HART_STVAL);
    case 0x144: refreshTime(); return effectiveMip() & field(HART_MIDELEG);
    case 0x14d: return field(HART_STIMECMP);
    case 0x180: return field(HART_SATP);
    case 0xf11: case 0xf12: case 0xf13: case 0xf15: return 0;
    case 0xf14: return field(HART_MHARTID);
    case 0x300: {
      const s = mstatus() | MSTATUS_XLEN;
      return s | ((s & MSTATUS_FS) == MSTATUS_FS ? MSTATUS_SD : 0);
    }
    case 0x301: return MISA;
    case 0x302: return field(HART_MEDELEG);
    case 0x303: return field(HART_MIDELEG);
    case 0x304: return field(HART_MIE);
    case 0x305: return field(HART_MTVEC);
    case 0x306: return field(HART_MCOUNTEREN);
    case 0x30a: return field(HART_MENVCFG);
    case 0x320: return field(HART_MCOUNTINHIBIT);
    case 0x340: return field(HART_MSCRATCH);
    case 0x341: return field(HART_MEPC);
    case 0x342: return field(HART_MCAUSE);
    case 0x343: return field(HART_MTVAL);
    case 0x344: refreshTime(); return effectiveMip();
  }
  if ((csr >= 0xc03 && csr <= 0xc1f) || (csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
    return 0; // hpm counters and events: present, always zero
  }
  if (csr >= 0x3a0 && csr <= 0x3af && (csr & 1) == 0) return field(HART_PMPCFG + ((csr - 0x3a0) << 2));
  if (csr >= 0x3b0 && csr <= 0x3ef) return field(HART_PMPADDR + ((csr - 0x3b0) << 3));
  raise(CAUSE_ILLEGAL, 0);
  return 0;
}

/** pmpcfg bytes keep L, A, X, W, R; the reserved W-without-R combination drops W. */
function legalPmpcfg(value: u64): u64 {
  let result: u64 = 0;
  for (let i: u64 = 0; i < 64; i += 8) {
    let byte = (value >> i) & 0x9f;
    if ((byte & 3) == 2) byte &= ~<u64>2;
    result |= byte << i;
  }
  return result;
}

/** Writes a CSR (known to exist; access already checked), keeping WARL fields legal. */
export function csrWrite(csr: u32, value: u64): void {
  switch (csr) {
    case 0x001: setField(HART_FCSR, (field(HART_FCSR) & ~<u64>0x1f) | (value & 0x1f)); markFpDirty(); return;
    case 0x002: setField(HART_FCSR, (field(HART_FCSR) & 0x1f) | ((value & 7) << 5)); markFpDirty(); return;
    case 0x003: setField(HART_FCSR, value & 0xff); markFpDirty(); return;
    case 0x100: writeMstatus((mstatus() & ~SSTATUS_WRITABLE) | (value & SSTATUS_WRITABLE)); return;
    case 0x104: {
      const delegated = field(HART_MIDELEG);
      setField(HART_MIE, (field(HART_MIE) & ~delegated) | (value & delegated));
      return;
    }
    case 0x105: setField(HART_STVEC, value & ~<u64>2); return;
    case 0x106: setField(HART_SCOUNTEREN, value & 0xffff_ffff); return;
    case 0x10a: setField(HART_SENVCFG, value & ENVCFG_FIOM); return;
    case 0x140: setField(HART_SSCRATCH, value); return;
    case 0x141: setField(HART_SEPC, value & ~<u64>1); return;
    case 0x142: setField(HART_SCAUSE, value); return;
    case 0x143: setField(HART_STVAL, value); return;
    case 0x144: writeMipSoft(SSIP & field(HART_MIDELEG), value); return;
    case 0x14d: setField(HART_STIMECMP, value); return;
    case 0x180: {
      const mode = value >> 60;
      if (mode != 0 && mode != 8 && mode != 9) return; // unsupported modes: the write is ignored
      setField(HART_SATP, value & SATP_MODE_AND_PPN); // no ASIDs: ASIDLEN = 0
      flushTlb();
      return;
    }
    case 0x300: writeMstatus(value); return;
    case 0x302: setField(HART_MEDELEG, value & DELEGABLE_EXCEPTIONS); return;
    case 0x303: setField(HART_MIDELEG, value & SUPERVISOR_INTERRUPTS); return;
    case 0x304: setField(HART_MIE, value & ALL_INTERRUPTS); return;
    case 0x305: setField(HART_MTVEC, value & ~<u64>2); return;
    case 0x306: setField(HART_MCOUNTEREN, value & 0xffff_ffff); return;
    case 0x30a: setField(HART_MENVCFG, value & (MENVCFG_STCE | ENVCFG_FIOM)); return;
    case 0x320: setField(HART_MCOUNTINHIBIT, value & 0xffff_fffd); return;
    case 0x340: setField(HART_MSCRATCH, value); return;
    case 0x341: setField(HART_MEPC, value & ~<u64>1); return;
    case 0x342: setField(HART_MCAUSE, value); return;
    case 0x343: setField(HART_MTVAL, value); return;
    case 0x344: {
      const sstc = (field(HART_MENVCFG) & MENVCFG_STCE) != 0;
      writeMipSoft(sstc ? SSIP | SEIP : SUPERVISOR_INTERRUPTS, value);
      return;
    }
    case 0xb00: setField(HART_CYCLE_DELTA, value - instret()); return;
    case 0xb02: setField(HART_INSTRET, value - retiredInRun); return;
  }
  if (csr >= 0x3a0 && csr <= 0x3af) setField(HART_PMPCFG + ((csr - 0x3a0) << 2), legalPmpcfg(value));
  else if (csr >= 0x3b0 && csr <= 0x3ef) setField(HART_PMPADDR + ((csr - 0x3b0) << 3), value & PMPADDR_MASK);
  // everything else that exists (ids, misa, hpm counters and events) ignores writes
}

function writeMipSoft(writable: u64, value: u64): void {
  const soft = <u64>load<i32>(hb + HART_MIP_SOFT);
  store<i32>(hb + HART_MIP_SOFT, <i32>((soft & ~writable) | (value & writable)));
}

/** Executes a Zicsr instruction (csrrw/s/c and their immediate forms). */
export function csrInstruction(insn: u32): void {
  const csr = insn >> 20;
  const f3 = (insn >> 12) & 7;
  const rs1 = (insn >> 15) & 31;
  const rd = (insn >> 7) & 31;
  const operand = f3 >= 5 ? <u64>rs1 : load<u64>(hb + (<usize>rs1 << 3));
  const op = f3 & 3; // 1 write, 2 set bits, 3 clear bits
  const writes = op == 1 || rs1 != 0;
  if (!csrAllowed(csr, writes)) {
    raise(CAUSE_ILLEGAL, 0);
    return;
  }
  const old = csrRead(csr);
  if (excCause >= 0) return;
  // mip.SEIP reads as the software-writable bit OR the PLIC's line, but only the software bit
  // takes part in a set or clear (privileged spec 3.1.9): OpenSBI's csr_set(mip, SSIP) for an
  // IPI must not latch a pending external interrupt into the software bit for ever.
  const base = csr == 0x344 ? (old & ~SEIP) | (<u64>load<i32>(hb + HART_MIP_SOFT) & SEIP) : old;
  if (writes) csrWrite(csr, op == 1 ? operand : op == 2 ? base | operand : base & ~operand);
  if (rd != 0) store<u64>(hb + (<usize>rd << 3), old);
  endChunk(); // the write may have enabled an interrupt
}

/** Puts the running hart in its reset state (privileged spec 3.4): M-mode, interrupts off. */
export function resetCsrs(hartId: u64): void {
  for (let offset = <usize>HART_MSTATUS; offset < <usize>HART_PMPADDR + 64 * 8; offset += 8) setField(offset, 0);
  setField(HART_MHARTID, hartId);
  setField(HART_MTIMECMP, <u64>-1);
  setField(HART_STIMECMP, <u64>-1);
  store<i32>(hb + HART_MIP_SOFT, 0);
  store<i32>(hb + HART_WAITING, 0);
  setPriv(PRIV_M);
}

/** The guest tick at which this hart's next enabled timer interrupt becomes pending. */
export function nextTimerTick(): u64 {
  const mie = field(HART_MIE);
  let next: u64 = <u64>-1;
  if ((mie & MTIP) != 0) next = field(HART_MTIMECMP);
  if ((mie & STIP) != 0 && (field(HART_MENVCFG) & MENVCFG_STCE) != 0 && field(HART_STIMECMP) < next) {
    next = field(HART_STIMECMP);
  }
  return next;
}
