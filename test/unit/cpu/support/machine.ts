// A one-hart machine for instruction tests: the real core (engine/cpu/cpu.ts) over 1 MiB of RAM
// and a recording fake MMIO bus (the unit under test is the core, not the board's devices).
//
// A test program is a snippet of RV64 assembly. The harness wraps it as
//
//   DRAM_BASE  _start:  <code>            (M mode, registers as the test sets them)
//              _done:   wfi; j _done      the program's normal end
//              _trap_m: wfi; j _trap_m    mtvec points here (direct mode)
//              _trap_s: wfi; j _trap_s    stvec points here
//              <data>                     8-byte aligned, labels visible to code and test
//
// and runs it until the hart sits in one of those three loops, then the test inspects
// registers, CSRs, memory, pc and privilege. `.option norvc` is on, so every instruction is its
// 32-bit form unless a test writes a compressed one (inside `.option rvc`).
import assert from 'node:assert/strict';
import { Cpu, CpuExit } from '../../../../engine/cpu/cpu.ts';
import { MACHINE_CLOCK_BASE_NS, HART_BASE, HART_SIZE, TLB_BASE, TLB_SIZE, RAM_OFFSET } from '../../../../engine/cpu/layout.ts';
import { BusError, type AccessWidth, type MmioBus } from '../../../../engine/devices/device.ts';
import { GuestMemory } from '../../../../engine/devices/guest-memory.ts';
import { assemble, type Assembled } from './assemble.ts';
import { lockstepStep, LockstepDivergence, type LockstepSide } from './lockstep.ts';

export const RAM_BYTES = 1 << 20;
/** Where the fake bus has a device: [MMIO_BASE, MMIO_BASE + MMIO_SIZE); elsewhere it raises BusError. */
export const MMIO_BASE = 0x1000_0000;
export const MMIO_SIZE = 0x1000;
/** Default host clock for the core: guest mtime = ns / 100 = 10_000_000 ticks. */
export const DEFAULT_NOW_NS = 1_000_000_000n;
const U64_MAX = (1n << 64n) - 1n;

// CSR numbers (privileged spec, "CSR Listing").
export const CSR = {
  fflags: 0x001, frm: 0x002, fcsr: 0x003,
  sstatus: 0x100, sie: 0x104, stvec: 0x105, scounteren: 0x106,
  sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, sip: 0x144, satp: 0x180,
  mstatus: 0x300, misa: 0x301, medeleg: 0x302, mideleg: 0x303, mie: 0x304, mtvec: 0x305,
  mcounteren: 0x306, menvcfg: 0x30a,
  mscratch: 0x340, mepc: 0x341, mcause: 0x342, mtval: 0x343, mip: 0x344,
  cycle: 0xc00, time: 0xc01, instret: 0xc02,
  mvendorid: 0xf11, marchid: 0xf12, mimpid: 0xf13, mhartid: 0xf14,
} as const;

// mstatus fields (privileged spec, "Machine Status Registers").
export const MSTATUS = {
  SIE: 1n << 1n, MIE: 1n << 3n, SPIE: 1n << 5n, MPIE: 1n << 7n, SPP: 1n << 8n,
  MPP_SHIFT: 11n, MPP: 3n << 11n, FS_SHIFT: 13n, FS: 3n << 13n,
  MPRV: 1n << 17n, SUM: 1n << 18n, MXR: 1n << 19n, TVM: 1n << 20n, TW: 1n << 21n, TSR: 1n << 22n,
  SD: 1n << 63n,
} as const;

export const INTERRUPT = 1n << 63n;
/** mcause/scause exception codes (privileged spec, "Machine Cause Register"). */
export const CAUSE = {
  fetchMisaligned: 0n, fetchAccess: 1n, illegalInstruction: 2n, breakpoint: 3n,
  loadMisaligned: 4n, loadAccess: 5n, storeMisaligned: 6n, storeAccess: 7n,
  ecallU: 8n, ecallS: 9n, ecallM: 11n,
  fetchPage: 12n, loadPage: 13n, storePage: 15n,
} as const;

