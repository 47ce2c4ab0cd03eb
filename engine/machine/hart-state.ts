// Every hart's architectural state as saved state: read from and written to the HART blocks of
// the shared memory (engine/cpu/layout.ts) field by field, each under its own name, never as a
// raw block keyed by offsets (DESIGN.md: v86's saved states broke on exactly that). 64-bit
// values are decimal strings (engine/devices/state.ts).
//
// Not saved, because it is no architectural state: the LR reservation (an SC after a restore
// fails, as after any trap), the TLBs and translated blocks (caches the core fills again: a
// machine restores into fresh memory, where they start empty) and the core's bookkeeping words
// (TLB table pointers, JIT epoch and exit words).
import {
  HART_BASE, HART_SIZE, HART_X, HART_F, HART_PC, HART_PRIV, HART_WAITING, HART_IRQ_LINES,
  HART_MIP_SOFT, HART_MTIMECMP, HART_INSTRET, HART_CYCLE_DELTA, HART_RESERVATION,
  HART_MSTATUS, HART_MEDELEG, HART_MIDELEG, HART_MIE, HART_MTVEC, HART_MSCRATCH, HART_MEPC,
  HART_MCAUSE, HART_MTVAL, HART_MCOUNTEREN, HART_MENVCFG, HART_MCOUNTINHIBIT, HART_STVEC,
  HART_SSCRATCH, HART_SEPC, HART_SCAUSE, HART_STVAL, HART_SCOUNTEREN, HART_SENVCFG, HART_SATP,
  HART_STIMECMP, HART_FCSR, HART_MHARTID, HART_PMPCFG, HART_PMPADDR, NO_RESERVATION,
} from '../cpu/layout.ts';
import { DeviceStateError, StateReader, u64State } from '../devices/state.ts';

const VERSION = 1;
const PMPCFG_REGISTERS = 8;
const PMPADDR_REGISTERS = 64;

/** The CSRs kept as plain 64-bit fields of the HART block, by name. */
const CSR_FIELDS = {
  mstatus: HART_MSTATUS, medeleg: HART_MEDELEG, mideleg: HART_MIDELEG, mie: HART_MIE,
  mtvec: HART_MTVEC, mscratch: HART_MSCRATCH, mepc: HART_MEPC, mcause: HART_MCAUSE,
  mtval: HART_MTVAL, mcounteren: HART_MCOUNTEREN, menvcfg: HART_MENVCFG,
  mcountinhibit: HART_MCOUNTINHIBIT, stvec: HART_STVEC, sscratch: HART_SSCRATCH, sepc: HART_SEPC,
  scause: HART_SCAUSE, stval: HART_STVAL, scounteren: HART_SCOUNTEREN, senvcfg: HART_SENVCFG,
  satp: HART_SATP, stimecmp: HART_STIMECMP, fcsr: HART_FCSR, mhartid: HART_MHARTID,
  mtimecmp: HART_MTIMECMP,
} as const;
type CsrName = keyof typeof CSR_FIELDS;

export interface HartState {
  pc: bigint;
  /** 0 U, 1 S, 3 M. */
  privilege: 0 | 1 | 3;
  x: bigint[];
  /** Raw 64-bit patterns (singles NaN-boxed). */
  f: bigint[];
  csrs: Record<CsrName, bigint>;
  pmpcfg: bigint[];
  pmpaddr: bigint[];
  /** Interrupt inputs devices drive (mip bit set: MSIP, SEIP, MEIP). */
  irqLines: number;
  /** mip bits software wrote (SSIP, STIP, SEIP). */
  mipSoft: number;
  /** Stopped in WFI. */
  waiting: boolean;
  instret: bigint;
  /** mcycle (kept by the core as an offset from minstret). */
  cycle: bigint;
}

/** The view of one hart's block. */
class HartBlock {
  private readonly quads: BigUint64Array;
  private readonly words: Int32Array;
  private readonly base: number;

  constructor(memory: WebAssembly.Memory, hart: number) {
    this.quads = new BigUint64Array(memory.buffer);
    this.words = new Int32Array(memory.buffer);
    this.base = HART_BASE + hart * HART_SIZE;
  }

  u64(offset: number): bigint { return this.quads[(this.base + offset) >> 3]!; }
  setU64(offset: number, value: bigint): void { this.quads[(this.base + offset) >> 3] = BigInt.asUintN(64, value); }
  /** i32 fields other threads change with Atomics (the interrupt lines). */
  i32(offset: number): number { return Atomics.load(this.words, (this.base + offset) >> 2); }
  setI32(offset: number, value: number): void { Atomics.store(this.words, (this.base + offset) >> 2, value); }
  u64s(offset: number, count: number): bigint[] { return Array.from({ length: count }, (_, i) => this.u64(offset + 8 * i)); }
  setU64s(offset: number, values: readonly bigint[]): void { values.forEach((value, i) => this.setU64(offset + 8 * i, value)); }
}

