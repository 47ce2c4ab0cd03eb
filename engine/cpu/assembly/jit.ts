// The translator: hot basic blocks of guest code become WebAssembly functions.
//
// The interpreter counts how often each block start runs (a table indexed by a hash of the host
// address of its first instruction); at JIT_THRESHOLD the block is queued for translation. A
// block is decoded up to its first unconditional jump (JALR, or a JAL that goes back or off the
// page: the last instruction of the block; a forward JAL inside the page is followed, the block
// going on at its target; a taken conditional branch leaves the block early), the end of its page,
// JIT_MAX_INSTRUCTIONS, or the first instruction this file does not translate (system, atomic,
// floating point, fences: the interpreter runs those).
// Queued blocks are written as one module (one function each) into the hart's buffer once
// JIT_BATCH are waiting, or enough of them have waited a while (queueTick); the host (cpu.ts,
// import `jitCompile`) compiles it and puts each function in the function table at its entry's
// slot. Batches matter: V8 spends about a millisecond on any module, tens of microseconds on
// each of its functions (measured with Node 20 on this project's 2-core build machine).
//
// A block function is (hart block address: i32, pc of its first instruction: i64, limit: i32)
// -> next pc. It keeps guest registers in the hart block, so an exit at any instruction sees a
// consistent state; it stores how many instructions it retired in HART_JIT_RETIRED. A taken
// branch back to the block's first instruction loops inside the function while another pass
// fits in `limit` instructions and no access asked to end the chunk (HART_JIT_YIELD). Loads and stores take
// the TLB inline and call back into the core (jitLoad/jitStore) on a miss; when that raises an
// exception the block returns the faulting instruction's pc with HART_JIT_FAULT set.
//
// Blocks depend only on the bytes of their (physical) page: the same code serves every virtual
// mapping and privilege. A hart's store into a page blocks were made from bumps the page's
// generation (mmu.ts); writes the harts do not see (devices, the boot loader) are covered by
// FENCE.I and reset, which start a new epoch. A block first used after either is kept only if
// a checksum of its bytes still matches: Linux patches its text at boot (ftrace, static keys)
// with a FENCE.I after each instruction, ~40000 times, mostly next to hot code that does not
// change; recompiling on every such event cost more than the translation saved.
import {
  HART_X, HART_TLB_LOAD, HART_TLB_STORE, HART_JIT_RETIRED, HART_JIT_FAULT, HART_JIT_EPOCH,
  HART_JIT_YIELD,
  JIT_BASE, JIT_HART_SIZE, JIT_ENTRIES, JIT_ENTRY_SIZE, JIT_ENTRY_HOST, JIT_ENTRY_STATE,
  JIT_ENTRY_RUNS, JIT_ENTRY_GENERATION, JIT_ENTRY_EPOCH, JIT_ENTRY_BYTES, JIT_ENTRY_SPARE,
  JIT_ENTRY_CHECKSUM, JIT_STATE_COUNTING, JIT_STATE_UNTRANSLATABLE, JIT_STATE_QUEUED, JIT_BATCH,
  JIT_QUEUE, JIT_QUEUE_SLOTS, JIT_BUFFER, JIT_THRESHOLD, RVC_TABLE, TLB_ENTRIES, TLB_ENTRY_SHIFT,
  TLB_ENTRY_TAG, TLB_ENTRY_ADDEND, PROFILE_TRANSLATIONS, PROFILE_MODULES,
} from '../layout';
import { hb, hartIndex, excCause, chunkEnd, profile } from './state';
import { loadSlow, storeSlow, markCodePage, codeGeneration } from './mmu';

/** Compiles the module at `module`; its function i goes to table slot slots[i] (u32 each). */
@external('env', 'jitCompile') declare function hostCompile(slots: usize, count: i32, module: usize, length: i32): void;

/**
 * Runs of a block start before it is queued for translation (init). At 1 every block is
 * translated at its first run, on its own, and runs translated at once: the CPU tests run the
 * translator that way (test/unit/cpu/support/machine.ts).
 */
let jitThreshold: u32 = JIT_THRESHOLD;
export function setJitThreshold(runs: u32): void { jitThreshold = runs; }
const JIT_MAX_INSTRUCTIONS: i32 = 128;
/** A queue this long is translated after JIT_WAIT_CHUNKS run-loop chunks (~1 ms of guest code)... */
const JIT_SMALL_BATCH: i32 = 16;
const JIT_WAIT_CHUNKS: i32 = 256;
/** ... and any queue after JIT_MAX_WAIT_CHUNKS. */
const JIT_MAX_WAIT_CHUNKS: i32 = 4096;
// An instruction emits at most ~100 bytes (a load or store with both paths), so a full batch
// fits in JIT_BUFFER_SIZE (layout.ts): JIT_BATCH * JIT_MAX_INSTRUCTIONS * 100 < 3.3 MB.

