// The RV64GC core: an interpreter over the shared memory laid out in engine/cpu/layout.ts.
// run() executes one hart for a budget of instructions: fetch through a per-run page cache
// (then the fetch TLB), decode 32-bit instructions directly (compressed ones are expanded by
// rvc.ts first), loads and stores through the software TLB of mmu.ts, CSRs and traps in
// csr.ts, floating point in fpu.ts. Hot blocks are translated to WebAssembly (jit.ts) and run
// from the block table whenever execution reaches a block start. Pending interrupts are looked
// at every CHUNK instructions and right after anything that can change them (CSR writes, xRET,
// MMIO, WFI).
import {
  HART_PC, HART_X, HART_F, HART_WAITING, HART_INSTRET, HART_RESERVATION, HART_RESERVED_VALUE,
  HART_IRQ_LINES, HART_JIT_RETIRED, HART_JIT_YIELD, RVC_TABLE, JIT_ENTRY_STATE, JIT_ENTRY_RUNS,
  JIT_STATE_COUNTING, JIT_STATE_UNTRANSLATABLE, EXIT_BUDGET, EXIT_IDLE, NO_RESERVATION,
  HART_PROFILE, PROFILE_END, PROFILE_INTERPRETED, PROFILE_TRANSLATED, PROFILE_BLOCK_CALLS,
  PROFILE_COLD_STARTS, PROFILE_UNTRANSLATABLE_STARTS, PROFILE_FENCE_I, PROFILE_TRAPS, PROFILE_OPCODES,
} from '../layout';
import {
  hb, selectHart, configure, raise, excCause, excTval, clearException, refreshTime, priv,
  mstatus, field, setField, getX, setX, getF, setF, chunkEnd, setChunkEnd, endChunk, profile,
  PRIV_U, PRIV_S, PRIV_M, CAUSE_ILLEGAL, CAUSE_BREAKPOINT, CAUSE_ECALL_U,
  CAUSE_LOAD_MISALIGNED, CAUSE_STORE_MISALIGNED, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
  ACCESS_LOAD, ACCESS_STORE,
} from './state';
import {
  tlbLoad, tlbStore, tlbLookup, loadSlow, storeSlow, fetchSlow, fetchPageAddend, hostAddress,
  selectTlb, flushTlb,
} from './mmu';
import {
  INTERRUPT, MSTATUS_FS, MSTATUS_TVM, MSTATUS_TW, MSTATUS_TSR, pendingInterrupt, wfiCanSleep, takeTrap,
  mret, sret, csrInstruction, csrRead, csrWrite, setRetiredInRun, resetCsrs, nextTimerTick,
  markFpDirty,
} from './csr';
import { expandCompressed } from './rvc';
import { fusedMultiplyAdd, floatOperation, NAN_BOX } from './fpu';
import {
  mulhSigned, mulhSignedUnsigned, mulhUnsigned, divSigned, divUnsigned, remSigned, remUnsigned,
  divSigned32, divUnsigned32, remSigned32, remUnsigned32,
} from './muldiv';
import { blockEntry, entrySlot, countRun, queueTick, clearBlocks, newEpoch, setJitThreshold } from './jit';

export { jitLoad, jitStore } from './jit';
export { mulDiv as jitMulDiv } from './muldiv';

/** Instructions between interrupt checks. */
const CHUNK: i32 = 1024;
/** Chunks between readings of the host clock (for the timer comparisons). */
const CHUNKS_PER_CLOCK: i32 = 4;
const NO_PAGE: u64 = <u64>-1;
// Major opcodes (insn[6:2]) jit.ts translates; after any other instruction a block may start.
const TRANSLATED_OPCODES: u32 = (1 << 0x00) | (1 << 0x04) | (1 << 0x05) | (1 << 0x06) | (1 << 0x08)
  | (1 << 0x0c) | (1 << 0x0d) | (1 << 0x0e) | (1 << 0x18) | (1 << 0x19) | (1 << 0x1b);

// ---- exports for cpu.ts --------------------------------------------------------------------

/** Whether run() returns at the first block end (the lockstep checker's steps: cpu.ts). */
let stopAtBlockEnds = false;

export function setStopAtBlockEnds(on: bool): void { stopAtBlockEnds = on; }

