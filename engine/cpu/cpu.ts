// The TypeScript face of the AssemblyScript RV64GC core (engine/cpu/assembly). One Cpu is one
// instance of the core's module over the machine's shared memory; it runs harts on the calling
// thread (each vCPU thread has its own instance and runs its own hart), routes the core's MMIO
// accesses to the bus it is given and implements the HartLines the interrupt controllers drive.
// All hart state lives in the shared memory (engine/cpu/layout.ts), so the inspection methods
// read it directly, and SharedHartLines drives interrupt lines from threads without a core.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { BusError, type AccessWidth, type HartLines, type InterruptBit, type MmioBus } from './board.ts';
import {
  RAM_OFFSET, MAX_RAM_MIB, MAX_HARTS, HART_BASE, HART_SIZE, HART_X, HART_F, HART_PC, HART_PRIV,
  HART_IRQ_LINES, HART_MTIMECMP, HART_INSTRET, JIT_ENTRIES, JIT_THRESHOLD, EXIT_BUDGET, EXIT_IDLE,
  PROFILE_INTERPRETED, PROFILE_TRANSLATED, PROFILE_BLOCK_CALLS, PROFILE_COLD_STARTS,
  PROFILE_UNTRANSLATABLE_STARTS, PROFILE_TLB_FILLS, PROFILE_MMIO, PROFILE_FENCE_I, PROFILE_TLB_FLUSHES,
  PROFILE_PARTIAL_FLUSHES, PROFILE_TRAPS, PROFILE_TRANSLATIONS, PROFILE_MODULES, PROFILE_OPCODES, PROFILE_MMIO_NS,
} from './layout.ts';

/** Why run() returned: the budget was spent, or the hart sits in WFI with nothing pending. */
export const CpuExit = { Budget: EXIT_BUDGET, Idle: EXIT_IDLE } as const;
export type CpuExit = (typeof CpuExit)[keyof typeof CpuExit];

/** What a hart's profile counters (layout.ts: PROFILE_*) hold: counts since its reset. */
export interface HartProfile {
  interpreted: number;
  translated: number;
  blockCalls: number;
  coldStarts: number;
  untranslatableStarts: number;
  tlbFills: number;
  mmio: number;
  /** Host ns the MMIO accesses took (a vCPU thread's include the mailbox round trip to the device thread). */
  mmioNs: number;
  fenceI: number;
  tlbFlushes: number;
  partialFlushes: number;
  traps: number;
  translations: number;
  modules: number;
  /** Interpreted instructions by major opcode (insn[6:2]). */
  opcodes: number[];
}

const PROFILE_FIELDS = {
  interpreted: PROFILE_INTERPRETED, translated: PROFILE_TRANSLATED, blockCalls: PROFILE_BLOCK_CALLS,
  coldStarts: PROFILE_COLD_STARTS, untranslatableStarts: PROFILE_UNTRANSLATABLE_STARTS, tlbFills: PROFILE_TLB_FILLS,
  mmio: PROFILE_MMIO, mmioNs: PROFILE_MMIO_NS, fenceI: PROFILE_FENCE_I, tlbFlushes: PROFILE_TLB_FLUSHES, partialFlushes: PROFILE_PARTIAL_FLUSHES,
  traps: PROFILE_TRAPS, translations: PROFILE_TRANSLATIONS, modules: PROFILE_MODULES,
} as const;

export interface HartEntry { pc: bigint; a0: bigint; a1: bigint; a2: bigint }

export interface CpuOptions {
  ramBytes: number;
  harts: number;
  bus: MmioBus;
  /** Host monotonic time in ns (guest mtime = (nowNs() - clock base) / 100). */
  nowNs?: () => bigint;
  /**
   * Runs of a block start before the translator compiles it (default JIT_THRESHOLD, 64). At 1
   * every block is compiled at its first run and runs compiled from then on: how the CPU tests
   * reach translated code.
   */
  jitThreshold?: number;
}