// Block table entries: layout.ts (JIT_ENTRY_*). The checksum is the low half of a 64-bit
// FNV-1a; the first entry of each two-way set keeps the set's eviction-patience count in its
// JIT_ENTRY_SPARE.
const NO_BLOCK: u32 = 1; // an odd host address: no instruction starts there
const JIT_SET_BITS: u32 = 15; // two-way sets: JIT_ENTRIES = 2 << JIT_SET_BITS
const JIT_EVICT_PATIENCE: u32 = 32;

@inline export function jitArea(): usize { return <usize>JIT_BASE + <usize>hartIndex * <usize>JIT_HART_SIZE; }

/** Empties the running hart's block table and queue (start-up). */
export function clearBlocks(): void {
  const area = jitArea();
  for (let slot: usize = 0; slot < <usize>JIT_ENTRIES; slot++) store<u32>(area + slot * JIT_ENTRY_SIZE, NO_BLOCK);
  store<i32>(area + <usize>JIT_QUEUE, 0);
  queueWait = 0;
}

/** FENCE.I and reset: memory may have changed behind the harts' backs. */
export function newEpoch(): void {
  store<u32>(hb + HART_JIT_EPOCH, load<u32>(hb + HART_JIT_EPOCH) + 1);
}

/** FNV-1a over the 16-bit parcels of [host, host + bytes), folded to 32 bits. */
function checksum(host: usize, bytes: u32): u32 {
  let hash: u64 = 0xcbf2_9ce4_8422_2325;
  for (let at: usize = 0; at < <usize>bytes; at += 2) hash = (hash ^ <u64>load<u16>(host + at)) * 0x100_0000_01b3;
  return <u32>(hash ^ (hash >> 32));
}

/**
 * The entry of the block starting at `host` (claimed for it if it had none), or 0 when the
 * block is not tracked. The table is two-way set associative: a new block start takes the way
 * that holds no translation, or the colder one; when both hold translations, only every
 * JIT_EVICT_PATIENCE-th newcomer to the set may evict one, so that the many cold block starts
 * do not push out hot translations.
 */
export function blockEntry(host: u32): usize {
  const set = jitArea() + (<usize>(((host >> 1) * 0x9e37_79b1) >>> (32 - JIT_SET_BITS)) * 2 * JIT_ENTRY_SIZE);
  let entry: usize = 0;
  if (load<u32>(set, JIT_ENTRY_HOST) == host) entry = set;
  else if (load<u32>(set + JIT_ENTRY_SIZE, JIT_ENTRY_HOST) == host) entry = set + JIT_ENTRY_SIZE;
  const generation = codeGeneration(<usize>host);
  const epoch = load<u32>(hb + HART_JIT_EPOCH);
  if (entry != 0) {
    if (load<u32>(entry, JIT_ENTRY_GENERATION) != generation || load<u32>(entry, JIT_ENTRY_EPOCH) != epoch) {
      const state = load<i32>(entry, JIT_ENTRY_STATE);
      const decided = state > 0 || state == JIT_STATE_UNTRANSLATABLE;
      if (decided && checksum(<usize>host, load<u32>(entry, JIT_ENTRY_BYTES)) == load<u32>(entry, JIT_ENTRY_CHECKSUM)) {
        // The same bytes: the translation (or the verdict that there is none) stands.
        if (state > 0) markCodePage(<usize>host); // the write cleared the page's mark: watch it again
      } else if (decided) {
        store<i32>(entry, JIT_STATE_COUNTING, JIT_ENTRY_STATE);
        store<u32>(entry, 0, JIT_ENTRY_RUNS);
      } // counting and queued blocks go on: a queued one is translated from the bytes of then
      store<u32>(entry, generation, JIT_ENTRY_GENERATION);
      store<u32>(entry, epoch, JIT_ENTRY_EPOCH);
    }
    return entry;
  }
  const first = load<i32>(set, JIT_ENTRY_STATE), second = load<i32>(set + JIT_ENTRY_SIZE, JIT_ENTRY_STATE);
  const firstCold = first == JIT_STATE_COUNTING || first == JIT_STATE_UNTRANSLATABLE;
  const secondCold = second == JIT_STATE_COUNTING || second == JIT_STATE_UNTRANSLATABLE;
  if (firstCold != secondCold) {
    entry = firstCold ? set : set + JIT_ENTRY_SIZE;
  } else {
    if (!firstCold) { // both translated or queued
      const misses = load<u32>(set, JIT_ENTRY_SPARE) + 1;
      store<u32>(set, misses < JIT_EVICT_PATIENCE ? misses : 0, JIT_ENTRY_SPARE);
      if (misses < JIT_EVICT_PATIENCE) return 0;
    }
    entry = load<u32>(set, JIT_ENTRY_RUNS) <= load<u32>(set + JIT_ENTRY_SIZE, JIT_ENTRY_RUNS) ? set : set + JIT_ENTRY_SIZE;
  }
  store<u32>(entry, host, JIT_ENTRY_HOST);
  store<i32>(entry, JIT_STATE_COUNTING, JIT_ENTRY_STATE);
  store<u32>(entry, 0, JIT_ENTRY_RUNS);
  store<u32>(entry, generation, JIT_ENTRY_GENERATION);
  store<u32>(entry, epoch, JIT_ENTRY_EPOCH);
  return entry;
}