export function init(ramBytes: u32, harts: i32, jitThreshold: u32): void {
  configure(<u64>ramBytes, harts);
  setJitThreshold(jitThreshold);
  for (let parcel: u32 = 0; parcel < 0x1_0000; parcel++) {
    store<u32>(<usize>RVC_TABLE + (<usize>parcel << 2), (parcel & 3) == 3 ? 0 : expandCompressed(parcel));
  }
  for (let hart = 0; hart < harts; hart++) {
    selectHart(hart);
    flushTlb();
    clearBlocks();
  }
}

export function resetHart(hart: i32, pc: u64, a0: u64, a1: u64, a2: u64): void {
  selectHart(hart);
  for (let i: u32 = 0; i < 32; i++) {
    setX(i, 0);
    setF(i, 0);
  }
  setX(10, a0);
  setX(11, a1);
  setX(12, a2);
  setField(HART_PC, pc);
  setField(HART_INSTRET, 0);
  setField(HART_RESERVATION, <u64>NO_RESERVATION);
  for (let at = <usize>HART_PROFILE; at < <usize>PROFILE_END; at += 8) setField(at, 0);
  atomic.store<i32>(hb + HART_IRQ_LINES, 0);
  resetCsrs(<u64>hart);
  flushTlb();
  newEpoch(); // the boot loader rewrote RAM
}

/** Reads a CSR as a debugger would (no privilege checks); csrFailed() tells if it exists. */
export function readCsr(hart: i32, csr: u32): u64 {
  selectHart(hart);
  clearException();
  refreshTime();
  setRetiredInRun(0);
  return csrRead(csr & 0xfff);
}

export function writeCsr(hart: i32, csr: u32, value: u64): void {
  selectHart(hart);
  clearException();
  setRetiredInRun(0);
  csrRead(csr & 0xfff);
  if (excCause < 0) csrWrite(csr & 0xfff, value);
}

export function csrFailed(): bool {
  const failed = excCause >= 0;
  clearException();
  return failed;
}

export function nextTimerTicks(hart: i32): u64 {
  selectHart(hart);
  return nextTimerTick();
}

// ---- memory access fast paths --------------------------------------------------------------

@inline function read8(va: u64): u64 {
  const h = tlbLookup(tlbLoad, va, 1);
  return h != 0 ? <u64>load<u8>(h) : loadSlow(va, 1);
}
@inline function read16(va: u64): u64 {
  const h = tlbLookup(tlbLoad, va, 2);
  return h != 0 ? <u64>load<u16>(h) : loadSlow(va, 2);
}
@inline function read32(va: u64): u64 {
  const h = tlbLookup(tlbLoad, va, 4);
  return h != 0 ? <u64>load<u32>(h) : loadSlow(va, 4);
}
@inline function read64(va: u64): u64 {
  const h = tlbLookup(tlbLoad, va, 8);
  return h != 0 ? load<u64>(h) : loadSlow(va, 8);
}
@inline function write8(va: u64, v: u64): void {
  const h = tlbLookup(tlbStore, va, 1);
  if (h != 0) store<u8>(h, v);
  else storeSlow(va, 1, v);
}
@inline function write16(va: u64, v: u64): void {
  const h = tlbLookup(tlbStore, va, 2);
  if (h != 0) store<u16>(h, v);
  else storeSlow(va, 2, v);
}
@inline function write32(va: u64, v: u64): void {
  const h = tlbLookup(tlbStore, va, 4);
  if (h != 0) store<u32>(h, v);
  else storeSlow(va, 4, v);
}
@inline function write64(va: u64, v: u64): void {
  const h = tlbLookup(tlbStore, va, 8);
  if (h != 0) store<u64>(h, v);
  else storeSlow(va, 8, v);
}

// ---- immediates ----------------------------------------------------------------------------

@inline function immI(insn: u32): u64 { return <u64>(<i64>(<i32>insn >> 20)); }
@inline function immS(insn: u32): u64 {
  return <u64>(<i64>((<i32>(insn & 0xfe00_0000) >> 20) | <i32>((insn >> 7) & 31)));
}
@inline function immB(insn: u32): u64 {
  return <u64>(<i64>((<i32>(insn & 0x8000_0000) >> 19) | <i32>(((insn & 0x80) << 4)
    | ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e))));
}
@inline function immJ(insn: u32): u64 {
  return <u64>(<i64>((<i32>(insn & 0x8000_0000) >> 11) | <i32>((insn & 0xf_f000)
    | ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe))));
}
@inline function sext32(v: u64): u64 { return <u64><i64><i32>v; }

