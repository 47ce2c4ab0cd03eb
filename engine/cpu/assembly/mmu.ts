// Virtual memory (privileged spec 1.12, "Supervisor-Level ISA": Sv39 and Sv48 page-based
// virtual memory, hardware A/D updating) and the software TLB that makes it fast.
//
// A TLB entry maps one 4 KiB virtual page straight to host memory (guest RAM inside the wasm
// memory): tag = virtual page address, addend = host address - virtual address. Only RAM pages
// are cached; MMIO always takes the slow path. Each privilege a data access can run at has its
// own fetch/load/store tables (a store entry exists only once the page is writable and dirty),
// so privilege changes just switch tables; satp writes and SFENCE.VMA flush them all.
import {
  TLB_BASE, TLB_SIZE, TLB_ENTRIES, TLB_TABLE_SIZE, TLB_SET_SIZE, RAM_OFFSET, DRAM_BASE,
  TLB_ENTRY_SHIFT, TLB_ENTRY_TAG, TLB_ENTRY_ADDEND, HART_SATP, HART_TLB_LOAD, HART_TLB_STORE, PAGE_CODE,
  PROFILE_TLB_FILLS, PROFILE_MMIO, PROFILE_TLB_FLUSHES, PROFILE_PARTIAL_FLUSHES,
} from '../layout';
import {
  hb, hartIndex, harts, priv, mstatus, field, raise, excCause, inRam, endChunk, profile,
  PRIV_U, PRIV_S, PRIV_M, ACCESS_FETCH, ACCESS_LOAD, ACCESS_STORE,
  CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
  CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE,
} from './state';

@external('env', 'mmioRead') declare function mmioRead(hart: i32, paddr: f64, width: i32): f64;
@external('env', 'mmioWrite') declare function mmioWrite(hart: i32, paddr: f64, width: i32, value: i32): i32;

export const MSTATUS_MPRV: u64 = 1 << 17;
export const MSTATUS_SUM: u64 = 1 << 18;
export const MSTATUS_MXR: u64 = 1 << 19;

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 16;
const PTE_A: u64 = 64;
const PTE_D: u64 = 128;
const PPN_MASK: u64 = (<u64>1 << 44) - 1;
const SATP_BARE: u64 = 0;
const SATP_SV39: u64 = 8;
const SATP_SV48: u64 = 9;

const TLB_MASK: u64 = TLB_ENTRIES - 1;
const INVALID_TAG: u64 = <u64>-1;
// Addresses the MMIO bus can be asked about: f64 carries them exactly below 2^53.
const MMIO_LIMIT: u64 = <u64>1 << 53;

/** The running hart's tables for instruction fetch, loads and stores. */
export let tlbFetch: usize = 0;
export let tlbLoad: usize = 0;
export let tlbStore: usize = 0;

/** Physical address of the last slow-path translation. */
let lastPa: u64 = 0;

@inline function tlbSet(p: i32): usize {
  return <usize>TLB_BASE + <usize>hartIndex * <usize>TLB_SIZE + <usize>(p == PRIV_M ? 2 : p) * <usize>TLB_SET_SIZE;
}

/** Privilege that loads and stores run at: MPRV makes M-mode use MPP's translation. */
export function dataPriv(): i32 {
  const p = priv();
  const s = mstatus();
  if (p == PRIV_M && (s & MSTATUS_MPRV) != 0) return <i32>(s >> 11) & 3;
  return p;
}

/** Points the TLB tables at the current privilege; call after any change of it or of MPRV/MPP. */
export function selectTlb(): void {
  tlbFetch = tlbSet(priv());
  const data = tlbSet(dataPriv());
  tlbLoad = data + TLB_TABLE_SIZE;
  tlbStore = data + 2 * TLB_TABLE_SIZE;
  store<i32>(hb + HART_TLB_LOAD, tlbLoad); // for compiled blocks
  store<i32>(hb + HART_TLB_STORE, tlbStore);
}

function flushSet(p: i32): void {
  const base = tlbSet(p);
  for (let e: usize = 0; e < <usize>TLB_ENTRIES * 3; e++) store<u64>(base + (e << TLB_ENTRY_SHIFT), INVALID_TAG, TLB_ENTRY_TAG);
}