/** Table slot of an entry (the function table holds JIT_ENTRIES slots per hart). */
export function entrySlot(entry: usize): i32 {
  return hartIndex * JIT_ENTRIES + <i32>((entry - jitArea()) / JIT_ENTRY_SIZE);
}

// ---- callbacks of compiled blocks (exported by index.ts) -----------------------------------

export function jitLoad(va: u64, size: i32): u64 {
  const value = loadSlow(va, size);
  slowAccessDone();
  return value;
}

export function jitStore(va: u64, size: i32, value: u64): void {
  storeSlow(va, size, value);
  slowAccessDone();
}

function slowAccessDone(): void {
  store<i32>(hb + HART_JIT_FAULT, excCause >= 0 ? 1 : 0);
  if (chunkEnd == 0) store<i32>(hb + HART_JIT_YIELD, 1);
}

// ---- the module writer ---------------------------------------------------------------------

let out: usize = 0;

@inline function byte(b: u32): void {
  store<u8>(out, b);
  out++;
}
function uleb(v: u32): void {
  do {
    let b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    byte(b);
  } while (v != 0);
}
function sleb(v: i64): void {
  for (;;) {
    const b = <u32>(v & 0x7f);
    v >>= 7;
    if ((v == 0 && (b & 0x40) == 0) || (v == -1 && (b & 0x40) != 0)) {
      byte(b);
      return;
    }
    byte(b | 0x80);
  }
}
/** A 5-byte LEB128 placeholder for a size patched in later. */
function placeholder(): usize {
  const at = out;
  for (let i = 0; i < 4; i++) byte(0x80);
  byte(0);
  return at;
}
function patch(at: usize, v: u32): void {
  for (let i: usize = 0; i < 4; i++) store<u8>(at + i, ((v >> (<u32>i * 7)) & 0x7f) | 0x80);
  store<u8>(at + 4, (v >> 28) & 0x7f);
}
function name(c: u32): void { byte(1); byte(c); }

// Opcodes (WebAssembly core spec, binary format, "Instructions").
const IF: u32 = 0x04, ELSE: u32 = 0x05, END: u32 = 0x0b, RETURN: u32 = 0x0f, CALL: u32 = 0x10;
const DROP: u32 = 0x1a, LOCAL_GET: u32 = 0x20, LOCAL_SET: u32 = 0x21, LOCAL_TEE: u32 = 0x22;
const I32_LOAD: u32 = 0x28, I64_LOAD: u32 = 0x29, I32_STORE: u32 = 0x36, I64_STORE: u32 = 0x37;
const I32_CONST: u32 = 0x41, I64_CONST: u32 = 0x42;
const I64_EQZ: u32 = 0x50, I64_EQ: u32 = 0x51;
const I32_AND: u32 = 0x71, I32_ADD: u32 = 0x6a, I32_SUB: u32 = 0x6b, I32_SHL: u32 = 0x74;
const I32_EQZ: u32 = 0x45, I32_LE_S: u32 = 0x4c, BR_IF: u32 = 0x0d, LOOP: u32 = 0x03;
const I64_ADD: u32 = 0x7c, I64_SUB: u32 = 0x7d, I64_MUL: u32 = 0x7e, I64_AND: u32 = 0x83;
const I64_OR: u32 = 0x84, I64_XOR: u32 = 0x85, I64_SHL: u32 = 0x86, I64_SHR_S: u32 = 0x87;
const I64_SHR_U: u32 = 0x88, I32_WRAP_I64: u32 = 0xa7, I64_EXTEND_I32_S: u32 = 0xac;
const I64_EXTEND_I32_U: u32 = 0xad, I64_EXTEND8_S: u32 = 0xc2, I64_EXTEND16_S: u32 = 0xc3;
const I64_EXTEND32_S: u32 = 0xc4, I32_SHL_OP: u32 = 0x74, I32_SHR_S: u32 = 0x75, I32_SHR_U: u32 = 0x76;
const BLOCK_I64: u32 = 0x7e, BLOCK_VOID: u32 = 0x40;