/** Reads hart `hart`'s state from its block; the hart must be stopped (parked, or not started). */
export function readHartState(memory: WebAssembly.Memory, hart: number): HartState {
  const block = new HartBlock(memory, hart);
  const csrs = Object.fromEntries(Object.entries(CSR_FIELDS).map(([name, offset]) => [name, block.u64(offset)])) as Record<CsrName, bigint>;
  const instret = block.u64(HART_INSTRET);
  return {
    pc: block.u64(HART_PC),
    privilege: block.i32(HART_PRIV) as 0 | 1 | 3,
    x: block.u64s(HART_X, 32),
    f: block.u64s(HART_F, 32),
    csrs,
    pmpcfg: block.u64s(HART_PMPCFG, PMPCFG_REGISTERS),
    pmpaddr: block.u64s(HART_PMPADDR, PMPADDR_REGISTERS),
    irqLines: block.i32(HART_IRQ_LINES) >>> 0,
    mipSoft: block.i32(HART_MIP_SOFT) >>> 0,
    waiting: block.i32(HART_WAITING) !== 0,
    instret,
    cycle: BigInt.asUintN(64, instret + block.u64(HART_CYCLE_DELTA)),
  };
}

/** Writes `state` into hart `hart`'s block, with no LR reservation. The hart must not be running. */
export function writeHartState(memory: WebAssembly.Memory, hart: number, state: HartState): void {
  const block = new HartBlock(memory, hart);
  block.setU64(HART_PC, state.pc);
  block.setI32(HART_PRIV, state.privilege);
  block.setU64s(HART_X, state.x);
  block.setU64s(HART_F, state.f);
  for (const [name, offset] of Object.entries(CSR_FIELDS)) block.setU64(offset, state.csrs[name as CsrName]);
  block.setU64s(HART_PMPCFG, state.pmpcfg);
  block.setU64s(HART_PMPADDR, state.pmpaddr);
  block.setI32(HART_IRQ_LINES, state.irqLines | 0);
  block.setI32(HART_MIP_SOFT, state.mipSoft | 0);
  block.setI32(HART_WAITING, state.waiting ? 1 : 0);
  block.setU64(HART_INSTRET, state.instret);
  block.setU64(HART_CYCLE_DELTA, state.cycle - state.instret);
  block.setU64(HART_RESERVATION, BigInt(NO_RESERVATION));
}

/** A hart's state as plain JSON data. */
export function hartStateJson(state: HartState): Record<string, unknown> {
  return {
    pc: u64State(state.pc),
    privilege: state.privilege,
    x: state.x.map(u64State),
    f: state.f.map(u64State),
    csrs: Object.fromEntries(Object.entries(state.csrs).map(([name, value]) => [name, u64State(value)])),
    pmpcfg: state.pmpcfg.map(u64State),
    pmpaddr: state.pmpaddr.map(u64State),
    irqLines: state.irqLines,
    mipSoft: state.mipSoft,
    waiting: state.waiting,
    instret: u64State(state.instret),
    cycle: u64State(state.cycle),
  };
}

/** Reads a hart's JSON state back; every field is checked (a DeviceStateError names the bad one). */
function hartStateFrom(s: StateReader, hart: number): HartState {
  const kind = `cpu.harts[${hart}]`;
  const privilege = s.uint('privilege', 3);
  if (privilege === 2) throw new DeviceStateError(`${kind}: saved field "privilege" is not 0, 1 or 3`);
  const x = s.u64s('x', 32);
  if (x[0] !== 0n) throw new DeviceStateError(`${kind}: saved register x0 is not 0`);
  const csrReader = s.record('csrs');
  const csrs = Object.fromEntries(Object.keys(CSR_FIELDS).map((name) => [name, csrReader.u64(name)])) as Record<CsrName, bigint>;
  if (csrs.mhartid !== BigInt(hart)) throw new DeviceStateError(`${kind}: saved mhartid is ${csrs.mhartid}`);
  return {
    pc: s.u64('pc'),
    privilege: privilege as 0 | 1 | 3,
    x,
    f: s.u64s('f', 32),
    csrs,
    pmpcfg: s.u64s('pmpcfg', PMPCFG_REGISTERS),
    pmpaddr: s.u64s('pmpaddr', PMPADDR_REGISTERS),
    irqLines: s.uint('irqLines'),
    mipSoft: s.uint('mipSoft'),
    waiting: s.bool('waiting'),
    instret: s.u64('instret'),
    cycle: s.u64('cycle'),
  };
}

/** The `cpu` section of a saved state: every hart, in hart order. */
export function cpuStateJson(memory: WebAssembly.Memory, harts: number): Record<string, unknown> {
  return { version: VERSION, harts: Array.from({ length: harts }, (_, hart) => hartStateJson(readHartState(memory, hart))) };
}

/** Reads a `cpu` section back for a machine of `harts` harts; throws DeviceStateError for one that does not fit. */
export function cpuStateFromJson(json: unknown, harts: number): HartState[] {
  const s = StateReader.open(json as { version: number }, 'cpu', VERSION);
  const saved = s.list('harts', (entry) => entry);
  if (saved.length !== harts) throw new DeviceStateError(`cpu: the saved state has ${saved.length} harts, this machine ${harts}`);
  return saved.map((entry, hart) => hartStateFrom(entry, hart));
}
