// The running hart: where its block lives, the machine's RAM size, the pending exception of
// the instruction being executed, and named accessors for the HART block (engine/cpu/layout.ts).
import {
  HART_BASE, HART_SIZE, HART_X, HART_F, HART_PRIV, HART_MSTATUS, DRAM_BASE,
  MACHINE_CLOCK_BASE_NS,
} from '../layout';

@external('env', 'nowNs') declare function hostNowNs(): i64;

export const PRIV_U: i32 = 0;
export const PRIV_S: i32 = 1;
export const PRIV_M: i32 = 3;

// Exception causes (privileged spec, mcause table).
export const CAUSE_FETCH_MISALIGNED: i32 = 0;
export const CAUSE_FETCH_ACCESS: i32 = 1;
export const CAUSE_ILLEGAL: i32 = 2;
export const CAUSE_BREAKPOINT: i32 = 3;
export const CAUSE_LOAD_MISALIGNED: i32 = 4;
export const CAUSE_LOAD_ACCESS: i32 = 5;
export const CAUSE_STORE_MISALIGNED: i32 = 6;
export const CAUSE_STORE_ACCESS: i32 = 7;
export const CAUSE_ECALL_U: i32 = 8;
export const CAUSE_FETCH_PAGE: i32 = 12;
export const CAUSE_LOAD_PAGE: i32 = 13;
export const CAUSE_STORE_PAGE: i32 = 15;

// Kinds of memory access; they index the three TLB tables and pick fault causes.
export const ACCESS_FETCH: i32 = 0;
export const ACCESS_LOAD: i32 = 1;
export const ACCESS_STORE: i32 = 2;

/** Address of the running hart's block. */
export let hb: usize = HART_BASE;
export let hartIndex: i32 = 0;
/** Guest RAM bytes (set once by init). */
export let ramBytes: u64 = 0;
export let harts: i32 = 1;

/** Exception raised by the current instruction (-1: none), with its tval. */
export let excCause: i32 = -1;
export let excTval: u64 = 0;

/** Guest mtime as last read from the host clock (refreshed every few thousand instructions). */
export let mtime: u64 = 0;

export function configure(ram: u64, hartCount: i32): void {
  ramBytes = ram;
  harts = hartCount;
}

export function selectHart(hart: i32): void {
  hartIndex = hart;
  hb = <usize>HART_BASE + <usize>hart * <usize>HART_SIZE;
}

export function raise(cause: i32, tval: u64): void {
  excCause = cause;
  excTval = tval;
}

export function clearException(): void {
  excCause = -1;
}

export function refreshTime(): u64 {
  const ns = hostNowNs() - atomic.load<i64>(MACHINE_CLOCK_BASE_NS);
  mtime = ns > 0 ? <u64>(ns / 100) : 0;
  return mtime;
}

/** Whether [pa, pa + size) lies in guest RAM. */
@inline export function inRam(pa: u64, size: u64): bool {
  return pa - <u64>DRAM_BASE < ramBytes && pa - <u64>DRAM_BASE + size <= ramBytes;
}

@inline export function getX(i: u32): u64 { return load<u64>(hb + HART_X + (<usize>i << 3)); }
@inline export function setX(i: u32, v: u64): void { store<u64>(hb + HART_X + (<usize>i << 3), v); }
@inline export function getF(i: u32): u64 { return load<u64>(hb + HART_F + (<usize>i << 3)); }
@inline export function setF(i: u32, v: u64): void { store<u64>(hb + HART_F + (<usize>i << 3), v); }

@inline export function field(offset: usize): u64 { return load<u64>(hb + offset); }
@inline export function setField(offset: usize, v: u64): void { store<u64>(hb + offset, v); }

@inline export function priv(): i32 { return load<i32>(hb + HART_PRIV); }
@inline export function mstatus(): u64 { return load<u64>(hb + HART_MSTATUS); }

/** Adds `by` to the profile counter at `offset` (layout.ts: PROFILE_*). */
@inline export function profile(offset: usize, by: u64 = 1): void { store<u64>(hb + offset, load<u64>(hb + offset) + by); }

/** The run loop executes instructions while its count is below this; 0 ends the chunk early. */
export let chunkEnd: i32 = 0;
export function setChunkEnd(n: i32): void { chunkEnd = n; }
/** Ends the current chunk so pending interrupts are looked at before the next instruction. */
export function endChunk(): void { chunkEnd = 0; }