// Locals of a block function.
const L_HART: u32 = 0; // param: hart block address
const L_PC: u32 = 1; // param: pc of the block's first instruction
const L_LIMIT: u32 = 2; // param: instructions the block may retire at most
const L_VA: u32 = 3; // i64
const L_VALUE: u32 = 4; // i64
const L_ENTRY: u32 = 5; // i32: TLB entry
const L_TLB_LOAD: u32 = 6; // i32
const L_TLB_STORE: u32 = 7; // i32
const L_DONE: u32 = 8; // i32: instructions retired by earlier passes of the block's loop

// Imported functions.
const F_LOAD: u32 = 0, F_STORE: u32 = 1, F_MULDIV: u32 = 2, F_FIRST_BLOCK: u32 = 3;

function op(code: u32): void { byte(code); }
function localGet(l: u32): void { byte(LOCAL_GET); uleb(l); }
function localSet(l: u32): void { byte(LOCAL_SET); uleb(l); }
function i32Const(v: i32): void { byte(I32_CONST); sleb(v); }
function i64Const(v: i64): void { byte(I64_CONST); sleb(v); }
function memarg(align: u32, offset: u32): void { uleb(align); uleb(offset); }

function getReg(r: u32): void {
  if (r == 0) {
    i64Const(0);
    return;
  }
  localGet(L_HART);
  byte(I64_LOAD);
  memarg(3, <u32>HART_X + r * 8);
}
/** Stores the i64 on top of the stack in x[rd] (x0: dropped). */
function putReg(rd: u32): void {
  if (rd == 0) {
    byte(DROP);
    return;
  }
  localSet(L_VALUE);
  localGet(L_HART);
  localGet(L_VALUE);
  byte(I64_STORE);
  memarg(3, <u32>HART_X + rd * 8);
}
/** pc + offset on the stack. */
function pcPlus(offset: i64): void {
  localGet(L_PC);
  if (offset != 0) {
    i64Const(offset);
    byte(I64_ADD);
  }
}
/** HART_JIT_RETIRED = earlier passes + `count` instructions of this one. */
function setRetired(count: i32): void {
  localGet(L_HART);
  localGet(L_DONE);
  if (count != 0) {
    i32Const(count);
    byte(I32_ADD);
  }
  byte(I32_STORE);
  memarg(2, <u32>HART_JIT_RETIRED);
}
/** After a slow-path access: when it raised an exception, leave with the instruction's pc. */
function exitOnFault(index: i32, offset: i32): void {
  localGet(L_HART);
  byte(I32_LOAD);
  memarg(2, <u32>HART_JIT_FAULT);
  byte(IF);
  byte(BLOCK_VOID);
  setRetired(index);
  pcPlus(offset);
  byte(RETURN);
  byte(END);
}

/** Leaves L_ENTRY = the TLB entry of L_VA in `table`, and whether it covers [va, va + size). */
function tlbHit(table: u32, size: i32): void {
  localGet(table);
  localGet(L_VA);
  i64Const(12);
  byte(I64_SHR_U);
  byte(I32_WRAP_I64);
  i32Const(TLB_ENTRIES - 1);
  byte(I32_AND);
  i32Const(TLB_ENTRY_SHIFT);
  byte(I32_SHL);
  byte(I32_ADD);
  byte(LOCAL_TEE);
  uleb(L_ENTRY);
  byte(I64_LOAD);
  memarg(3, TLB_ENTRY_TAG);
  localGet(L_VA);
  i64Const(size - 1);
  byte(I64_ADD);
  i64Const(~0xfff);
  byte(I64_AND);
  byte(I64_EQ);
}
/** The host address of L_VA through the entry in L_ENTRY, as an i32. */
function hostOfVa(): void {
  localGet(L_VA);
  localGet(L_ENTRY);
  byte(I64_LOAD);
  memarg(3, TLB_ENTRY_ADDEND);
  byte(I64_ADD);
  byte(I32_WRAP_I64);
}
function effectiveAddress(rs1: u32, imm: i64): void {
  getReg(rs1);
  if (imm != 0) {
    i64Const(imm);
    byte(I64_ADD);
  }
  localSet(L_VA);
}

