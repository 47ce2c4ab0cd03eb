// The shared memory's map (engine/cpu/layout.ts): its regions follow one another without
// overlapping, and what each region holds fits in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as L from '../../../engine/cpu/layout.ts';

const hex = (n: number) => `0x${n.toString(16)}`;

test('the regions of the shared memory do not overlap, in the order of the map', () => {
  const regions: [string, number, number][] = [
    ['MACHINE', L.MACHINE_BASE, 0x1000],
    ['HART blocks', L.HART_BASE, L.MAX_HARTS * L.HART_SIZE],
    ['TLBs', L.TLB_BASE, L.MAX_HARTS * L.TLB_SIZE],
    ['RVC table', L.RVC_TABLE, L.RVC_TABLE_SIZE],
    ['code-page table', L.PAGE_CODE, L.PAGE_CODE_SIZE],
    ['translation caches', L.JIT_BASE, L.MAX_HARTS * L.JIT_HART_SIZE],
    ['guest RAM', L.RAM_OFFSET, L.MAX_RAM_MIB * 2 ** 20],
  ];
  for (let i = 1; i < regions.length; i++) {
    const [previous, base, size] = regions[i - 1]!;
    const [name, next] = regions[i]!;
    assert.ok(base + size <= next, `${previous} (${hex(base)} + ${hex(size)}) runs into ${name} at ${hex(next)}`);
  }
  const [, ramBase, ramSize] = regions.at(-1)!;
  assert.ok(ramBase + ramSize <= 2 ** 32, 'guest RAM ends inside a 4 GiB wasm32 memory');
});

test('what each region holds fits in it', () => {
  assert.ok(L.HART_PMPADDR + 64 * 8 <= L.HART_SIZE, 'the HART block holds its last field');
  assert.ok(3 * L.TLB_SET_SIZE <= L.TLB_SIZE, 'a hart\'s TLB block holds a set per privilege');
  assert.equal(L.RVC_TABLE_SIZE, 0x1_0000 * 4, 'one u32 per 16-bit parcel');
  assert.ok(L.PAGE_CODE_SIZE >= L.MAX_RAM_MIB * 256 * 4, 'one u32 per page of the largest RAM');
  assert.ok(L.JIT_QUEUE + 4 + L.JIT_BATCH * 4 <= L.JIT_QUEUE_SLOTS, 'the queue\'s entries end before its slot list');
  assert.ok(L.JIT_QUEUE_SLOTS + L.JIT_BATCH * 4 <= L.JIT_BUFFER, 'the slot list ends before the module buffer');
  assert.ok(L.JIT_ENTRY_CHECKSUM + 4 <= L.JIT_ENTRY_SIZE, 'a block entry holds its last field');
  // jit.ts: an instruction emits at most ~100 bytes, a block at most 128 instructions.
  assert.ok(L.JIT_BATCH * 128 * 100 <= L.JIT_BUFFER_SIZE, 'a full batch fits the module buffer');
});
