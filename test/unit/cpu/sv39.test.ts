// Sv39 address translation (privileged spec 1.12, "Sv39: Page-Based 39-bit Virtual-Memory
// System" and "Virtual Address Translation Process"), with page tables the test writes into RAM:
//
//   root (level 2) @ 0x8008_0000   [1] → L1 table   [2] → 1 GiB identity leaf (code, data, tables)
//   L1   (level 1) @ 0x8008_1000   [0] → L0 table   [1] → 2 MiB leaf VA 0x4020_0000 → PA 0x8000_0000
//                                  [2] → 2 MiB leaf with a misaligned PPN (must fault)
//   L0   (level 0) @ 0x8008_2000   4 KiB leaves at VA 0x4000_0000 + n·0x1000, set per test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAUSE, CSR, MMIO_BASE, MSTATUS, TestMachine, enter, hex, type ProgramOptions,
} from './support/machine.ts';

const V = 1n, R = 2n, W = 4n, X = 8n, U = 16n, A = 64n, D = 128n;
const ROOT = 0x8008_0000n, L1 = 0x8008_1000n, L0 = 0x8008_2000n;
const DATA_PAGE = 0x8009_0000n, OTHER_PAGE = 0x8009_1000n;
const SATP_SV39 = (8n << 60n) | (ROOT >> 12n);
const PAGE_VA = 0x4000_0000n;
const MEGAPAGE_VA = 0x4020_0000n;
const MISALIGNED_MEGAPAGE_VA = 0x4040_0000n;

const pte = (physical: bigint, flags: bigint): bigint => ((physical >> 12n) << 10n) | flags;
const l0Entry = (n: number): bigint => L0 + BigInt(n) * 8n;

/**
 * Loads `code` (M mode: it writes satp, then enters S at `supervisor`) with the page tables
 * above; `pages` gives the level-0 leaves, VA PAGE_VA + n·4 KiB for entry n.
 */
async function withPaging(code: string, pages: Record<number, bigint>, options: ProgramOptions = {}): Promise<TestMachine> {
  const m = await TestMachine.load(`
    li t0, ${hex(SATP_SV39)}
    csrw satp, t0
    sfence.vma
  ` + code, options);
  const write = (address: bigint, value: bigint) => m.memory.writeU64(address, value);
  write(ROOT + 1n * 8n, pte(L1, V));
  write(ROOT + 2n * 8n, pte(0x8000_0000n, V | R | W | X | A | D));
  write(L1 + 0n * 8n, pte(L0, V));
  write(L1 + 1n * 8n, pte(0x8000_0000n, V | R | A));
  write(L1 + 2n * 8n, pte(0x8000_1000n, V | R | A));
  for (const [n, entry] of Object.entries(pages)) write(l0Entry(Number(n)), entry);
  write(DATA_PAGE + 8n, 0x1111_2222_3333_4444n);
  write(OTHER_PAGE + 8n, 0x5555_6666_7777_8888n);
  return m;
}

const toS = (body: string): string => enter('S', 'supervisor') + `\nsupervisor:\n${body}`;

test('a 4 KiB page translates loads and stores, and hardware sets A and D', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)
    sd a1, 16(t0)`), { 0: pte(DATA_PAGE, V | R | W) }, { x: { a1: 0xabcdn } });
  m.runTo('done');
  assert.equal(m.privilege, 1);
  m.expectX({ a0: 0x1111_2222_3333_4444n });
  assert.equal(m.memory.readU64(DATA_PAGE + 16n), 0xabcdn);
  assert.equal(m.memory.readU64(l0Entry(0)) & (A | D), A | D);
});

test('a load sets A but not D', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)`), { 0: pte(DATA_PAGE, V | R | W) });
  m.runTo('done');
  m.expectX({ a0: 0x1111_2222_3333_4444n });
  assert.equal(m.memory.readU64(l0Entry(0)) & (A | D), A);
});

test('a 2 MiB megapage maps its offset within the 2 MiB', async () => {
  const m = await withPaging(toS(`
    la t1, marker
    li t2, 0x80000000
    sub t1, t1, t2
    li t0, ${MEGAPAGE_VA}
    add t0, t0, t1
    ld a0, 0(t0)`), {}, { data: 'marker: .dword 0x0123456789abcdef' });
  m.runTo('done');
  m.expectX({ a0: 0x0123_4567_89ab_cdefn });
});

