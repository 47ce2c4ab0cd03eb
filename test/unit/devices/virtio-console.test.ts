// virtio-console (virtio 1.2, §5.3) with one port: transmitq bytes reach the back-end,
// typed input fills receiveq buffers in order and waits for buffers when there are none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DRAM_BASE } from '../../../engine/cpu/layout.ts';
import { MAX_TRANSMIT_BYTES, VirtioConsole } from '../../../engine/devices/virtio/console.ts';
import { VIRTQ_DESC_F_NEXT } from '../../../engine/devices/virtio/queue.ts';
import { BUFFER_BYTES, BufferedConsole } from '../../../engine/vcpu/buffered-console.ts';
import { RAM_BYTES, VirtioTestDriver, type TestQueue } from './virtio-driver.ts';
import { TestConsole, throughJson } from './support.ts';

const text = (s: string) => new TextEncoder().encode(s);

function consoleDevice() {
  const console = new TestConsole();
  const driver = new VirtioTestDriver(new VirtioConsole(console));
  const [receiveq, transmitq] = driver.start([8, 8]);
  return { console, driver, receiveq, transmitq };
}

test('transmitted chains reach the back-end in order and are returned with length 0', () => {
  const { console, driver, transmitq } = consoleDevice();
  const first = transmitq.add([text('hello, '), text('world')]);
  const second = transmitq.add([text('!\n')]);
  transmitq.notify();
  assert.equal(console.take(), 'hello, world!\n');
  assert.deepEqual(transmitq.takeUsed(), [{ id: first, len: 0 }, { id: second, len: 0 }]);
  assert.equal(driver.irq.level, true);
});

test('typed input fills receive buffers; the rest waits for the next buffer', () => {
  const { console, driver, receiveq } = consoleDevice();
  const a = receiveq.add([{ writable: 4 }]);
  const b = receiveq.add([{ writable: 4 }]);
  console.type('abcdefghij');
  driver.transport.poll();
  assert.deepEqual(receiveq.takeUsed(), [{ id: a, len: 4 }, { id: b, len: 4 }]);
  assert.equal(receiveq.text(a, 0, 4), 'abcd');
  assert.equal(receiveq.text(b, 0, 4), 'efgh');
  assert.equal(driver.acknowledge(), 1);

  const c = receiveq.add([{ writable: 16 }]);
  receiveq.notify(); // a new buffer is enough: the held bytes go at once
  assert.deepEqual(receiveq.takeUsed(), [{ id: c, len: 2 }]);
  assert.equal(receiveq.text(c, 0, 2), 'ij');
});

test('input typed before the driver is ready is delivered when it sets DRIVER_OK', () => {
  const console = new TestConsole();
  const driver = new VirtioTestDriver(new VirtioConsole(console));
  console.type('early');
  driver.transport.poll();
  const [receiveq] = driver.start([8, 8]);
  assert.equal(receiveq.usedIdx(), 0, 'no buffer yet');
  const head = receiveq.add([{ writable: 8 }]);
  driver.transport.poll();
  assert.deepEqual(receiveq.takeUsed(), [{ id: head, len: 5 }]);
  assert.equal(receiveq.text(head, 0, 5), 'early');
});

test('save → reset → load: held input survives and arrives after the restore', () => {
  const { console, driver, receiveq, transmitq } = consoleDevice();
  receiveq.add([{ writable: 3 }]);
  console.type('keystrokes');
  driver.transport.poll();
  receiveq.takeUsed();
  const saved = throughJson(driver.transport.saveState());
  driver.transport.reset();
  driver.transport.loadState(saved);
  const head = receiveq.add([{ writable: 16 }]);
  receiveq.notify();
  assert.deepEqual(receiveq.takeUsed(), [{ id: head, len: 7 }]);
  assert.equal(receiveq.text(head, 0, 7), 'strokes');
  transmitq.add([text('ok')]);
  transmitq.notify();
  assert.equal(console.take(), 'ok');
});

test('quiesce before a save: input still in the back-end goes into the saved state and reaches the guest after the load', () => {
  const { console, driver, receiveq } = consoleDevice();
  console.type('on its ');
  console.type('way');
  driver.transport.quiesce(); // no receive buffer was ever posted: the back-end still held all of it
  assert.equal(console.read(), null, 'taken from the back-end');
  const saved = throughJson(driver.transport.saveState());
  assert.deepEqual((saved.device as { heldInput: number[] }).heldInput, [...text('on its way')]);

  const fresh = new VirtioTestDriver(new VirtioConsole(new TestConsole()));
  const [freshReceiveq] = fresh.start([8, 8]);
  fresh.transport.loadState(saved);
  const head = freshReceiveq.add([{ writable: 16 }]);
  freshReceiveq.notify();
  assert.deepEqual(freshReceiveq.takeUsed(), [{ id: head, len: 10 }]);
  assert.equal(freshReceiveq.text(head, 0, 10), 'on its way');
  assert.equal(receiveq.usedIdx(), 0);
});