interface CoreExports {
  _initialize(): void;
  init(ramBytes: number, harts: number, jitThreshold: number): void;
  setStopAtBlockEnds(on: boolean): void;
  resetHart(hart: number, pc: bigint, a0: bigint, a1: bigint, a2: bigint): void;
  run(hart: number, budget: number): number;
  readCsr(hart: number, csr: number): bigint;
  writeCsr(hart: number, csr: number, value: bigint): void;
  csrFailed(): number;
  nextTimerTicks(hart: number): bigint;
  // called by translated blocks
  jitLoad: Function;
  jitStore: Function;
  jitMulDiv: Function;
}

export const WASM_PATH = fileURLToPath(new URL('./build/cpu.wasm', import.meta.url));
const WASM_PAGE = 65536;
const RAM_GRANULE = 4096;
const u64 = (value: bigint): bigint => BigInt.asUintN(64, value);

/**
 * The harts' interrupt inputs (mip bits devices drive) and machine timer compares, read and
 * written with Atomics in the HART blocks of the shared memory: the core looks at them between
 * instructions, whichever thread changed them.
 */
export class SharedHartLines implements HartLines {
  private readonly words: Int32Array;
  private readonly quads: BigUint64Array;

  constructor(memory: WebAssembly.Memory, private readonly harts: number) {
    this.words = new Int32Array(memory.buffer);
    this.quads = new BigUint64Array(memory.buffer);
  }

  setIrqLine(hart: number, bit: InterruptBit, level: boolean): void {
    const index = (hartBase(hart, this.harts) + HART_IRQ_LINES) >> 2;
    if (level) Atomics.or(this.words, index, 1 << bit);
    else Atomics.and(this.words, index, ~(1 << bit));
  }

  irqLine(hart: number, bit: InterruptBit): boolean {
    return (Atomics.load(this.words, (hartBase(hart, this.harts) + HART_IRQ_LINES) >> 2) & (1 << bit)) !== 0;
  }

  getMtimecmp(hart: number): bigint {
    return Atomics.load(this.quads, (hartBase(hart, this.harts) + HART_MTIMECMP) >> 3);
  }

  setMtimecmp(hart: number, value: bigint): void {
    Atomics.store(this.quads, (hartBase(hart, this.harts) + HART_MTIMECMP) >> 3, u64(value));
  }
}

export class Cpu implements HartLines {
  private readonly core: CoreExports;
  private readonly words: Int32Array;
  private readonly quads: BigUint64Array;
  private readonly harts: number;
  private readonly lines: SharedHartLines;
  private translated = 0;
  private compileMs = 0;

  /** A shared memory big enough for the core's tables and `ramBytes` of guest RAM. */
  static createMemory(ramBytes: number): WebAssembly.Memory {
    checkRamSize(ramBytes);
    const pages = Math.ceil((RAM_OFFSET + ramBytes) / WASM_PAGE);
    return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  }

