// virtio-console (virtio 1.2, §5.3) with one port: transmitq bytes reach the back-end,
// typed input fills receiveq buffers in order and waits for buffers when there are none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtioConsole } from '../../../engine/devices/virtio/console.ts';
import { VirtioTestDriver } from './virtio-driver.ts';
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