// ---- A extension ---------------------------------------------------------------------------

const AMO_ADD: u32 = 0x00;
const AMO_SWAP: u32 = 0x01;
const AMO_LR: u32 = 0x02;
const AMO_SC: u32 = 0x03;
const AMO_XOR: u32 = 0x04;
const AMO_OR: u32 = 0x08;
const AMO_AND: u32 = 0x0c;
const AMO_MIN: u32 = 0x10;
const AMO_MAX: u32 = 0x14;
const AMO_MINU: u32 = 0x18;
const AMO_MAXU: u32 = 0x1c;

/** The value an AMO stores, from the old memory value and rs2 (both sign-extended for .W). */
function amoResult(op: u32, old: u64, src: u64): u64 {
  switch (op) {
    case AMO_MIN: return <i64>old < <i64>src ? old : src;
    case AMO_MAX: return <i64>old > <i64>src ? old : src;
    case AMO_MINU: return old < src ? old : src;
    default: return old > src ? old : src; // AMO_MAXU
  }
}

/** Host address of an aligned LR/SC/AMO operand in RAM, or 0 with the exception raised. */
function atomicAddress(va: u64, size: u64, access: i32): usize {
  if ((va & (size - 1)) != 0) {
    raise(access == ACCESS_LOAD ? CAUSE_LOAD_MISALIGNED : CAUSE_STORE_MISALIGNED, va);
    return 0;
  }
  const h = hostAddress(va, access);
  if (h == 0 && excCause < 0) raise(access == ACCESS_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS, va);
  return h;
}

/** The AMO major opcode (0x2F): LR, SC and the read-modify-write operations, done atomically. */
function atomicOperation(insn: u32): void {
  const op = insn >> 27;
  const f3 = (insn >> 12) & 7;
  const rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
  if (f3 != 2 && f3 != 3) return raise(CAUSE_ILLEGAL, 0);
  const word = f3 == 2;
  const size: u64 = word ? 4 : 8;
  const va = getX(rs1);
  const src = getX(rs2);
  if (op == AMO_LR) {
    if (rs2 != 0) return raise(CAUSE_ILLEGAL, 0);
    const h = atomicAddress(va, size, ACCESS_LOAD);
    if (h == 0) return;
    const value = word ? sext32(atomic.load<u32>(h)) : atomic.load<u64>(h);
    setField(HART_RESERVATION, va);
    setField(HART_RESERVED_VALUE, value);
    setX(rd, value);
    return;
  }
  if (op == AMO_SC) {
    const reserved = field(HART_RESERVATION) == va;
    setField(HART_RESERVATION, <u64>NO_RESERVATION);
    if (!reserved) {
      if ((va & (size - 1)) != 0) return raise(CAUSE_STORE_MISALIGNED, va);
      setX(rd, 1);
      return;
    }
    const h = atomicAddress(va, size, ACCESS_STORE);
    if (h == 0) return;
    const expected = field(HART_RESERVED_VALUE);
    const stored = word
      ? sext32(atomic.cmpxchg<u32>(h, <u32>expected, <u32>src)) == expected
      : atomic.cmpxchg<u64>(h, expected, src) == expected;
    setX(rd, stored ? 0 : 1);
    return;
  }
  if (op != AMO_ADD && op != AMO_SWAP && op != AMO_XOR && op != AMO_OR && op != AMO_AND
    && op != AMO_MIN && op != AMO_MAX && op != AMO_MINU && op != AMO_MAXU) {
    return raise(CAUSE_ILLEGAL, 0);
  }
  const h = atomicAddress(va, size, ACCESS_STORE);
  if (h == 0) return;
  let old: u64;
  if (word) {
    const v = <u32>src;
    switch (op) {
      case AMO_ADD: old = atomic.add<u32>(h, v); break;
      case AMO_SWAP: old = atomic.xchg<u32>(h, v); break;
      case AMO_XOR: old = atomic.xor<u32>(h, v); break;
      case AMO_OR: old = atomic.or<u32>(h, v); break;
      case AMO_AND: old = atomic.and<u32>(h, v); break;
      default: {
        let seen = atomic.load<u32>(h);
        for (;;) {
          const next = <u32>amoResult(op, sext32(seen), sext32(src));
          const witnessed = atomic.cmpxchg<u32>(h, seen, next);
          if (witnessed == seen) break;
          seen = witnessed;
        }
        old = seen;
      }
    }
    old = sext32(old);
  } else {
    switch (op) {
      case AMO_ADD: old = atomic.add<u64>(h, src); break;
      case AMO_SWAP: old = atomic.xchg<u64>(h, src); break;
      case AMO_XOR: old = atomic.xor<u64>(h, src); break;
      case AMO_OR: old = atomic.or<u64>(h, src); break;
      case AMO_AND: old = atomic.and<u64>(h, src); break;
      default: {
        let seen = atomic.load<u64>(h);
        for (;;) {
          const witnessed = atomic.cmpxchg<u64>(h, seen, amoResult(op, seen, src));
          if (witnessed == seen) break;
          seen = witnessed;
        }
        old = seen;
      }
    }
  }
  setX(rd, old);
}

