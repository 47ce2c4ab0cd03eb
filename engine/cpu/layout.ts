// The one memory-layout table of the shared WebAssembly.Memory.
// This file is valid AssemblyScript and valid TypeScript: the core (engine/cpu/assembly)
// and the TypeScript side (cpu wrapper, machine, save state) both import it, so an offset is
// written down exactly once. Plain integer constants only; every value fits in i32.
//
//   0x0000_0000  AssemblyScript static data (owned by the compiler)
//   0x0010_0000  MACHINE block: clock, run control (4 KiB)
//   0x0010_1000  HART blocks: one HART_SIZE block per hart, MAX_HARTS of them
//   0x0020_0000  TLBs: one TLB_SIZE block per hart
//   0x0060_0000  decoded-instruction caches: one DECODE_SIZE block per hart
//   0x0100_0000  guest RAM (guest physical DRAM_BASE maps here), up to MAX_RAM bytes

export const MAX_HARTS = 8;

export const MACHINE_BASE = 0x0010_0000;
// i64: host monotonic nanoseconds at which guest mtime was 0 (moved forward across pauses)
export const MACHINE_CLOCK_BASE_NS = MACHINE_BASE + 0;

export const HART_BASE = 0x0010_1000;
export const HART_SIZE = 0x1000;

export const TLB_BASE = 0x0020_0000;
export const TLB_SIZE = 0x8_0000;

export const DECODE_BASE = 0x0060_0000;
export const DECODE_SIZE = 0x10_0000;

export const RAM_OFFSET = 0x0100_0000;
// Guest physical address of DRAM (the virt board's memory map).
export const DRAM_BASE = 0x8000_0000;
// Largest guest RAM: 3 GiB, so RAM_OFFSET + RAM fits in a 4 GiB wasm32 memory.
export const MAX_RAM_MIB = 3072;