const X_NAMES = ['zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6'];
const F_NAMES = ['ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3',
  'fa4', 'fa5', 'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10', 'fs11',
  'ft8', 'ft9', 'ft10', 'ft11'];

function registerIndex(names: string[], prefix: 'x' | 'f', name: string): number {
  const numbered = new RegExp(`^${prefix}(\\d+)$`).exec(name);
  const index = numbered ? Number(numbered[1]) : names.indexOf(name === 'fp' ? 's0' : name);
  if (index < 0 || index > 31) throw new Error(`no register ${name}`);
  return index;
}

/** Two's complement as the 64-bit pattern a register holds: u64(-1n) = 0xffff_ffff_ffff_ffff. */
export const u64 = (value: bigint): bigint => BigInt.asUintN(64, value);
/** Sign-extends the low 32 bits, as RV64's W instructions do with their results. */
export const sext32 = (value: bigint): bigint => u64(BigInt.asIntN(32, value));
export const hex = (value: bigint): string => `0x${u64(value).toString(16)}`;

export interface BusAccess { op: 'read' | 'write'; address: number; width: AccessWidth; value: number }

/**
 * A fake MMIO bus: one device window at MMIO_BASE whose reads answer `readValue(address, width)`,
 * and that records every access in order; `failAt` makes an address answer BusError, as does
 * everything outside the window.
 */
export class RecordingBus implements MmioBus {
  readonly accesses: BusAccess[] = [];
  readValue: (address: number, width: AccessWidth) => number = () => 0;
  failAt = new Set<number>();

  /** Throws the BusError of an address nothing answers at. */
  check(address: number): void {
    if (address < MMIO_BASE || address >= MMIO_BASE + MMIO_SIZE || this.failAt.has(address)) {
      throw new BusError(`nothing answers at 0x${address.toString(16)}`);
    }
  }

  read(address: number, width: AccessWidth): number {
    this.check(address);
    const value = this.readValue(address, width);
    this.accesses.push({ op: 'read', address, width, value });
    return value;
  }

  write(address: number, width: AccessWidth, value: number): void {
    this.check(address);
    this.accesses.push({ op: 'write', address, width, value });
  }
}

/** Where the hart stopped: in the program's end loop, a trap handler loop, WFI elsewhere, or nowhere. */
export type Stop = 'done' | 'm-trap' | 's-trap' | 'idle' | 'budget';

export interface ProgramOptions {
  /** Assembly placed after the handlers (8-byte aligned): data the code refers to by label. */
  data?: string;
  /** Integer registers before the first instruction, by ABI name or xN. */
  x?: Record<string, bigint>;
  /** Float registers (raw 64-bit patterns, so singles must be NaN-boxed), by ABI name or fN. */
  f?: Record<string, bigint>;
  /** mstatus.FS before the first instruction: 'initial' (default, the FPU usable) or 'off'. */
  fpu?: 'initial' | 'off';
  /** The host clock the core reads (ns); guest mtime is this / 100. */
  nowNs?: bigint;
  /** Instructions to run at most before giving up. */
  budget?: number;
  /** The core's JIT threshold (CpuOptions.jitThreshold); by default testJitThreshold(). */
  jitThreshold?: number;
}

const CHUNK = 1_000;
let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * The core's JIT threshold for test machines: HANGAR_TEST_JIT_THRESHOLD, else the core's
 * default (64: far more runs than these programs make, so they run interpreted).
 * translated.test.ts runs the whole suite again at 1, so that every program runs translated.
 */
export function testJitThreshold(): number | undefined {
  const value = process.env.HANGAR_TEST_JIT_THRESHOLD;
  return value === undefined || value === '' ? undefined : Number(value);
}

/**
 * Lockstep mode (HANGAR_TEST_LOCKSTEP=1, lockstep.test.ts): every test machine translates at
 * threshold 1 and stops at each block end, and a twin that only interprets runs the same
 * instructions from the same state after each block; support/lockstep.ts compares them.
 */
