// The one memory-layout table of the shared WebAssembly.Memory.
// This file is valid AssemblyScript and valid TypeScript: the core (engine/cpu/assembly)
// and the TypeScript side (cpu wrapper, machine, save state) both import it, so an offset is
// written down exactly once. Plain integer constants only; every value fits in i32.
//
//   0x0000_0000  AssemblyScript static data (owned by the compiler)
//   0x0010_0000  MACHINE block: clock, run control (4 KiB)
//   0x0010_1000  HART blocks: one HART_SIZE block per hart, MAX_HARTS of them
//   0x0020_0000  TLBs: one TLB_SIZE block per hart
//   0x0060_0000  decode area: the RVC expansion table, the code-page table, per-hart
//                translation caches (compiled blocks)
//   0x0400_0000  guest RAM (guest physical DRAM_BASE maps here), up to MAX_RAM bytes

export const MAX_HARTS = 8;

export const MACHINE_BASE = 0x0010_0000;
// i64: host monotonic nanoseconds at which guest mtime was 0 (moved forward across pauses)
export const MACHINE_CLOCK_BASE_NS = MACHINE_BASE + 0;

export const HART_BASE = 0x0010_1000;
export const HART_SIZE = 0x1000;

export const TLB_BASE = 0x0020_0000;
export const TLB_SIZE = 0x8_0000;

export const DECODE_BASE = 0x0060_0000;
// Inside the decode area, shared by all harts: the 32-bit expansion of every 16-bit parcel
// (u32 each, 0 for illegal ones), filled by the core at start-up.
export const RVC_TABLE = DECODE_BASE;
export const RVC_TABLE_SIZE = 0x4_0000;
// One u32 per 4 KiB page of guest RAM (shared by all harts): bit 31 set while compiled blocks
// were made from the page, bits 30..0 a generation that changes when the page is then written.
export const PAGE_CODE = DECODE_BASE + RVC_TABLE_SIZE;
export const PAGE_CODE_SIZE = 0x30_0000; // 4 bytes for each of MAX_RAM_MIB * 256 pages
// Per hart (engine/cpu/assembly/jit.ts): the block table (JIT_ENTRIES entries of
// JIT_ENTRY_SIZE bytes, indexed by a hash of the host address of the block's first
// instruction), the queue of blocks waiting to be translated and the buffer the translator
// writes a module into. The decode area ends at JIT_BASE + MAX_HARTS * JIT_HART_SIZE, below
// RAM_OFFSET (test/unit/cpu/layout.test.ts checks that the regions do not overlap).
export const JIT_BASE = PAGE_CODE + PAGE_CODE_SIZE;
export const JIT_HART_SIZE = 0x58_0000;
export const JIT_ENTRIES = 0x1_0000;
// A block table entry. Its state is one of JIT_STATE_*, else the translated block's
// instruction count (> 0).
export const JIT_ENTRY_SIZE = 32;
export const JIT_ENTRY_HOST = 0; // u32: host address of the block's first instruction
export const JIT_ENTRY_STATE = 4; // i32
export const JIT_ENTRY_RUNS = 8; // u32: runs while cold, then one per use
export const JIT_ENTRY_GENERATION = 12; // u32: generation of the block's page when last checked
export const JIT_ENTRY_EPOCH = 16; // u32: the hart's JIT epoch when last checked
export const JIT_ENTRY_BYTES = 20; // u32: bytes of guest code the block covers
export const JIT_ENTRY_SPARE = 24; // u32: in a set's first entry, the set's eviction patience
export const JIT_ENTRY_CHECKSUM = 28; // u32: of the block's bytes
export const JIT_STATE_COUNTING = 0; // cold: its runs are counted
export const JIT_STATE_UNTRANSLATABLE = -1; // its first instruction is one the translator leaves alone
export const JIT_STATE_QUEUED = -2; // waiting in the queue to be compiled
// The queue: a u32 count, then up to JIT_BATCH entry addresses (u32), then at
// JIT_QUEUE_SLOTS the function-table slots of the blocks of the module being compiled.
export const JIT_BATCH = 256;
export const JIT_QUEUE = JIT_ENTRIES * JIT_ENTRY_SIZE;
export const JIT_QUEUE_SLOTS = JIT_QUEUE + 0x800;
export const JIT_BUFFER = JIT_QUEUE + 0x1000;
export const JIT_BUFFER_SIZE = JIT_HART_SIZE - JIT_BUFFER;
// Runs of a block start before it is queued for translation, unless the core is told otherwise
// (CpuOptions.jitThreshold).
export const JIT_THRESHOLD = 64;

export const RAM_OFFSET = 0x0400_0000;
// Guest physical address of DRAM (the virt board's memory map).
export const DRAM_BASE = 0x8000_0000;
// Largest guest RAM: 3 GiB, so RAM_OFFSET + RAM fits in a 4 GiB wasm32 memory.
export const MAX_RAM_MIB = 3072;

// What the core's run() returns (cpu.ts: CpuExit).
export const EXIT_BUDGET = 0; // the instruction budget is spent
export const EXIT_IDLE = 1; // the hart stopped in WFI with nothing pending

// HART_RESERVATION when the hart holds no LR reservation (all ones as an i64).
export const NO_RESERVATION = -1;