test('a megapage whose PPN is not 2 MiB aligned is a page fault', async () => {
  const m = await withPaging(toS(`
    li t0, ${MISALIGNED_MEGAPAGE_VA}
  at:
    ld a0, 0(t0)`), {});
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.loadPage, m.symbol('at'), MISALIGNED_MEGAPAGE_VA);
});

test('a load through an invalid PTE is a load page fault (13) with stval/mtval = the address', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x1000n}
  at:
    ld a0, 8(t0)`), {});
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.loadPage, m.symbol('at'), PAGE_VA + 0x1008n);
});

test('a store to a read-only page is a store page fault (15)', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x2000n}
    ld a0, 8(t0)
  at:
    sd a0, 24(t0)`), { 2: pte(DATA_PAGE, V | R | A) });
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.storePage, m.symbol('at'), PAGE_VA + 0x2018n);
  m.expectX({ a0: 0x1111_2222_3333_4444n });
  assert.equal(m.memory.readU64(DATA_PAGE + 24n), 0n);
});

test('fetching from a page without X is an instruction page fault (12)', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    jr t0`), { 0: pte(DATA_PAGE, V | R | W | A) });
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.fetchPage, PAGE_VA, PAGE_VA);
});

test('a page fault delegated by medeleg goes to S with scause and stval', async () => {
  const m = await withPaging(`
    li t0, ${1 << 13}
    csrw medeleg, t0
  ` + toS(`
    li t0, ${PAGE_VA + 0x1000n}
  at:
    lw a0, 4(t0)`), {});
  m.runTo('s-trap');
  m.expectSTrap(CAUSE.loadPage, m.symbol('at'), PAGE_VA + 0x1004n);
});

test('a store page fault delegated by medeleg goes to S with scause 15 and stval', async () => {
  const m = await withPaging(`
    li t0, ${1 << 15}
    csrw medeleg, t0
  ` + toS(`
    li t0, ${PAGE_VA + 0x2000n}
  at:
    sh a0, 6(t0)`), { 2: pte(DATA_PAGE, V | R | A) });
  m.runTo('s-trap');
  m.expectSTrap(CAUSE.storePage, m.symbol('at'), PAGE_VA + 0x2006n);
});

// Code pages for the boundary tests: VA PAGE_VA + 0x5000 is executable, PAGE_VA + 0x6000 unmapped.
const CODE_PAGE = 0x8009_2000n;
const CODE_VA = PAGE_VA + 0x5000n;
const codePage = { 5: pte(CODE_PAGE, V | R | X | A) };

test('a 32-bit instruction straddling into an unmapped page faults with mtval = the second page', async () => {
  const m = await withPaging(toS(`
    li t0, ${CODE_VA + 0xffen}
    jr t0`), codePage);
  m.memory.writeU16(CODE_PAGE + 0xffen, 0x0513); // low half of addi a0, zero, 1 (0x00100513)
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.fetchPage, CODE_VA + 0xffen, CODE_VA + 0x1000n);
});

test('a compressed instruction at the end of a page runs; the next fetch faults', async () => {
  const m = await withPaging(toS(`
    li t0, ${CODE_VA + 0xffen}
    jr t0`), codePage);
  m.memory.writeU16(CODE_PAGE + 0xffen, 0x4515); // c.li a0, 5
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.fetchPage, CODE_VA + 0x1000n, CODE_VA + 0x1000n);
  m.expectX({ a0: 5n });
});

test('a misaligned load crossing into an unmapped page is a load page fault', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA + 0xffcn}
  at:
    ld a0, 0(t0)`), { 0: pte(DATA_PAGE, V | R | W | A | D) }, { x: { a0: 7n } });
  m.runTo('m-trap');
  m.expectCsr({ mcause: CAUSE.loadPage, mepc: m.symbol('at') });
  // mtval names the part of the access that faulted: an address in the unmapped page.
  const mtval = m.csr(CSR.mtval);
  assert.ok(mtval >= PAGE_VA + 0x1000n && mtval < PAGE_VA + 0x1004n, `mtval 0x${mtval.toString(16)}`);
  m.expectX({ a0: 7n });
});

test('S mode never executes from a U page, even with SUM', async () => {
  const m = await withPaging(`
    li t0, ${MSTATUS.SUM}
    csrs mstatus, t0
  ` + toS(`
    li t0, ${CODE_VA}
    jr t0`), { 5: pte(CODE_PAGE, V | R | X | U | A) });
  m.memory.writeU32(CODE_PAGE, 0x0010_0513); // addi a0, zero, 1
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.fetchPage, CODE_VA, CODE_VA);
  m.expectX({ a0: 0n });
});