function emitLoad(f3: u32, rd: u32, rs1: u32, imm: i64, index: i32, offset: i32): void {
  const size = 1 << (f3 & 3);
  const signed = f3 < 4;
  effectiveAddress(rs1, imm);
  tlbHit(L_TLB_LOAD, size);
  byte(IF);
  byte(BLOCK_I64);
  hostOfVa();
  // i64.load8_s/u, load16_s/u, load32_s/u, load
  byte(size == 8 ? I64_LOAD : 0x30 + (size == 1 ? 0 : size == 2 ? 2 : 4) + (signed ? 0 : 1));
  memarg(0, 0);
  byte(ELSE);
  localGet(L_VA);
  i32Const(size);
  byte(CALL);
  uleb(F_LOAD);
  localSet(L_VALUE);
  exitOnFault(index, offset);
  localGet(L_VALUE);
  if (signed && size < 8) byte(size == 1 ? I64_EXTEND8_S : size == 2 ? I64_EXTEND16_S : I64_EXTEND32_S);
  byte(END);
  putReg(rd);
}

function emitStore(f3: u32, rs1: u32, rs2: u32, imm: i64, index: i32, offset: i32): void {
  const size = 1 << f3;
  effectiveAddress(rs1, imm);
  tlbHit(L_TLB_STORE, size);
  byte(IF);
  byte(BLOCK_VOID);
  hostOfVa();
  getReg(rs2);
  byte(size == 8 ? I64_STORE : size == 4 ? 0x3e : size == 2 ? 0x3d : 0x3c); // i64.store32/16/8
  memarg(0, 0);
  byte(ELSE);
  localGet(L_VA);
  i32Const(size);
  getReg(rs2);
  byte(CALL);
  uleb(F_STORE);
  exitOnFault(index, offset);
  byte(END);
}

/** rs1 (op) rs2 for OP, or rs1 (op) imm for OP-IMM; false for encodings to leave alone. */
function emitAlu(f3: u32, funct7: u32, rs1: u32, rs2: u32, imm: i64, immediate: bool): bool {
  getReg(rs1);
  if (immediate) i64Const(f3 == 1 || f3 == 5 ? imm & 63 : imm);
  else getReg(rs2);
  if (funct7 == 1) { // M
    if (f3 == 0) {
      byte(I64_MUL);
      return true;
    }
    // call d(op, a, b): the operands are already on the stack, op must come first
    localSet(L_VALUE);
    localSet(L_VA);
    i32Const(<i32>f3);
    localGet(L_VA);
    localGet(L_VALUE);
    byte(CALL);
    uleb(F_MULDIV);
    return true;
  }
  switch (f3) {
    case 0: byte(funct7 == 0x20 ? I64_SUB : I64_ADD); return true;
    case 1: byte(I64_SHL); return true;
    case 2: byte(0x53); byte(I64_EXTEND_I32_U); return true; // i64.lt_s
    case 3: byte(0x54); byte(I64_EXTEND_I32_U); return true; // i64.lt_u
    case 4: byte(I64_XOR); return true;
    case 5: byte(funct7 == 0x20 ? I64_SHR_S : I64_SHR_U); return true;
    case 6: byte(I64_OR); return true;
    default: byte(I64_AND); return true;
  }
}

/** OP-32 / OP-IMM-32 (the operands are legal: checked by the caller). */
function emitAlu32(f3: u32, funct7: u32, rs1: u32, rs2: u32, imm: i64, immediate: bool): void {
  if (funct7 == 1 && f3 != 0) { // divw divuw remw remuw
    i32Const(<i32>(8 + f3));
    getReg(rs1);
    getReg(rs2);
    byte(CALL);
    uleb(F_MULDIV);
    return;
  }
  if (f3 == 0) {
    getReg(rs1);
    if (immediate) i64Const(imm);
    else getReg(rs2);
    byte(funct7 == 1 ? I64_MUL : funct7 == 0x20 ? I64_SUB : I64_ADD);
    byte(I64_EXTEND32_S);
    return;
  }
  getReg(rs1);
  byte(I32_WRAP_I64);
  if (immediate) i32Const(<i32>(imm & 31));
  else {
    getReg(rs2);
    byte(I32_WRAP_I64);
  }
  byte(f3 == 1 ? I32_SHL_OP : funct7 == 0x20 ? I32_SHR_S : I32_SHR_U);
  byte(I64_EXTEND_I32_S);
}

@inline function immI(insn: u32): i64 { return <i64>(<i32>insn >> 20); }

/** What translating one instruction did. */
const NOT_TRANSLATED: i32 = 0;
const CONTINUES: i32 = 1;
const ENDS_BLOCK: i32 = 2;
const JUMPS: i32 = 3; // a JAL the block follows: it goes on at offset jumpTarget
/** Where the block goes on after a followed JAL (bytes from its first instruction). */
let jumpTarget: i32 = 0;