  static async compile(): Promise<WebAssembly.Module> {
    let bytes: Buffer;
    try {
      bytes = await readFile(WASM_PATH);
    } catch {
      throw new Error(`the CPU core is not built (${WASM_PATH} is missing): run \`npm run build\``);
    }
    return WebAssembly.compile(new Uint8Array(bytes));
  }

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, options: CpuOptions) {
    checkRamSize(options.ramBytes);
    if (!Number.isInteger(options.harts) || options.harts < 1 || options.harts > MAX_HARTS) {
      throw new RangeError(`harts must be 1..${MAX_HARTS}, not ${options.harts}`);
    }
    if (memory.buffer.byteLength < RAM_OFFSET + options.ramBytes) {
      throw new RangeError('the memory is smaller than the RAM it should hold (use Cpu.createMemory)');
    }
    const jitThreshold = options.jitThreshold ?? JIT_THRESHOLD;
    if (!Number.isInteger(jitThreshold) || jitThreshold < 1 || jitThreshold > 0xffff_ffff) {
      throw new RangeError(`jitThreshold must be a whole number of runs, at least 1, not ${jitThreshold}`);
    }
    this.harts = options.harts;
    const { bus } = options;
    const nowNs = options.nowNs ?? process.hrtime.bigint;
    // The core's translator writes batches of hot blocks as small modules; compiled here, each
    // block's function goes in the table slot the core calls it through.
    const table = new WebAssembly.Table({ element: 'anyfunc', initial: options.harts * JIT_ENTRIES });
    const env = {
      memory,
      table,
      jitCompile: (slots: number, count: number, address: number, length: number): void => {
        const began = performance.now();
        const module = new WebAssembly.Module(new Uint8Array(memory.buffer, address, length).slice());
        const { jitLoad, jitStore, jitMulDiv } = this.core;
        const blocks = new WebAssembly.Instance(module, { e: { m: memory, l: jitLoad, s: jitStore, d: jitMulDiv } }).exports;
        const slot = new Uint32Array(memory.buffer, slots, count);
        for (let i = 0; i < count; i++) table.set(slot[i], blocks[String.fromCharCode(0x61 + (i >> 4), 0x61 + (i & 15))] as Function);
        this.translated += count;
        this.compileMs += performance.now() - began;
      },
      nowNs: () => nowNs(),
      // A BusError becomes an access fault in the guest (-1 / nonzero); other errors are host bugs.
      mmioRead: (hart: number, address: number, width: number): number => {
        const began = process.hrtime.bigint();
        try {
          return bus.read(address, width as AccessWidth) >>> 0;
        } catch (err) {
          if (err instanceof BusError) return -1;
          throw err;
        } finally {
          this.countMmio(hart, began);
        }
      },
      mmioWrite: (hart: number, address: number, width: number, value: number): number => {
        const began = process.hrtime.bigint();
        try {
          bus.write(address, width as AccessWidth, value >>> 0);
          return 0;
        } catch (err) {
          if (err instanceof BusError) return 1;
          throw err;
        } finally {
          this.countMmio(hart, began);
        }
      },
      abort: () => {
        throw new Error('the CPU core aborted');
      },
    };
    const instance = new WebAssembly.Instance(module, { env });
    this.core = instance.exports as unknown as CoreExports;
    this.core._initialize();
    this.core.init(options.ramBytes, options.harts, jitThreshold);
    this.words = new Int32Array(memory.buffer);
    this.quads = new BigUint64Array(memory.buffer);
    this.lines = new SharedHartLines(memory, options.harts);
  }

  private countMmio(hart: number, began: bigint): void {
    const at = (HART_BASE + hart * HART_SIZE + PROFILE_MMIO_NS) >> 3;
    this.quads[at] = this.quads[at]! + process.hrtime.bigint() - began;
  }

  /** Blocks this instance's translator has compiled so far (each function of each module). */
  get translatedBlocks(): number {
    return this.translated;
  }

  /** Milliseconds this instance spent compiling translated modules (V8's part of the translator). */
  get translationMs(): number {
    return this.compileMs;
  }

  /** The hart's profile counters. */
  profile(hart: number): HartProfile {
    return readHartProfile(this.quads, this.base(hart));
  }

  resetHart(hart: number, entry: HartEntry): void {
    this.core.resetHart(this.hart(hart), entry.pc, entry.a0, entry.a1, entry.a2);
  }

  run(hart: number, budget: number): CpuExit {
    return this.core.run(this.hart(hart), budget) as CpuExit;
  }

  setIrqLine(hart: number, bit: InterruptBit, level: boolean): void {
    this.lines.setIrqLine(hart, bit, level);
  }

  irqLine(hart: number, bit: InterruptBit): boolean {
    return this.lines.irqLine(hart, bit);
  }

  getMtimecmp(hart: number): bigint {
    return this.lines.getMtimecmp(hart);
  }

  setMtimecmp(hart: number, value: bigint): void {
    this.lines.setMtimecmp(hart, value);
  }

  nextTimerTicks(hart: number): bigint {
    return u64(this.core.nextTimerTicks(this.hart(hart)));
  }

  instret(hart: number): bigint {
    return this.quads[(this.base(hart) + HART_INSTRET) >> 3];
  }

  /**
   * With `on`, run() returns at the first block end: after a translated block, or after an
   * interpreted instruction that ends one (a control transfer, or one the translator leaves
   * alone). The lockstep checker steps the translator this way (test/unit/cpu/support/lockstep.ts).
   */
  setStopAtBlockEnds(on: boolean): void {
    this.core.setStopAtBlockEnds(on);
  }

  /** Instructions executed or attempted (those that trapped too) since reset: run()'s budget unit. */
  executed(hart: number): bigint {
    const base = this.base(hart);
    return this.quads[(base + PROFILE_INTERPRETED) >> 3]! + this.quads[(base + PROFILE_TRANSLATED) >> 3]!;
  }

  getPc(hart: number): bigint {
    return this.quads[(this.base(hart) + HART_PC) >> 3];
  }

  setPc(hart: number, pc: bigint): void {
    this.quads[(this.base(hart) + HART_PC) >> 3] = u64(pc);
  }

  getX(hart: number, i: number): bigint {
    return this.quads[(this.base(hart) + HART_X) / 8 + register(i)];
  }

  setX(hart: number, i: number, value: bigint): void {
    if (register(i) !== 0) this.quads[(this.base(hart) + HART_X) / 8 + i] = u64(value);
  }

  getF(hart: number, i: number): bigint {
    return this.quads[(this.base(hart) + HART_F) / 8 + register(i)];
  }

  setF(hart: number, i: number, value: bigint): void {
    this.quads[(this.base(hart) + HART_F) / 8 + register(i)] = u64(value);
  }

  readCsr(hart: number, csr: number): bigint {
    const value = this.core.readCsr(this.hart(hart), csr);
    if (this.core.csrFailed()) throw new RangeError(`no CSR 0x${csr.toString(16)}`);
    return u64(value);
  }

  writeCsr(hart: number, csr: number, value: bigint): void {
    this.core.writeCsr(this.hart(hart), csr, BigInt.asIntN(64, value));
    if (this.core.csrFailed()) throw new RangeError(`no CSR 0x${csr.toString(16)}`);
  }

  privilege(hart: number): 0 | 1 | 3 {
    return this.words[(this.base(hart) + HART_PRIV) >> 2] as 0 | 1 | 3;
  }

  private hart(hart: number): number {
    return checkHart(hart, this.harts);
  }

  private base(hart: number): number {
    return hartBase(hart, this.harts);
  }
}