test('M mode with MPRV and MPP = S translates its loads and stores', async () => {
  const m = await withPaging(`
    li t0, ${MSTATUS.MPP}
    csrc mstatus, t0
    li t0, ${MSTATUS.MPRV | (1n << MSTATUS.MPP_SHIFT)}
    csrs mstatus, t0
    li t0, ${PAGE_VA}
    ld a0, 8(t0)
    sd a0, 32(t0)
    li t0, ${MSTATUS.MPRV}
    csrc mstatus, t0`, { 0: pte(DATA_PAGE, V | R | W | A | D) });
  m.runTo('done');
  assert.equal(m.privilege, 3);
  m.expectX({ a0: 0x1111_2222_3333_4444n });
  assert.equal(m.memory.readU64(DATA_PAGE + 32n), 0x1111_2222_3333_4444n);
});

test('Sv48: a four-level walk reaches the same leaves', async () => {
  // The Sv48 root's entry 0 covers VA 0..512 GiB with the Sv39 root as its level-2 table.
  const root48 = 0x8008_3000n;
  const m = await withPaging(`
    li t0, ${hex((9n << 60n) | (root48 >> 12n))}
    csrw satp, t0
    sfence.vma
    csrr a1, satp
  ` + toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)`), { 0: pte(DATA_PAGE, V | R | W | A | D) });
  m.memory.writeU64(root48, pte(ROOT, V));
  m.runTo('done');
  m.expectX({ a0: 0x1111_2222_3333_4444n, a1: (9n << 60n) | (root48 >> 12n) });
});

test('S mode cannot read a U page unless sstatus.SUM is set', async () => {
  const userPage = { 3: pte(OTHER_PAGE, V | R | W | U | A | D) };
  const denied = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x3000n}
  at:
    ld a0, 8(t0)`), userPage);
  denied.runTo('m-trap');
  denied.expectMTrap(CAUSE.loadPage, denied.symbol('at'), PAGE_VA + 0x3008n);

  const allowed = await withPaging(`
    li t0, ${MSTATUS.SUM}
    csrs mstatus, t0
  ` + toS(`
    li t0, ${PAGE_VA + 0x3000n}
    ld a0, 8(t0)`), userPage);
  allowed.runTo('done');
  allowed.expectX({ a0: 0x5555_6666_7777_8888n });
});

test('an execute-only page is readable only with mstatus.MXR', async () => {
  const executeOnly = { 4: pte(DATA_PAGE, V | X | A) };
  const denied = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x4000n}
  at:
    ld a0, 8(t0)`), executeOnly);
  denied.runTo('m-trap');
  denied.expectMTrap(CAUSE.loadPage, denied.symbol('at'), PAGE_VA + 0x4008n);

  const allowed = await withPaging(`
    li t0, ${MSTATUS.MXR}
    csrs mstatus, t0
  ` + toS(`
    li t0, ${PAGE_VA + 0x4000n}
    ld a0, 8(t0)`), executeOnly);
  allowed.runTo('done');
  allowed.expectX({ a0: 0x1111_2222_3333_4444n });
});

test('sfence.vma makes a changed PTE take effect', async () => {
  // The L0 table is reachable through the identity gigapage, so S mode can rewrite entry 0.
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)
    li t1, ${l0Entry(0)}
    li t2, ${hex(pte(OTHER_PAGE, V | R | W | A | D))}
    sd t2, 0(t1)
    sfence.vma
    ld a1, 8(t0)`), { 0: pte(DATA_PAGE, V | R | W | A | D) });
  m.runTo('done');
  m.expectX({ a0: 0x1111_2222_3333_4444n, a1: 0x5555_6666_7777_8888n });
});

test('clearing SUM takes effect at once for a U page S mode has just read', async () => {
  const m = await withPaging(`
    li t0, ${MSTATUS.SUM}
    csrs mstatus, t0
  ` + toS(`
    li t0, ${PAGE_VA + 0x3000n}
    ld a0, 8(t0)
    li t1, ${MSTATUS.SUM}
    csrc sstatus, t1
  at:
    ld a1, 8(t0)`), { 3: pte(OTHER_PAGE, V | R | W | U | A | D) });
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.loadPage, m.symbol('at'), PAGE_VA + 0x3008n);
  m.expectX({ a0: 0x5555_6666_7777_8888n, a1: 0n });
});