/** Page offset of the first instruction of the block being translated. */
let pageStart: i32 = 0;

/** Emits instruction `insn` (expanded), the block's `index`th, `offset` bytes in, `length` long. */
function emitInstruction(insn: u32, index: i32, offset: i32, length: i32): i32 {
  const rd = (insn >> 7) & 31, rs1 = (insn >> 15) & 31, rs2 = (insn >> 20) & 31;
  const f3 = (insn >> 12) & 7;
  const funct7 = insn >> 25;
  switch ((insn >> 2) & 31) {
    case 0x00: // LOAD
      if (f3 == 7) return NOT_TRANSLATED;
      emitLoad(f3, rd, rs1, immI(insn), index, offset);
      return CONTINUES;
    case 0x04: { // OP-IMM
      const funct6 = insn >> 26;
      if (f3 == 1 && funct6 != 0) return NOT_TRANSLATED;
      if (f3 == 5 && funct6 != 0 && funct6 != 0x10) return NOT_TRANSLATED;
      if (rd == 0) return CONTINUES; // hints and nops
      emitAlu(f3, f3 == 5 && funct6 == 0x10 ? 0x20 : 0, rs1, 0, immI(insn), true);
      putReg(rd);
      return CONTINUES;
    }
    case 0x05: // AUIPC
      if (rd != 0) {
        pcPlus(<i64>offset + <i64><i32>(insn & 0xffff_f000));
        putReg(rd);
      }
      return CONTINUES;
    case 0x06: { // OP-IMM-32
      if (!(f3 == 0 || (f3 == 1 && funct7 == 0) || (f3 == 5 && (funct7 == 0 || funct7 == 0x20)))) return NOT_TRANSLATED;
      if (rd == 0) return CONTINUES;
      emitAlu32(f3, f3 == 0 ? 0 : funct7, rs1, 0, immI(insn), true);
      putReg(rd);
      return CONTINUES;
    }
    case 0x08: // STORE
      if (f3 > 3) return NOT_TRANSLATED;
      emitStore(f3, rs1, rs2, <i64>((<i32>(insn & 0xfe00_0000) >> 20) | <i32>((insn >> 7) & 31)), index, offset);
      return CONTINUES;
    case 0x0c: // OP
      if (!(funct7 == 0 || funct7 == 1 || (funct7 == 0x20 && (f3 == 0 || f3 == 5)))) return NOT_TRANSLATED;
      if (rd == 0) return CONTINUES;
      emitAlu(f3, funct7, rs1, rs2, 0, false);
      putReg(rd);
      return CONTINUES;
    case 0x0d: // LUI
      if (rd != 0) {
        i64Const(<i64><i32>(insn & 0xffff_f000));
        putReg(rd);
      }
      return CONTINUES;
    case 0x0e: { // OP-32
      const legal = (funct7 == 0 && (f3 == 0 || f3 == 1 || f3 == 5)) || (funct7 == 0x20 && (f3 == 0 || f3 == 5))
        || (funct7 == 1 && (f3 == 0 || f3 >= 4));
      if (!legal) return NOT_TRANSLATED;
      if (rd == 0) return CONTINUES;
      emitAlu32(f3, funct7, rs1, rs2, 0, false);
      putReg(rd);
      return CONTINUES;
    }
    case 0x18: { // BRANCH: a taken branch leaves the block, a branch not taken goes on in it
      if (f3 == 2 || f3 == 3) return NOT_TRANSLATED;
      const imm = (<i32>(insn & 0x8000_0000) >> 19) | <i32>(((insn & 0x80) << 4) | ((insn >> 20) & 0x7e0) | ((insn >> 7) & 0x1e));
      getReg(rs1);
      getReg(rs2);
      // beq bne - - blt bge bltu bgeu → i64.eq ne lt_s ge_s lt_u ge_u
      byte(f3 == 0 ? I64_EQ : f3 == 1 ? 0x52 : f3 == 4 ? 0x53 : f3 == 5 ? 0x59 : f3 == 6 ? 0x54 : 0x5a);
      byte(IF);
      byte(BLOCK_VOID);
      if (offset + imm == 0) { // back to the block's start: another pass if it fits
        localGet(L_DONE);
        i32Const(index + 1);
        byte(I32_ADD);
        localSet(L_DONE);
        localGet(L_DONE);
        localGet(L_LIMIT);
        i32Const(JIT_MAX_INSTRUCTIONS);
        byte(I32_SUB);
        byte(I32_LE_S);
        localGet(L_HART);
        byte(I32_LOAD);
        memarg(2, <u32>HART_JIT_YIELD);
        byte(I32_EQZ);
        byte(I32_AND);
        byte(BR_IF);
        uleb(1); // the function's loop
        setRetired(0);
      } else {
        setRetired(index + 1);
      }
      pcPlus(<i64>offset + imm);
      byte(RETURN);
      byte(END);
      return CONTINUES;
    }
    case 0x19: // JALR
      if (f3 != 0) return NOT_TRANSLATED;
      getReg(rs1);
      i64Const(immI(insn));
      byte(I64_ADD);
      i64Const(-2);
      byte(I64_AND);
      localSet(L_VA); // target, read before rd is written
      if (rd != 0) {
        pcPlus(offset + length);
        putReg(rd);
      }
      setRetired(index + 1);
      localGet(L_VA);
      return ENDS_BLOCK;
    case 0x1b: { // JAL
      const imm = (<i32>(insn & 0x8000_0000) >> 11) | <i32>((insn & 0xf_f000) | ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe));
      if (rd != 0) {
        pcPlus(offset + length);
        putReg(rd);
      }
      // A forward jump inside the page: the block follows it instead of ending (one dispatch
      // fewer). Forward only, so the block still covers one run of bytes from its start.
      if (imm > 0 && pageStart + offset + imm <= 0xffe) {
        jumpTarget = offset + imm;
        return JUMPS;
      }
      setRetired(index + 1);
      pcPlus(offset + imm);
      return ENDS_BLOCK;
    }
  }
  return NOT_TRANSLATED;
}