// ---- the interpreter -----------------------------------------------------------------------

/** Takes the exception the current instruction raised; illegal instructions report their bits. */
function exceptionTrap(pc: u64, bits: u32): u64 {
  const cause = excCause;
  const tval = cause == CAUSE_ILLEGAL ? <u64>bits : excTval;
  clearException();
  profile(PROFILE_TRAPS);
  return takeTrap(<u64>cause, tval, pc);
}

function fpEnabled(): bool { return (mstatus() & MSTATUS_FS) != 0; }

/** Runs `hart` for up to `budget` instructions; returns 1 when it stopped in WFI, else 0. */
export function run(hart: i32, budget: i32): i32 {
  selectHart(hart);
  selectTlb();
  refreshTime();
  if (load<i32>(hb + HART_WAITING) != 0) {
    if (wfiCanSleep()) return EXIT_IDLE;
    store<i32>(hb + HART_WAITING, 0);
  }
  let pc = field(HART_PC);
  let n: i32 = 0; // instructions executed (or attempted) in this run
  let translated: i32 = 0; // of which retired by translated blocks
  let faults: i32 = 0; // of which trapped instead of retiring
  let idle = false;
  let fetchPage = NO_PAGE; // virtual page of pc whose host addend is fetchAddend
  let fetchAddend: u64 = 0;
  let chunks: i32 = 0;
  let blockStart = true; // pc follows a control transfer (or a block, or an untranslated instruction)
  while (n < budget) {
    if (++chunks % CHUNKS_PER_CLOCK == 0) refreshTime();
    queueTick();
    const irq = pendingInterrupt();
    if (irq >= 0) {
      profile(PROFILE_TRAPS);
      pc = takeTrap(INTERRUPT | <u64>irq, 0, pc);
      fetchPage = NO_PAGE;
    }
    setChunkEnd(min(n + CHUNK, budget));
    while (n < chunkEnd) {
      let insn: u32;
      if ((pc & ~<u64>0xfff) == fetchPage && (<u32>pc & 0xfff) <= 0xffc) {
        insn = load<u32>(<usize>(pc + fetchAddend));
      } else {
        insn = fetchSlow(pc);
        if (excCause >= 0) {
          n++;
          faults++;
          pc = exceptionTrap(pc, 0);
          fetchPage = NO_PAGE;
          continue;
        }
        fetchPage = pc & ~<u64>0xfff;
        fetchAddend = fetchPageAddend;
      }
      if (blockStart) {
        blockStart = false;
        const host = <u32>(pc + fetchAddend);
        const entry = blockEntry(host);
        if (entry != 0 && load<i32>(entry, JIT_ENTRY_STATE) == JIT_STATE_COUNTING) countRun(entry); // may translate it
        const state = entry != 0 ? load<i32>(entry, JIT_ENTRY_STATE) : -1;
        if (state > 0 && n + state <= budget) {
          // uses: the colder way is evicted first
          store<u32>(entry, load<u32>(entry, JIT_ENTRY_RUNS) + 1, JIT_ENTRY_RUNS);
          store<i32>(hb + HART_JIT_YIELD, 0);
          const nextPc = call_indirect<u64>(<u32>entrySlot(entry), hb, pc, budget - n);
          const retired = load<i32>(hb + HART_JIT_RETIRED);
          n += retired;
          translated += retired;
          profile(PROFILE_BLOCK_CALLS);
          if (excCause >= 0) { // the access of the instruction at nextPc faulted
            n++;
            faults++;
            pc = exceptionTrap(nextPc, 0);
            fetchPage = NO_PAGE;
          } else {
            pc = nextPc;
          }
          blockStart = true;
          if (stopAtBlockEnds) {
            budget = n;
            endChunk();
          }
          continue;
        }
        profile(state == JIT_STATE_UNTRANSLATABLE ? PROFILE_UNTRANSLATABLE_STARTS : PROFILE_COLD_STARTS);
      }
      n++;
      store<u64>(hb + HART_X, 0); // x0
      let bits = insn;
      let next: u64;
      if ((insn & 3) != 3) {
        bits = insn & 0xffff;
        insn = load<u32>(<usize>RVC_TABLE + (<usize>bits << 2));
        next = pc + 2;
        if (insn == 0) {
          raise(CAUSE_ILLEGAL, 0);
          insn = 0x7f; // no major opcode: falls to the illegal case below
        }
      } else {
        next = pc + 4;
      }
      const rd = (insn >> 7) & 31;
      const rs1 = (insn >> 15) & 31;
      const rs2 = (insn >> 20) & 31;
      const f3 = (insn >> 12) & 7;
      profile(<usize>PROFILE_OPCODES + (<usize>((insn >> 2) & 31) << 3));
      switch ((insn >> 2) & 31) {
        case 0x00: { // LOAD
          const va = getX(rs1) + immI(insn);
          let v: u64;
          switch (f3) {
            case 0: v = <u64><i64><i8>read8(va); break;
            case 1: v = <u64><i64><i16>read16(va); break;
            case 2: v = sext32(read32(va)); break;
            case 3: v = read64(va); break;
            case 4: v = read8(va); break;
            case 5: v = read16(va); break;
            case 6: v = read32(va); break;
            default: v = 0; raise(CAUSE_ILLEGAL, 0);
          }
          if (excCause < 0) setX(rd, v);
          break;
        }
        case 0x01: { // LOAD-FP
          if (!fpEnabled() || (f3 != 2 && f3 != 3)) {
            raise(CAUSE_ILLEGAL, 0);
            break;
          }
          const va = getX(rs1) + immI(insn);
          const v = f3 == 2 ? NAN_BOX | read32(va) : read64(va);
          if (excCause < 0) {
            setF(rd, v);
            markFpDirty();
          }
          break;
        }
        case 0x03: // MISC-MEM: FENCE (a no-op), FENCE.I (forgets translated blocks)
          if (f3 > 1) raise(CAUSE_ILLEGAL, 0);
          else if (f3 == 1) {
            newEpoch();
            profile(PROFILE_FENCE_I);
          }
          break;
        case 0x04: { // OP-IMM
          const a = getX(rs1);
          const imm = immI(insn);
          const shamt = imm & 63;
          const funct6 = insn >> 26;
          switch (f3) {
            case 0: setX(rd, a + imm); break;
            case 1: if (funct6 == 0) setX(rd, a << shamt); else raise(CAUSE_ILLEGAL, 0); break;
            case 2: setX(rd, <i64>a < <i64>imm ? 1 : 0); break;
            case 3: setX(rd, a < imm ? 1 : 0); break;
            case 4: setX(rd, a ^ imm); break;
            case 5:
              if (funct6 == 0) setX(rd, a >> shamt);
              else if (funct6 == 0x10) setX(rd, <u64>(<i64>a >> shamt));
              else raise(CAUSE_ILLEGAL, 0);
              break;
            case 6: setX(rd, a | imm); break;
            default: setX(rd, a & imm);
          }
          break;
        }
        case 0x05: // AUIPC
          setX(rd, pc + <u64><i64><i32>(insn & 0xffff_f000));
          break;
        case 0x06: { // OP-IMM-32
          const a = <u32>getX(rs1);
          const shamt = rs2;
          const funct7 = insn >> 25;
          if (f3 == 0) setX(rd, sext32(<u64>(a + <u32>immI(insn))));
          else if (f3 == 1 && funct7 == 0) setX(rd, sext32(<u64>(a << shamt)));
          else if (f3 == 5 && funct7 == 0) setX(rd, sext32(<u64>(a >> shamt)));
          else if (f3 == 5 && funct7 == 0x20) setX(rd, <u64><i64>(<i32>a >> shamt));
          else raise(CAUSE_ILLEGAL, 0);
          break;
        }
        case 0x08: { // STORE
          const va = getX(rs1) + immS(insn);
          const v = getX(rs2);
          switch (f3) {
            case 0: write8(va, v); break;
            case 1: write16(va, v); break;
            case 2: write32(va, v); break;
            case 3: write64(va, v); break;
            default: raise(CAUSE_ILLEGAL, 0);
          }
          break;
        }
        case 0x09: { // STORE-FP
          if (!fpEnabled() || (f3 != 2 && f3 != 3)) {
            raise(CAUSE_ILLEGAL, 0);
            break;
          }
          const va = getX(rs1) + immS(insn);
          if (f3 == 2) write32(va, getF(rs2));
          else write64(va, getF(rs2));
          break;
        }
        case 0x0b: // AMO
          atomicOperation(insn);
          break;
        case 0x0c: { // OP
          const a = getX(rs1), b = getX(rs2);
          const funct7 = insn >> 25;
          if (funct7 == 0) {
            switch (f3) {
              case 0: setX(rd, a + b); break;
              case 1: setX(rd, a << (b & 63)); break;
              case 2: setX(rd, <i64>a < <i64>b ? 1 : 0); break;
              case 3: setX(rd, a < b ? 1 : 0); break;
              case 4: setX(rd, a ^ b); break;
              case 5: setX(rd, a >> (b & 63)); break;
              case 6: setX(rd, a | b); break;
              default: setX(rd, a & b);
            }
          } else if (funct7 == 1) {
            switch (f3) {
              case 0: setX(rd, a * b); break;
              case 1: setX(rd, mulhSigned(a, b)); break;
              case 2: setX(rd, mulhSignedUnsigned(a, b)); break;
              case 3: setX(rd, mulhUnsigned(a, b)); break;
              case 4: setX(rd, divSigned(a, b)); break;
              case 5: setX(rd, divUnsigned(a, b)); break;
              case 6: setX(rd, remSigned(a, b)); break;
              default: setX(rd, remUnsigned(a, b));
            }
          } else if (funct7 == 0x20 && f3 == 0) {
            setX(rd, a - b);
          } else if (funct7 == 0x20 && f3 == 5) {
            setX(rd, <u64>(<i64>a >> (b & 63)));
          } else {
            raise(CAUSE_ILLEGAL, 0);
          }
          break;
        }
        case 0x0d: // LUI
          setX(rd, <u64><i64><i32>(insn & 0xffff_f000));
          break;
        case 0x0e: { // OP-32
          const a = getX(rs1), b = getX(rs2);
          const x = <u32>a, y = <u32>b;
          const funct7 = insn >> 25;
          if (funct7 == 0) {
            if (f3 == 0) setX(rd, sext32(<u64>(x + y)));
            else if (f3 == 1) setX(rd, sext32(<u64>(x << (y & 31))));
            else if (f3 == 5) setX(rd, sext32(<u64>(x >> (y & 31))));
            else raise(CAUSE_ILLEGAL, 0);
          } else if (funct7 == 0x20) {
            if (f3 == 0) setX(rd, sext32(<u64>(x - y)));
            else if (f3 == 5) setX(rd, <u64><i64>(<i32>x >> (y & 31)));
            else raise(CAUSE_ILLEGAL, 0);
          } else if (funct7 == 1) {
            switch (f3) {
              case 0: setX(rd, sext32(<u64>(x * y))); break;
              case 4: setX(rd, divSigned32(a, b)); break;
              case 5: setX(rd, divUnsigned32(a, b)); break;
              case 6: setX(rd, remSigned32(a, b)); break;
              case 7: setX(rd, remUnsigned32(a, b)); break;
              default: raise(CAUSE_ILLEGAL, 0);
            }
          } else {
            raise(CAUSE_ILLEGAL, 0);
          }
          break;
        }
        case 0x10: case 0x11: case 0x12: case 0x13: // FMADD FMSUB FNMSUB FNMADD
          if (fpEnabled()) fusedMultiplyAdd(insn);
          else raise(CAUSE_ILLEGAL, 0);
          break;
        case 0x14: // OP-FP
          if (fpEnabled()) floatOperation(insn);
          else raise(CAUSE_ILLEGAL, 0);
          break;
        case 0x18: { // BRANCH
          const a = getX(rs1), b = getX(rs2);
          let taken: bool;
          switch (f3) {
            case 0: taken = a == b; break;
            case 1: taken = a != b; break;
            case 4: taken = <i64>a < <i64>b; break;
            case 5: taken = <i64>a >= <i64>b; break;
            case 6: taken = a < b; break;
            case 7: taken = a >= b; break;
            default: taken = false; raise(CAUSE_ILLEGAL, 0);
          }
          if (taken) next = pc + immB(insn);
          break;
        }
        case 0x19: { // JALR
          if (f3 != 0) {
            raise(CAUSE_ILLEGAL, 0);
            break;
          }
          const target = (getX(rs1) + immI(insn)) & ~<u64>1;
          setX(rd, next);
          next = target;
          break;
        }
        case 0x1b: // JAL
          setX(rd, next);
          next = pc + immJ(insn);
          break;
        case 0x1c: { // SYSTEM
          fetchPage = NO_PAGE; // privilege or translation may change
          if (f3 == 0) {
            const p = priv();
            if (insn == 0x0000_0073) { // ECALL
              raise(CAUSE_ECALL_U + p, 0);
            } else if (insn == 0x0010_0073) { // EBREAK
              raise(CAUSE_BREAKPOINT, pc);
            } else if (insn == 0x3020_0073) { // MRET
              if (p == PRIV_M) next = mret();
              else raise(CAUSE_ILLEGAL, 0);
            } else if (insn == 0x1020_0073) { // SRET
              if (p == PRIV_M || (p == PRIV_S && (mstatus() & MSTATUS_TSR) == 0)) next = sret();
              else raise(CAUSE_ILLEGAL, 0);
            } else if (insn == 0x1050_0073) { // WFI
              if (p == PRIV_U || (p == PRIV_S && (mstatus() & MSTATUS_TW) != 0)) {
                raise(CAUSE_ILLEGAL, 0);
              } else {
                refreshTime();
                if (wfiCanSleep()) {
                  store<i32>(hb + HART_WAITING, 1);
                  idle = true;
                  budget = n; // leave both loops after this instruction
                }
                endChunk();
              }
            } else if ((insn >> 25) == 0x09 && rd == 0) { // SFENCE.VMA
              if (p == PRIV_U || (p == PRIV_S && (mstatus() & MSTATUS_TVM) != 0)) raise(CAUSE_ILLEGAL, 0);
              else flushTlb();
            } else {
              raise(CAUSE_ILLEGAL, 0);
            }
          } else if (f3 == 4) {
            raise(CAUSE_ILLEGAL, 0);
          } else {
            setRetiredInRun(<u64>(n - 1 - faults));
            csrInstruction(insn);
          }
          break;
        }
        default:
          raise(CAUSE_ILLEGAL, 0);
      }
      if (excCause >= 0) {
        faults++;
        next = exceptionTrap(pc, bits);
        fetchPage = NO_PAGE;
      }
      blockStart = next != pc + (bits == insn ? 4 : 2) || ((TRANSLATED_OPCODES >> ((insn >> 2) & 31)) & 1) == 0;
      pc = next;
      if (blockStart && stopAtBlockEnds) {
        budget = n;
        endChunk();
      }
    }
  }
  store<u64>(hb + HART_X, 0);
  setField(HART_PC, pc);
  setField(HART_INSTRET, field(HART_INSTRET) + <u64>(n - faults));
  profile(PROFILE_TRANSLATED, <u64>translated);
  profile(PROFILE_INTERPRETED, <u64>(n - translated));
  return idle ? EXIT_IDLE : EXIT_BUDGET;
}