/** Forgets every translation of the running hart (SFENCE.VMA, satp writes). */
export function flushTlb(): void {
  profile(PROFILE_TLB_FLUSHES);
  flushSet(PRIV_U);
  flushSet(PRIV_S);
  flushSet(PRIV_M);
}

/** After a change of SUM (changes what S may touch) or MXR (what loads may read). */
export function flushTranslatedTlb(): void {
  profile(PROFILE_PARTIAL_FLUSHES);
  flushSet(PRIV_U);
  flushSet(PRIV_S);
}

/** Host address of `va` in `table` if the TLB holds the page of [va, va + size), else 0. */
@inline export function tlbLookup(table: usize, va: u64, size: u64): usize {
  const entry = table + (<usize>((va >> 12) & TLB_MASK) << TLB_ENTRY_SHIFT);
  if (load<u64>(entry, TLB_ENTRY_TAG) == ((va + size - 1) & ~<u64>0xfff)) return <usize>(va + load<u64>(entry, TLB_ENTRY_ADDEND));
  return 0;
}

function accessFaultCause(access: i32): i32 {
  return access == ACCESS_FETCH ? CAUSE_FETCH_ACCESS : access == ACCESS_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
}
function pageFaultCause(access: i32): i32 {
  return access == ACCESS_FETCH ? CAUSE_FETCH_PAGE : access == ACCESS_LOAD ? CAUSE_LOAD_PAGE : CAUSE_STORE_PAGE;
}

/**
 * Translates `va` for an access at privilege `p` (privileged spec 4.3.2, "Virtual Address
 * Translation Process"), setting A and D in the leaf PTE. Raises a page or access fault and
 * returns 0 when the access is not allowed.
 */
export function translate(va: u64, access: i32, p: i32): u64 {
  if (p == PRIV_M) return va;
  const satp = field(HART_SATP);
  const mode = satp >> 60;
  if (mode == SATP_BARE) return va;
  const levels = mode == SATP_SV48 ? 4 : 3;
  const vaBits = <u64>(12 + 9 * levels);
  if ((<i64>(va << (64 - vaBits)) >> (64 - vaBits)) != <i64>va) {
    raise(pageFaultCause(access), va);
    return 0;
  }
  let table = (satp & PPN_MASK) << 12;
  for (let level = levels - 1; level >= 0; level--) {
    const shift = <u64>(12 + 9 * level);
    const pteAddr = table + ((va >> shift) & 0x1ff) * 8;
    if (!inRam(pteAddr, 8)) {
      raise(accessFaultCause(access), va);
      return 0;
    }
    const host = <usize>(pteAddr - <u64>DRAM_BASE) + RAM_OFFSET;
    const pte = atomic.load<u64>(host);
    // Bits 63:54 hold Svnapot/Svpbmt fields and reserved bits: none is implemented.
    if ((pte & PTE_V) == 0 || ((pte & PTE_R) == 0 && (pte & PTE_W) != 0) || (pte >> 54) != 0) break;
    const ppn = (pte >> 10) & PPN_MASK;
    if ((pte & (PTE_R | PTE_X)) == 0) { // pointer to the next level
      table = ppn << 12;
      continue;
    }
    const s = mstatus();
    if ((pte & PTE_U) != 0) {
      if (p == PRIV_S && (access == ACCESS_FETCH || (s & MSTATUS_SUM) == 0)) break;
    } else if (p == PRIV_U) break;
    if (access == ACCESS_FETCH) {
      if ((pte & PTE_X) == 0) break;
    } else if (access == ACCESS_LOAD) {
      if ((pte & PTE_R) == 0 && ((s & MSTATUS_MXR) == 0 || (pte & PTE_X) == 0)) break;
    } else if ((pte & PTE_W) == 0) break;
    const pageMask = (<u64>1 << shift) - 1;
    if (((ppn << 12) & pageMask) != 0) break; // misaligned superpage
    const wanted = PTE_A | (access == ACCESS_STORE ? PTE_D : 0);
    if ((pte & wanted) != wanted) {
      // Another hart may be changing the PTE: update only the value we checked, else re-walk.
      if (atomic.cmpxchg<u64>(host, pte, pte | wanted) != pte) return translate(va, access, p);
    }
    return ((ppn << 12) & ~pageMask) | (va & pageMask);
  }
  raise(pageFaultCause(access), va);
  return 0;
}