const lockstep = (): boolean => process.env.HANGAR_TEST_LOCKSTEP === '1';
/** A threshold no block start reaches: the twin never translates. */
const NEVER = 0xffff_ffff;

const machines: Cpu[] = [];
/** Blocks the translator compiled, summed over every test machine of this process. */
export function translatedBlocks(): number {
  return machines.reduce((sum, cpu) => sum + cpu.translatedBlocks, 0);
}

function wrap(code: string, data = ''): string {
  return `.option norvc
.text
_start:
${code}
_done:
  wfi
  j _done
.balign 4
_trap_m:
  wfi
  j _trap_m
.balign 4
_trap_s:
  wfi
  j _trap_s
.balign 8
${data}
`;
}

/**
 * The lockstep twin's bus: the accesses the translating machine made in the step, replayed in
 * order (the twin must make the same ones; a read answers what the machine's read got).
 */
class ReplayBus implements MmioBus {
  cursor = 0;
  constructor(private readonly recorded: RecordingBus) {}

  private next(op: 'read' | 'write', address: number, width: AccessWidth, value = 0): BusAccess {
    this.recorded.check(address); // failed accesses leave no record: the twin's fail the same way
    const access = this.recorded.accesses[this.cursor++];
    if (!access || access.op !== op || access.address !== address || access.width !== width || (op === 'write' && access.value !== value)) {
      throw new LockstepDivergence(`lockstep: the interpreter made the MMIO ${op} of ${width} bytes at 0x${address.toString(16)}`
        + (op === 'write' ? ` (0x${value.toString(16)})` : '') + `, the translator ${access ? `a ${access.op} at 0x${access.address.toString(16)}` : 'none'}`);
    }
    return access;
  }

  read(address: number, width: AccessWidth): number {
    return this.next('read', address, width).value;
  }

  write(address: number, width: AccessWidth, value: number): void {
    this.next('write', address, width, value);
  }
}

/** The interpreting twin of a lockstep test machine. */
interface Twin { cpu: Cpu; memory: WebAssembly.Memory; bus: ReplayBus }

/** A loaded program on a fresh one-hart machine, ready to run. */
export class TestMachine {
  private twin: Twin | null = null;

  private constructor(
    readonly cpu: Cpu,
    readonly memory: GuestMemory,
    readonly bus: RecordingBus,
    readonly program: Assembled,
    readonly source: string,
    private readonly budget: number,
  ) {}

  static async load(code: string, options: ProgramOptions = {}): Promise<TestMachine> {
    const source = wrap(code, options.data);
    const program = assemble(source);
    const memory = Cpu.createMemory(RAM_BYTES);
    const nowNs = options.nowNs ?? DEFAULT_NOW_NS;
    const bus = new RecordingBus();
    compiled ??= Cpu.compile();
    const jitThreshold = lockstep() ? 1 : options.jitThreshold ?? testJitThreshold();
    const cpu = new Cpu(await compiled, memory, { ramBytes: RAM_BYTES, harts: 1, bus, nowNs: () => nowNs, jitThreshold });
    machines.push(cpu);
    new BigInt64Array(memory.buffer, MACHINE_CLOCK_BASE_NS, 1)[0] = 0n;
    const guest = new GuestMemory(memory, RAM_BYTES);
    guest.write(guest.base, program.image);

    const x = options.x ?? {};
    const reg = (name: string): bigint => u64(x[name] ?? 0n);
    cpu.resetHart(0, { pc: BigInt(guest.base), a0: reg('a0'), a1: reg('a1'), a2: reg('a2') });
    for (const [name, value] of Object.entries(x)) cpu.setX(0, registerIndex(X_NAMES, 'x', name), u64(value));
    for (const [name, value] of Object.entries(options.f ?? {})) cpu.setF(0, registerIndex(F_NAMES, 'f', name), u64(value));
    // As OpenSBI and Linux leave an unused timer: compare at the far future (mtimecmp is unsigned).
    cpu.setMtimecmp(0, U64_MAX);
    const machine = new TestMachine(cpu, guest, bus, program, source, options.budget ?? 100_000);
    if (lockstep()) {
      const twinMemory = Cpu.createMemory(RAM_BYTES);
      const twinBus = new ReplayBus(bus);
      const twinCpu = new Cpu(await compiled, twinMemory, { ramBytes: RAM_BYTES, harts: 1, bus: twinBus, nowNs: () => nowNs, jitThreshold: NEVER });
      machine.twin = { cpu: twinCpu, memory: twinMemory, bus: twinBus };
    }
    // Reset leaves these unspecified (privileged spec, "Reset"); firmware would clear them.
    for (const csr of [CSR.medeleg, CSR.mideleg, CSR.mie, CSR.satp]) cpu.writeCsr(0, csr, 0n);
    cpu.writeCsr(0, CSR.mtvec, machine.symbol('_trap_m'));
    cpu.writeCsr(0, CSR.stvec, machine.symbol('_trap_s'));
    const fs = options.fpu === 'off' ? 0n : 1n;
    cpu.writeCsr(0, CSR.mstatus, (cpu.readCsr(0, CSR.mstatus) & ~MSTATUS.FS) | (fs << MSTATUS.FS_SHIFT));
    return machine;
  }