test('U mode cannot read a supervisor page that S mode has just read', async () => {
  // user_code is mapped as a U page at PAGE_VA + 0x7000; S reads the data page, then srets there.
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)
    li t1, ${MSTATUS.SPP}
    csrc sstatus, t1
    li t1, ${PAGE_VA + 0x7000n}
    csrw sepc, t1
    sret`), { 0: pte(DATA_PAGE, V | R | W | A | D) }, {
    data: `
    .balign 4096
    user_code:
      ld a1, 8(t0)
      ecall`,
  });
  m.memory.writeU64(l0Entry(7), pte(m.symbol('user_code'), V | R | X | U | A));
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.loadPage, PAGE_VA + 0x7000n, PAGE_VA + 8n);
  assert.equal(m.csr(CSR.mstatus) & MSTATUS.MPP, 0n, 'the fault came from U mode');
  m.expectX({ a0: 0x1111_2222_3333_4444n, a1: 0n });
});

test('sfence.vma with an address flushes that page', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
    ld a0, 8(t0)
    li t1, ${l0Entry(0)}
    li t2, ${hex(pte(OTHER_PAGE, V | R | W | A | D))}
    sd t2, 0(t1)
    sfence.vma t0, zero
    ld a1, 8(t0)`), { 0: pte(DATA_PAGE, V | R | W | A | D) });
  m.runTo('done');
  m.expectX({ a0: 0x1111_2222_3333_4444n, a1: 0x5555_6666_7777_8888n });
});

test('a page mapped onto MMIO sends every access to the bus, also on a TLB hit', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x8000n}
    sw a1, 4(t0)
    lw a0, 8(t0)
    lw a0, 8(t0)
    sb a1, 12(t0)`), { 8: pte(BigInt(MMIO_BASE), V | R | W | A | D) }, { x: { a1: 0x1234_5678n } });
  m.bus.readValue = (address) => address - MMIO_BASE;
  m.runTo('done');
  m.expectX({ a0: 8n });
  assert.deepEqual(m.bus.accesses.map(({ op, address, width }) => `${op} 0x${address.toString(16)}/${width}`), [
    'write 0x10000004/4', 'read 0x10000008/4', 'read 0x10000008/4', 'write 0x1000000c/1',
  ]);
});

test('a page-table entry outside RAM makes the walk an access fault, not a page fault', async () => {
  // L1 entry 3 points at a "table" where nothing answers.
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA + 0x60_0000n}
  at:
    ld a0, 0(t0)`), {});
  m.memory.writeU64(L1 + 3n * 8n, pte(0x2000_0000n, V));
  m.runTo('m-trap');
  m.expectCsr({ mcause: CAUSE.loadAccess, mepc: m.symbol('at') });
});

test('a PTE with W but not R is reserved: page fault', async () => {
  const m = await withPaging(toS(`
    li t0, ${PAGE_VA}
  at:
    ld a0, 8(t0)`), { 0: pte(DATA_PAGE, V | W | A | D) });
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.loadPage, m.symbol('at'), PAGE_VA + 8n);
});

test('a non-canonical address (bits 63:39 unlike bit 38) is a page fault', async () => {
  const address = 0x80_0000_0000n; // bit 39 set, bit 38 clear
  const m = await withPaging(toS(`
    li t0, ${hex(address)}
  at:
    sd a0, 0(t0)`), {});
  m.runTo('m-trap');
  m.expectMTrap(CAUSE.storePage, m.symbol('at'), address);
});

test('M mode ignores satp (no translation with MPRV clear)', async () => {
  const m = await withPaging(`
    li t0, ${DATA_PAGE}
    ld a0, 8(t0)`, {});
  m.runTo('done');
  m.expectX({ a0: 0x1111_2222_3333_4444n });
});

test('a satp write with MODE = Sv57 is ignored entirely', async () => {
  const m = await withPaging(`
    li t0, ${hex((10n << 60n) | 0x1234n)}
    csrw satp, t0
    csrr a0, satp`, {});
  m.runTo('done');
  m.expectX({ a0: SATP_SV39 });
  m.expectCsr({ satp: SATP_SV39 });
});

test('satp accepts Sv39 and Bare', async () => {
  const m = await withPaging(`
    csrr a0, satp
    csrw satp, zero
    csrr a1, satp`, {});
  m.runTo('done');
  m.expectX({ a0: SATP_SV39, a1: 0n });
  assert.equal(m.csr(CSR.satp), 0n);
});
