// Loads and stores outside RAM reach the MMIO bus (engine/devices/device.ts: widths 1, 2, 4; an
// 8-byte access is split into two 4-byte ones, low half first); a BusError is an access fault
// (privileged spec, "Machine Cause Register": 1 fetch, 5 load, 7 store/AMO) with the address in mtval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CAUSE, MMIO_BASE, RAM_BYTES, TestMachine, runToMTrap, type BusAccess } from './support/machine.ts';
import { DRAM_BASE } from '../../../engine/cpu/layout.ts';

const DEVICE = BigInt(MMIO_BASE);
const UNMAPPED = 0x2000_0000n;

/** What a device sees of a write: the low `width` bytes of the value, unsigned. */
function seen(accesses: BusAccess[]): string[] {
  return accesses.map(({ op, address, width, value }) => {
    const bytes = op === 'write' ? BigInt(value) & ((1n << BigInt(8 * width)) - 1n) : BigInt(value);
    return `${op} 0x${address.toString(16)}/${width} = 0x${bytes.toString(16)}`;
  });
}

test('stores reach the bus with their address, width and low bytes, in order', async () => {
  const m = await TestMachine.load(`
    li s0, ${DEVICE}
    li a1, 0x1122334489abcdef
    sb a1, 0(s0)
    sh a1, 2(s0)
    sw a1, 4(s0)
    sd a1, 8(s0)`);
  m.runTo('done');
  assert.deepEqual(seen(m.bus.accesses), [
    'write 0x10000000/1 = 0xef',
    'write 0x10000002/2 = 0xcdef',
    'write 0x10000004/4 = 0x89abcdef',
    'write 0x10000008/4 = 0x89abcdef',
    'write 0x1000000c/4 = 0x11223344',
  ]);
});

test('loads take the bus value, sign- or zero-extended; ld is two 4-byte reads, low first', async () => {
  const m = await TestMachine.load(`
    li s0, ${DEVICE}
    lb a0, 0x10(s0)
    lbu a1, 0x10(s0)
    lh a2, 0x20(s0)
    lhu a3, 0x20(s0)
    lw a4, 0x30(s0)
    lwu a5, 0x30(s0)
    ld a6, 0x40(s0)`);
  const values = new Map<number, number>([
    [MMIO_BASE + 0x10, 0x80], [MMIO_BASE + 0x20, 0x8001], [MMIO_BASE + 0x30, 0x89ab_cdef],
    [MMIO_BASE + 0x40, 0x7654_3210], [MMIO_BASE + 0x44, 0xfedc_ba98],
  ]);
  m.bus.readValue = (address) => values.get(address) ?? 0;
  m.runTo('done');
  m.expectX({
    a0: 0xffff_ffff_ffff_ff80n, a1: 0x80n,
    a2: 0xffff_ffff_ffff_8001n, a3: 0x8001n,
    a4: 0xffff_ffff_89ab_cdefn, a5: 0x89ab_cdefn,
    a6: 0xfedc_ba98_7654_3210n,
  });
  assert.deepEqual(m.bus.accesses.map(({ address, width }) => `0x${address.toString(16)}/${width}`), [
    '0x10000010/1', '0x10000010/1', '0x10000020/2', '0x10000020/2',
    '0x10000030/4', '0x10000030/4', '0x10000040/4', '0x10000044/4',
  ]);
});

test('an fld/fsd to MMIO splits like ld/sd', async () => {
  const m = await TestMachine.load(`
    li s0, ${DEVICE}
    fld fa0, 0x40(s0)
    fsd fa0, 0x50(s0)`);
  m.bus.readValue = (address) => (address === MMIO_BASE + 0x40 ? 0x0000_0001 : 0x3ff0_0000);
  m.runTo('done');
  m.expectF({ fa0: 0x3ff0_0000_0000_0001n });
  assert.deepEqual(seen(m.bus.accesses), [
    'read 0x10000040/4 = 0x1',
    'read 0x10000044/4 = 0x3ff00000',
    'write 0x10000050/4 = 0x1',
    'write 0x10000054/4 = 0x3ff00000',
  ]);
});

for (const [name, asm, address, cause] of [
  ['a load the device refuses', 'lw a0, 0(s0)', DEVICE + 0x20n, CAUSE.loadAccess],
  ['a store the device refuses', 'sw a0, 0(s0)', DEVICE + 0x20n, CAUSE.storeAccess],
  ['a load from an unmapped address', 'lbu a0, 0(s0)', UNMAPPED, CAUSE.loadAccess],
  ['a store to an unmapped address', 'sd a0, 0(s0)', UNMAPPED + 8n, CAUSE.storeAccess],
  ['a load just past the end of RAM', 'ld a0, 0(s0)', BigInt(DRAM_BASE + RAM_BYTES), CAUSE.loadAccess],
  ['a store just past the end of RAM', 'sb a0, 0(s0)', BigInt(DRAM_BASE + RAM_BYTES), CAUSE.storeAccess],
] as const) {
  test(`${name} is an access fault (cause ${cause}) with mtval = the address`, async () => {
    const m = await TestMachine.load(`
      li s0, ${address}
      li a0, 5
    at:
      ${asm}
      li a1, 1`);
    m.bus.failAt.add(MMIO_BASE + 0x20);
    m.runTo('m-trap');
    m.expectMTrap(cause, m.symbol('at'), address);
    m.expectX({ a0: 5n, a1: 0n });
    assert.deepEqual(m.bus.accesses, []);
  });
}

test('fetching from an address where nothing answers is an instruction access fault (1)', async () => {
  const m = await runToMTrap(`
    li t0, ${UNMAPPED}
    jr t0`);
  m.expectMTrap(CAUSE.fetchAccess, UNMAPPED, UNMAPPED);
});