/**
 * Host address for an access to `va` that stays within one page, through the TLB or a
 * translation (which fills the TLB). Returns 0 with an exception raised on a fault, or 0
 * without one when the page is not RAM (then lastPa holds the physical address).
 */
export function hostAddress(va: u64, access: i32): usize {
  const table = access == ACCESS_FETCH ? tlbFetch : access == ACCESS_LOAD ? tlbLoad : tlbStore;
  const cached = tlbLookup(table, va, 1);
  if (cached != 0) return cached;
  const pa = translate(va, access, access == ACCESS_FETCH ? priv() : dataPriv());
  if (excCause >= 0) return 0;
  lastPa = pa;
  const page = pa & ~<u64>0xfff;
  if (!inRam(page, 0x1000)) return 0;
  if (access == ACCESS_STORE) codePageWritten(page);
  profile(PROFILE_TLB_FILLS);
  const vpage = va & ~<u64>0xfff;
  const entry = table + (<usize>((va >> 12) & TLB_MASK) << TLB_ENTRY_SHIFT);
  store<u64>(entry, vpage, TLB_ENTRY_TAG);
  store<u64>(entry, <u64>RAM_OFFSET + page - <u64>DRAM_BASE - vpage, TLB_ENTRY_ADDEND);
  return <usize>(va + load<u64>(entry, TLB_ENTRY_ADDEND));
}

// Code pages (see jit.ts): a page blocks were compiled from has no store TLB entries, so the
// first store to it comes here, where the page's blocks are declared stale.
const CODE_PAGE: u32 = 0x8000_0000;

@inline function codeState(hostPage: usize): usize {
  return <usize>PAGE_CODE + (((hostPage - <usize>RAM_OFFSET) >> 12) << 2);
}

function codePageWritten(page: u64): void {
  const state = codeState(<usize>(page - <u64>DRAM_BASE) + <usize>RAM_OFFSET);
  const code = load<u32>(state);
  if ((code & CODE_PAGE) != 0) store<u32>(state, (code + 1) & ~CODE_PAGE);
}

/** The page's generation, as blocks made from it record it. */
export function codeGeneration(host: usize): u32 {
  return load<u32>(codeState(host & ~<usize>0xfff)) & ~CODE_PAGE;
}

/** Marks the page holding `host` as a code page: no hart may keep a store TLB entry for it. */
export function markCodePage(host: usize): void {
  const hostPage = host & ~<usize>0xfff;
  const state = codeState(hostPage);
  const code = load<u32>(state);
  if ((code & CODE_PAGE) != 0) return;
  store<u32>(state, code | CODE_PAGE);
  for (let hart = 0; hart < harts; hart++) {
    for (let set = 0; set < 3; set++) {
      const table = <usize>TLB_BASE + <usize>hart * <usize>TLB_SIZE + <usize>set * <usize>TLB_SET_SIZE + 2 * <usize>TLB_TABLE_SIZE;
      for (let e: usize = 0; e < <usize>TLB_ENTRIES; e++) {
        const entry = table + (e << TLB_ENTRY_SHIFT);
        const tag = load<u64>(entry, TLB_ENTRY_TAG);
        if (tag != INVALID_TAG && (<usize>(tag + load<u64>(entry, TLB_ENTRY_ADDEND)) & ~<usize>0xfff) == hostPage) {
          store<u64>(entry, INVALID_TAG, TLB_ENTRY_TAG);
        }
      }
    }
  }
}

@inline function crossesPage(va: u64, size: u32): bool {
  return (<u32>va & 0xfff) + size > 0x1000;
}

function loadHost(h: usize, size: u32): u64 {
  if (size == 1) return load<u8>(h);
  if (size == 2) return load<u16>(h);
  if (size == 4) return load<u32>(h);
  return load<u64>(h);
}

function storeHost(h: usize, size: u32, v: u64): void {
  if (size == 1) store<u8>(h, v);
  else if (size == 2) store<u16>(h, v);
  else if (size == 4) store<u32>(h, v);
  else store<u64>(h, v);
}