  symbol(name: string): bigint {
    const address = this.program.symbols.get(name);
    if (address === undefined) throw new Error(`the program has no label ${name}`);
    return address;
  }

  x(name: string): bigint { return u64(this.cpu.getX(0, registerIndex(X_NAMES, 'x', name))); }
  f(name: string): bigint { return u64(this.cpu.getF(0, registerIndex(F_NAMES, 'f', name))); }
  csr(csr: number): bigint { return u64(this.cpu.readCsr(0, csr)); }
  get pc(): bigint { return u64(this.cpu.getPc(0)); }
  get privilege(): 0 | 1 | 3 { return this.cpu.privilege(0); }

  /** Which of the harness's loops holds pc, if any. */
  private where(): Stop | null {
    const pc = this.pc;
    for (const [label, stop] of [['_done', 'done'], ['_trap_m', 'm-trap'], ['_trap_s', 's-trap']] as const) {
      const start = this.symbol(label);
      if (pc >= start && pc < start + 8n) return stop;
    }
    return null;
  }

  /** Runs until the hart reaches one of the harness's loops (or idles elsewhere, or the budget ends). */
  run(): Stop {
    if (this.twin) return this.runInLockstep(this.twin);
    for (let spent = 0; spent < this.budget; spent += CHUNK) {
      const exit = this.cpu.run(0, CHUNK);
      const stop = this.where();
      if (stop) return stop;
      if (exit === CpuExit.Idle) return 'idle';
    }
    return 'budget';
  }

  /**
   * run() in lockstep mode: the twin starts from this machine's state (hart block, TLB, RAM and
   * clock as the test left them), then the two run block by block, compared after each.
   */
  private runInLockstep(twin: Twin): Stop {
    const own = this.memory.memory;
    for (const [start, size] of [[HART_BASE, HART_SIZE], [TLB_BASE, TLB_SIZE], [RAM_OFFSET, RAM_BYTES], [MACHINE_CLOCK_BASE_NS, 8]] as const) {
      new Uint8Array(twin.memory.buffer, start, size).set(new Uint8Array(own.buffer, start, size));
    }
    const side: LockstepSide = { cpu: this.cpu, memory: own, step: (budget) => this.cpu.run(0, budget) };
    const other: LockstepSide = { cpu: twin.cpu, memory: twin.memory, step: (budget) => twin.cpu.run(0, budget) };
    this.cpu.setStopAtBlockEnds(true);
    try {
      return this.stepInLockstep(side, other, twin);
    } finally {
      this.cpu.setStopAtBlockEnds(false);
    }
  }