function moduleHeader(functions: i32): void {
  byte(0); byte(0x61); byte(0x73); byte(0x6d); byte(1); byte(0); byte(0); byte(0);
  // types: 0 block (i32 i64 i32)->i64, 1 load (i64 i32)->i64, 2 store (i64 i32 i64)->(), 3 muldiv (i32 i64 i64)->i64
  byte(1);
  let size = placeholder();
  let start = out;
  byte(4);
  byte(0x60); byte(3); byte(0x7f); byte(0x7e); byte(0x7f); byte(1); byte(0x7e);
  byte(0x60); byte(2); byte(0x7e); byte(0x7f); byte(1); byte(0x7e);
  byte(0x60); byte(3); byte(0x7e); byte(0x7f); byte(0x7e); byte(0);
  byte(0x60); byte(3); byte(0x7f); byte(0x7e); byte(0x7e); byte(1); byte(0x7e);
  patch(size, <u32>(out - start));
  // imports: e.m shared memory, e.l load, e.s store, e.d muldiv
  byte(2);
  size = placeholder();
  start = out;
  byte(4);
  name(0x65); name(0x6d); byte(2); byte(3); uleb(1); uleb(65536);
  name(0x65); name(0x6c); byte(0); byte(1);
  name(0x65); name(0x73); byte(0); byte(2);
  name(0x65); name(0x64); byte(0); byte(3);
  patch(size, <u32>(out - start));
  // `functions` functions of type 0, function i exported as the two letters 'a' + i / 16, 'a' + i % 16
  byte(3);
  size = placeholder();
  start = out;
  uleb(<u32>functions);
  for (let i = 0; i < functions; i++) byte(0);
  patch(size, <u32>(out - start));
  byte(7);
  size = placeholder();
  start = out;
  uleb(<u32>functions);
  for (let i: u32 = 0; i < <u32>functions; i++) {
    byte(2);
    byte(0x61 + (i >> 4));
    byte(0x61 + (i & 15));
    byte(0);
    uleb(F_FIRST_BLOCK + i);
  }
  patch(size, <u32>(out - start));
}

/** Counts a run of the block of `entry` (state counting); queues it when it is hot. */
export function countRun(entry: usize): void {
  const runs = load<u32>(entry, JIT_ENTRY_RUNS) + 1;
  store<u32>(entry, runs, JIT_ENTRY_RUNS);
  if (runs < jitThreshold) return;
  const queue = jitArea() + <usize>JIT_QUEUE;
  const queued = load<i32>(queue);
  store<i32>(entry, JIT_STATE_QUEUED, JIT_ENTRY_STATE);
  store<u32>(queue + 4 + (<usize>queued << 2), <u32>entry);
  store<i32>(queue, queued + 1);
  if (queued + 1 >= JIT_BATCH || jitThreshold == 1) translateQueue();
}

/** Called once per run-loop chunk: translates a queue whose oldest block waited long enough. */
let queueWait: i32 = 0;
export function queueTick(): void {
  const queued = load<i32>(jitArea() + <usize>JIT_QUEUE);
  if (queued == 0) return;
  queueWait++;
  if ((queued >= JIT_SMALL_BATCH && queueWait >= JIT_WAIT_CHUNKS) || queueWait >= JIT_MAX_WAIT_CHUNKS) translateQueue();
}