/** The profile counters of the hart block at `base` (any thread: they live in the shared memory). */
function readHartProfile(quads: BigUint64Array, base: number): HartProfile {
  const read = (offset: number): number => Number(quads[(base + offset) >> 3]);
  const counts = Object.fromEntries(Object.entries(PROFILE_FIELDS).map(([name, offset]) => [name, read(offset)]));
  const opcodes = Array.from({ length: 32 }, (_, major) => read(PROFILE_OPCODES + major * 8));
  return { ...counts, opcodes } as HartProfile;
}

/** Hart `hart`'s profile counters in a machine's shared memory, read from a thread without a core. */
export function hartProfile(memory: WebAssembly.Memory, hart: number, harts: number): HartProfile {
  return readHartProfile(new BigUint64Array(memory.buffer), hartBase(hart, harts));
}

function checkHart(hart: number, harts: number): number {
  if (!Number.isInteger(hart) || hart < 0 || hart >= harts) throw new RangeError(`no hart ${hart}`);
  return hart;
}

/** Address of hart's block in the shared memory. */
function hartBase(hart: number, harts: number): number {
  return HART_BASE + checkHart(hart, harts) * HART_SIZE;
}

function register(i: number): number {
  if (!Number.isInteger(i) || i < 0 || i > 31) throw new RangeError(`no register ${i}`);
  return i;
}

function checkRamSize(ramBytes: number): void {
  if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % RAM_GRANULE !== 0 || ramBytes > MAX_RAM_MIB * 2 ** 20) {
    throw new RangeError(`RAM must be a multiple of 4 KiB, at most ${MAX_RAM_MIB} MiB (got ${ramBytes} bytes)`);
  }
}