// HART block fields (byte offsets inside one hart's HART_SIZE block). Every field is an i64
// unless marked i32; the core keeps the whole architectural state here, so any thread can
// inspect or save a stopped hart without asking the core.
export const HART_X = 0x000; // x0..x31
export const HART_F = 0x100; // f0..f31 (raw 64-bit patterns; singles NaN-boxed)
export const HART_PC = 0x200;
export const HART_PRIV = 0x208; // i32: 0 U, 1 S, 3 M
export const HART_WAITING = 0x20c; // i32: 1 while stopped in WFI
// i32, updated with Atomics: interrupt inputs driven by devices (MSIP, SEIP, MEIP bits of mip)
export const HART_IRQ_LINES = 0x210;
export const HART_MIP_SOFT = 0x214; // i32: mip bits written by software (SSIP, STIP, SEIP)
export const HART_MTIMECMP = 0x218;
export const HART_INSTRET = 0x220;
export const HART_CYCLE_DELTA = 0x228; // mcycle - minstret (mcycle is written separately)
export const HART_RESERVATION = 0x230; // LR reservation: virtual address, or -1 for none
export const HART_RESERVED_VALUE = 0x238; // value LR read (SC compares it atomically)
// i32 fields the compiled blocks read and write
export const HART_TLB_LOAD = 0x240; // address of the current load TLB table
export const HART_TLB_STORE = 0x244; // address of the current store TLB table
export const HART_JIT_RETIRED = 0x248; // instructions a compiled block retired
export const HART_JIT_FAULT = 0x24c; // 1 when a block's slow-path access raised an exception
export const HART_JIT_EPOCH = 0x250; // bumped by FENCE.I: blocks of older epochs are re-checked
export const HART_JIT_YIELD = 0x254; // set by a block's slow-path access that asks to end the chunk (MMIO)
// CSRs
export const HART_MSTATUS = 0x300;
export const HART_MEDELEG = 0x308;
export const HART_MIDELEG = 0x310;
export const HART_MIE = 0x318;
export const HART_MTVEC = 0x320;
export const HART_MSCRATCH = 0x328;
export const HART_MEPC = 0x330;
export const HART_MCAUSE = 0x338;
export const HART_MTVAL = 0x340;
export const HART_MCOUNTEREN = 0x348;
export const HART_MENVCFG = 0x350;
export const HART_MCOUNTINHIBIT = 0x358;
export const HART_STVEC = 0x360;
export const HART_SSCRATCH = 0x368;
export const HART_SEPC = 0x370;
export const HART_SCAUSE = 0x378;
export const HART_STVAL = 0x380;
export const HART_SCOUNTEREN = 0x388;
export const HART_SENVCFG = 0x390;
export const HART_SATP = 0x398;
export const HART_STIMECMP = 0x3a0;
export const HART_FCSR = 0x3a8; // fflags in bits 4:0, frm in bits 7:5
export const HART_MHARTID = 0x3b0;
export const HART_PMPCFG = 0x400; // 8 × i64: pmpcfg0, pmpcfg2, ..., pmpcfg14
export const HART_PMPADDR = 0x440; // 64 × i64
// Profile counters (i64 each, counted since reset; engine/cpu/cpu.ts: Cpu.profile). Cheap
// enough to stay on: a few adds per run, per block call and per slow path.
export const HART_PROFILE = 0x640;
export const PROFILE_INTERPRETED = 0x640; // instructions the interpreter executed (or attempted)
export const PROFILE_TRANSLATED = 0x648; // instructions translated blocks retired
export const PROFILE_BLOCK_CALLS = 0x650; // calls of translated blocks (each ends in a dispatch)
export const PROFILE_COLD_STARTS = 0x658; // block starts interpreted: not (yet) translated
export const PROFILE_UNTRANSLATABLE_STARTS = 0x660; // block starts whose first instruction the translator leaves alone
export const PROFILE_TLB_FILLS = 0x668; // TLB misses that translated an address and filled an entry
export const PROFILE_MMIO = 0x670; // MMIO accesses (each a call out of the core)
export const PROFILE_FENCE_I = 0x678; // FENCE.I (a new JIT epoch)
export const PROFILE_TLB_FLUSHES = 0x680; // SFENCE.VMA and satp writes (the TLB emptied)
export const PROFILE_TRAPS = 0x688; // exceptions and interrupts taken
export const PROFILE_TRANSLATIONS = 0x690; // blocks the translator compiled
export const PROFILE_MODULES = 0x698; // modules the translator compiled them in
export const PROFILE_PARTIAL_FLUSHES = 0x6a0; // U and S TLBs emptied for a change of mstatus.SUM or MXR
export const PROFILE_MMIO_NS = 0x6a8; // host ns the MMIO accesses took on the bus (cpu.ts adds them)
// 32 × i64: instructions the interpreter executed, by major opcode (insn[6:2])
export const PROFILE_OPCODES = 0x700;
export const PROFILE_END = 0x800;
// PROFILE_END..HART_SIZE: free

// TLB block of one hart: for each privilege a data access can run at (U, S, M), three tables
// (fetch, load, store) of TLB_ENTRIES entries (the core and compiled blocks look them up).
export const TLB_ENTRIES = 512;
export const TLB_ENTRY_SHIFT = 4; // entries of 16 bytes:
export const TLB_ENTRY_TAG = 0; // i64: virtual page address of the entry, or -1
export const TLB_ENTRY_ADDEND = 8; // i64: host address minus virtual address
export const TLB_TABLE_SIZE = TLB_ENTRIES << TLB_ENTRY_SHIFT;
export const TLB_SET_SIZE = TLB_TABLE_SIZE * 3;