/** A transmit request of `count` descriptors that each cover all of guest RAM. */
function wholeRamRequest(transmitq: TestQueue, count: number): number {
  for (let i = 0; i < count; i++) {
    transmitq.writeDescriptor(i, BigInt(DRAM_BASE), RAM_BYTES, i < count - 1 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
  }
  transmitq.publish(0);
  return count * RAM_BYTES;
}

test('a request claiming 32 × RAM goes out in pieces of at most 64 KiB a call, nothing copied beyond the buffer, nothing lost', () => {
  // The device thread's own back-end in front of a sink that counts and keeps the first bytes.
  let received = 0;
  let largestMessage = 0;
  const firstBytes = new Uint8Array(16);
  const buffered = new BufferedConsole({
    write: (bytes) => {
      if (received === 0) firstBytes.set(bytes.subarray(0, 16));
      received += bytes.length;
      largestMessage = Math.max(largestMessage, bytes.length);
    },
    read: () => null,
  });
  const driver = new VirtioTestDriver(new VirtioConsole(buffered));
  const [, transmitq] = driver.start([128, 128]);
  const total = wholeRamRequest(transmitq, 32);
  const before = process.memoryUsage().arrayBuffers;
  transmitq.notify();
  const growth = process.memoryUsage().arrayBuffers - before;
  assert.ok(growth < 4 << 20, `host buffers grew by ${growth} bytes in the notify`);
  assert.equal(buffered.room(), BUFFER_BYTES - MAX_TRANSMIT_BYTES, 'one call hands over 64 KiB');
  assert.equal(transmitq.usedIdx(), 0, 'the request stays in progress');
  let polls = 0;
  while (transmitq.usedIdx() === 0) {
    buffered.flush();
    driver.transport.poll();
    assert.ok(++polls <= total / MAX_TRANSMIT_BYTES, 'it ends');
  }
  buffered.flush();
  assert.equal(received, total, 'every byte the request holds');
  assert.ok(largestMessage <= BUFFER_BYTES, 'no message larger than the buffer');
  assert.deepEqual(firstBytes, driver.memory.read(BigInt(DRAM_BASE), 16));
  assert.deepEqual(transmitq.takeUsed(), [{ id: 0, len: 0 }]);
});

test('a back-end without room gets nothing more until it has room again; a full back-end stops the transmitq', () => {
  let room = 10;
  const written: number[] = [];
  const driver = new VirtioTestDriver(new VirtioConsole({
    write: (bytes) => { written.push(bytes.length); room -= bytes.length; },
    read: () => null,
    room: () => room,
  }));
  const [, transmitq] = driver.start([8, 8]);
  const first = transmitq.add([text('0123456789abcdef')]);
  const second = transmitq.add([text('!')]);
  transmitq.notify();
  assert.deepEqual(written, [10]);
  assert.equal(transmitq.usedIdx(), 0);
  driver.transport.poll();
  assert.deepEqual(written, [10], 'no room, no write');
  room = 100;
  driver.transport.poll();
  assert.deepEqual(written, [10, 6, 1]);
  assert.deepEqual(transmitq.takeUsed(), [{ id: first, len: 0 }, { id: second, len: 0 }]);
});

test('save → load in the middle of a request: the rest goes out once, nothing twice', () => {
  let room = 5;
  const out: number[] = [];
  const backend = { write: (bytes: Uint8Array) => { out.push(...bytes); room -= bytes.length; }, read: () => null, room: () => room };
  const driver = new VirtioTestDriver(new VirtioConsole(backend));
  const [, transmitq] = driver.start([8, 8]);
  const head = transmitq.add([text('hello, '), text('world')]);
  transmitq.notify();
  const saved = throughJson(driver.transport.saveState());
  assert.equal((saved.device as { transmitted: number }).transmitted, 5);
  driver.transport.reset();
  driver.transport.loadState(saved);
  room = 100;
  driver.transport.poll();
  assert.equal(new TextDecoder().decode(Uint8Array.from(out)), 'hello, world');
  assert.deepEqual(transmitq.takeUsed(), [{ id: head, len: 0 }]);
});

test('a version 1 saved state (before streaming) still loads', () => {
  const { console, driver, receiveq } = consoleDevice();
  const saved = throughJson(driver.transport.saveState());
  (saved.device as { version: number; transmitted?: number }).version = 1;
  delete (saved.device as { transmitted?: number }).transmitted;
  (saved.device as { heldInput: number[] }).heldInput = [...text('v1')];
  driver.transport.loadState(saved);
  const head = receiveq.add([{ writable: 4 }]);
  receiveq.notify();
  assert.equal(receiveq.text(head, 0, 2), 'v1');
  assert.equal(console.take(), '');
});