  private stepInLockstep(side: LockstepSide, other: LockstepSide, twin: Twin): Stop {
    for (let spent = 0; spent < this.budget;) {
      twin.bus.cursor = this.bus.accesses.length;
      const step = lockstepStep(side, other, Math.min(CHUNK, this.budget - spent), RAM_BYTES, true);
      if (twin.bus.cursor !== this.bus.accesses.length) {
        throw new LockstepDivergence(`lockstep: in the step to pc 0x${this.pc.toString(16)} the interpreter made fewer MMIO accesses than the translator`);
      }
      spent += step.instructions;
      const stop = this.where();
      if (stop) return stop;
      if (step.exit === CpuExit.Idle) return 'idle';
    }
    return 'budget';
  }

  /** The trap state and program, for assertion messages. */
  describe(): string {
    const csrs = ['mcause', 'mepc', 'mtval', 'scause', 'sepc', 'stval', 'mstatus'] as const;
    const state = csrs.map((name) => `${name}=${hex(this.csr(CSR[name]))}`).join(' ');
    return `pc=${hex(this.pc)} privilege=${this.privilege} ${state}\n${this.source}`;
  }

  /** Runs the program and asserts where it stopped. */
  runTo(expected: Stop): this {
    const stop = this.run();
    assert.equal(stop, expected, `the program stopped at ${stop}, expected ${expected}: ${this.describe()}`);
    return this;
  }

  /** Asserts integer registers (compared as 64-bit patterns, shown in hex). */
  expectX(expected: Record<string, bigint>): void {
    this.compare(Object.keys(expected), (name) => this.x(name), expected, this.source);
  }

  /** Asserts float registers (raw 64-bit patterns). */
  expectF(expected: Record<string, bigint>): void {
    this.compare(Object.keys(expected), (name) => this.f(name), expected, this.source);
  }

  /** Asserts CSRs by name (keys of CSR). */
  expectCsr(expected: Partial<Record<keyof typeof CSR, bigint>>): void {
    const names = Object.keys(expected) as (keyof typeof CSR)[];
    this.compare(names, (name) => this.csr(CSR[name]), expected as Record<string, bigint>, this.describe());
  }

  private compare<Name extends string>(
    names: Name[], read: (name: Name) => bigint, expected: Record<string, bigint>, context: string,
  ): void {
    const got = names.map((name) => `${name}=${hex(read(name))}`).join(' ');
    const want = names.map((name) => `${name}=${hex(expected[name]!)}`).join(' ');
    assert.equal(got, want, `expected ${want}\n     got ${got}\n${context}`);
  }

  /** Asserts the hart took a trap into the M handler with this cause, at this pc, with this tval. */
  expectMTrap(cause: bigint, epc: bigint, tval?: bigint): void {
    this.expectCsr({ mcause: cause, mepc: epc, ...(tval === undefined ? {} : { mtval: tval }) });
  }

  expectSTrap(cause: bigint, epc: bigint, tval?: bigint): void {
    this.expectCsr({ scause: cause, sepc: epc, ...(tval === undefined ? {} : { stval: tval }) });
  }
}

/** Loads and runs a program that must reach its end; returns the machine for inspection. */
export async function runProgram(code: string, options: ProgramOptions = {}): Promise<TestMachine> {
  return (await TestMachine.load(code, options)).runTo('done');
}

/** Loads and runs a program that must trap into the M-mode handler. */
export async function runToMTrap(code: string, options: ProgramOptions = {}): Promise<TestMachine> {
  return (await TestMachine.load(code, options)).runTo('m-trap');
}

/**
 * Assembly that leaves M mode for `mode` at `label`, through mret (clobbers t0).
 * The privileged spec's way down: mepc and mstatus.MPP, then MRET.
 */
export function enter(mode: 'S' | 'U', label: string): string {
  const mpp = mode === 'S' ? 1 : 0;
  return `
  li t0, ${3 << 11}
  csrc mstatus, t0
  li t0, ${mpp << 11}
  csrs mstatus, t0
  la t0, ${label}
  csrw mepc, t0
  mret`;
}