/** Writes the queued blocks (those still queued and current) as one module and compiles it. */
export function translateQueue(): void {
  const area = jitArea();
  const queue = area + <usize>JIT_QUEUE;
  const queued = load<i32>(queue);
  store<i32>(queue, 0);
  queueWait = 0;
  // Keep the entries still queued (not reclaimed by another block since).
  let count = 0;
  for (let i = 0; i < queued; i++) {
    const entry = <usize>load<u32>(queue + 4 + (<usize>i << 2));
    if (load<i32>(entry, JIT_ENTRY_STATE) != JIT_STATE_QUEUED) continue;
    store<u32>(queue + 4 + (<usize>count << 2), <u32>entry);
    count++;
  }
  if (count == 0) return;
  out = area + <usize>JIT_BUFFER;
  const moduleStart = out;
  moduleHeader(count);
  byte(10);
  const sectionSize = placeholder();
  const sectionStart = out;
  uleb(count);
  const slots = area + <usize>JIT_QUEUE_SLOTS;
  for (let i = 0; i < count; i++) {
    const entry = <usize>load<u32>(queue + 4 + (<usize>i << 2));
    const host = load<u32>(entry, JIT_ENTRY_HOST);
    markCodePage(<usize>host); // before reading it: any later write makes the block stale
    const instructions = emitFunction(host);
    store<i32>(entry, instructions > 0 ? instructions : JIT_STATE_UNTRANSLATABLE, JIT_ENTRY_STATE);
    store<u32>(entry, codeGeneration(<usize>host), JIT_ENTRY_GENERATION);
    store<u32>(entry, load<u32>(hb + HART_JIT_EPOCH), JIT_ENTRY_EPOCH);
    store<u32>(entry, blockBytes, JIT_ENTRY_BYTES);
    store<u32>(entry, checksum(<usize>host, blockBytes), JIT_ENTRY_CHECKSUM);
    store<u32>(slots + (<usize>i << 2), entrySlot(entry));
  }
  patch(sectionSize, <u32>(out - sectionStart));
  profile(PROFILE_TRANSLATIONS, <u64>count);
  profile(PROFILE_MODULES);
  hostCompile(slots, count, moduleStart, <i32>(out - moduleStart));
}

/** Bytes of guest code the last emitFunction translated. */
let blockBytes: u32 = 0;

/** Emits the function of the block at `host`; returns its instruction count (0: none). */
function emitFunction(host: u32): i32 {
  const bodySize = placeholder();
  const bodyStart = out;
  byte(2); // local groups
  byte(2); byte(0x7e); // L_VA, L_VALUE
  byte(4); byte(0x7f); // L_ENTRY, L_TLB_LOAD, L_TLB_STORE, L_DONE
  localGet(L_HART);
  byte(I32_LOAD);
  memarg(2, <u32>HART_TLB_LOAD);
  localSet(L_TLB_LOAD);
  localGet(L_HART);
  byte(I32_LOAD);
  memarg(2, <u32>HART_TLB_STORE);
  localSet(L_TLB_STORE);
  byte(LOOP);
  byte(BLOCK_I64);
  let count: i32 = 0;
  let offset: i32 = 0;
  let ended = false;
  let looked: i32 = 0; // bytes of the instruction last looked at
  pageStart = <i32>(host & 0xfff);
  while (count < JIT_MAX_INSTRUCTIONS) {
    const pageOffset = <i32>(host & 0xfff) + offset;
    if (pageOffset > 0xffe) break;
    let insn = <u32>load<u16>(<usize>host + offset);
    let length = 2;
    looked = 2;
    if ((insn & 3) == 3) {
      if (pageOffset > 0xffc) break; // the rest lies on the next page
      insn = load<u32>(<usize>host + offset);
      length = 4;
      looked = 4;
    } else {
      insn = load<u32>(<usize>RVC_TABLE + (<usize>insn << 2));
      if (insn == 0) break;
    }
    const result = emitInstruction(insn, count, offset, length);
    if (result == NOT_TRANSLATED) break;
    count++;
    offset = result == JUMPS ? jumpTarget : offset + length;
    if (result == ENDS_BLOCK) {
      ended = true;
      break;
    }
  }
  if (!ended) {
    setRetired(count);
    pcPlus(offset);
  }
  byte(END); // loop
  byte(END);
  patch(bodySize, <u32>(out - bodyStart));
  // A block that translates nothing is summed over its first instruction: the bytes that made it
  // untranslatable, so that FENCE.I keeps the verdict while they stay the same.
  // Forward jumps only: `offset` is past every instruction translated.
  blockBytes = <u32>(count > 0 ? offset : looked);
  return count;
}
