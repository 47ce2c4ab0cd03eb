// Split virtqueues (virtio 1.2, §2.7) with a driver that breaks the rules: every guest address,
// length and index is checked; a violation puts the device in DEVICE_NEEDS_RESET with a
// configuration change interrupt (§2.1.2) — never a throw out of the device, never a hang —
// and the device works again after the driver resets it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRAM_BASE } from '../../../engine/cpu/layout.ts';
import { VirtioStatus } from '../../../engine/devices/virtio/mmio.ts';
import { VirtioConsole } from '../../../engine/devices/virtio/console.ts';
import { VirtioRng } from '../../../engine/devices/virtio/rng.ts';
import {
  VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
} from '../../../engine/devices/virtio/queue.ts';
import { VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1 } from '../../../engine/devices/virtio/virtio-device.ts';
import { RAM_BYTES, Reg, VirtioTestDriver, type TestQueue } from './virtio-driver.ts';
import { TestConsole } from './support.ts';

const RAM_END = BigInt(DRAM_BASE) + BigInt(RAM_BYTES);
const W = VIRTQ_DESC_F_WRITE, N = VIRTQ_DESC_F_NEXT, I = VIRTQ_DESC_F_INDIRECT;

function rng() {
  const driver = new VirtioTestDriver(new VirtioRng());
  const [requestq] = driver.start([16], VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
  return { driver, requestq, buffer: driver.allocate(64) };
}

/** After a bad request: NEEDS_RESET, a config interrupt, no used entry, later notifies ignored. */
function assertRefused(driver: VirtioTestDriver, queue: TestQueue, reason: RegExp): void {
  assert.doesNotThrow(() => queue.notify());
  assert.equal(driver.status & VirtioStatus.NeedsReset, VirtioStatus.NeedsReset);
  assert.equal(driver.reg(Reg.InterruptStatus) & 2, 2);
  assert.equal(driver.irq.level, true);
  assert.match(driver.transport.failure ?? '', reason);
  assert.equal(queue.usedIdx(), 0);
  queue.add([{ writable: 4 }]);
  queue.notify();
  assert.equal(queue.usedIdx(), 0, 'a device that needs a reset does nothing more');
}

test('a buffer outside guest RAM is refused', () => {
  const { driver, requestq } = rng();
  requestq.writeDescriptor(0, 0x1000n, 16, W);
  requestq.publish(0);
  assertRefused(driver, requestq, /outside guest RAM/);
});

test('a buffer that runs past the end of RAM is refused', () => {
  const { driver, requestq } = rng();
  requestq.writeDescriptor(0, RAM_END - 8n, 16, W);
  requestq.publish(0);
  assertRefused(driver, requestq, /outside guest RAM/);
});

test('a 64-bit address whose low half lies in RAM is refused: 2^32, 2^53 and 2^64 - 2^32 above it', () => {
  for (const high of [1n << 32n, 1n << 53n, (1n << 64n) - (1n << 32n)]) {
    const { driver, requestq, buffer } = rng();
    requestq.writeDescriptor(0, high + buffer, 16, W);
    requestq.publish(0);
    assertRefused(driver, requestq, /outside guest RAM/);
  }
});

test('a 4 GiB length is refused', () => {
  const { driver, requestq, buffer } = rng();
  requestq.writeDescriptor(0, buffer, 0xffff_ffff, W);
  requestq.publish(0);
  assertRefused(driver, requestq, /outside guest RAM/);
});

test('a descriptor loop is refused', () => {
  const { driver, requestq, buffer } = rng();
  requestq.writeDescriptor(0, buffer, 4, W | N, 1);
  requestq.writeDescriptor(1, buffer, 4, W | N, 0);
  requestq.publish(0);
  assertRefused(driver, requestq, /loops/);
});

test('a head or next index beyond the queue size is refused', () => {
  const head = rng();
  head.requestq.publish(16);
  assertRefused(head.driver, head.requestq, /index 16 is beyond/);

  const next = rng();
  next.requestq.writeDescriptor(0, next.buffer, 4, W | N, 0xffff);
  next.requestq.publish(0);
  assertRefused(next.driver, next.requestq, /index 65535 is beyond/);
});

test('an available index more than a queue ahead is refused', () => {
  const { driver, requestq } = rng();
  requestq.setAvailIdx(17);
  assertRefused(driver, requestq, /more than a queue ahead/);
});

test('a readable descriptor after a writable one is refused', () => {
  const { driver, requestq, buffer } = rng();
  requestq.writeDescriptor(0, buffer, 4, W | N, 1);
  requestq.writeDescriptor(1, buffer, 4, 0);
  requestq.publish(0);
  assertRefused(driver, requestq, /readable descriptor after a writable/);
});

test('malformed indirect tables are refused: outside RAM, odd length, nested, looping', () => {
  const cases: [string, (q: TestQueue, table: bigint, buffer: bigint) => void, RegExp][] = [
    ['outside RAM', (q) => q.writeDescriptor(0, RAM_END - 16n, 32, I), /indirect descriptor table/],
    ['odd length', (q, table) => q.writeDescriptor(0, table, 24, I), /malformed/],
    ['nested', (q, table, buffer) => {
      q.writeDescriptor(0, table, 32, I);
      q.writeDescriptor(0, buffer, 4, W | N, 1, table);
      q.writeDescriptor(1, table, 16, I, 0, table);
    }, /indirect descriptor inside/],
    ['looping', (q, table, buffer) => {
      q.writeDescriptor(0, table, 32, I);
      q.writeDescriptor(0, buffer, 4, W | N, 1, table);
      q.writeDescriptor(1, buffer, 4, W | N, 0, table);
    }, /loops/],
    ['next beyond the table', (q, table, buffer) => {
      q.writeDescriptor(0, table, 32, I);
      q.writeDescriptor(0, buffer, 4, W | N, 2, table);
    }, /beyond the table of 2/],
  ];
  for (const [name, build, reason] of cases) {
    const { driver, requestq, buffer } = rng();
    build(requestq, driver.allocate(64), buffer);
    requestq.publish(0);
    assert.doesNotThrow(() => assertRefused(driver, requestq, reason), name);
  }
});

test('after a reset the driver can set the device up again and it works', () => {
  const { driver, requestq } = rng();
  requestq.writeDescriptor(0, 0n, 4, W);
  requestq.publish(0);
  requestq.notify();
  assert.equal(driver.status & VirtioStatus.NeedsReset, VirtioStatus.NeedsReset);
  const [fresh] = driver.start([16]);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
  fresh.add([{ writable: 16 }]);
  fresh.notify();
  assert.deepEqual(fresh.takeUsed().map((e) => e.len), [16]);
});

test('a good indirect chain is followed: readable then writable entries of the table', () => {
  const console = new TestConsole();
  const driver = new VirtioTestDriver(new VirtioConsole(console));
  const [, transmitq] = driver.start([8, 8], VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
  const table = driver.allocate(48);
  const parts = ['in', 'dir', 'ect'].map((s) => driver.place(new TextEncoder().encode(s)));
  parts.forEach((part, i) => transmitq.writeDescriptor(i, part.address, part.length, i < 2 ? N : 0, i + 1, table));
  transmitq.writeDescriptor(5, table, 48, I);
  transmitq.publish(5);
  transmitq.notify();
  assert.equal(console.take(), 'indirect');
  assert.deepEqual(transmitq.takeUsed(), [{ id: 5, len: 0 }]);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
});

/** Makes available one indirect table of `entries` writable buffers of `length` bytes, chained in order. */
function indirectChain({ driver, requestq, buffer }: ReturnType<typeof rng>, entries: number, length: number): void {
  const table = driver.allocate(entries * 16);
  for (let i = 0; i < entries; i++) requestq.writeDescriptor(i, buffer, length, W | (i < entries - 1 ? N : 0), i + 1, table);
  requestq.writeDescriptor(0, table, entries * 16, I);
  requestq.publish(0);
}

test('an indirect table longer than 1,024 descriptors is refused at once, however it chains', () => {
  // 65,536 descriptors (1 MiB): once followed to the end of its table, a chain this long.
  const device = rng();
  const { driver, requestq } = device;
  indirectChain(device, 65536, 4);
  const start = performance.now();
  assertRefused(driver, requestq, /indirect table of 1048576 bytes/);
  assert.ok(performance.now() - start < 100, 'refused without walking it');
});

test('a chain is at most 1,024 descriptors: a two-descriptor loop in a full-size indirect table ends there', () => {
  const { driver, requestq, buffer } = rng();
  const table = driver.allocate(1024 * 16);
  requestq.writeDescriptor(0, buffer, 4, W | N, 1, table);
  requestq.writeDescriptor(1, buffer, 4, W | N, 0, table);
  requestq.writeDescriptor(0, table, 1024 * 16, I);
  requestq.publish(0);
  assertRefused(driver, requestq, /loops or is longer than 1024/);
});

test('a chain of exactly 1,024 indirect descriptors is served', () => {
  const device = rng();
  const { driver, requestq } = device;
  indirectChain(device, 1024, 64);
  requestq.notify();
  assert.deepEqual(requestq.takeUsed(), [{ id: 0, len: 65536 }]);
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
});

test('one call takes a ring of requests or 16 MiB of buffers at most; the transport serves the rest at its next polls', () => {
  const { driver, requestq } = rng();
  // Sixteen requests that each claim the upper half of RAM (2 MiB, past the rings) as writable:
  // eight fit a call's 16 MiB.
  const upperHalf = BigInt(DRAM_BASE + RAM_BYTES / 2);
  for (let i = 0; i < 16; i++) {
    requestq.writeDescriptor(i, upperHalf, RAM_BYTES / 2, W);
    requestq.publish(i);
  }
  requestq.notify();
  assert.equal(requestq.usedIdx(), 8, 'a call stops once 16 MiB were taken');
  driver.transport.poll();
  assert.equal(requestq.usedIdx(), 16, 'the next poll serves the rest without a notify');
  assert.equal(driver.status & VirtioStatus.NeedsReset, 0);
});