/** A load the TLB did not answer: page crossing, TLB miss, MMIO, or a fault. */
export function loadSlow(va: u64, size: u32): u64 {
  if (crossesPage(va, size)) {
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const byte = loadSlow(va + i, 1);
      if (excCause >= 0) return 0;
      v |= byte << (<u64>i * 8);
    }
    return v;
  }
  const h = hostAddress(va, ACCESS_LOAD);
  if (h != 0) return loadHost(h, size);
  if (excCause >= 0) return 0;
  return mmioLoad(va, lastPa, size);
}

/** A store the TLB did not take: page crossing, TLB miss, MMIO, or a fault. */
export function storeSlow(va: u64, size: u32, v: u64): void {
  if (crossesPage(va, size)) {
    // Both pages must be writable before any byte is written.
    hostAddress(va, ACCESS_STORE);
    if (excCause >= 0) return;
    hostAddress(va + size - 1, ACCESS_STORE);
    if (excCause >= 0) return;
    for (let i: u32 = 0; i < size; i++) storeSlow(va + i, 1, v >> (<u64>i * 8));
    return;
  }
  const h = hostAddress(va, ACCESS_STORE);
  if (h != 0) {
    storeHost(h, size, v);
    return;
  }
  if (excCause >= 0) return;
  mmioStore(va, lastPa, size, v);
}

// MMIO: naturally aligned accesses only; 8 bytes go as two 4-byte accesses, low half first.
function mmioLoad(va: u64, pa: u64, size: u32): u64 {
  endChunk(); // a device may have changed an interrupt line
  profile(PROFILE_MMIO);
  if ((pa & (size - 1)) != 0 || pa >= MMIO_LIMIT) {
    raise(CAUSE_LOAD_ACCESS, va);
    return 0;
  }
  if (size == 8) {
    const lo = mmioRead(hartIndex, <f64>pa, 4);
    const hi = lo < 0 ? -1 : mmioRead(hartIndex, <f64>(pa + 4), 4);
    if (hi < 0) {
      raise(CAUSE_LOAD_ACCESS, va);
      return 0;
    }
    return <u64>lo | (<u64>hi << 32);
  }
  const value = mmioRead(hartIndex, <f64>pa, size);
  if (value < 0) {
    raise(CAUSE_LOAD_ACCESS, va);
    return 0;
  }
  return <u64>value;
}

function mmioStore(va: u64, pa: u64, size: u32, v: u64): void {
  endChunk();
  profile(PROFILE_MMIO);
  if ((pa & (size - 1)) != 0 || pa >= MMIO_LIMIT) {
    raise(CAUSE_STORE_ACCESS, va);
    return;
  }
  let failed: i32;
  if (size == 8) {
    failed = mmioWrite(hartIndex, <f64>pa, 4, <i32>v);
    if (failed == 0) failed = mmioWrite(hartIndex, <f64>(pa + 4), 4, <i32>(v >> 32));
  } else {
    failed = mmioWrite(hartIndex, <f64>pa, size, <i32>v);
  }
  if (failed != 0) raise(CAUSE_STORE_ACCESS, va);
}

/**
 * Instruction bits at `pc` (a 16-bit parcel zero-extended when compressed), or 0 with a fetch
 * fault raised. Sets fetchPageAddend for the page holding pc when that page is RAM.
 */
export let fetchPageAddend: u64 = 0;
export function fetchSlow(pc: u64): u32 {
  const h = hostAddress(pc, ACCESS_FETCH);
  if (h == 0) {
    if (excCause < 0) raise(CAUSE_FETCH_ACCESS, pc);
    return 0;
  }
  fetchPageAddend = <u64>h - pc;
  const low = <u32>load<u16>(h);
  if ((low & 3) != 3) return low;
  if ((<u32>pc & 0xfff) <= 0xffc) return load<u32>(h);
  const h2 = hostAddress(pc + 2, ACCESS_FETCH);
  if (h2 == 0) {
    if (excCause < 0) raise(CAUSE_FETCH_ACCESS, pc + 2);
    return 0;
  }
  return low | (<u32>load<u16>(h2) << 16);
}
